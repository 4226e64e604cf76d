"""The HTTP API: routes, dependencies (authentication), request and response schemas,
middlewares."""

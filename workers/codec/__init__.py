"""Element and point encodings: the compact little-endian words of ``docs/architecture.md`` §4."""

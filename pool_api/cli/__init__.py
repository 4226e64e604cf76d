"""The ``proverpool`` command: one module per subcommand, assembled in :mod:`pool_api.cli.app`."""

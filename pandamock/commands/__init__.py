"""Command groups of the ``pandamock`` CLI, one module per area, registered in ``pandamock/cli.py``."""

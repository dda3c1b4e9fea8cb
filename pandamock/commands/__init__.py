"""Command groups of the ``pandamock`` CLI, one module per area, each registered in ``cli.py``."""

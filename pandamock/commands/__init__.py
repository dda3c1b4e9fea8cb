"""Command groups of the ``pandamock`` command line, one module per area (registered in ``cli.py``)."""

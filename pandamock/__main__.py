"""``python -m pandamock``: the same as the ``pandamock`` command."""

from .cli import main

if __name__ == "__main__":
    main()

"""``python -m fgav``: the same as the ``fgav`` command."""

from fgav.cli import main

if __name__ == "__main__":
    main()

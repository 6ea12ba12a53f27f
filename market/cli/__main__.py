"""``python -m market.cli``: the ``market`` command."""

from market.cli import main

if __name__ == "__main__":
    main()

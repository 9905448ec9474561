"""``python -m vxlankit``: the same as the ``vxlankit`` command."""

from vxlankit.cli import main

if __name__ == "__main__":
    main()

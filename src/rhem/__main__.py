"""``python -m rhem``: the same entry point as the ``rhem`` command."""

from rhem.cli import main

raise SystemExit(main())

"""``python -m worker.cli``: the same as the ``printrelay`` script."""

import os

from worker.cli import main

os.environ.setdefault("PYTHONUNBUFFERED", "1")
main()

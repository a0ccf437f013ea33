"""``python -m scratchgan ...`` is the ``scratchgan`` command (``scratchgan/gan/cli.py``)."""
import sys

from .gan.cli import main

sys.exit(main())

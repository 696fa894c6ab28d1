"""`python -m a3lign COMMAND ...`: the `a3lign` console script."""

import sys

from .cli import main

sys.exit(main())

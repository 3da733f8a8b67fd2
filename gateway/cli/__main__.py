"""``python -m gateway.cli``: the same commands as the ``gateway`` script."""

import sys

from gateway.cli import main

sys.exit(main())

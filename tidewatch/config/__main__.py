"""``python -m tidewatch.config FILE...``: check config files (as ``tidewatch check config``)."""

import sys

from tidewatch.config.check import main

sys.exit(main())

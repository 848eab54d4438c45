import sys

from tidewatch.cli.main import main

sys.exit(main())

"""`python -m wirework.service`: the resident service (see `wirework.service.daemon`)."""

import sys

from wirework.service.daemon import main

sys.exit(main())

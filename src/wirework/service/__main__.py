"""`python -m wirework.service`: the resident service (see `wirework.service.daemon`)."""

import os
import sys

if "--low-priority-start" in sys.argv:
    # Started by a CLI command: load at SCHED_IDLE, before the imports that cost the CPU (see
    # `wirework.cli.main.LOW_PRIORITY_START`); `daemon.serve` goes back to normal once loaded.
    sys.argv.remove("--low-priority-start")
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except OSError:
        pass

from wirework.service.daemon import main

sys.exit(main())

"""A fork server for running the `wirework` command many times cheaply (tests/ns/test_one_line_errors.py).

Started once as `python -W always::ResourceWarning tests/ns/forkrun.py`, it imports the CLI and
the adapters, then for each argv read from stdin (one JSON list a line) forks a child that runs
`wirework.cli.main.main(argv)` with stdout and stderr on a file, and exits through the
interpreter's normal finalization (what printed the stray "Exception ignored ..." lines of the
defect); the parent answers one JSON line: [exit status, output]. Each run is a process of its
own, as from a shell, without paying for the interpreter's start and the imports every time.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tempfile

# What a run imports, imported once here.
import wirework.api
import wirework.cli.app
import wirework.kernel.netlink
from wirework.cli.main import main


def serve() -> list[str] | None:
    """Answer requests until stdin ends; in a forked child, return its argv instead."""
    wirework.cli.app.build_parser()  # imports every command group
    gc.freeze()  # what is imported here stays out of the children's collections (fewer copied pages)
    for line in sys.stdin:
        argv = json.loads(line)
        with tempfile.TemporaryFile() as out:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                os.dup2(out.fileno(), 1)
                os.dup2(out.fileno(), 2)
                return list(argv)
            _, status = os.waitpid(pid, 0)
            out.seek(0)
            text = out.read().decode(errors="replace")
        sys.stdout.write(json.dumps([os.waitstatus_to_exitcode(status), text]) + "\n")
        sys.stdout.flush()
    return None


if __name__ == "__main__":
    child_argv = serve()
    if child_argv is not None:
        sys.exit(main(child_argv))  # the child: finalizes like a `wirework` process

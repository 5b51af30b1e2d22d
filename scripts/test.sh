#!/usr/bin/env bash
# The whole test suite, as root on Debian 12: installs what is needed, starts the services,
# checks style and types, then runs every test (none may be skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
echo "== ruff"; .venv/bin/ruff check src tests bench
echo "== mypy"; .venv/bin/mypy
echo "== pytest"
exec .venv/bin/python -m pytest -q -ra -p no:cacheprovider "$@"

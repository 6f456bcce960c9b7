#!/usr/bin/env bash
# Runs the exchange_calendars peer benchmark in a throwaway venv (nothing is installed
# outside a temp dir, which is removed on exit). Arguments go to exchange_calendars.py,
# e.g. `host/benches/peers/run.sh --queries 50000 --exchanges XNYS,XTKS`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

python3 -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install --quiet --disable-pip-version-check exchange_calendars >&2
"$scratch/venv/bin/python" "$here/exchange_calendars.py" "$@"

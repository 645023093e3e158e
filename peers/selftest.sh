#!/usr/bin/env bash
# Install the peers (no-op when already installed) and cross-check all three
# peers (PyJWT, jwcrypto, jose) x 12 algorithms against each other.
# Usage: peers/selftest.sh [DIR]   (default: <repo>/target/peers)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
DIR="${1:-$HERE/../target/peers}"
"$HERE/install.sh" "$DIR"
PYTHONPATH="$DIR/python" python3 "$HERE/selftest.py" "$DIR"

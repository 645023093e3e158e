#!/usr/bin/env bash
# Install the third-party JWT peers (PyJWT, jwcrypto, jose) used by the
# tokenguard interop tests into a private directory. Idempotent: each half is
# skipped when a stamp file for the exact pins already exists.
#
# Usage: peers/install.sh [DIR]   (default: <repo>/target/peers)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
DIR="${1:-$HERE/../target/peers}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"

# Pinned peer versions. Changing any pin changes the stamp hash, forcing a reinstall.
PY_PINS=('PyJWT[crypto]==2.15.1' 'jwcrypto==1.6.1' 'cryptography==50.0.2' 'Authlib==1.9.10' 'requests==2.34.2')
JOSE_PIN='jose@6.2.18'

stamp_of() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }

# --- Python: PyJWT + jwcrypto + cryptography --------------------------------
# The stamp also covers the interpreter version: cffi's extension is CPython-version specific.
py_ver="$(python3 -c 'import sys; print("py%d.%d" % sys.version_info[:2])')"
py_stamp="$DIR/python/.stamp-$(stamp_of "$py_ver" "${PY_PINS[@]}")"
if [[ ! -e "$py_stamp" ]]; then
  rm -rf "$DIR/python"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check \
    --target "$DIR/python" "${PY_PINS[@]}"
  touch "$py_stamp"
fi

# --- Node: jose ---------------------------------------------------------------
node_stamp="$DIR/node/.stamp-$(stamp_of "$JOSE_PIN")"
if [[ ! -e "$node_stamp" ]]; then
  rm -rf "$DIR/node"
  mkdir -p "$DIR/node"
  npm install --prefix "$DIR/node" --no-audit --no-fund --save-exact --loglevel=error \
    "$JOSE_PIN" >/dev/null
  touch "$node_stamp"
fi

echo "python peers: $DIR/python   (PYTHONPATH=$DIR/python)"
echo "node peers:   $DIR/node/node_modules"

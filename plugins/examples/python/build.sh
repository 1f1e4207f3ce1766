#!/usr/bin/env bash
# Builds the Python `normalize` example plugin into a Wasm component.
#
# Needs componentize-py (this script installs nothing):
#     pip install componentize-py==0.25.1
# (the same pin is in tests/requirements.txt).
#
# Usage: plugins/examples/python/build.sh [OUTPUT.wasm]
# OUTPUT defaults to target/examples/normalize_py.wasm under the repository
# root; a relative OUTPUT is taken relative to the current directory.
#
# componentize-py generates the Python bindings for the `plugin` world
# itself while it builds; `componentize-py -d wit -w plugin bindings DIR`
# writes them out only for editors and type checkers (not needed here).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"

out="${1:-$root/target/examples/normalize_py.wasm}"
case "$out" in
    /*) ;;
    *) out="$PWD/$out" ;;
esac
mkdir -p "$(dirname "$out")"

if ! command -v componentize-py >/dev/null 2>&1; then
    echo "componentize-py not found: pip install componentize-py==0.25.1" >&2
    exit 1
fi

componentize-py -d "$root/wit" -w plugin componentize app -p "$here" -o "$out"
echo "built $out"

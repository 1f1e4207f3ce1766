#!/bin/sh
# Builds the JavaScript `normalize` plugin into a Wasm component.
# Usage: ./build.sh [OUTPUT.wasm]   (default: target/examples/normalize_js.wasm
# under the repository root). Run `npm ci` first.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-"$root/target/examples/normalize_js.wasm"}
case $out in /*) ;; *) out="$(pwd)/$out" ;; esac
mkdir -p "$(dirname "$out")"
cd "$here"
npx jco componentize normalize.js --wit ../../../wit --world-name plugin -o "$out" \
    -d stdio random clocks http fetch-event

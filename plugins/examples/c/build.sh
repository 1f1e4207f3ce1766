#!/usr/bin/env bash
# Builds the C example plugin into a Wasm component.
#
#   ./build.sh [OUT.wasm]     (default: target/examples/normalize_c.wasm
#                              relative to the repository root)
#
# Steps: `wit-bindgen c` generates the bindings of the `plugin` world from
# wit/plugin.wit; clang compiles them with normalize.c into a WASI preview1
# reactor module; `wasm-tools component new` wraps that module in a
# component, adapting preview1 to preview2 with the reactor adapter.
#
# Tools (install them with ./install-tools.sh), each overridable:
#   CLANG        clang with the wasm32 target           (default: clang)
#   WIT_BINDGEN  the wit-bindgen CLI                    (default: wit-bindgen)
#   WASM_TOOLS   wasm-tools                             (default: wasm-tools)
#   ADAPTER      wasi_snapshot_preview1.reactor.wasm    (default: $TOOLS_DIR/...)
#   WASI_SYSROOT the WASI sysroot                       (default: /usr, Debian's wasi-libc)
#   WASM_TARGET  the clang target                       (default: wasm32-wasip1,
#                                                        wasm32-wasi if clang lacks it)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
out="${1:-$repo/target/examples/normalize_c.wasm}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
CLANG="${CLANG:-clang}"
WIT_BINDGEN="${WIT_BINDGEN:-wit-bindgen}"
WASM_TOOLS="${WASM_TOOLS:-wasm-tools}"
TOOLS_DIR="${TOOLS_DIR:-$HOME/.cache/hl7wasm-tools}"
ADAPTER="${ADAPTER:-$TOOLS_DIR/wasi_snapshot_preview1.reactor.wasm}"
WASI_SYSROOT="${WASI_SYSROOT:-}"

for tool in "$CLANG" "$WIT_BINDGEN" "$WASM_TOOLS"; do
    command -v "$tool" >/dev/null || {
        echo "build.sh: $tool not found; run $here/install-tools.sh" >&2
        exit 1
    }
done
[ -s "$ADAPTER" ] || {
    echo "build.sh: the reactor adapter $ADAPTER is missing; run $here/install-tools.sh" >&2
    exit 1
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# 1. Bindings.
"$WIT_BINDGEN" c "$repo/wit" --world plugin --out-dir "$tmp/bindings" >/dev/null 2>&1 \
    || "$WIT_BINDGEN" c "$repo/wit" --world plugin --out-dir "$tmp/bindings"

# 2. The core module: a WASI preview1 reactor (no main; exports the
#    transformer functions and cabi_realloc).
if [ -z "${WASM_TARGET:-}" ]; then
    WASM_TARGET=wasm32-wasip1
    # clang < 18 (Debian 12 has 14) knows the sysroot only as wasm32-wasi.
    printf '#include <stdlib.h>\nvoid *f(int n) { return malloc(n); }\n' \
        | "$CLANG" --target=wasm32-wasip1 -mexec-model=reactor -x c - -o "$tmp/probe.wasm" 2>/dev/null \
        || WASM_TARGET=wasm32-wasi
fi
sysroot=()
[ -n "$WASI_SYSROOT" ] && sysroot=(--sysroot="$WASI_SYSROOT")
"$CLANG" --target="$WASM_TARGET" "${sysroot[@]}" -mexec-model=reactor -O2 \
    -Wall -Wextra -Wno-unused-parameter \
    -I "$tmp/bindings" \
    -o "$tmp/normalize.core.wasm" \
    "$here/normalize.c" "$tmp/bindings/plugin.c" "$tmp/bindings/plugin_component_type.o" \
    -Wl,--strip-debug

# 3. The component.
mkdir -p "$(dirname "$out")"
"$WASM_TOOLS" component new "$tmp/normalize.core.wasm" \
    --adapt "wasi_snapshot_preview1=$ADAPTER" -o "$out"
"$WASM_TOOLS" validate --features component-model "$out" 2>/dev/null || "$WASM_TOOLS" validate "$out"
echo "built $out ($(wc -c <"$out") bytes)"

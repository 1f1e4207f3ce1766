#!/usr/bin/env bash
# Installs the toolchain for the C example plugin. Idempotent: every step is
# skipped when its result already exists.
#
#   clang, lld, wasi-libc, libclang-rt-dev-wasm32   (Debian/Ubuntu apt)
#   wit-bindgen CLI  (cargo install wit-bindgen-cli)
#   wasm-tools       (cargo install wasm-tools)
#   the WASI preview1 -> preview2 reactor adapter, from the crate
#   wasi-preview1-component-adapter-provider, copied to $TOOLS_DIR
#
# Versions and places can be overridden with environment variables.
set -euo pipefail

WIT_BINDGEN_VERSION="${WIT_BINDGEN_VERSION:-0.61.1}"   # matches wit-bindgen 0.61 (Rust)
WASM_TOOLS_VERSION="${WASM_TOOLS_VERSION:-1.254.2}"    # wit-component 0.254, as the host
ADAPTER_VERSION="${ADAPTER_VERSION:-48.0.8}"           # matches wasmtime 48
TOOLS_DIR="${TOOLS_DIR:-$HOME/.cache/hl7wasm-tools}"
BUILD_DIR="${CARGO_BUILD_DIR:-/tmp/hl7wasm-c-tools}"   # cargo build dir, kept out of the repo
CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

# 1. C compiler, linker, WASI sysroot and compiler-rt for wasm32.
missing=()
for pkg in clang lld wasi-libc libclang-rt-dev-wasm32; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "apt: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
else
    echo "apt: clang, lld, wasi-libc, libclang-rt-dev-wasm32 already installed"
fi

# 2. wit-bindgen CLI.
if command -v wit-bindgen >/dev/null && wit-bindgen --version | grep -q " $WIT_BINDGEN_VERSION"; then
    echo "wit-bindgen: $(wit-bindgen --version) already installed"
else
    CARGO_TARGET_DIR="$BUILD_DIR" cargo install wit-bindgen-cli --locked --version "$WIT_BINDGEN_VERSION"
fi

# 3. wasm-tools.
if command -v wasm-tools >/dev/null && wasm-tools --version | grep -q " $WASM_TOOLS_VERSION"; then
    echo "wasm-tools: $(wasm-tools --version) already installed"
else
    CARGO_TARGET_DIR="$BUILD_DIR" cargo install wasm-tools --locked --version "$WASM_TOOLS_VERSION"
fi

# 4. The reactor adapter, taken from the crate's source in the cargo registry.
adapter="$TOOLS_DIR/wasi_snapshot_preview1.reactor.wasm"
if [ -s "$adapter" ]; then
    echo "adapter: $adapter already present"
else
    crate="wasi-preview1-component-adapter-provider-$ADAPTER_VERSION"
    found=$(ls "$CARGO_HOME"/registry/src/*/"$crate"/artefacts/wasi_snapshot_preview1.reactor.wasm 2>/dev/null | head -n1 || true)
    if [ -z "$found" ]; then
        # Let cargo download the crate: a throwaway project that depends on it.
        proj="$BUILD_DIR/adapter-fetch"
        mkdir -p "$proj/src"
        cat >"$proj/Cargo.toml" <<TOML
[package]
name = "adapter-fetch"
version = "0.0.0"
edition = "2021"
[dependencies]
wasi-preview1-component-adapter-provider = "=$ADAPTER_VERSION"
[workspace]
TOML
        : >"$proj/src/lib.rs"
        (cd "$proj" && cargo fetch --quiet)
        found=$(ls "$CARGO_HOME"/registry/src/*/"$crate"/artefacts/wasi_snapshot_preview1.reactor.wasm | head -n1)
    fi
    mkdir -p "$TOOLS_DIR"
    cp "$found" "$adapter"
    echo "adapter: copied $found to $adapter"
fi
echo "tools ready. Adapter: $adapter"

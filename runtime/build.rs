//! Builds the plugins in `plugins/` as wasm32-wasip2 components, so that
//! `cargo build`, `cargo run` and `cargo test` need no extra step.
//!
//! The nested cargo uses its own target directory (`target/plugins`), since
//! the outer build holds the lock on the main one, and the `plugin` profile
//! (release with link-time optimisation, see the workspace's Cargo.toml),
//! since plugins are loaded by every test and benchmark. The directory with
//! the built `.wasm` files reaches the crate as `HL7WASM_BUILT_PLUGINS`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment variables of the outer build that must not leak into the
/// nested one (they name the host target, clippy's wrapper, and so on).
const OUTER_ONLY: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
];

/// The target the plugins are built for.
const WASM_TARGET: &str = "wasm32-wasip2";

/// The cargo profile the plugins are built with (its output directory too).
const PLUGIN_PROFILE: &str = "plugin";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir
        .parent()
        .expect("runtime/ sits in the workspace");
    for watched in ["plugins", "plugin-sdk", "hl7v2/src", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    println!("cargo:rerun-if-env-changed=HL7WASM_SKIP_PLUGINS");

    ensure_wasm_target();
    let target_dir = plugin_target_dir();
    let packages = plugin_packages(&root.join("plugins"));
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args([
            "build",
            "--profile",
            PLUGIN_PROFILE,
            "--target",
            WASM_TARGET,
            "--target-dir",
        ])
        .arg(&target_dir);
    for package in &packages {
        command.args(["-p", package]);
    }
    for var in OUTER_ONLY {
        command.env_remove(var);
    }
    let status = command.status().expect("run cargo to build the plugins");
    if !status.success() {
        eprintln!(
            "error: building the plugins in plugins/ for wasm32-wasip2 failed (see above); \
             if the target is missing, run `rustup target add wasm32-wasip2`"
        );
        std::process::exit(1);
    }

    let built = target_dir.join(WASM_TARGET).join(PLUGIN_PROFILE);
    println!("cargo:rustc-env=HL7WASM_BUILT_PLUGINS={}", built.display());
}

/// Installs the wasm32-wasip2 standard library through rustup when the
/// toolchain lacks it. `rust-toolchain.toml` names the target, but rustup
/// adds it only when it installs the toolchain itself: a machine that
/// already had the toolchain would otherwise fail its first build.
fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    let Some(sysroot) = sysroot else { return };
    if sysroot.join("lib/rustlib").join(WASM_TARGET).exists() {
        return;
    }
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", WASM_TARGET]);
    if let Ok(toolchain) = env::var("RUSTUP_TOOLCHAIN") {
        rustup.args(["--toolchain", &toolchain]);
    }
    // Cargo repeats these warnings on later builds, so they say what
    // happened once; a failure also shows in the plugin build's error.
    if rustup.status().is_ok_and(|status| status.success()) {
        println!("cargo:warning=added the {WASM_TARGET} target to the toolchain with rustup");
    } else {
        println!("cargo:warning=`rustup target add {WASM_TARGET}` failed");
    }
}

/// `target/plugins` beside the outer build's profile directories.
fn plugin_target_dir() -> PathBuf {
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out, or one level deeper
    // with an explicit --target.
    let target = out_dir
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("OUT_DIR lies under the target directory");
    let target = if target.join("CACHEDIR.TAG").exists() {
        target.to_path_buf()
    } else {
        target.parent().unwrap_or(target).to_path_buf()
    };
    target.join("plugins")
}

/// The package names under `plugins/`, one crate per directory, except
/// those named in `HL7WASM_SKIP_PLUGINS` (comma-separated: a plugin in the
/// middle of an edit need not stop the host's build).
fn plugin_packages(plugins: &Path) -> Vec<String> {
    let skipped = env::var("HL7WASM_SKIP_PLUGINS").unwrap_or_default();
    let skipped: Vec<&str> = skipped.split(',').map(str::trim).collect();
    let mut packages: Vec<String> = std::fs::read_dir(plugins)
        .expect("read plugins/")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("Cargo.toml").exists())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !skipped.contains(&name.as_str()))
        .collect();
    packages.sort();
    packages
}

//! Ensures signed vendor plugins: `hl7wasm plugin keygen` and `plugin sign`
//! produce a component whose signature and metadata verify; with
//! `require_signed`, the engine loads a component signed by a trusted key
//! from its plugin directory and refuses unsigned ones, ones signed by an
//! unknown key and altered ones, in the directory and in uploads, with a
//! clear reason; a reload that trusts another key loads the components it
//! signed, from the directory and in uploads, without a restart; a reload
//! that removes a key leaves the versions it signed running but names them
//! in the `plugin_untrusted` alert while the key stays out.

#[path = "support/admin.rs"]
mod admin;
#[path = "support/engine.rs"]
mod engine;
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use admin::Api;
use hl7wasm::config;
use hl7wasm::plugin::signature::{self, SignatureError};
use hl7wasm::server::Server;
use reqwest::StatusCode;

const ADMIN: &str = "admin-token-0123456789";

fn hl7wasm(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
        .args(args)
        .output()
        .expect("run hl7wasm");
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// A new key in `dir`: its file and public key.
fn keygen(dir: &Path, name: &str) -> (String, String) {
    let file = dir.join(format!("{name}.key"));
    let public = hl7wasm(&["plugin", "keygen", "--out", file.to_str().unwrap()]);
    (
        file.to_str().unwrap().to_string(),
        public.trim().to_string(),
    )
}

fn sign(key: &str, plugin: &Path, output: &Path) -> Vec<u8> {
    hl7wasm(&[
        "plugin",
        "sign",
        "--key",
        key,
        "--license",
        "Apache-2.0",
        "-o",
        output.to_str().unwrap(),
        plugin.to_str().unwrap(),
    ]);
    std::fs::read(output).unwrap()
}

#[tokio::test]
async fn only_components_signed_by_a_trusted_key_load() {
    let dir = tempfile::tempdir().unwrap();
    let (vendor_key, vendor_public) = keygen(dir.path(), "vendor");
    let (other_key, other_public) = keygen(dir.path(), "other");
    let plugin = support::plugin_path("passthrough");
    let signed = sign(&vendor_key, &plugin, &dir.path().join("signed.wasm"));
    let by_other = sign(&other_key, &plugin, &dir.path().join("other.wasm"));

    // The signature and the metadata verify, and any change breaks them.
    let metadata = signature::verify(&signed, std::slice::from_ref(&vendor_public)).unwrap();
    assert_eq!(metadata.name, "passthrough");
    assert_eq!(metadata.license, "Apache-2.0");
    assert_eq!(metadata.min_host_wit, "0.1.0");
    let unsigned = std::fs::read(&plugin).unwrap();
    assert_eq!(
        signature::verify(&unsigned, std::slice::from_ref(&vendor_public)),
        Err(SignatureError::Unsigned)
    );
    assert!(matches!(
        signature::verify(&by_other, std::slice::from_ref(&vendor_public)),
        Err(SignatureError::Untrusted(_))
    ));
    let mut altered = signed.clone();
    let middle = unsigned.len() / 2;
    altered[middle] ^= 0x01;
    assert!(signature::verify(&altered, std::slice::from_ref(&vendor_public)).is_err());

    // An engine that requires signatures, with all four in its directory.
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::write(plugins.join("signed.wasm"), &signed).unwrap();
    std::fs::write(plugins.join("other.wasm"), &by_other).unwrap();
    std::fs::write(plugins.join("unsigned.wasm"), support::rebuilt(&unsigned)).unwrap();
    std::fs::write(plugins.join("altered.wasm"), &altered).unwrap();
    let text = format!(
        "[storage]\ndir = {:?}\n\n[plugins]\ndir = {plugins:?}\ncache_dir = {:?}\n\
         watch_interval_ms = 100\nrequire_signed = true\ntrusted_keys = [\"{vendor_public}\"]\n\n\
         [alerts]\ninterval_secs = 1\n\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntokens = [{{ name = \"ops\", token = \"{ADMIN}\", role = \"admin\" }}]\n\n\
         [[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.pipeline]]\nplugin = \"passthrough\"\n",
        dir.path().join("store"),
        dir.path().join("cache"),
    );
    let file = dir.path().join("hl7wasm.toml");
    std::fs::write(&file, &text).unwrap();
    let server = Server::start(config::load_file(&file).unwrap())
        .await
        .unwrap();
    let registry = server.registry.clone().unwrap();
    let hashes: Vec<String> = registry
        .versions("passthrough")
        .iter()
        .map(|v| v.sha256.clone())
        .collect();
    assert_eq!(hashes.len(), 2, "the bundled build and the signed one");
    assert!(hashes.contains(&hl7wasm::plugin::content_hash(&signed)));

    // Uploads get the same checks, with the reason.
    let api = Api::at(server.admin_address().unwrap());
    for (bytes, reason) in [
        (support::rebuilt(&unsigned), "not signed"),
        (by_other.clone(), "not in plugins.trusted_keys"),
    ] {
        let (status, body) = api.upload(ADMIN, bytes).await;
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.contains(reason), "{body}");
    }
    assert_eq!(registry.versions("passthrough").len(), 2);

    // The other key becomes trusted by a reload: its file in the directory
    // loads, and so would its upload; unsigned files stay refused.
    let trusting = text.replace(
        &format!("[\"{vendor_public}\"]"),
        &format!("[\"{vendor_public}\", \"{other_public}\"]"),
    );
    std::fs::write(&file, &trusting).unwrap();
    let (status, report) = api
        .post("/api/v1/config/reload", ADMIN, &serde_json::json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["settings"],
        serde_json::json!(["plugins.trusted_keys"])
    );
    assert_eq!(report["unchanged"], serde_json::json!(["test"]));
    let other = hl7wasm::plugin::content_hash(&by_other);
    engine::eventually(
        Duration::from_secs(20),
        "the other key's file loads",
        || registry.find(&other).is_some(),
    )
    .await;
    let (status, body) = api.upload(ADMIN, by_other).await;
    assert!(status.is_success(), "{}", String::from_utf8_lossy(&body));
    assert_eq!(registry.versions("passthrough").len(), 3);
    assert!(registry.untrusted().is_empty());

    // The vendor's key is removed: the version it signed keeps running,
    // named with the reason until an operator removes it.
    let revoking = text.replace(
        &format!("[\"{vendor_public}\"]"),
        &format!("[\"{other_public}\"]"),
    );
    std::fs::write(&file, revoking).unwrap();
    let vendors = hl7wasm::plugin::content_hash(&signed);
    let names_the_vendors_build = |report: &serde_json::Value| {
        let listed = report["untrusted_plugins"].as_array().unwrap();
        listed.len() == 1 && listed[0].as_str().unwrap().contains(&vendors[..12])
    };
    let (status, preview) = api
        .post(
            "/api/v1/config/reload?dry_run=true",
            ADMIN,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert!(names_the_vendors_build(&preview), "{preview}");
    assert!(registry.untrusted().is_empty(), "a dry run applies nothing");
    let (status, report) = api
        .post("/api/v1/config/reload", ADMIN, &serde_json::json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(names_the_vendors_build(&report), "{report}");
    let untrusted = registry.untrusted();
    let hashes: Vec<&str> = untrusted.iter().map(|v| v.sha256.as_str()).collect();
    assert_eq!(hashes, [vendors.as_str()], "only the vendor's build");
    assert!(
        untrusted[0].reason.contains("not in plugins.trusted_keys"),
        "{untrusted:?}"
    );
    assert!(registry.find(&vendors).is_some(), "it keeps running");
    let listed = api.ok("/api/v1/plugins", ADMIN).await;
    let listed = listed.as_array().unwrap();
    let flagged: Vec<&str> = listed
        .iter()
        .filter(|view| view.get("untrusted").is_some())
        .map(|view| view["sha256"].as_str().unwrap())
        .collect();
    assert_eq!(flagged, [vendors.as_str()], "{listed:?}");
    let alert = |server: &Server| {
        server
            .alerts
            .active()
            .into_iter()
            .find(|alert| alert.kind == "plugin_untrusted")
    };
    engine::eventually(
        Duration::from_secs(20),
        "the plugin_untrusted alert",
        || alert(&server).is_some(),
    )
    .await;
    let text = alert(&server).unwrap().text;
    assert!(text.contains(&vendors[..12]), "{text}");
    assert!(!text.contains(&other[..12]), "{text}");

    // Trusting the key again clears the alert.
    std::fs::write(&file, &trusting).unwrap();
    let (status, report) = api
        .post("/api/v1/config/reload", ADMIN, &serde_json::json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(report.get("untrusted_plugins").is_none(), "{report}");
    assert!(registry.untrusted().is_empty());
    engine::eventually(
        Duration::from_secs(20),
        "the plugin_untrusted alert clears",
        || alert(&server).is_none(),
    )
    .await;
    server.shutdown().await;
}

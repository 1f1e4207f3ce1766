//! Ensures that `hl7wasm config check` accepts a file with every kind of
//! source and a profile, summarises each channel, names a risky setting
//! and a certificate near its end without refusing the file, and refuses a
//! bad file with an error that names the file, the channel and the key.

#[path = "support/pki.rs"]
mod pki;

use std::process::{Command, Output};

fn check(text: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hl7wasm.toml");
    std::fs::write(&file, text).unwrap();
    Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
        .args(["config", "check"])
        .arg(&file)
        .output()
        .unwrap()
}

const GOOD: &str = r#"
[profiles.adt_in]
message_types = ["ADT"]
fields = [{ path = "PID-3.1", required = true }]

[[channels]]
name = "lab"
[channels.source]
type = "mllp"
listen = "127.0.0.1:2575"
[[channels.destinations]]
name = "archive"
to = { type = "file", dir = "/tmp/out" }

[[channels]]
name = "web"
validation_profile = "adt_in"
[channels.source]
type = "http"
listen = "127.0.0.1:8443"
path = "/hl7"

[[channels]]
name = "files"
[channels.source]
type = "file"
dir = "/var/spool/hl7/in"
pattern = "*.hl7"
"#;

#[test]
fn a_good_file_is_summarised_and_a_bad_one_named() {
    let output = check(GOOD);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "channel lab: mllp 127.0.0.1:2575, 0 plugin(s), 1 destination(s), 1 partition(s)"
    );
    assert_eq!(
        lines[1],
        "channel web: http 127.0.0.1:8443/hl7, 0 plugin(s), 0 destination(s), 1 partition(s), profile adt_in"
    );
    assert_eq!(
        lines[2],
        "channel files: file /var/spool/hl7/in (*.hl7), 0 plugin(s), 0 destination(s), 1 partition(s)"
    );
    assert!(lines[3].ends_with("hl7wasm.toml: OK"), "{stdout}");

    // A risky setting is named, and the file still passes.
    let no_dedupe = GOOD.replace(
        "name = \"files\"\n",
        "name = \"files\"\ndedupe_window_secs = 0\n",
    );
    let output = check(&no_dedupe);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let warning = stdout.lines().nth(3).unwrap();
    assert!(warning.starts_with("warning: "), "{stdout}");
    assert!(
        warning.ends_with("hl7wasm.toml: channel \"files\", key dedupe_window_secs: dedupe is off, \
         so a file read again (after a crash, or fixed and dropped in again) stores its messages twice"),
        "{stdout}"
    );

    let missing_cert = GOOD.replace(
        "listen = \"127.0.0.1:2575\"\n",
        "listen = \"127.0.0.1:2575\"\n[channels.source.tls]\n\
         cert_file = \"/nonexistent/server.pem\"\nkey_file = \"/nonexistent/server.key\"\n",
    );
    let output = check(&missing_cert);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("hl7wasm.toml: channel \"lab\", key source.tls"),
        "{stderr}"
    );
    assert!(stderr.contains("/nonexistent/server.pem"), "{stderr}");

    let bad_path = GOOD.replace("path = \"/hl7\"", "path = \"hl7\"");
    let output = check(&bad_path);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr
            .contains("hl7wasm.toml: channel \"web\", key source.path: \"hl7\" must start with /"),
        "{stderr}"
    );
}

#[test]
fn a_certificate_near_its_end_is_named_without_refusing_the_file() {
    let pki = pki::Pki::new();
    pki.issue_server(
        "short",
        time::OffsetDateTime::now_utc() + time::Duration::days(10),
    );
    let with_tls = |channel: &str, admin: &str| {
        let tls = |name: &str| {
            format!(
                "cert_file = {:?}\nkey_file = {:?}\n",
                pki.path(&format!("{name}.pem")),
                pki.path(&format!("{name}.key"))
            )
        };
        format!(
            "[admin]\nlisten = \"127.0.0.1:8080\"\n[admin.tls]\n{}\n{}",
            tls(admin),
            GOOD.replace(
                "listen = \"127.0.0.1:2575\"\n",
                &format!(
                    "listen = \"127.0.0.1:2575\"\n[channels.source.tls]\n{}",
                    tls(channel)
                ),
            )
        )
    };

    let output = check(&with_tls("short", "server"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let warnings: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{stdout}");
    assert!(
        warnings[0].contains("the TLS certificate of channel \"lab\" (CN=hl7wasm")
            && warnings[0].contains("day(s) (threshold 14 days)"),
        "{stdout}"
    );

    let output = check(&with_tls("server", "short"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("the TLS certificate of the admin API"),
        "{stdout}"
    );

    let output = check(&with_tls("server", "server"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("warning: "), "{stdout}");
    // A destination's client certificate is checked the same way.
    pki.issue_client_until(
        "client",
        "lab-analyzer",
        time::OffsetDateTime::now_utc() + time::Duration::days(3),
    );
    let destination = format!(
        "[[channels.destinations]]\nname = \"lis\"\n\
         to = {{ type = \"mllp\", address = \"localhost:2576\", tls = {{ ca_file = {:?}, \
         cert_file = {:?}, key_file = {:?} }} }}\n",
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client.key")
    );
    let text = GOOD.replace(
        "[[channels]]\nname = \"web\"",
        &format!("{destination}\n[[channels]]\nname = \"web\""),
    );
    let output = check(&text);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("the TLS certificate of destination \"lis\" of channel \"lab\""),
        "{stdout}"
    );
}

/// Ensures that a listener's certificate made the way `openssl x509 -req`
/// makes one without extensions (X.509 v1) is refused with what to do about
/// it, said once: rustls's own error names neither the version nor the fix.
#[test]
fn a_v1_certificate_is_refused_with_the_reason_once() {
    let dir = tempfile::tempdir().unwrap();
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("openssl is installed (CI installs it)");
        assert!(output.status.success(), "{output:?}");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &["-subj", "/CN=ca", "-keyout", "ca.key", "-out", "ca.pem"],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &["-subj", "/CN=lab", "-keyout", "v1.key", "-out", "v1.csr"],
        ]
        .concat(),
    );
    openssl(&[
        "x509",
        "-req",
        "-in",
        "v1.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        "v1.pem",
    ]);
    let tls = format!(
        "listen = \"127.0.0.1:2575\"\n[channels.source.tls]\ncert_file = {:?}\nkey_file = {:?}\n",
        dir.path().join("v1.pem"),
        dir.path().join("v1.key")
    );
    let output = check(&GOOD.replace("listen = \"127.0.0.1:2575\"\n", &tls));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("channel \"lab\""), "{stderr}");
    assert!(
        stderr.contains("v1.pem holds an X.509 v1 certificate and TLS needs v3"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("needs v3").count(), 1, "said once: {stderr}");
}

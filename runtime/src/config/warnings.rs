//! Settings that are valid but risky. `hl7wasm config check` prints them
//! and `hl7wasm serve` logs them at start; neither refuses the file.

use super::{Config, SourceConfig};

/// What is risky in `config`, one line per finding, each naming the
/// channel and the key.
pub fn warnings(config: &Config) -> Vec<String> {
    let mut found = Vec::new();
    for channel in &config.channels {
        let name = &channel.name;
        let dedupe_off = config.storage.dedupe_window_secs == 0 || !channel.dedupes();
        if matches!(channel.source, SourceConfig::File(_)) && dedupe_off {
            found.push(format!(
                "channel \"{name}\", key dedupe_window_secs: dedupe is off, so a file read \
                 again (after a crash, or fixed and dropped in again) stores its messages twice"
            ));
        }
        let reachable = channel
            .source
            .listen_address()
            .and_then(Result::ok)
            .is_some_and(|address| !address.ip().is_loopback());
        if !reachable {
            continue;
        }
        let Some(tls) = channel.source.tls() else {
            found.push(format!(
                "channel \"{name}\", key source.tls: listening beyond loopback without TLS, so \
                 messages cross the network in clear text"
            ));
            continue;
        };
        let open_http =
            matches!(&channel.source, SourceConfig::Http(http) if http.bearer_token.is_none());
        if open_http && tls.client_ca_file.is_none() {
            found.push(format!(
                "channel \"{name}\", key source.bearer_token: neither a token nor client \
                 certificates are asked for, so anyone who reaches the port may post messages"
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warnings_of(channels: &str) -> Vec<String> {
        let text = format!("[storage]\ndir = \"/tmp/store\"\n\n{channels}");
        warnings(&crate::config::parse(&text, "test").unwrap())
    }

    #[test]
    fn safe_settings_give_no_warning() {
        let channels = "[[channels]]\nname = \"local\"\n[channels.source]\ntype = \"mllp\"\n\
                        listen = \"127.0.0.1:2575\"\n\n\
                        [[channels]]\nname = \"files\"\n[channels.source]\ntype = \"file\"\n\
                        dir = \"/tmp/in\"\n";
        assert_eq!(warnings_of(channels), Vec::<String>::new());
        let default = crate::config::parse(crate::config::EMBEDDED_DEFAULT, "default").unwrap();
        assert_eq!(warnings(&default), Vec::<String>::new());
    }

    #[test]
    fn each_risk_is_named_by_channel_and_key() {
        let channels = "[[channels]]\nname = \"files\"\ndedupe_window_secs = 0\n\
                        [channels.source]\ntype = \"file\"\ndir = \"/tmp/in\"\n\n\
                        [[channels]]\nname = \"lan\"\n[channels.source]\ntype = \"mllp\"\n\
                        listen = \"0.0.0.0:2575\"\n\n\
                        [[channels]]\nname = \"web\"\n[channels.source]\ntype = \"http\"\n\
                        listen = \"0.0.0.0:8443\"\npath = \"/hl7\"\n[channels.source.tls]\n\
                        cert_file = \"s.pem\"\nkey_file = \"s.key\"\n";
        assert_eq!(
            warnings_of(channels),
            [
                "channel \"files\", key dedupe_window_secs: dedupe is off, so a file read again \
                 (after a crash, or fixed and dropped in again) stores its messages twice",
                "channel \"lan\", key source.tls: listening beyond loopback without TLS, so \
                 messages cross the network in clear text",
                "channel \"web\", key source.bearer_token: neither a token nor client \
                 certificates are asked for, so anyone who reaches the port may post messages",
            ]
        );
    }
}

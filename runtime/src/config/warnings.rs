//! Settings that are valid but risky. `hl7wasm config check` prints them
//! and `hl7wasm serve` logs them at start; neither refuses the file.

use std::net::IpAddr;

use super::{ChannelConfig, Config, SourceConfig};
use crate::deliver::TargetConfig;

/// What is risky in `config`, one line per finding, each naming the
/// channel and the key.
pub fn warnings(config: &Config) -> Vec<String> {
    let mut found = Vec::new();
    for channel in &config.channels {
        let dedupe_off = config.storage.dedupe_window_secs == 0 || !channel.dedupes();
        source_warnings(channel, dedupe_off, &mut found);
        destination_warnings(channel, &mut found);
    }
    let admin = &config.admin;
    let reachable = admin
        .listen_address()
        .is_ok_and(|address| !address.ip().is_loopback());
    if admin.enabled && reachable && admin.tls.is_none() {
        found.push(
            "key admin.tls: the admin API listens beyond loopback without TLS, so its bearer \
             tokens cross the network in clear text"
                .into(),
        );
    }
    found
}

fn source_warnings(channel: &ChannelConfig, dedupe_off: bool, found: &mut Vec<String>) {
    let name = &channel.name;
    if matches!(channel.source, SourceConfig::File(_)) && dedupe_off {
        found.push(format!(
            "channel \"{name}\", key dedupe_window_secs: dedupe is off, so a file read \
             again (after a crash, or fixed and dropped in again) stores its messages twice"
        ));
    }
    if matches!(&channel.source, SourceConfig::File(file) if file.show_file_names) {
        found.push(format!(
            "channel \"{name}\", key source.show_file_names: file names go to the audit log \
             as they are, and senders often put patient names or record numbers in them"
        ));
    }
    let reachable = channel
        .source
        .listen_address()
        .and_then(Result::ok)
        .is_some_and(|address| !address.ip().is_loopback());
    if !reachable {
        return;
    }
    let Some(tls) = channel.source.tls() else {
        found.push(format!(
            "channel \"{name}\", key source.tls: listening beyond loopback without TLS, so \
             messages cross the network in clear text"
        ));
        return;
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

fn destination_warnings(channel: &ChannelConfig, found: &mut Vec<String>) {
    for (index, destination) in channel.destinations.iter().enumerate() {
        if let TargetConfig::Http(http) = &destination.to
            && let Some(host) = http
                .oauth
                .as_ref()
                .and_then(|oauth| clear_text_host(&oauth.token_url))
        {
            found.push(format!(
                "channel \"{}\", key destinations[{index}].to.oauth.token_url: asks for tokens \
                 from {host} without TLS, so credentials and tokens cross the network in clear text",
                channel.name
            ));
        }
        let (key, host) = match &destination.to {
            TargetConfig::Mllp(mllp) if mllp.tls.is_none() => {
                let host = mllp.address.rsplit_once(':').map_or("", |(host, _)| host);
                ("tls", host.to_owned())
            }
            TargetConfig::Http(http) => match clear_text_host(&http.url) {
                Some(host) => ("url", host),
                None => continue,
            },
            _ => continue,
        };
        if !is_loopback(&host) {
            found.push(format!(
                "channel \"{}\", key destinations[{index}].to.{key}: sends to {host} without \
                 TLS, so messages cross the network in clear text",
                channel.name
            ));
        }
    }
}

/// The host of an `http://` URL (one that sends in clear text).
fn clear_text_host(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    (url.scheme() == "http").then(|| url.host_str().unwrap_or("").to_owned())
}

/// Whether `host` (a name or an address, IPv6 possibly in brackets) is
/// this machine's loopback.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
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
    fn clear_text_destinations_and_an_open_admin_api_are_named() {
        let text = "[storage]\ndir = \"/tmp/store\"\n\n\
                    [admin]\nlisten = \"0.0.0.0:8080\"\n\
                    tokens = [{ name = \"ops\", token = \"0123456789abcdef\", role = \"viewer\" }]\n\n\
                    [[channels]]\nname = \"out\"\n[channels.source]\ntype = \"mllp\"\n\
                    listen = \"127.0.0.1:2575\"\n\
                    [[channels.destinations]]\nname = \"lis\"\n\
                    to = { type = \"mllp\", address = \"10.1.2.3:2575\" }\n\
                    [[channels.destinations]]\nname = \"local\"\n\
                    to = { type = \"mllp\", address = \"localhost:2576\" }\n\
                    [[channels.destinations]]\nname = \"fhir\"\n\
                    to = { type = \"http\", url = \"http://fhir.example.org/fhir\" }\n\
                    [[channels.destinations]]\nname = \"fhir-tls\"\n\
                    to = { type = \"http\", url = \"https://fhir.example.org/fhir\", oauth = \
                    { token_url = \"http://login.example.org/token\", client_id = \"c\", \
                    client_secret = \"s\" } }\n";
        let config = crate::config::parse(text, "test").unwrap();
        assert_eq!(
            warnings(&config),
            [
                "channel \"out\", key destinations[0].to.tls: sends to 10.1.2.3 without TLS, so \
                 messages cross the network in clear text",
                "channel \"out\", key destinations[2].to.url: sends to fhir.example.org without \
                 TLS, so messages cross the network in clear text",
                "channel \"out\", key destinations[3].to.oauth.token_url: asks for tokens \
                 from login.example.org without TLS, so credentials and tokens cross the network \
                 in clear text",
                "key admin.tls: the admin API listens beyond loopback without TLS, so its bearer \
                 tokens cross the network in clear text",
            ]
        );
    }

    #[test]
    fn each_risk_is_named_by_channel_and_key() {
        let channels = "[[channels]]\nname = \"files\"\ndedupe_window_secs = 0\n\
                        [channels.source]\ntype = \"file\"\ndir = \"/tmp/in\"\n\
                        show_file_names = true\n\n\
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
                "channel \"files\", key source.show_file_names: file names go to the audit log \
                 as they are, and senders often put patient names or record numbers in them",
                "channel \"lan\", key source.tls: listening beyond loopback without TLS, so \
                 messages cross the network in clear text",
                "channel \"web\", key source.bearer_token: neither a token nor client \
                 certificates are asked for, so anyone who reaches the port may post messages",
            ]
        );
    }
}

//! Reading and checking a configuration file, with errors that name the
//! file, the channel and the key.

use std::collections::HashSet;
use std::path::Path;

use thiserror::Error;

use super::interpolate::interpolate;
use super::{AckMode, ChannelConfig, Config};
use crate::deliver::TargetConfig;
use crate::validation::Profile;

/// A configuration that cannot be used.
#[derive(Debug, Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    /// The file, or `embedded default`.
    pub origin: String,
    /// What is wrong, naming the channel and key where there is one.
    pub message: String,
}

/// Reads and checks the configuration file at `path`.
///
/// # Errors
/// When the file cannot be read, is not valid TOML, has an unknown or
/// missing key, or fails a check (duplicate channel names or addresses).
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        origin: origin.clone(),
        message: format!("cannot read the file: {e}"),
    })?;
    let mut config = parse(&text, &origin)?;
    config.file = Some(path.to_path_buf());
    Ok(config)
}

/// Parses and checks configuration text; `origin` names it in errors.
///
/// # Errors
/// As for [`load_file`].
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let fail = |message: String| ConfigError {
        origin: origin.to_string(),
        message,
    };
    let mut document: toml::Value =
        toml::from_str(text).map_err(|e| fail(syntax_error(text, &e)))?;
    let as_written = document.as_table().cloned().unwrap_or_default();
    let environment = |name: &str| std::env::var(name).ok();
    interpolate(&mut document, "", &environment).map_err(|(path, problem)| {
        let key = describe_path(&document, &path);
        fail(format!("{key}: {problem}"))
    })?;
    let deserializer = document.clone();
    let mut config: Config = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = describe_path(&document, &e.path().to_string());
        fail(format!(
            "{key}: {}",
            without_strings(&e.inner().to_string())
        ))
    })?;
    check(&config).map_err(fail)?;
    config.as_written = as_written;
    Ok(config)
}

/// A TOML syntax error as `TOML syntax error at line L, column C: ...`,
/// without the excerpt of the file that toml's own text quotes: the line
/// may hold a secret (a token written in the file), and reload errors go
/// to the audit log and the API's answer.
fn syntax_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end();
    let Some(span) = error.span() else {
        return format!("TOML syntax error: {message}");
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    format!("TOML syntax error at line {line}, column {column}: {message}")
}

/// `serde`'s type errors with the string they found left out
/// (`invalid type: string "...", expected ...` becomes `invalid type: a
/// string, expected ...`): a value given in the wrong shape may be a
/// secret, such as a password where a table was expected.
fn without_strings(message: &str) -> String {
    const FOUND: &str = "string \"";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(FOUND) {
        out.push_str(&rest[..at]);
        out.push_str("a string");
        let quoted = &rest[at + FOUND.len()..];
        let mut escaped = false;
        let end = quoted.char_indices().find_map(|(i, c)| {
            let closes = c == '"' && !escaped;
            escaped = c == '\\' && !escaped;
            closes.then_some(i + 1)
        });
        rest = &quoted[end.unwrap_or(quoted.len())..];
    }
    out.push_str(rest);
    out
}

/// Rewrites `channels[1].source.listen` as `channel "lab", key source.listen`.
fn describe_path(document: &toml::Value, path: &str) -> String {
    let Some(rest) = path.strip_prefix("channels[") else {
        return format!("key {path}");
    };
    let Some((index, key)) = rest.split_once(']') else {
        return format!("key {path}");
    };
    let name = index
        .parse::<usize>()
        .ok()
        .and_then(|i| {
            document
                .get("channels")?
                .get(i)?
                .get("name")?
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("#{}", index.parse::<usize>().map_or(0, |i| i + 1)));
    let key = key.trim_start_matches('.');
    if key.is_empty() {
        format!("channel \"{name}\"")
    } else {
        format!("channel \"{name}\", key {key}")
    }
}

fn check(config: &Config) -> Result<(), String> {
    if config.channels.is_empty() {
        return Err("key channels: at least one channel is needed".into());
    }
    let mut names = HashSet::new();
    let mut addresses = HashSet::new();
    let mut directories = HashSet::new();
    for channel in &config.channels {
        check_channel(channel)?;
        let kept = config.storage.dedupe_window_secs;
        if channel.dedupe_window_secs.is_some_and(|secs| secs > kept) {
            return Err(format!(
                "channel \"{}\", key dedupe_window_secs: longer than the {kept} s the store \
                 remembers messages for; raise [storage] dedupe_window_secs too",
                channel.name
            ));
        }
        if !names.insert(channel.name.as_str()) {
            return Err(format!(
                "channel \"{}\", key name: the name is used twice",
                channel.name
            ));
        }
        if let Some(listen) = channel.source.listen_address() {
            let listen = listen
                .map_err(|e| format!("channel \"{}\", key source.listen: {e}", channel.name))?;
            if listen.port() != 0 && !addresses.insert(listen) {
                return Err(format!(
                    "channel \"{}\", key source.listen: {listen} is used by another channel",
                    channel.name
                ));
            }
        }
        match &channel.source {
            super::SourceConfig::Mllp(_) => {}
            super::SourceConfig::Http(source) => {
                if !source.path.starts_with('/') {
                    return Err(format!(
                        "channel \"{}\", key source.path: {:?} must start with /",
                        channel.name, source.path
                    ));
                }
            }
            super::SourceConfig::File(source) => {
                check_file_source(source)
                    .map_err(|e| format!("channel \"{}\", key source.{e}", channel.name))?;
                if !directories.insert(source.dir.clone()) {
                    return Err(format!(
                        "channel \"{}\", key source.dir: {} is read by another channel",
                        channel.name,
                        source.dir.display()
                    ));
                }
            }
        }
    }
    for channel in &config.channels {
        check_channel_targets(config, channel)?;
        config.profile_for(channel)?;
    }
    for (name, profile) in &config.profiles {
        Profile::compile(name, profile).map_err(|e| format!("key profiles.{name}.{e}"))?;
    }
    if config.plugins.require_signed && config.plugins.trusted_keys.is_empty() {
        return Err(
            "key plugins.trusted_keys: require_signed needs at least one trusted key".into(),
        );
    }
    if config.plugins.load_deadline_ms == 0 {
        return Err("key plugins.load_deadline_ms: must be at least 1".into());
    }
    config.admin.check()?;
    config.alerts.check()
}

/// A file source's pattern must be a glob, and its done and error
/// directories must differ from the directory read.
fn check_file_source(source: &super::FileSourceConfig) -> Result<(), String> {
    glob::Pattern::new(&source.pattern).map_err(|e| format!("pattern: {e}"))?;
    if source.done_dir() == source.dir || source.error_dir() == source.dir {
        return Err("done_dir: must differ from dir (and so must error_dir)".into());
    }
    if source.poll_interval_ms == 0 {
        return Err("poll_interval_ms: must be at least 1".into());
    }
    Ok(())
}

/// A destination of type `channel` must name another, existing channel.
fn check_channel_targets(config: &Config, channel: &ChannelConfig) -> Result<(), String> {
    for (index, destination) in channel.destinations.iter().enumerate() {
        let TargetConfig::Channel(target) = &destination.to else {
            continue;
        };
        let at = format!(
            "channel \"{}\", key destinations[{index}].to.channel",
            channel.name
        );
        if target.channel == channel.name {
            return Err(format!("{at}: a channel cannot deliver to itself"));
        }
        if config.channel(&target.channel).is_none() {
            return Err(format!("{at}: there is no channel {:?}", target.channel));
        }
    }
    Ok(())
}

fn check_channel(channel: &ChannelConfig) -> Result<(), String> {
    let at =
        |key: &str, problem: String| format!("channel \"{}\", key {key}: {problem}", channel.name);
    if !is_name(&channel.name) {
        return Err(at("name", "use letters, digits, '-' and '_' only".into()));
    }
    if channel.partitions == 0 {
        return Err(at("partitions", "must be at least 1".into()));
    }
    if channel.silence_alert_secs == Some(0) {
        return Err(at("silence_alert_secs", "must be at least 1".into()));
    }
    if let Some(path) = &channel.partition_by {
        hl7v2::Path::parse(path)
            .map_err(|e| at("partition_by", format!("{path:?} is not a field path: {e}")))?;
    }
    channel.retry.check().map_err(|e| at("retry", e))?;
    for (index, stage) in channel.pipeline.iter().enumerate() {
        if stage.plugin.trim().is_empty() {
            return Err(at(&format!("pipeline[{index}].plugin"), "is empty".into()));
        }
        if stage.deadline_ms == 0 {
            return Err(at(
                &format!("pipeline[{index}].deadline_ms"),
                "must be at least 1".into(),
            ));
        }
    }
    check_ack_destination(channel).map_err(|(key, problem)| at(key, problem))?;
    let mut names = HashSet::new();
    for (index, destination) in channel.destinations.iter().enumerate() {
        let key = |name: &str| format!("destinations[{index}].{name}");
        if !is_name(&destination.name) {
            return Err(at(
                &key("name"),
                "use letters, digits, '-' and '_' only".into(),
            ));
        }
        if !names.insert(destination.name.as_str()) {
            return Err(at(
                &key("name"),
                format!("{:?} is used twice", destination.name),
            ));
        }
        destination
            .filter
            .check()
            .map_err(|e| at(&key("filter"), e))?;
        destination
            .retry
            .check()
            .map_err(|e| at(&key("retry"), e))?;
    }
    Ok(())
}

/// `ack_destination` names one of the channel's destinations exactly when
/// `ack_mode` is `after_delivery`.
fn check_ack_destination(channel: &ChannelConfig) -> Result<(), (&'static str, String)> {
    let after_delivery = channel.ack_mode == AckMode::AfterDelivery;
    match &channel.ack_destination {
        None if after_delivery => Err((
            "ack_destination",
            "ack_mode \"after_delivery\" needs the destination whose verdict the sender gets"
                .into(),
        )),
        Some(_) if !after_delivery => Err((
            "ack_destination",
            "only used with ack_mode = \"after_delivery\"".into(),
        )),
        Some(name) if !channel.destinations.iter().any(|d| &d.name == name) => Err((
            "ack_destination",
            format!("the channel has no destination {name:?}"),
        )),
        _ => Ok(()),
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:2575\"\n";

    fn error(text: &str) -> String {
        parse(text, "test.toml")
            .expect_err("the config is invalid")
            .to_string()
    }

    #[test]
    fn a_syntax_error_names_line_and_column_but_quotes_no_text() {
        let text =
            "[admin]\ntokens = [{ name = \"a\", token = \"secret-0123456789, role = \"admin\" }]\n";
        let error = error(text);
        assert!(error.contains("test.toml"), "{error}");
        assert!(
            error.contains("TOML syntax error at line 2, column "),
            "{error}"
        );
        assert!(!error.contains("secret-0123456789"), "{error}");
    }

    #[test]
    fn a_value_of_the_wrong_type_is_not_quoted() {
        assert_eq!(
            without_strings(r#"invalid type: string "pa\"ss", expected struct BasicAuth"#),
            "invalid type: a string, expected struct BasicAuth"
        );
        let text = "[admin]\ntokens = \"secret-0123456789\"\n";
        let error = error(text);
        assert!(
            error.contains("key admin.tokens: invalid type: a string"),
            "{error}"
        );
        assert!(!error.contains("secret-0123456789"), "{error}");
    }

    #[test]
    fn a_channel_dedupe_window_stays_within_the_stores() {
        let channel = |window: u64| {
            format!(
                "[storage]\ndedupe_window_secs = 600\n[[channels]]\nname = \"adt\"\n\
                 dedupe_window_secs = {window}\n{SOURCE}"
            )
        };
        let too_long = error(&channel(601));
        assert!(
            too_long.contains("channel \"adt\", key dedupe_window_secs")
                && too_long.contains("[storage] dedupe_window_secs"),
            "{too_long}"
        );
        for window in [0, 600] {
            let config = parse(&channel(window), "test.toml").unwrap();
            assert_eq!(config.channels[0].dedupes(), window > 0);
        }
    }

    #[test]
    fn a_plugin_load_deadline_of_zero_is_refused() {
        let channel = format!("[[channels]]\nname = \"adt\"\n{SOURCE}");
        let zero = error(&format!("[plugins]\nload_deadline_ms = 0\n{channel}"));
        assert!(zero.contains("key plugins.load_deadline_ms"), "{zero}");
        let config = parse(&channel, "test.toml").unwrap();
        assert_eq!(config.plugins.load_deadline_ms, 5000);
    }

    #[test]
    fn a_silence_alert_of_zero_seconds_is_refused() {
        let channel = |lines: &str| format!("[[channels]]\nname = \"adt\"\n{lines}\n{SOURCE}");
        let zero = error(&channel("silence_alert_secs = 0"));
        assert!(
            zero.contains("channel \"adt\", key silence_alert_secs"),
            "{zero}"
        );
        let set = parse(&channel("silence_alert_secs = 1800"), "test.toml").unwrap();
        assert_eq!(set.channels[0].silence_alert_secs, Some(1800));
        let unset = parse(&channel(""), "test.toml").unwrap();
        assert_eq!(unset.channels[0].silence_alert_secs, None);
    }

    #[test]
    fn after_delivery_names_one_of_the_channels_destinations() {
        let channel = |lines: &str| {
            format!(
                "[[channels]]\nname = \"adt\"\n{lines}\n{SOURCE}\
                 [[channels.destinations]]\nname = \"emr\"\n\
                 to = {{ type = \"file\", dir = \"out\" }}\n"
            )
        };
        let cases = [
            ("ack_mode = \"after_delivery\"", "needs the destination"),
            ("ack_destination = \"emr\"", "only used with"),
            (
                "ack_mode = \"after_delivery\"\nack_destination = \"lab\"",
                "no destination \"lab\"",
            ),
        ];
        for (lines, problem) in cases {
            let text = error(&channel(lines));
            assert!(
                text.contains("channel \"adt\", key ack_destination") && text.contains(problem),
                "{lines}: {text}"
            );
        }
        let good = channel("ack_mode = \"after_delivery\"\nack_destination = \"emr\"");
        assert_eq!(
            parse(&good, "test.toml").unwrap().channels[0].ack_mode,
            AckMode::AfterDelivery
        );
    }

    #[test]
    fn the_embedded_default_is_valid() {
        let config = parse(super::super::EMBEDDED_DEFAULT, "embedded").unwrap();
        assert_eq!(config.channels[0].name, "demo");
    }

    #[test]
    fn storage_settings_are_read_and_unknown_keys_refused() {
        let text = format!(
            "[storage]\ndir = \"/tmp/x\"\ndedupe_window_secs = 60\n\n[[channels]]\nname = \"a\"\n{SOURCE}"
        );
        let config = parse(&text, "test.toml").unwrap();
        assert_eq!(config.storage.dedupe_window_secs, 60);
        let bad = format!("[storage]\nbogus = 1\n\n[[channels]]\nname = \"a\"\n{SOURCE}");
        assert!(error(&bad).contains("bogus"), "{}", error(&bad));
    }

    #[test]
    fn errors_name_the_file_the_channel_and_the_key() {
        let text = format!(
            "[[channels]]\nname = \"lab\"\n{SOURCE}\n[[channels]]\nname = \"adt\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"not an address\"\n"
        );
        let message = error(&text);
        assert!(
            message.starts_with("test.toml: channel \"adt\", key source.listen"),
            "{message}"
        );

        let text = format!("[[channels]]\nname = \"lab\"\nack_mod = \"commit\"\n{SOURCE}");
        let message = error(&text);
        assert!(
            message.contains("channel \"lab\"") && message.contains("ack_mod"),
            "{message}"
        );
    }

    #[test]
    fn limits_sit_in_the_source_table() {
        let text = format!(
            "[[channels]]\nname = \"a\"\n{SOURCE}[channels.source.limits]\nmax_message_bytes = 2048\nidle_timeout_secs = 5\n"
        );
        let config = parse(&text, "test.toml").unwrap();
        let super::super::SourceConfig::Mllp(source) = &config.channels[0].source else {
            panic!("an MLLP source");
        };
        assert_eq!(source.limits.max_message_bytes, 2048);
        assert_eq!(source.limits.idle_timeout_secs, 5);
        let unknown = format!("[[channels]]\nname = \"a\"\n{SOURCE}bogus = 1\n");
        assert!(error(&unknown).contains("bogus"), "{}", error(&unknown));
    }

    #[test]
    fn duplicate_names_and_addresses_are_refused() {
        let text = format!(
            "[[channels]]\nname = \"a\"\n{SOURCE}\n[[channels]]\nname = \"a\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:2576\"\n"
        );
        assert!(error(&text).contains("channel \"a\", key name: the name is used twice"));
        let text =
            format!("[[channels]]\nname = \"a\"\n{SOURCE}\n[[channels]]\nname = \"b\"\n{SOURCE}");
        assert!(
            error(&text).contains("is used by another channel"),
            "{}",
            error(&text)
        );
    }

    /// Ensures destinations, pipeline stages and environment variables are
    /// read, and their mistakes named by channel and key.
    #[test]
    fn destinations_pipeline_and_environment_are_read_and_checked() {
        // SAFETY: only this test reads or writes this variable.
        unsafe { std::env::set_var("HL7WASM_TEST_OUT_DIR", "/tmp/out") };
        let text = format!(
            "[[channels]]\nname = \"a\"\n{SOURCE}\n[[channels.pipeline]]\nplugin = \"passthrough\"\nconfig = {{ drop_types = [\"ADT^A08\"] }}\n\n[[channels.destinations]]\nname = \"files\"\nto = {{ type = \"file\", dir = \"${{HL7WASM_TEST_OUT_DIR}}\" }}\nfilter = {{ message_types = [\"ADT\"] }}\nretry = {{ max_retries = 3 }}\n"
        );
        let config = parse(&text, "test.toml").unwrap();
        let channel = &config.channels[0];
        assert_eq!(channel.pipeline[0].version, "latest");
        assert_eq!(
            channel.pipeline[0].config_json(),
            r#"{"drop_types":["ADT^A08"]}"#
        );
        assert_eq!(channel.destinations[0].retry.max_retries, 3);
        let TargetConfig::File(file) = &channel.destinations[0].to else {
            panic!("a file destination");
        };
        assert_eq!(file.dir, std::path::Path::new("/tmp/out"));

        let unset = text.replace("HL7WASM_TEST_OUT_DIR", "HL7WASM_TEST_UNSET");
        let message = error(&unset);
        assert!(
            message.contains("channel \"a\", key destinations[0].to.dir")
                && message.contains("HL7WASM_TEST_UNSET is not set"),
            "{message}"
        );
        let twice = format!(
            "{text}\n[[channels.destinations]]\nname = \"files\"\nto = {{ type = \"file\", dir = \"/tmp\" }}\n"
        );
        assert!(
            error(&twice).contains("key destinations[1].name"),
            "{}",
            error(&twice)
        );
        let to_nowhere = format!(
            "[[channels]]\nname = \"a\"\n{SOURCE}\n[[channels.destinations]]\nname = \"next\"\nto = {{ type = \"channel\", channel = \"b\" }}\n"
        );
        assert!(
            error(&to_nowhere)
                .contains("key destinations[0].to.channel: there is no channel \"b\""),
            "{}",
            error(&to_nowhere)
        );
        let bad_retry = text.replace("max_retries = 3", "multiplier = 0.5");
        assert!(error(&bad_retry).contains("key destinations[0].retry: multiplier"));
    }

    /// Ensures the admin API runs only when asked for, and never on an
    /// address other hosts reach without tokens.
    #[test]
    fn the_admin_section_is_off_by_default_and_needs_tokens_off_loopback() {
        let channel = format!("[[channels]]\nname = \"a\"\n{SOURCE}");
        assert!(!parse(&channel, "test.toml").unwrap().admin.enabled);
        let embedded = parse(super::super::EMBEDDED_DEFAULT, "embedded").unwrap();
        assert!(embedded.admin.enabled);
        assert_eq!(embedded.admin.listen, "127.0.0.1:8080");
        let open = format!("[admin]\nlisten = \"0.0.0.0:8080\"\n\n{channel}");
        assert!(
            error(&open).contains("key admin.listen"),
            "{}",
            error(&open)
        );
        let short = format!(
            "[admin]\ntokens = [{{ name = \"a\", token = \"short\", role = \"viewer\" }}]\n\n{channel}"
        );
        assert!(error(&short).contains("key admin.tokens[0].token"));
    }

    #[test]
    fn a_bad_partition_path_is_refused() {
        let text = format!(
            "[[channels]]\nname = \"a\"\npartition_by = \"PID-x\"\npartitions = 4\n{SOURCE}"
        );
        assert!(
            error(&text).contains("key partition_by"),
            "{}",
            error(&text)
        );
    }
}

//! Reading and checking a configuration file, with errors that name the
//! file, the channel and the key.

use std::collections::HashSet;
use std::path::Path;

use thiserror::Error;

use super::{ChannelConfig, Config};

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
    parse(&text, &origin)
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
    let document: toml::Value = toml::from_str(text).map_err(|e| fail(e.to_string()))?;
    let deserializer = document.clone();
    let config: Config = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = describe_path(&document, &e.path().to_string());
        fail(format!("{key}: {}", e.inner()))
    })?;
    check(&config).map_err(fail)?;
    Ok(config)
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
    for channel in &config.channels {
        check_channel(channel)?;
        if !names.insert(channel.name.as_str()) {
            return Err(format!(
                "channel \"{}\", key name: the name is used twice",
                channel.name
            ));
        }
        let super::SourceConfig::Mllp { listen, .. } = &channel.source;
        if !addresses.insert(*listen) {
            return Err(format!(
                "channel \"{}\", key source.listen: {listen} is used by another channel",
                channel.name
            ));
        }
    }
    Ok(())
}

fn check_channel(channel: &ChannelConfig) -> Result<(), String> {
    let at =
        |key: &str, problem: String| format!("channel \"{}\", key {key}: {problem}", channel.name);
    let valid_name = !channel.name.is_empty()
        && channel
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_name {
        return Err(at("name", "use letters, digits, '-' and '_' only".into()));
    }
    if channel.partitions == 0 {
        return Err(at("partitions", "must be at least 1".into()));
    }
    if let Some(path) = &channel.partition_by {
        hl7v2::Path::parse(path)
            .map_err(|e| at("partition_by", format!("{path:?} is not a field path: {e}")))?;
    }
    Ok(())
}

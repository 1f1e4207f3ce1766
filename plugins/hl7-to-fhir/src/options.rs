//! The plugin's per-channel settings.

use hl7wasm_plugin_sdk::fhir::BundleType;
use serde_json::Value;

/// What to do with a message type the mapper does not handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unsupported {
    /// Drop it with a reason in the message log (the default).
    #[default]
    Filter,
    /// Reject it (ACK AR) so that it is dead-lettered.
    Reject,
}

/// The realm whose profiles fill what the IG leaves to local requirements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Realm {
    /// No realm: race and ethnic group (PID-10, PID-22) are left out, as the
    /// IG has no universal map for them (the default).
    #[default]
    Universal,
    /// The United States: race and ethnic group become the US Core race and
    /// ethnicity extensions.
    Us,
}

/// Mapping settings, read from the channel's plugin config:
///
/// ```json
/// { "bundle_type": "transaction", "unsupported": "filter", "default_timezone": "+01:00",
///   "realm": "us", "transformation_provenance": true }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The kind of Bundle to emit: `transaction` (the default), `batch`,
    /// `collection` or `message`.
    pub bundle_type: BundleType,
    /// Unsupported message types are filtered by default, or rejected.
    pub unsupported: Unsupported,
    /// The UTC offset, in minutes, of HL7 times that carry none. By default
    /// there is none, and such times are truncated to their date rather than
    /// given an invented zone (FHIR needs a zone whenever a time is given).
    pub default_offset_minutes: Option<i16>,
    /// The realm profiles to follow where the IG defers to them.
    pub realm: Realm,
    /// Whether the bundle records its own making (IG
    /// `MSH[Provenance-Transformation]`): a Provenance of every resource by
    /// this mapper, at the time of mapping, with the message as its source
    /// (off by default: it embeds the whole message and makes the same
    /// message's bundles differ in that time).
    pub transformation_provenance: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bundle_type: BundleType::Transaction,
            unsupported: Unsupported::Filter,
            default_offset_minutes: None,
            realm: Realm::Universal,
            transformation_provenance: false,
        }
    }
}

impl Options {
    /// Reads the settings from the plugin's JSON config (`{}` gives the defaults).
    ///
    /// # Errors
    /// A message naming the unknown or invalid setting.
    pub fn from_json(config: &Value) -> Result<Options, String> {
        let Some(settings) = config.as_object() else {
            return Err("config must be a JSON object".into());
        };
        let mut options = Options::default();
        for (key, value) in settings {
            let text = value.as_str();
            match (key.as_str(), text) {
                ("bundle_type", Some(text)) => options.bundle_type = bundle_type(text)?,
                ("unsupported", Some("filter")) => options.unsupported = Unsupported::Filter,
                ("unsupported", Some("reject")) => options.unsupported = Unsupported::Reject,
                ("default_timezone", Some(text)) => {
                    options.default_offset_minutes = Some(parse_offset(text)?);
                }
                ("realm", Some("universal")) => options.realm = Realm::Universal,
                ("realm", Some("us")) => options.realm = Realm::Us,
                ("transformation_provenance", _) => {
                    options.transformation_provenance = value
                        .as_bool()
                        .ok_or_else(|| format!("{key}: expected true or false, not {value}"))?;
                }
                ("bundle_type" | "unsupported" | "default_timezone" | "realm", _) => {
                    return Err(format!("{key}: unsupported value {value}"));
                }
                _ => return Err(format!("unknown setting `{key}`")),
            }
        }
        Ok(options)
    }
}

fn bundle_type(text: &str) -> Result<BundleType, String> {
    match text {
        "transaction" => Ok(BundleType::Transaction),
        "batch" => Ok(BundleType::Batch),
        "collection" => Ok(BundleType::Collection),
        "message" => Ok(BundleType::Message),
        other => Err(format!(
            "bundle_type: expected transaction, batch, collection or message, not {other:?}"
        )),
    }
}

/// `Z`, `+HH:MM`, `-HHMM` and the like, to minutes.
fn parse_offset(text: &str) -> Result<i16, String> {
    let invalid = || format!("default_timezone: expected an offset like +01:00, not {text:?}");
    if text == "Z" {
        return Ok(0);
    }
    let digits: String = text.chars().filter(|c| *c != ':').collect();
    let (sign, rest) = digits.split_at_checked(1).ok_or_else(invalid)?;
    let sign = match sign {
        "+" => 1,
        "-" => -1,
        _ => return Err(invalid()),
    };
    if rest.len() != 4 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let hours: i16 = rest[..2].parse().map_err(|_| invalid())?;
    let minutes: i16 = rest[2..].parse().map_err(|_| invalid())?;
    if hours > 23 || minutes > 59 {
        return Err(invalid());
    }
    Ok(sign * (hours * 60 + minutes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_config_gives_the_defaults() {
        assert_eq!(Options::from_json(&json!({})), Ok(Options::default()));
    }

    #[test]
    fn reads_every_setting() {
        let options = Options::from_json(&json!({
            "bundle_type": "batch", "unsupported": "reject", "default_timezone": "-05:00",
            "realm": "us", "transformation_provenance": true
        }))
        .unwrap();
        assert_eq!(options.bundle_type, BundleType::Batch);
        assert_eq!(options.unsupported, Unsupported::Reject);
        assert_eq!(options.default_offset_minutes, Some(-300));
        assert_eq!(options.realm, Realm::Us);
        assert!(options.transformation_provenance);
    }

    #[test]
    fn names_the_bad_setting() {
        let error = Options::from_json(&json!({"bundle_typ": "batch"})).unwrap_err();
        assert!(error.contains("bundle_typ"), "{error}");
        let error = Options::from_json(&json!({"unsupported": "drop"})).unwrap_err();
        assert!(error.starts_with("unsupported:"), "{error}");
        let error = Options::from_json(&json!({"realm": "uk"})).unwrap_err();
        assert!(error.starts_with("realm:"), "{error}");
        let error = Options::from_json(&json!({"transformation_provenance": "yes"})).unwrap_err();
        assert!(error.starts_with("transformation_provenance:"), "{error}");
    }
}

//! A conformance profile as written in the config (`[profiles.NAME]`), and
//! its checked, ready-to-use form.

use serde::Deserialize;

use super::data_type::DataType;
use crate::config::message_type;

/// A profile as written: what a message must look like to be accepted.
/// Every list that is empty admits everything.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// Message types admitted, as `ADT` (any trigger), `ADT^A01` or
    /// `ADT^*`; another type is refused with error 200 or 201.
    #[serde(default)]
    pub message_types: Vec<String>,
    /// Versions admitted (MSH-12.1), for example `2.5.1`; another is refused
    /// with error 203.
    #[serde(default)]
    pub versions: Vec<String>,
    /// Processing IDs admitted (MSH-11.1), for example `P`; another is
    /// refused with error 202.
    #[serde(default)]
    pub processing_ids: Vec<String>,
    /// How often segments may occur.
    #[serde(default)]
    pub segments: Vec<SegmentRule>,
    /// What fields, components and subcomponents must hold.
    #[serde(default)]
    pub fields: Vec<FieldRule>,
}

/// How many times a segment may occur in a message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentRule {
    /// The segment ID, for example `PID`.
    pub id: String,
    /// The fewest occurrences. By default 0.
    #[serde(default)]
    pub min: usize,
    /// The most occurrences. By default unbounded.
    pub max: Option<usize>,
    /// The message types the rule applies to. By default all.
    #[serde(default)]
    pub message_types: Vec<String>,
    /// Whether a breach refuses the message. By default it does.
    #[serde(default)]
    pub severity: RuleSeverity,
}

/// What a field (or component, or subcomponent) must hold, in every
/// occurrence of its segment and every repetition of the field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRule {
    /// The element, as `PID-8`, `PID-3.1` or `PID-3.4.1`.
    pub path: String,
    /// It must not be empty (error 101). `""`, HL7's explicit null, counts
    /// as a value.
    #[serde(default)]
    pub required: bool,
    /// Its data type (error 102).
    #[serde(rename = "type")]
    pub data_type: Option<DataType>,
    /// The values allowed, compared exactly, as in an HL7 or local table
    /// (error 103).
    #[serde(default)]
    pub values: Vec<String>,
    /// A regular expression the whole value must match, for example
    /// `[0-9]{5}(-[0-9]{4})?` for a US ZIP code (error 102).
    pub pattern: Option<String>,
    /// The most characters, after unescaping (error 104).
    pub max_length: Option<usize>,
    /// The most repetitions of the field (error 102).
    pub max_repetitions: Option<usize>,
    /// The message types the rule applies to. By default all.
    #[serde(default)]
    pub message_types: Vec<String>,
    /// Whether a breach refuses the message. By default it does.
    #[serde(default)]
    pub severity: RuleSeverity,
}

/// Whether a finding refuses the message or only warns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSeverity {
    /// The message is refused with AR and not stored (the default).
    #[default]
    Error,
    /// The message is accepted; the ACK carries the finding as an ERR
    /// segment with severity W.
    Warning,
}

/// A profile checked and ready to apply to messages.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Its name under `[profiles]`.
    pub name: String,
    pub(super) message_types: Vec<String>,
    pub(super) versions: Vec<String>,
    pub(super) processing_ids: Vec<String>,
    pub(super) segments: Vec<SegmentRule>,
    pub(super) fields: Vec<CompiledField>,
}

/// A field rule with its path taken apart.
#[derive(Debug, Clone)]
pub(super) struct CompiledField {
    pub(super) rule: FieldRule,
    pub(super) segment: String,
    pub(super) field: usize,
    pub(super) component: Option<usize>,
    pub(super) subcomponent: Option<usize>,
    /// `rule.pattern`, anchored at both ends.
    pub(super) pattern: Option<regex::Regex>,
}

impl Profile {
    /// Checks a profile as written.
    ///
    /// # Errors
    /// Names the key (for example `fields[2].path`) and what is wrong with it.
    pub fn compile(name: &str, config: &ProfileConfig) -> Result<Profile, String> {
        check_types("message_types", &config.message_types)?;
        for (index, rule) in config.segments.iter().enumerate() {
            let key = format!("segments[{index}]");
            check_segment_id(&rule.id).map_err(|e| format!("{key}.id: {e}"))?;
            if rule.max.is_some_and(|max| max < rule.min) {
                return Err(format!("{key}.max: below min ({})", rule.min));
            }
            check_types(&format!("{key}.message_types"), &rule.message_types)?;
        }
        let fields = config
            .fields
            .iter()
            .enumerate()
            .map(|(index, rule)| compile_field(rule).map_err(|e| format!("fields[{index}].{e}")))
            .collect::<Result<_, _>>()?;
        Ok(Profile {
            name: name.to_string(),
            message_types: config.message_types.clone(),
            versions: config.versions.clone(),
            processing_ids: config.processing_ids.clone(),
            segments: config.segments.clone(),
            fields,
        })
    }
}

fn compile_field(rule: &FieldRule) -> Result<CompiledField, String> {
    if rule.path.contains('[') {
        return Err(format!(
            "path: {:?} names an occurrence; a rule applies to every occurrence and \
             repetition, so write it without [n]",
            rule.path
        ));
    }
    let path = hl7v2::Path::parse(&rule.path).map_err(|e| format!("path: {e}"))?;
    if path.is_msh_literal() {
        return Err(
            "path: MSH-1 and MSH-2 are the delimiters and are checked by the parser".into(),
        );
    }
    if rule.max_repetitions == Some(0) || rule.max_length == Some(0) {
        return Err("max_repetitions and max_length: must be at least 1".into());
    }
    check_types("message_types", &rule.message_types)?;
    let pattern = rule
        .pattern
        .as_ref()
        .map(|pattern| regex::Regex::new(&format!("^(?:{pattern})$")))
        .transpose()
        .map_err(|e| format!("pattern: {e}"))?;
    Ok(CompiledField {
        rule: rule.clone(),
        segment: path.segment.to_string(),
        field: path.field,
        component: path.component,
        subcomponent: path.subcomponent,
        pattern,
    })
}

fn check_segment_id(id: &str) -> Result<(), String> {
    let valid = id.len() == 3
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && id.as_bytes()[0].is_ascii_uppercase();
    if valid {
        Ok(())
    } else {
        Err(format!("{id:?} is not a segment ID like \"PID\""))
    }
}

fn check_types(key: &str, patterns: &[String]) -> Result<(), String> {
    patterns
        .iter()
        .try_for_each(|pattern| message_type::check(pattern).map_err(|e| format!("{key}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(text: &str) -> Result<Profile, String> {
        let config: ProfileConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        Profile::compile("test", &config)
    }

    #[test]
    fn mistakes_name_their_key() {
        let error = compile("[[fields]]\npath = \"PID-3[2]\"\nrequired = true").unwrap_err();
        assert!(error.starts_with("fields[0].path:"), "{error}");
        let error = compile("[[fields]]\npath = \"PID3\"").unwrap_err();
        assert!(error.starts_with("fields[0].path:"), "{error}");
        let error = compile("[[fields]]\npath = \"MSH-2\"").unwrap_err();
        assert!(error.contains("delimiters"), "{error}");
        let error = compile("[[segments]]\nid = \"PV1\"\nmin = 2\nmax = 1").unwrap_err();
        assert_eq!(error, "segments[0].max: below min (2)");
        let error = compile("[[segments]]\nid = \"pid\"").unwrap_err();
        assert!(error.starts_with("segments[0].id:"), "{error}");
        let error = compile("message_types = [\"^A01\"]").unwrap_err();
        assert!(error.starts_with("message_types:"), "{error}");
        assert!(compile("[[fields]]\npath = \"PID-8\"\ntype = \"XX\"").is_err());
        let error = compile("[[fields]]\npath = \"PID-11.5\"\npattern = \"[0-9\"").unwrap_err();
        assert!(error.starts_with("fields[0].pattern:"), "{error}");
    }

    #[test]
    fn a_sound_profile_compiles() {
        let profile = compile(
            "message_types = [\"ADT\"]\n[[segments]]\nid = \"PID\"\nmin = 1\nmax = 1\n\
             [[fields]]\npath = \"PID-3.4.1\"\nrequired = true\nseverity = \"warning\"",
        )
        .unwrap();
        let field = &profile.fields[0];
        assert_eq!(
            (
                field.segment.as_str(),
                field.field,
                field.component,
                field.subcomponent
            ),
            ("PID", 3, Some(4), Some(1))
        );
    }
}

//! `${NAME}` in configuration strings: secrets and per-host settings come
//! from the environment instead of the file.
//!
//! Only string values are rewritten, after TOML parsing, so a variable's
//! value can never change the file's structure. `$${` stands for a literal
//! `${`. An unset variable is an error that names the key.

/// Replaces `${NAME}` in every string of `value`, looking names up with
/// `lookup`; `path` names `value` in errors.
///
/// # Errors
/// The key's path (as `channels[0].to.url`) and the problem when a variable
/// is unset or a `${` is not closed.
pub(crate) fn interpolate(
    value: &mut toml::Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), (String, String)> {
    match value {
        toml::Value::String(text) if text.contains('$') => {
            *text = expand(text, lookup).map_err(|problem| (path.to_string(), problem))?;
        }
        toml::Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                interpolate(item, &format!("{path}[{index}]"), lookup)?;
            }
        }
        toml::Value::Table(table) => {
            for (key, item) in table.iter_mut() {
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                interpolate(item, &path, lookup)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail
                .find('}')
                .ok_or_else(|| format!("\"${{\" without a closing \"}}\" in {text:?}"))?;
            let name = &tail[..end];
            let value =
                lookup(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
            out.push_str(&value);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cret".to_string())
    }

    /// Ensures variables expand inside strings, `$${` escapes, other `$`
    /// stay, and an unset variable names the key.
    #[test]
    fn variables_expand_and_unset_ones_name_the_key() {
        let mut value: toml::Value =
            toml::from_str("a = \"Bearer ${TOKEN}\"\nb = [\"$${TOKEN}\", \"cost $5\"]\n").unwrap();
        interpolate(&mut value, "", &env).unwrap();
        assert_eq!(value["a"].as_str(), Some("Bearer s3cret"));
        assert_eq!(value["b"][0].as_str(), Some("${TOKEN}"));
        assert_eq!(value["b"][1].as_str(), Some("cost $5"));

        let mut value: toml::Value = toml::from_str("[x]\ny = \"${MISSING}\"\n").unwrap();
        let error = interpolate(&mut value, "", &env).unwrap_err();
        assert_eq!(
            error,
            (
                "x.y".to_string(),
                "environment variable MISSING is not set".to_string()
            )
        );
    }
}

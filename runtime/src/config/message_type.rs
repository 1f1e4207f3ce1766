//! Message type patterns, as written in filters and profiles: `ADT` (any
//! trigger), `ADT^A01`, `ADT^*`, or `*`.

/// Whether `pattern` covers a message with MSH-9.1 `code` and MSH-9.2
/// `trigger` (case-insensitive).
pub fn matches(pattern: &str, code: &str, trigger: &str) -> bool {
    match pattern.split_once('^') {
        Some((wanted_code, wanted_trigger)) => {
            wanted_code.eq_ignore_ascii_case(code)
                && (wanted_trigger == "*" || wanted_trigger.eq_ignore_ascii_case(trigger))
        }
        None => pattern == "*" || pattern.eq_ignore_ascii_case(code),
    }
}

/// Checks a pattern's syntax.
///
/// # Errors
/// Says why the pattern cannot match anything.
pub fn check(pattern: &str) -> Result<(), String> {
    let code = pattern.split_once('^').map_or(pattern, |(code, _)| code);
    if code.is_empty() || pattern.matches('^').count() > 1 {
        return Err(format!(
            "{pattern:?} is not a message type like \"ADT\" or \"ADT^A01\""
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_alone_covers_every_trigger() {
        assert!(matches("ADT", "ADT", "A01"));
        assert!(matches("adt^a01", "ADT", "A01"));
        assert!(matches("ADT^*", "ADT", "A08"));
        assert!(matches("*", "ORU", "R01"));
        assert!(!matches("ADT^A08", "ADT", "A01"));
        assert!(!matches("ORU", "ADT", "A01"));
        assert!(check("^A01").is_err());
        assert!(check("ADT^A01^X").is_err());
        assert!(check("ADT^A01").is_ok());
    }
}

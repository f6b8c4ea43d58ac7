//! The naming rules of DESIGN §3, shared by the server (which enforces them) and the
//! dashboard and CLI (which check early for a friendlier message).

use crate::error::FieldError;

/// Longest resource name (users, teams, stacks, components, secrets, pipelines, models).
pub const MAX_NAME_LEN: usize = 63;
/// Longest display name or other free-text label.
pub const MAX_DISPLAY_NAME_LEN: usize = 200;

/// A resource name: 1 to 63 characters, letters, digits, `-` and `_`, starting with a
/// letter or digit. Unique per kind regardless of case. No dots or spaces, so references
/// such as `{{secret.key}}` and command-line arguments stay unambiguous.
pub fn check_name(field: &str, value: &str) -> Result<(), FieldError> {
    let mut chars = value.chars();
    let Some(first) = chars.next() else {
        return Err(FieldError::new(field, "must not be empty"));
    };
    if value.chars().count() > MAX_NAME_LEN {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_NAME_LEN} characters"),
        ));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(FieldError::new(
            field,
            "must start with a letter or a digit",
        ));
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        return Err(FieldError::new(
            field,
            format!("may contain only letters, digits, '-' and '_' (found {bad:?})"),
        ));
    }
    Ok(())
}

/// Free text shown to people: at most 200 characters, no control characters.
pub fn check_display_name(field: &str, value: &str) -> Result<(), FieldError> {
    if value.chars().count() > MAX_DISPLAY_NAME_LEN {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_DISPLAY_NAME_LEN} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Step, input, output and parameter names: `[a-z][a-z0-9_]{0,62}`.
pub fn check_identifier(field: &str, value: &str) -> Result<(), FieldError> {
    let bytes = value.as_bytes();
    let valid = (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_');
    if valid {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            "must be 1 to 63 characters: a lowercase letter, then lowercase letters, digits or '_'",
        ))
    }
}

/// Passwords: 10 to 1024 characters, anything else is the user's choice.
pub fn check_password(field: &str, value: &str) -> Result<(), FieldError> {
    let len = value.chars().count();
    if len < 10 {
        return Err(FieldError::new(field, "must be at least 10 characters"));
    }
    if len > 1024 {
        return Err(FieldError::new(field, "must be at most 1024 characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_grammar() {
        for ok in ["a", "prod", "Alice", "ml-team_2", "0day", &"x".repeat(63)] {
            assert!(check_name("name", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-lead",
            "_x",
            "has space",
            "dot.ted",
            "tab\t",
            "émile",
            &"x".repeat(64),
        ] {
            let err = check_name("name", bad).expect_err(bad);
            assert_eq!(err.field, "name");
        }
    }

    #[test]
    fn display_names_refuse_control_characters_and_length() {
        assert!(check_display_name("display_name", "Ada Lovelace — ML").is_ok());
        assert!(check_display_name("display_name", "").is_ok());
        assert!(check_display_name("display_name", "bell\u{7}").is_err());
        assert!(check_display_name("display_name", "new\nline").is_err());
        assert!(check_display_name("display_name", &"é".repeat(200)).is_ok());
        assert!(check_display_name("display_name", &"é".repeat(201)).is_err());
    }

    #[test]
    fn identifiers_are_lowercase_snake_case() {
        assert!(check_identifier("step", "train_model2").is_ok());
        for bad in ["", "Train", "2step", "step-one", &"a".repeat(64)] {
            assert!(check_identifier("step", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_have_a_floor_and_a_ceiling() {
        assert!(check_password("password", "short").is_err());
        assert!(check_password("password", "correct horse").is_ok());
        assert!(check_password("password", &"p".repeat(1025)).is_err());
    }
}

//! The secrets vault on the wire. Listing and getting a secret show its keys only;
//! values travel in one direction (create, update) and come back only through reveal.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::stacks::Ownership;

/// A secret without its values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Secret {
    pub id: Uuid,
    pub name: String,
    /// The names of its values, sorted.
    pub keys: Vec<String>,
    #[serde(flatten)]
    pub ownership: Ownership,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /api/v1/secrets`.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateSecretRequest {
    pub name: String,
    /// Key → value; at least one.
    #[schema(value_type = Object, example = json!({"access_key_id": "…", "secret_access_key": "…"}))]
    pub values: BTreeMap<String, String>,
    /// Share with this team at once.
    #[serde(default)]
    pub team: Option<String>,
}

/// `PATCH /api/v1/secrets/{name}`: rename, and set (string) or remove (`null`)
/// values; keys not named keep their values.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateSecretRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"secret_access_key": "…", "old_key": null}))]
    pub values: BTreeMap<String, Option<String>>,
}

/// `POST /api/v1/secrets/{name}/reveal`: the values, for whoever may use the secret.
/// Each reveal is written to the audit log.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct RevealedSecret {
    pub name: String,
    #[schema(value_type = Object, example = json!({"access_key_id": "…"}))]
    pub values: BTreeMap<String, String>,
}

/// `GET /api/v1/secrets` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SecretFilter {
    /// Names containing this text (case-insensitive).
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /api/v1/secrets/rotate` (administrators): the outcome of re-wrapping every
/// data key under the keyring's newest key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RotationReport {
    /// The version every data key is now wrapped with.
    pub key_version: u32,
    /// Secrets re-wrapped by this call.
    pub rewrapped: u64,
    /// Secrets still wrapped with an older key (0 once done).
    pub remaining: u64,
}

// Values must never reach a log line through `Debug`.
macro_rules! redacted_debug {
    ($($ty:ident { $($field:ident),* })*) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    .finish_non_exhaustive()
            }
        }
    )*};
}

redacted_debug! {
    CreateSecretRequest { name, team }
    UpdateSecretRequest { name }
    RevealedSecret { name }
}

/// A `{{secret.key}}` reference in a component's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretReference {
    pub secret: String,
    pub key: String,
}

impl SecretReference {
    /// Parses exactly `{{secret_name.key}}` (spaces inside the braces allowed).
    pub fn parse(text: &str) -> Option<Self> {
        let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
        let (secret, key) = inner.split_once('.')?;
        let ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        (ok(secret) && ok(key)).then(|| SecretReference {
            secret: secret.to_string(),
            key: key.to_string(),
        })
    }
}

impl std::fmt::Display for SecretReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{{{{}.{}}}}}", self.secret, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_only_in_their_exact_form() {
        let r = SecretReference::parse("{{aws.secret_key}}").expect("a reference");
        assert_eq!((r.secret.as_str(), r.key.as_str()), ("aws", "secret_key"));
        assert_eq!(r.to_string(), "{{aws.secret_key}}");
        assert!(SecretReference::parse("{{ aws.key }}").is_some());
        for bad in [
            "aws.key",
            "{{aws}}",
            "{{.key}}",
            "{{aws.}}",
            "x{{a.b}}",
            "{{a b.c}}",
        ] {
            assert!(SecretReference::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn debug_output_never_shows_values() {
        let req = CreateSecretRequest {
            name: "aws".into(),
            values: [("key".to_string(), "marker-value-123".to_string())].into(),
            team: None,
        };
        let shown = format!("{req:?}");
        assert!(shown.contains("aws") && !shown.contains("marker-value-123"));
        let revealed = RevealedSecret {
            name: "aws".into(),
            values: req.values.clone(),
        };
        assert!(!format!("{revealed:?}").contains("marker-value-123"));
    }
}

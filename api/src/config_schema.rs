//! The part of JSON Schema that flavor configurations use, read into a tree of fields.
//! The server validates component configurations with it and the dashboard draws its
//! forms from it, so what one accepts the other can show.
//!
//! Understood keywords: `type` (string, integer, number, boolean, array, object, and a
//! list of one of those with `null`), `properties`, `required`, `title`,
//! `description`, `default`, `enum`, `items`, `minimum`, `maximum`, `minLength`,
//! `maxLength`, `additionalProperties: false`, `format` (shown, not checked), and
//! `x-weir-sensitive` (the field takes a `{{secret.key}}` reference).

use serde_json::{Map, Value};

use crate::FieldError;
use crate::secrets::SecretReference;

/// The marker on sensitive fields.
pub const SENSITIVE: &str = "x-weir-sensitive";

/// What a field holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    String,
    Integer,
    Number,
    Boolean,
    /// A string from a fixed list.
    Enum(Vec<String>),
    /// A list of values of one kind.
    Array(Box<Kind>),
    /// A nested object.
    Object(Vec<FieldSpec>),
}

/// One field of a configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub name: String,
    pub title: String,
    pub description: String,
    /// Must be given (it is listed in `required` and has no default).
    pub required: bool,
    /// `null` is accepted.
    pub nullable: bool,
    pub sensitive: bool,
    pub default: Option<Value>,
    pub kind: Kind,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
}

const KNOWN: &[&str] = &[
    "$schema",
    "type",
    "properties",
    "required",
    "title",
    "description",
    "default",
    "enum",
    "items",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "additionalProperties",
    "format",
    SENSITIVE,
];

/// Reads a flavor's schema: an object schema whose fields use the keywords above.
/// Problems are reported with their place in the schema (`config_schema.properties.x`).
pub fn parse(schema: &Value) -> Result<Vec<FieldSpec>, Vec<FieldError>> {
    let mut problems = Vec::new();
    let fields = match schema {
        Value::Object(map) if type_names(map).0 == ["object"] => {
            check_keywords(map, "config_schema", &mut problems);
            object_fields(map, "config_schema", &mut problems)
        }
        _ => {
            problems.push(FieldError::new(
                "config_schema",
                "must be a JSON Schema with \"type\": \"object\"",
            ));
            Vec::new()
        }
    };
    if problems.is_empty() {
        Ok(fields)
    } else {
        Err(problems)
    }
}

fn type_names(map: &Map<String, Value>) -> (Vec<String>, bool) {
    let mut names: Vec<String> = match map.get("type") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let nullable = names.iter().any(|n| n == "null");
    names.retain(|n| n != "null");
    (names, nullable)
}

fn check_keywords(map: &Map<String, Value>, at: &str, problems: &mut Vec<FieldError>) {
    for key in map.keys() {
        if !KNOWN.contains(&key.as_str()) {
            problems.push(FieldError::new(
                at,
                format!("uses \"{key}\", which Weir's configuration forms do not support"),
            ));
        }
    }
    if let Some(extra) = map.get("additionalProperties")
        && extra != &Value::Bool(false)
    {
        problems.push(FieldError::new(
            at,
            "\"additionalProperties\" may only be false",
        ));
    }
}

fn object_fields(
    map: &Map<String, Value>,
    at: &str,
    problems: &mut Vec<FieldError>,
) -> Vec<FieldSpec> {
    let required: Vec<&str> = map
        .get("required")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = map.get("properties") else {
        return Vec::new();
    };
    let Some(properties) = properties.as_object() else {
        problems.push(FieldError::new(
            format!("{at}.properties"),
            "must be an object",
        ));
        return Vec::new();
    };
    let mut fields = Vec::new();
    for (name, property) in properties {
        let here = format!("{at}.properties.{name}");
        if !valid_field_name(name) {
            problems.push(FieldError::new(
                &here,
                "field names use letters, digits and underscores, starting with a letter",
            ));
            continue;
        }
        let Some(property) = property.as_object() else {
            problems.push(FieldError::new(&here, "must be a schema object"));
            continue;
        };
        check_keywords(property, &here, problems);
        let Some((kind, nullable)) = kind_of(property, &here, problems) else {
            continue;
        };
        let default = property.get("default").cloned();
        let sensitive = property.get(SENSITIVE) == Some(&Value::Bool(true));
        if sensitive && !matches!(kind, Kind::String) {
            problems.push(FieldError::new(
                &here,
                "only string fields can be sensitive",
            ));
        }
        let text = |k: &str| {
            property
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let title = match text("title") {
            t if t.is_empty() => humanize(name),
            t => t,
        };
        fields.push(FieldSpec {
            name: name.clone(),
            title,
            description: text("description"),
            required: required.contains(&name.as_str()) && default.is_none(),
            nullable,
            sensitive,
            default,
            kind,
            minimum: property.get("minimum").and_then(Value::as_f64),
            maximum: property.get("maximum").and_then(Value::as_f64),
            min_length: property.get("minLength").and_then(Value::as_u64),
            max_length: property.get("maxLength").and_then(Value::as_u64),
        });
    }
    fields
}

fn kind_of(
    map: &Map<String, Value>,
    at: &str,
    problems: &mut Vec<FieldError>,
) -> Option<(Kind, bool)> {
    let (names, nullable) = type_names(map);
    if let Some(options) = map.get("enum") {
        let options: Option<Vec<String>> = options.as_array().map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        });
        return match options {
            Some(options) if !options.is_empty() => Some((Kind::Enum(options), nullable)),
            _ => {
                problems.push(FieldError::new(at, "\"enum\" must list strings"));
                None
            }
        };
    }
    let kind = match names.as_slice() {
        [one] => match one.as_str() {
            "string" => Kind::String,
            "integer" => Kind::Integer,
            "number" => Kind::Number,
            "boolean" => Kind::Boolean,
            "array" => {
                let items = map.get("items").and_then(Value::as_object);
                let Some(items) = items else {
                    problems.push(FieldError::new(at, "an array needs \"items\""));
                    return None;
                };
                let here = format!("{at}.items");
                check_keywords(items, &here, problems);
                let (item, _) = kind_of(items, &here, problems)?;
                if matches!(item, Kind::Array(_) | Kind::Object(_)) {
                    problems.push(FieldError::new(
                        &here,
                        "array items must be strings, numbers, booleans or enums",
                    ));
                    return None;
                }
                Kind::Array(Box::new(item))
            }
            "object" => Kind::Object(object_fields(map, at, problems)),
            other => {
                problems.push(FieldError::new(at, format!("unknown type \"{other}\"")));
                return None;
            }
        },
        _ => {
            problems.push(FieldError::new(
                at,
                "needs one \"type\" (optionally with \"null\")",
            ));
            return None;
        }
    };
    Some((kind, nullable))
}

fn valid_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63
}

/// `secret_access_key` → `Secret access key`.
pub fn humanize(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The outcome of checking a configuration against its fields.
#[derive(Debug, Default)]
pub struct Checked {
    pub problems: Vec<FieldError>,
    /// The `{{secret.key}}` references found in sensitive fields, with their paths.
    pub references: Vec<(String, SecretReference)>,
}

/// Checks `config` against `fields`. Field paths are prefixed with `prefix`
/// (`config.retry.attempts`).
pub fn check(fields: &[FieldSpec], config: &Value, prefix: &str) -> Checked {
    let mut out = Checked::default();
    check_object(fields, config, prefix, &mut out);
    out
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn check_object(fields: &[FieldSpec], value: &Value, at: &str, out: &mut Checked) {
    let Some(map) = value.as_object() else {
        out.problems.push(FieldError::new(at, "must be an object"));
        return;
    };
    for key in map.keys() {
        if !fields.iter().any(|f| &f.name == key) {
            out.problems.push(FieldError::new(
                join(at, key),
                "is not a field of this flavor",
            ));
        }
    }
    for field in fields {
        let here = join(at, &field.name);
        match map.get(&field.name) {
            None | Some(Value::Null) if field.required => {
                out.problems.push(FieldError::new(here, "is required"));
            }
            None => {}
            Some(Value::Null) if field.nullable || !field.required => {}
            Some(value) => check_value(field, &field.kind, value, &here, out),
        }
    }
}

fn check_value(field: &FieldSpec, kind: &Kind, value: &Value, at: &str, out: &mut Checked) {
    let mut problem = |message: String| out.problems.push(FieldError::new(at, message));
    match (kind, value) {
        (Kind::String, Value::String(text)) => {
            let length = text.chars().count() as u64;
            if let Some(min) = field.min_length
                && length < min
            {
                problem(if min == 1 {
                    "must not be empty".into()
                } else {
                    format!("must be at least {min} characters")
                });
                return;
            }
            if let Some(max) = field.max_length
                && length > max
            {
                problem(format!("must be at most {max} characters"));
                return;
            }
            if field.sensitive && !text.is_empty() {
                match SecretReference::parse(text) {
                    Some(reference) => out.references.push((at.to_string(), reference)),
                    None => problem(
                        "is sensitive: give a {{secret_name.key}} reference to a secret, not the value itself".into(),
                    ),
                }
            }
        }
        (Kind::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => {
            check_range(field, n.as_f64().unwrap_or_default(), &mut problem)
        }
        (Kind::Number, Value::Number(n)) => {
            check_range(field, n.as_f64().unwrap_or_default(), &mut problem)
        }
        (Kind::Boolean, Value::Bool(_)) => {}
        (Kind::Enum(options), Value::String(text)) => {
            if !options.contains(text) {
                problem(format!("must be one of: {}", options.join(", ")));
            }
        }
        (Kind::Array(item), Value::Array(values)) => {
            for (index, value) in values.iter().enumerate() {
                check_value(field, item, value, &format!("{at}[{index}]"), out);
            }
        }
        (Kind::Object(fields), Value::Object(_)) => check_object(fields, value, at, out),
        (kind, _) => problem(format!("must be {}", describe(kind))),
    }
}

fn check_range(field: &FieldSpec, n: f64, problem: &mut impl FnMut(String)) {
    if let Some(min) = field.minimum
        && n < min
    {
        problem(format!("must be at least {min}"));
    } else if let Some(max) = field.maximum
        && n > max
    {
        problem(format!("must be at most {max}"));
    }
}

fn describe(kind: &Kind) -> &'static str {
    match kind {
        Kind::String => "text",
        Kind::Integer => "a whole number",
        Kind::Number => "a number",
        Kind::Boolean => "true or false",
        Kind::Enum(_) => "one of the listed values",
        Kind::Array(_) => "a list",
        Kind::Object(_) => "an object",
    }
}

/// Turns text typed into a form (or `key=value` on a command line) into the JSON
/// value a field expects; `None` when it cannot be read as that kind (the check then
/// reports it). Empty text means "not given".
pub fn value_from_text(kind: &Kind, text: &str) -> Option<Value> {
    let text = text.trim();
    if text.is_empty() {
        return Some(Value::Null);
    }
    Some(match kind {
        Kind::String | Kind::Enum(_) => Value::String(text.to_string()),
        Kind::Integer => Value::from(text.parse::<i64>().ok()?),
        Kind::Number => Value::from(text.parse::<f64>().ok()?),
        Kind::Boolean => Value::Bool(match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => true,
            "false" | "no" | "off" | "0" => false,
            _ => return None,
        }),
        Kind::Array(item) => {
            if text.starts_with('[') {
                return serde_json::from_str(text).ok();
            }
            Value::Array(
                text.split([',', '\n'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| value_from_text(item, s).unwrap_or(Value::String(s.into())))
                    .collect(),
            )
        }
        Kind::Object(_) => return serde_json::from_str(text).ok(),
    })
}

/// Builds a configuration from `path=text` pairs (`retry.attempts=3`), reading each
/// text as its field's kind. Unknown paths are kept as text so the check names them.
pub fn config_from_pairs<'a>(
    fields: &[FieldSpec],
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Value, Vec<FieldError>> {
    let mut root = Map::new();
    let mut problems = Vec::new();
    for (path, text) in pairs {
        let parts: Vec<&str> = path.split('.').collect();
        let (kind, known) = match find(fields, &parts) {
            Some(field) => (field.kind.clone(), true),
            None => (Kind::String, false),
        };
        let value = match value_from_text(&kind, text) {
            Some(value) => value,
            None if known => {
                problems.push(FieldError::new(
                    format!("config.{path}"),
                    format!("must be {}", describe(&kind)),
                ));
                continue;
            }
            None => Value::String(text.into()),
        };
        if value.is_null() {
            continue;
        }
        let mut node = &mut root;
        for part in &parts[..parts.len() - 1] {
            let entry = node
                .entry(part.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            node = entry.as_object_mut().expect("BUG: made an object above");
        }
        node.insert(parts[parts.len() - 1].to_string(), value);
    }
    if problems.is_empty() {
        Ok(Value::Object(root))
    } else {
        Err(problems)
    }
}

/// The field at `path` (`["retry", "attempts"]`).
pub fn find<'a>(fields: &'a [FieldSpec], path: &[&str]) -> Option<&'a FieldSpec> {
    let (first, rest) = path.split_first()?;
    let field = fields.iter().find(|f| f.name == *first)?;
    if rest.is_empty() {
        return Some(field);
    }
    match &field.kind {
        Kind::Object(inner) => find(inner, rest),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["bucket", "key"],
            "properties": {
                "bucket": {"type": "string", "minLength": 3, "description": "Bucket name."},
                "key": {"type": "string", "x-weir-sensitive": true},
                "region": {"type": "string", "default": "us-east-1"},
                "port": {"type": ["integer", "null"], "minimum": 1, "maximum": 65535},
                "style": {"type": "string", "enum": ["path", "virtual"], "default": "path"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "retry": {"type": "object", "properties": {
                    "attempts": {"type": "integer", "minimum": 1, "default": 3}
                }}
            }
        })
    }

    #[test]
    fn a_schema_reads_into_fields_in_order() {
        let fields = parse(&schema()).expect("valid");
        let names: Vec<_> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["bucket", "key", "region", "port", "style", "tags", "retry"]
        );
        assert!(fields[0].required && fields[1].sensitive && !fields[2].required);
        assert_eq!(fields[0].title, "Bucket");
        assert!(fields[3].nullable);
        assert_eq!(
            fields[4].kind,
            Kind::Enum(vec!["path".into(), "virtual".into()])
        );
        assert!(matches!(&fields[6].kind, Kind::Object(inner) if inner[0].name == "attempts"));
    }

    #[test]
    fn unsupported_schemas_are_refused_with_their_place() {
        let err = parse(&json!({"type": "string"})).expect_err("not an object");
        assert_eq!(err[0].field, "config_schema");
        let err = parse(&json!({"type": "object", "properties": {
            "a": {"type": "string", "pattern": "x"},
            "b": {"oneOf": []},
            "c": {"type": "array"},
            "d": {"type": "integer", "x-weir-sensitive": true},
            "9x": {"type": "string"}
        }}))
        .expect_err("unsupported");
        let fields: Vec<_> = err.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "config_schema.properties.a",
            "config_schema.properties.b",
            "config_schema.properties.c",
            "config_schema.properties.d",
            "config_schema.properties.9x",
        ] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
    }

    #[test]
    fn configurations_are_checked_field_by_field() {
        let fields = parse(&schema()).expect("valid");
        let ok = check(
            &fields,
            &json!({"bucket": "data", "key": "{{aws.secret}}", "port": null,
                    "tags": ["a"], "retry": {"attempts": 2}}),
            "config",
        );
        assert!(ok.problems.is_empty(), "{:?}", ok.problems);
        assert_eq!(ok.references[0].0, "config.key");
        assert_eq!(ok.references[0].1.to_string(), "{{aws.secret}}");

        let bad = check(
            &fields,
            &json!({"bucket": "x", "key": "plaintext-value", "port": 70000,
                    "style": "other", "tags": [1], "retry": {"attempts": 0}, "extra": 1}),
            "config",
        );
        let by_field = |f: &str| {
            bad.problems
                .iter()
                .find(|p| p.field == f)
                .map(|p| p.message.clone())
                .unwrap_or_else(|| panic!("no problem for {f}: {:?}", bad.problems))
        };
        assert!(by_field("config.bucket").contains("at least 3"));
        assert!(by_field("config.key").contains("{{secret_name.key}}"));
        assert!(!by_field("config.key").contains("plaintext-value"));
        assert!(by_field("config.port").contains("at most 65535"));
        assert!(by_field("config.style").contains("path, virtual"));
        assert!(by_field("config.tags[0]").contains("text"));
        assert!(by_field("config.retry.attempts").contains("at least 1"));
        assert!(by_field("config.extra").contains("not a field"));

        let missing = check(&fields, &json!({}), "config");
        assert_eq!(missing.problems.len(), 2, "bucket and key are required");
    }

    #[test]
    fn text_pairs_become_typed_values() {
        let fields = parse(&schema()).expect("valid");
        let config = config_from_pairs(
            &fields,
            [
                ("bucket", "data"),
                ("port", "9000"),
                ("tags", "a, b"),
                ("retry.attempts", "5"),
                ("region", ""),
            ],
        )
        .expect("readable");
        assert_eq!(
            config,
            json!({"bucket": "data", "port": 9000, "tags": ["a", "b"], "retry": {"attempts": 5}})
        );
        let err = config_from_pairs(&fields, [("port", "many")]).expect_err("not a number");
        assert_eq!(err[0].field, "config.port");
    }
}

//! What users type: `KEY=VALUE` pairs, `.env`-style files and JSON objects, and the
//! confirmation asked before deleting something.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Read};
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Map, Value};

/// `KEY=VALUE` split at the first `=`; the key must not be empty. A clap value parser.
/// Errors never repeat the value, which may be secret.
pub fn pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        Some(_) => Err("the key before '=' is empty".into()),
        None => Err("expected KEY=VALUE".into()),
    }
}

/// Reads `KEY=VALUE` lines (`.env` style): blank lines and `#` comments are skipped, an
/// `export ` prefix is allowed, and a value in single quotes is taken as is while one
/// in double quotes understands `\n`, `\t`, `\"` and `\\`. Problems name the line, never
/// the value.
pub fn env_lines(text: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, raw)) = line.split_once('=') else {
            bail!("line {number}: expected KEY=VALUE");
        };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            bail!("line {number}: the key before '=' must be one word");
        }
        let value = unquote(raw.trim()).with_context(|| format!("line {number}"))?;
        values.insert(key.to_string(), value);
    }
    Ok(values)
}

fn unquote(raw: &str) -> anyhow::Result<String> {
    if let Some(inner) = raw.strip_prefix('\'') {
        return match inner.strip_suffix('\'') {
            Some(v) => Ok(v.to_string()),
            None => bail!("the value's single quote is not closed"),
        };
    }
    if let Some(inner) = raw.strip_prefix('"') {
        let Some(inner) = inner.strip_suffix('"') else {
            bail!("the value's double quote is not closed");
        };
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        }
        return Ok(out);
    }
    // Unquoted: a ` #` starts a comment.
    let value = match raw.find(" #") {
        Some(at) => raw[..at].trim_end(),
        None => raw,
    };
    Ok(value.to_string())
}

/// Values from a file or standard input: a JSON object (of strings, numbers or
/// booleans) when the text starts with `{`, else `KEY=VALUE` lines.
pub fn values_text(text: &str) -> anyhow::Result<BTreeMap<String, String>> {
    if !text.trim_start().starts_with('{') {
        return env_lines(text);
    }
    let object: Map<String, Value> =
        serde_json::from_str(text).map_err(|e| anyhow::anyhow!("not a JSON object: {e}"))?;
    object
        .into_iter()
        .map(|(key, value)| match value {
            Value::String(s) => Ok((key, s)),
            Value::Number(n) => Ok((key, n.to_string())),
            Value::Bool(b) => Ok((key, b.to_string())),
            _ => bail!("{key}: values must be text, numbers or booleans"),
        })
        .collect()
}

pub fn read_file(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("Failed to read {}", path.display()))
}

pub fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .lock()
        .read_to_string(&mut text)
        .context("Failed to read standard input")?;
    Ok(text)
}

/// A JSON object from a file.
pub fn json_object_file(path: &Path) -> anyhow::Result<Value> {
    let value: Value = serde_json::from_str(&read_file(path)?)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    if !value.is_object() {
        bail!("{} must hold a JSON object", path.display());
    }
    Ok(value)
}

/// Puts `patch` into `base`: objects merge key by key, anything else replaces.
pub fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                match base.get_mut(&key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value)
                    }
                    _ => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, patch) => *base = patch,
    }
}

/// Removes the field at a dotted path (`retry.attempts`); whether it was there.
pub fn unset(config: &mut Value, path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(last) = parts.pop() else {
        return false;
    };
    let mut node = config;
    for part in parts {
        match node.get_mut(part) {
            Some(next) => node = next,
            None => return false,
        }
    }
    node.as_object_mut()
        .is_some_and(|map| map.remove(last).is_some())
}

/// Asks before something is deleted: `-y` skips the question; without a terminal to ask
/// on, `-y` is required.
pub fn confirm(question: &str, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("{question} Not confirmed: pass -y (--yes) when not at a terminal");
    }
    eprint!("{question} [y/N] ");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("Failed to read the answer")?;
    match line.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => bail!("cancelled; nothing changed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        assert_eq!(pair("a=b"), Ok(("a".into(), "b".into())));
        assert_eq!(pair("url=x?y=z"), Ok(("url".into(), "x?y=z".into())));
        assert_eq!(pair("empty="), Ok(("empty".into(), String::new())));
        assert_eq!(
            pair("retry.attempts=3"),
            Ok(("retry.attempts".into(), "3".into()))
        );
        assert!(pair("novalue").is_err());
        let err = pair("=s3cr3t").expect_err("no key");
        assert!(!err.contains("s3cr3t"));
    }

    #[test]
    fn env_files_read_like_dotenv() {
        let text = "# AWS\n\nexport access_key_id=AKIA123\nsecret_access_key = 'a b#c' \n\
                    token=\"line1\\nline2 \\\"q\\\"\"\nplain=v # comment\nurl=https://x/?a=b\n";
        let values = env_lines(text).expect("valid");
        assert_eq!(values["access_key_id"], "AKIA123");
        assert_eq!(values["secret_access_key"], "a b#c");
        assert_eq!(values["token"], "line1\nline2 \"q\"");
        assert_eq!(values["plain"], "v");
        assert_eq!(values["url"], "https://x/?a=b");
        assert_eq!(values.len(), 5);
    }

    #[test]
    fn env_file_problems_name_the_line_not_the_value() {
        let err = env_lines("a=1\nhunter2\n").expect_err("no equals");
        assert!(format!("{err:#}").contains("line 2"));
        assert!(!format!("{err:#}").contains("hunter2"));
        let err = env_lines("a='open\n").expect_err("unclosed");
        assert!(format!("{err:#}").contains("line 1"));
        assert!(env_lines("two words=x").is_err());
    }

    #[test]
    fn values_come_from_json_objects_too() {
        let values = values_text(r#"{"user": "u", "port": 5432, "tls": true}"#).expect("valid");
        assert_eq!(values["user"], "u");
        assert_eq!(values["port"], "5432");
        assert_eq!(values["tls"], "true");
        assert!(values_text(r#"{"nested": {"a": 1}}"#).is_err());
        assert!(values_text("{not json").is_err());
        assert_eq!(values_text("k=v").expect("env")["k"], "v");
    }

    #[test]
    fn configs_merge_deeply_and_unset_by_path() {
        let mut config = json!({"bucket": "a", "retry": {"attempts": 3, "backoff": 5}});
        merge(
            &mut config,
            json!({"bucket": "b", "retry": {"attempts": 4}, "region": "eu"}),
        );
        assert_eq!(
            config,
            json!({"bucket": "b", "retry": {"attempts": 4, "backoff": 5}, "region": "eu"})
        );
        assert!(unset(&mut config, "retry.backoff"));
        assert!(unset(&mut config, "region"));
        assert!(!unset(&mut config, "nothing.here"));
        assert_eq!(config, json!({"bucket": "b", "retry": {"attempts": 4}}));
    }
}

//! `weir metadata log`: metadata a command step records about itself (metrics, notes),
//! sent with the step's result.

use std::io::Write;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;
use weir::launch::typed_value;
use weir_api::runs::{MAX_METADATA_KEY, env};

use crate::input;

#[derive(Debug, Subcommand)]
pub enum MetadataCommand {
    /// Log metadata of the step this command runs in; it is stored with the step's
    /// result when the step ends.
    #[command(after_help = "\
Values that read as JSON numbers, booleans, lists or objects are stored typed (0.93, true, \
[1,2], {\"a\":1}); anything else as text. A JSON string (\"\\\"007\\\"\") keeps digits as text. \
Logging a key again replaces its value.\n\nExamples (inside a step's command):\n  \
weir metadata log accuracy=0.93 model=random-forest\n  \
weir metadata log confusion='[[50,2],[3,45]]'")]
    Log {
        /// KEY=VALUE pairs.
        #[arg(value_name = "KEY=VALUE", required = true, value_parser = input::pair)]
        pairs: Vec<(String, String)>,
    },
}

pub fn run(cmd: &MetadataCommand) -> anyhow::Result<()> {
    match cmd {
        MetadataCommand::Log { pairs } => {
            let Some(path) = std::env::var_os(env::METADATA_FILE).filter(|p| !p.is_empty()) else {
                bail!(
                    "weir metadata log runs inside a step ({} is not set)",
                    env::METADATA_FILE
                );
            };
            let text = metadata_lines(pairs)?;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("Failed to open {}", path.to_string_lossy()))?;
            // One write, so that lines from parallel processes do not interleave.
            file.write_all(text.as_bytes())
                .with_context(|| format!("Failed to write {}", path.to_string_lossy()))?;
            Ok(())
        }
    }
}

/// One `{"key": …, "value": …}` line per pair.
fn metadata_lines(pairs: &[(String, String)]) -> anyhow::Result<String> {
    let mut text = String::new();
    for (key, value) in pairs {
        if key.len() > MAX_METADATA_KEY {
            bail!("the key {key:?} is longer than {MAX_METADATA_KEY} bytes");
        }
        text.push_str(&json!({"key": key, "value": typed_value(value)}).to_string());
        text.push('\n');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pair_becomes_one_json_line() {
        let text = metadata_lines(&[
            ("accuracy".into(), "0.9".into()),
            ("model".into(), "rf".into()),
        ])
        .expect("lines");
        assert_eq!(
            text,
            "{\"key\":\"accuracy\",\"value\":0.9}\n{\"key\":\"model\",\"value\":\"rf\"}\n"
        );
        assert!(metadata_lines(&[("k".repeat(300), "1".into())]).is_err());
    }
}

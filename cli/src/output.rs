//! Tables for people, JSON for scripts.

use chrono::{DateTime, Utc};
use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

use crate::Output;

pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(headers.iter().copied());
    for row in rows {
        t.add_row(row);
    }
    t.to_string()
}

/// Prints `value` as JSON, or as the table `render` makes of it.
pub fn print<T: Serialize>(
    output: Output,
    value: &T,
    render: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    match output {
        Output::Json => line(&serde_json::to_string_pretty(value)?),
        Output::Table => line(&render(value)),
    }
}

/// Prints one line to standard output. A reader that stopped reading (`| head`,
/// `| grep -q`) is not an error.
pub fn line(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

pub fn date(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub fn opt_date(at: &Option<DateTime<Utc>>) -> String {
    at.as_ref().map(date).unwrap_or_else(|| "—".into())
}

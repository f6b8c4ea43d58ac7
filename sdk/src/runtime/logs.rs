//! Log lines on their way to the server: read from a step's output (each line cut at
//! [`MAX_LOG_LINE`]), echoed to the attempt's log file, batched by age and size, kept
//! (bounded) while the server cannot be reached.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::Utc;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::sync::mpsc;
use tokio::time::Instant;
use weir_api::runs::{LogStream, MAX_LOG_BATCH, MAX_LOG_LINE, NewLogLine};

use super::{StepEnv, cut_line};

/// Log lines are sent once the oldest unsent one is this old (or a batch is full).
pub(crate) const LOG_FLUSH_AGE: Duration = Duration::from_secs(1);
/// After a failed log upload, the next try waits this long.
pub(crate) const LOG_RETRY: Duration = Duration::from_secs(5);
/// Unsent lines kept while the server cannot be reached; older ones are dropped.
const MAX_PENDING_LINES: usize = 20_000;

/// Where the runtime's own notes go while a Rust step's stderr is captured (its
/// original stderr: the attempt's log file).
static NOTES: OnceLock<Arc<std::fs::File>> = OnceLock::new();

/// Sends the runtime's own notes to `file` from now on.
pub(crate) fn notes_to(file: Arc<std::fs::File>) {
    let _ = NOTES.set(file);
}

/// A note of the runtime's (`weir: …`) on its stderr, never into the step's logs.
pub(crate) fn note(line: &str) {
    match NOTES.get() {
        Some(file) => {
            let _ = writeln!(file.as_ref(), "weir: {line}");
        }
        None => eprintln!("weir: {line}"),
    }
}

/// Log lines not sent yet.
#[derive(Debug, Default)]
pub(crate) struct LogBuffer {
    pub(crate) pending: VecDeque<NewLogLine>,
    /// When the last upload failed: not before this.
    pub(crate) retry_at: Option<Instant>,
    /// When the oldest pending line arrived.
    oldest: Option<Instant>,
    dropped: usize,
}

impl LogBuffer {
    pub(crate) fn push(&mut self, step_env: &StepEnv, stream: LogStream, line: String) {
        if self.pending.is_empty() {
            self.oldest = Some(Instant::now());
        }
        self.pending.push_back(NewLogLine {
            step: Some(step_env.step.clone()),
            attempt: step_env.attempt,
            stream,
            at: Utc::now(),
            line,
        });
        self.bound();
    }

    pub(crate) fn system(&mut self, step_env: &StepEnv, line: impl Into<String>) {
        let line = line.into();
        note(&line);
        self.push(step_env, LogStream::System, cut_line(line));
    }

    /// Drops the oldest lines past [`MAX_PENDING_LINES`], counting them.
    pub(crate) fn bound(&mut self) {
        while self.pending.len() > MAX_PENDING_LINES {
            self.pending.pop_front();
            self.dropped += 1;
        }
        if self.dropped > 0
            && self.pending.len() < MAX_PENDING_LINES
            && let Some(first) = self.pending.front().cloned()
        {
            let dropped = std::mem::take(&mut self.dropped);
            self.pending.push_front(NewLogLine {
                stream: LogStream::System,
                line: format!("{dropped} log lines were dropped: the server could not be reached"),
                ..first
            });
        }
    }

    /// When the pending lines are due, if any are pending.
    pub(crate) fn flush_at(&mut self) -> Option<Instant> {
        if self.pending.is_empty() {
            self.oldest = None;
            return None;
        }
        let oldest = *self.oldest.get_or_insert_with(Instant::now);
        let due = oldest + LOG_FLUSH_AGE;
        Some(match self.retry_at {
            Some(retry) if retry > due => retry,
            _ => due,
        })
    }
}

pub(crate) async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Where the lines a step writes are echoed: the attempt's log file, which the driver
/// reads when the step dies without reporting.
#[derive(Debug, Clone)]
pub(crate) enum Echo {
    /// This process's own stdout or stderr (the command runtime's, which the launcher
    /// points at the log file).
    Own,
    /// A file standing for the stream (a Rust step's original stdout or stderr, while
    /// its own are captured).
    File(Arc<std::fs::File>),
}

/// Reads lines (cut at [`MAX_LOG_LINE`]), echoes them, and sends them on.
pub(crate) async fn forward_lines(
    mut reader: impl AsyncBufRead + Unpin,
    stream: LogStream,
    echo: Echo,
    lines: mpsc::Sender<(LogStream, String)>,
) {
    let mut buf = Vec::new();
    loop {
        match read_line_bounded(&mut reader, &mut buf, MAX_LOG_LINE).await {
            Ok(false) => return,
            Ok(true) => {}
            Err(e) => {
                note(&format!("cannot read the step's output: {e}"));
                return;
            }
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        // The echo feeds the attempt's log file; losing it must not stop the step.
        let _ = match (&echo, stream) {
            (Echo::File(file), _) => writeln!(file.as_ref(), "{text}"),
            (Echo::Own, LogStream::Stderr) => writeln!(std::io::stderr().lock(), "{text}"),
            (Echo::Own, _) => writeln!(std::io::stdout().lock(), "{text}"),
        };
        if lines.send((stream, text)).await.is_err() {
            return;
        }
    }
}

/// Text per log request: well under the server's request size limit.
pub(crate) const MAX_LOG_BATCH_BYTES: usize = 1 << 20;

/// How many of the oldest pending lines make one request: at most
/// [`MAX_LOG_BATCH`] lines and about [`MAX_LOG_BATCH_BYTES`] of text (at least one).
pub(crate) fn batch_len(pending: &std::collections::VecDeque<NewLogLine>) -> usize {
    let mut bytes = 0;
    for (i, line) in pending.iter().enumerate() {
        bytes += line.line.len() + 64;
        if i >= MAX_LOG_BATCH || (i > 0 && bytes > MAX_LOG_BATCH_BYTES) {
            return i;
        }
    }
    pending.len()
}

/// Reads one line into `buf` without its line end, keeping at most `max` bytes of it
/// (the rest of a longer line is read and dropped, and the kept part is marked).
/// Answers false at the end of the stream.
pub(crate) async fn read_line_bounded(
    reader: &mut (impl AsyncBufRead + Unpin),
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<bool> {
    const CUT_MARK: &[u8] = " … [line cut]".as_bytes();
    buf.clear();
    let mut seen_any = false;
    let mut cut = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            break;
        }
        seen_any = true;
        let (chunk, used, done) = match available.iter().position(|b| *b == b'\n') {
            Some(at) => (&available[..at], at + 1, true),
            None => (available, available.len(), false),
        };
        let room = max.saturating_sub(CUT_MARK.len()).saturating_sub(buf.len());
        if chunk.len() > room {
            cut = true;
        }
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        reader.consume(used);
        if done {
            break;
        }
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    if cut {
        buf.extend_from_slice(CUT_MARK);
    }
    Ok(seen_any)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    #[test]
    fn log_batches_stay_small_in_lines_and_bytes() {
        use std::collections::VecDeque;
        let line = |text: String| NewLogLine {
            step: None,
            attempt: 1,
            stream: LogStream::Stdout,
            at: chrono::Utc::now(),
            line: text,
        };
        let short: VecDeque<NewLogLine> = (0..5000).map(|i| line(i.to_string())).collect();
        assert_eq!(batch_len(&short), MAX_LOG_BATCH);
        let long: VecDeque<NewLogLine> = (0..200).map(|_| line("x".repeat(16 * 1024))).collect();
        let n = batch_len(&long);
        assert!(n > 0 && n < 200, "{n}");
        assert!(n * 16 * 1024 <= MAX_LOG_BATCH_BYTES, "{n}");
        let one: VecDeque<NewLogLine> = [line("y".repeat(2 << 20))].into();
        assert_eq!(batch_len(&one), 1, "a single line always goes");
        assert_eq!(batch_len(&VecDeque::new()), 0);
    }

    #[tokio::test]
    async fn long_lines_are_cut_and_line_ends_dropped() {
        let input = format!("short\r\n{}\nlast", "y".repeat(100));
        let mut reader = BufReader::with_capacity(7, input.as_bytes());
        let mut buf = Vec::new();
        let mut lines = Vec::new();
        while read_line_bounded(&mut reader, &mut buf, 40)
            .await
            .expect("read")
        {
            lines.push(String::from_utf8_lossy(&buf).into_owned());
        }
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0], "short");
        assert!(
            lines[1].len() <= 40 && lines[1].ends_with("[line cut]"),
            "{}",
            lines[1]
        );
        assert!(lines[1].starts_with("yyyy"));
        assert_eq!(lines[2], "last");
    }
}

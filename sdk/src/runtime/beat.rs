//! A running attempt's own heartbeat: `POST …/steps/{step}/heartbeat` whenever nothing
//! else of the attempt's reached the server for an interval (a log batch counts). It
//! beats from a task of its own, so downloads of inputs and uploads of outputs are
//! covered as well as the step's own work; a stop in an answer is passed on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use super::logs::note;
use crate::client::Client;

/// The shortest interval beaten at, whatever the server says.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Beats until dropped.
pub(crate) struct Heartbeat {
    task: JoinHandle<()>,
    stop: watch::Receiver<bool>,
    last_contact: Arc<Mutex<Instant>>,
}

impl Heartbeat {
    /// Beats for attempt `attempt` of `step` every `interval` without other contact.
    pub(crate) fn start(
        client: Client,
        run_id: Uuid,
        step: String,
        attempt: u32,
        interval: Duration,
    ) -> Self {
        let interval = interval.max(MIN_INTERVAL);
        let (stop_tx, stop) = watch::channel(false);
        let last_contact = Arc::new(Mutex::new(Instant::now()));
        let last = last_contact.clone();
        let task = tokio::spawn(async move {
            let mut failing = false;
            loop {
                let due = *lock(&last) + interval;
                if Instant::now() < due {
                    tokio::time::sleep_until(due).await;
                    continue;
                }
                let answer = client.step_heartbeat(run_id, &step, attempt).await;
                *lock(&last) = Instant::now();
                match answer {
                    Ok(answer) if answer.stop => {
                        let _ = stop_tx.send(true);
                        return;
                    }
                    Ok(_) => failing = false,
                    Err(e) => {
                        if !failing {
                            note(&format!(
                                "cannot send the step's heartbeat (will try again): {e}"
                            ));
                        }
                        failing = true;
                    }
                }
            }
        });
        Self {
            task,
            stop,
            last_contact,
        }
    }

    /// Something else of the attempt's reached the server: the next beat can wait.
    pub(crate) fn contact(&self) {
        *lock(&self.last_contact) = Instant::now();
    }

    /// Becomes true when an answer asked the attempt to stop.
    pub(crate) fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stop.clone()
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(instant: &Mutex<Instant>) -> std::sync::MutexGuard<'_, Instant> {
    instant
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits until `signal` says stop; never, when there is no heartbeat (or it ended).
pub(crate) async fn stopped(signal: &mut Option<watch::Receiver<bool>>) {
    if let Some(rx) = signal
        && rx.wait_for(|stop| *stop).await.is_ok()
    {
        return;
    }
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;

    /// A loopback server answering step heartbeats: `stop` from the `stop_at`th beat on.
    /// Counts the beats.
    async fn beat_server(stop_at: usize) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let beats = Arc::new(AtomicUsize::new(0));
        let counted = beats.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let counted = counted.clone();
                tokio::spawn(async move {
                    let mut socket = BufReader::new(socket);
                    loop {
                        let mut request = String::new();
                        let mut length = 0;
                        loop {
                            let mut line = String::new();
                            if socket.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if let Some(v) =
                                line.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                length = v.trim().parse().unwrap_or(0);
                            }
                            if line == "\r\n" {
                                break;
                            }
                            request.push_str(&line);
                        }
                        let mut body = vec![0; length];
                        let _ = socket.read_exact(&mut body).await;
                        assert!(
                            request.starts_with("POST /api/v1/runs/")
                                && request.contains("/steps/train/heartbeat "),
                            "{request}"
                        );
                        assert_eq!(body, br#"{"attempt":2}"#);
                        let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
                        let answer = format!(r#"{{"status":"running","stop":{}}}"#, n >= stop_at);
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                            answer.len()
                        );
                        if socket.get_mut().write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (url, beats)
    }

    fn heartbeat(url: &str, interval: Duration) -> Heartbeat {
        let client = Client::new(url).expect("client").with_api_key("token");
        Heartbeat::start(client, Uuid::new_v4(), "train".into(), 2, interval)
    }

    #[tokio::test]
    async fn beats_every_interval_and_passes_a_stop_on() {
        let (url, beats) = beat_server(3).await;
        let beat = heartbeat(&url, Duration::from_millis(100));
        let mut signal = Some(beat.stop_signal());
        tokio::time::timeout(Duration::from_secs(5), stopped(&mut signal))
            .await
            .expect("the third answer says stop");
        assert_eq!(beats.load(Ordering::SeqCst), 3);
        // After a stop the beats end.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(beats.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn other_contact_postpones_the_beat_and_dropping_ends_it() {
        let (url, beats) = beat_server(usize::MAX).await;
        let beat = heartbeat(&url, Duration::from_millis(200));
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            beat.contact();
        }
        assert_eq!(
            beats.load(Ordering::SeqCst),
            0,
            "log batches went meanwhile"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let beaten = beats.load(Ordering::SeqCst);
        assert!((1..=3).contains(&beaten), "{beaten} beats in 0.5 s");
        drop(beat);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            beats.load(Ordering::SeqCst),
            beaten,
            "no beat after the drop"
        );
    }

    #[tokio::test]
    async fn without_a_heartbeat_no_stop_comes() {
        let mut none = None;
        assert!(
            tokio::time::timeout(Duration::from_millis(100), stopped(&mut none))
                .await
                .is_err()
        );
    }
}

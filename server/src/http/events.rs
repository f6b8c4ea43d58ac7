//! Run events for the live run page (DESIGN §4): one listener per server on Postgres's
//! `weir_run_events` channel (see the run-events migration), fanned out to every event
//! stream this server holds. Any replica serves any client, since every replica hears
//! every change.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{OnceCell, broadcast};
use uuid::Uuid;

/// The channel the migration's triggers notify.
pub const CHANNEL: &str = "weir_run_events";

/// What changed in a run; [`RunEvent::Resync`] after the listener lost its connection
/// (changes may have been missed: every page reads its run again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEvent {
    Changed { run: Uuid, kind: EventKind },
    Resync,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Run,
    Step,
    Log,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Run => "run",
            EventKind::Step => "step",
            EventKind::Log => "log",
        }
    }
}

/// `<uuid> <kind>` as the triggers write it.
pub fn parse_payload(payload: &str) -> Option<RunEvent> {
    let (id, kind) = payload.split_once(' ')?;
    let kind = match kind {
        "run" => EventKind::Run,
        "step" => EventKind::Step,
        "log" => EventKind::Log,
        _ => return None,
    };
    Some(RunEvent::Changed {
        run: id.parse().ok()?,
        kind,
    })
}

/// The server's one listener, started by the first subscriber.
#[derive(Clone, Default)]
pub struct RunEvents {
    sender: Arc<OnceCell<broadcast::Sender<RunEvent>>>,
}

impl RunEvents {
    /// A receiver of every run's events from now on: the first call returns once the
    /// server listens.
    pub async fn subscribe(&self, pool: &PgPool) -> sqlx::Result<broadcast::Receiver<RunEvent>> {
        let sender = self
            .sender
            .get_or_try_init(|| async {
                let mut listener = PgListener::connect_with(pool).await?;
                listener.listen(CHANNEL).await?;
                let (sender, _) = broadcast::channel(1024);
                tokio::spawn(listen(pool.clone(), listener, sender.clone()));
                Ok::<_, sqlx::Error>(sender)
            })
            .await?;
        Ok(sender.subscribe())
    }
}

async fn listen(pool: PgPool, mut listener: PgListener, sender: broadcast::Sender<RunEvent>) {
    loop {
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    if let Some(event) = parse_payload(notification.payload()) {
                        // No page watching: nothing to do.
                        let _ = sender.send(event);
                    }
                }
                // The connection was lost and is opened again at the next call: what
                // happened meanwhile went unheard.
                Ok(None) => {
                    let _ = sender.send(RunEvent::Resync);
                }
                Err(error) => {
                    tracing::warn!(%error, "run events: listener lost; reconnecting");
                    break;
                }
            }
        }
        let _ = sender.send(RunEvent::Resync);
        listener = loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            match PgListener::connect_with(&pool).await {
                Ok(mut fresh) => match fresh.listen(CHANNEL).await {
                    Ok(()) => break fresh,
                    Err(error) => tracing::warn!(%error, "run events: cannot listen"),
                },
                Err(error) => tracing::warn!(%error, "run events: cannot connect"),
            }
        };
        let _ = sender.send(RunEvent::Resync);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_read_as_the_triggers_write_them() {
        let id = Uuid::new_v4();
        assert_eq!(
            parse_payload(&format!("{id} step")),
            Some(RunEvent::Changed {
                run: id,
                kind: EventKind::Step
            })
        );
        assert_eq!(parse_payload(&format!("{id} other")), None);
        assert_eq!(parse_payload("not-a-uuid log"), None);
        assert_eq!(parse_payload(""), None);
    }
}

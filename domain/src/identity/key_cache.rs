//! Live API keys recently checked against the database, so a client sending one request
//! after another is not checked against the database for each of them.
//!
//! - An entry lives at most [`TTL`] (never past the key's own expiry): a key revoked
//!   through another server replica, or in the database directly, stops working within
//!   that time.
//! - Revoking a key, deactivating a user and changing a password through this server
//!   empty the cache at once ([`forget_all`], after the change is committed). A lookup
//!   that read the database before such a change does not store what it read
//!   (the generation check).
//! - Only keys found live are kept, at most [`CAPACITY`] of them: unknown keys always
//!   reach the database, so guessing cannot fill memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use super::Principal;

/// How long a key found live is trusted without asking the database again.
pub const TTL: Duration = Duration::from_secs(1);
/// The most keys kept; a full cache is emptied before the next one is added.
pub const CAPACITY: usize = 10_000;

struct Entry {
    until: Instant,
    principal: Principal,
}

struct KeyCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<Vec<u8>, Entry>>,
}

static CACHE: LazyLock<KeyCache> = LazyLock::new(|| KeyCache {
    generation: AtomicU64::new(0),
    entries: Mutex::new(HashMap::new()),
});

fn entries() -> std::sync::MutexGuard<'static, HashMap<Vec<u8>, Entry>> {
    // A panic while holding the lock leaves a map that is still consistent.
    CACHE.entries.lock().unwrap_or_else(|e| e.into_inner())
}

/// The generation to pass to [`remember`]: read before asking the database.
pub(crate) fn generation() -> u64 {
    CACHE.generation.load(Ordering::Acquire)
}

/// The principal of a key found live less than [`TTL`] ago.
pub(crate) fn lookup(secret_hash: &[u8], now: Instant) -> Option<Principal> {
    let mut entries = entries();
    match entries.get(secret_hash) {
        Some(entry) if entry.until > now => Some(entry.principal.clone()),
        Some(_) => {
            entries.remove(secret_hash);
            None
        }
        None => None,
    }
}

/// Keeps a key found live until `until` (at most [`TTL`] from `now`), unless the
/// cache was emptied since `generation` was read.
pub(crate) fn remember(
    secret_hash: &[u8],
    principal: Principal,
    generation: u64,
    now: Instant,
    until: Option<Instant>,
) {
    let until = until.map_or(now + TTL, |u| u.min(now + TTL));
    if until <= now {
        return;
    }
    let mut entries = entries();
    // Checked under the lock that `forget_all` takes too.
    if CACHE.generation.load(Ordering::Acquire) != generation {
        return;
    }
    if entries.len() >= CAPACITY {
        entries.clear();
    }
    entries.insert(secret_hash.to_vec(), Entry { until, principal });
}

/// Forgets every key: called after a change that may end a key or its user's rights.
pub(crate) fn forget_all() {
    let mut entries = entries();
    CACHE.generation.fetch_add(1, Ordering::AcqRel);
    entries.clear();
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::identity::Credential;

    fn principal(name: &str) -> Principal {
        Principal {
            user_id: Uuid::new_v4(),
            name: name.into(),
            is_admin: false,
            is_service_account: false,
            credential: Credential::ApiKey(Uuid::new_v4()),
        }
    }

    // One test: the cache is process-wide, and tests run in parallel.
    #[test]
    fn keys_are_kept_for_the_ttl_and_forgotten_on_change() {
        let now = Instant::now();
        let (a, b, c) = (
            b"key-a".as_slice(),
            b"key-b".as_slice(),
            b"key-c".as_slice(),
        );

        let generation = generation();
        remember(a, principal("ada"), generation, now, None);
        assert_eq!(lookup(a, now).map(|p| p.name), Some("ada".into()));
        assert_eq!(
            lookup(a, now + TTL - Duration::from_millis(1)).map(|p| p.name),
            Some("ada".into())
        );
        assert!(lookup(a, now + TTL).is_none(), "expired after the TTL");
        assert!(lookup(a, now).is_none(), "an expired entry is dropped");

        // A key that expires sooner than the TTL is kept only until then.
        remember(
            b,
            principal("bo"),
            generation,
            now,
            Some(now + Duration::from_millis(10)),
        );
        assert!(lookup(b, now + Duration::from_millis(9)).is_some());
        assert!(lookup(b, now + Duration::from_millis(10)).is_none());
        remember(b, principal("bo"), generation, now, Some(now));
        assert!(lookup(b, now).is_none(), "an expired key is not kept");

        // A change empties the cache, and a lookup that started before it stores
        // nothing.
        remember(c, principal("cy"), generation, now, None);
        forget_all();
        assert!(lookup(c, now).is_none());
        remember(c, principal("cy"), generation, now, None);
        assert!(lookup(c, now).is_none(), "read before the change: not kept");
        remember(c, principal("cy"), super::generation(), now, None);
        assert!(lookup(c, now).is_some());
        forget_all();
    }
}

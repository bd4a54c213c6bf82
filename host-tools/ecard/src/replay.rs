//! Replay detection: each code's nonce is accepted once, and remembered until the code expires
//! (after that the code is refused as expired anyway).

use crate::ids::UnixTime;
use crate::payload::Nonce;
use crate::verify::VerifiedCode;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// Whether a nonce was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstUse {
    Fresh,
    Replayed,
}

/// Where a verifier remembers the nonces it has accepted. The online service implements it on
/// its database (one row per nonce with the code's expiry, a unique key on the nonce, rows past
/// their expiry deleted); an offline terminal uses [`MemoryReplayGuard`].
pub trait ReplayGuard {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Records `code`'s nonce until `code.expires_at` and answers whether it was unseen. The
    /// check and the record must be one atomic step.
    fn record_first_use(&self, code: &VerifiedCode, now: UnixTime)
        -> Result<FirstUse, Self::Error>;
}

/// Default number of live nonces an offline terminal keeps: far above what one till scans
/// within a code's validity.
pub const DEFAULT_REPLAY_CAPACITY: usize = 65_536;

/// The in-memory guard is full of unexpired nonces; codes are refused until some expire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the replay guard holds {capacity} unexpired codes, its limit")]
pub struct ReplayGuardFull {
    pub capacity: usize,
}

#[derive(Default)]
struct Seen {
    expiry_of: HashMap<Nonce, UnixTime>,
    by_expiry: BTreeSet<(UnixTime, Nonce)>,
}

/// An offline terminal's replay guard: nonces in memory until their code's expiry, at most
/// `capacity` of them. When full it refuses (fails closed) rather than forget a live nonce.
pub struct MemoryReplayGuard {
    seen: Mutex<Seen>,
    capacity: usize,
}

impl MemoryReplayGuard {
    pub fn new(capacity: usize) -> Self {
        Self {
            seen: Mutex::new(Seen::default()),
            capacity,
        }
    }

    /// How many nonces it holds now (expired ones are dropped on the next record).
    pub fn len(&self) -> usize {
        self.lock().expiry_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        // A panic elsewhere cannot leave the two maps inconsistent: each record updates both
        // before anything can unwind.
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for MemoryReplayGuard {
    fn default() -> Self {
        Self::new(DEFAULT_REPLAY_CAPACITY)
    }
}

impl ReplayGuard for MemoryReplayGuard {
    type Error = ReplayGuardFull;

    fn record_first_use(
        &self,
        code: &VerifiedCode,
        now: UnixTime,
    ) -> Result<FirstUse, ReplayGuardFull> {
        let mut seen = self.lock();
        while let Some(&(expiry, nonce)) = seen.by_expiry.first() {
            if expiry > now {
                break;
            }
            seen.by_expiry.remove(&(expiry, nonce));
            seen.expiry_of.remove(&nonce);
        }
        if seen.expiry_of.contains_key(&code.nonce) {
            return Ok(FirstUse::Replayed);
        }
        if seen.expiry_of.len() >= self.capacity {
            return Err(ReplayGuardFull {
                capacity: self.capacity,
            });
        }
        seen.expiry_of.insert(code.nonce, code.expires_at);
        seen.by_expiry.insert((code.expires_at, code.nonce));
        Ok(FirstUse::Fresh)
    }
}

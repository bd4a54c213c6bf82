//! The card's RAM state: cleared at power-on and warm reset.

use crate::crypto::SecretKey;
use crate::fs::MF_INDEX;
use crate::memory_map::CHAIN_MAX;

/// How many authenticated key ids the card remembers at once.
pub const AUTHENTICATED_KEYS_MAX: usize = 8;

/// Key ids that passed EXTERNAL AUTHENTICATE since the last reset (a small fixed set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeySet {
    ids: [u8; AUTHENTICATED_KEYS_MAX],
    len: u8,
}

impl KeySet {
    pub fn contains(&self, id: u8) -> bool {
        self.ids
            .iter()
            .take(usize::from(self.len))
            .any(|k| *k == id)
    }

    /// Adds `id`; when full the oldest is forgotten.
    pub fn insert(&mut self, id: u8) {
        if self.contains(id) {
            return;
        }
        if usize::from(self.len) == AUTHENTICATED_KEYS_MAX {
            self.ids.rotate_left(1);
            self.len -= 1;
        }
        if let Some(slot) = self.ids.get_mut(usize::from(self.len)) {
            *slot = id;
            self.len += 1;
        }
    }

    pub fn clear(&mut self) {
        *self = KeySet::default();
    }
}

/// Longest challenge GET CHALLENGE hands out.
pub const CHALLENGE_MAX: usize = 8;

/// A GET CHALLENGE answer (4 or 8 bytes). Not secret: it went to the terminal in clear.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Challenge {
    bytes: [u8; CHALLENGE_MAX],
    len: u8,
}

impl Challenge {
    /// The first `len` bytes of `source` (`None` when `len` is more than 8 or than `source`).
    pub fn new(source: &[u8], len: usize) -> Option<Self> {
        let mut bytes = [0u8; CHALLENGE_MAX];
        bytes.get_mut(..len)?.copy_from_slice(source.get(..len)?);
        Some(Challenge {
            bytes,
            len: len as u8,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// What has been proven to the card since the last reset. Set by the security commands (VERIFY,
/// EXTERNAL AUTHENTICATE, secure messaging); read by `access::check`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecurityStatus {
    /// The holder PIN was verified (card-global: kept when another DF is selected).
    pub pin_verified: bool,
    /// The holder PIN was verified but is still the initial PIN: `pin` rules answer `6984`.
    pub pin_initial: bool,
    /// Keys of the current DF authenticated with EXTERNAL AUTHENTICATE (cleared when another DF
    /// is selected).
    pub authenticated_keys: KeySet,
    /// The command being processed came with a valid MAC (reset before every command).
    pub sm_mac_verified: bool,
    /// The last GET CHALLENGE answer; the next command consumes it, whatever it is.
    pub challenge: Option<Challenge>,
    /// Today's date as the terminal gave it with SET DATE (packed BCD `YYYYMMDD`).
    pub terminal_date: Option<[u8; 4]>,
}

/// An INITIALIZE FOR LOAD or PURCHASE waiting for its CREDIT or DEBIT: good for the next command
/// only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PurseSession {
    /// `crypto::purse::TYPE_LOAD` or `TYPE_PURCHASE`.
    pub kind: u8,
    pub key_id: u8,
    pub random: [u8; 4],
    /// The counter of this transaction (its serial).
    pub serial: u16,
    /// Purchase: account, self-pay, pooled; load: the amount, then zeros.
    pub amounts: crate::crypto::purse::Amounts,
    pub terminal_no: [u8; crate::crypto::purse::TERMINAL_NO_LEN],
    /// The balance when INITIALIZE answered.
    pub balance: u32,
}

/// What is selected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Descriptor index of the current DF.
    pub df: u8,
    /// Descriptor index of the current EF, if any.
    pub ef: Option<u8>,
    /// Current record number of the current EF, if any.
    pub record: Option<u8>,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            df: MF_INDEX,
            ef: None,
            record: None,
        }
    }
}

/// What the command/response buffer holds between APDUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum IoMode {
    #[default]
    Idle,
    /// Response bytes `start..end` of the buffer wait for GET RESPONSE.
    Pending { start: u16, end: u16 },
    /// A command chain: `len` bytes of data collected so far for this header.
    Chain {
        cla: u8,
        ins: u8,
        p1: u8,
        p2: u8,
        len: u16,
    },
}

/// The volatile state.
#[derive(Clone, Debug)]
pub struct Volatile {
    pub selection: Selection,
    pub security: SecurityStatus,
    pub(crate) io: IoMode,
    /// Shared by a pending response and a command chain (one excludes the other).
    pub(crate) buffer: [u8; CHAIN_MAX],
    /// PSAM: the key the last DELIVER KEY derived, for CIPHER DATA.
    pub(crate) derived_key: Option<SecretKey>,
    /// The medical purse's pending transaction (cleared by any command but its CREDIT/DEBIT).
    pub(crate) purse: Option<PurseSession>,
}

impl Default for Volatile {
    fn default() -> Self {
        Volatile {
            selection: Selection::default(),
            security: SecurityStatus::default(),
            io: IoMode::Idle,
            buffer: [0; CHAIN_MAX],
            derived_key: None,
            purse: None,
        }
    }
}

impl Volatile {
    /// The state right after power-on: MF selected, nothing proven, nothing pending.
    pub fn new() -> Self {
        Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_set_forgets_the_oldest_when_full() {
        let mut keys = KeySet::default();
        for id in 0..=AUTHENTICATED_KEYS_MAX as u8 {
            keys.insert(id);
        }
        assert!(!keys.contains(0));
        assert!(keys.contains(AUTHENTICATED_KEYS_MAX as u8));
        keys.clear();
        assert!(!keys.contains(1));
    }
}

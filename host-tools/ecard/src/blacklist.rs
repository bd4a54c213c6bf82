//! The blacklist of blocked e-cards and card numbers, versioned, which the back office serves as
//! deltas and terminals cache for offline checks.

use crate::ids::EcardId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Why a card is blocked: the registry's states in which its e-card does not work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockReason {
    TemporarilyLost,
    Lost,
    Cancelled,
    Sealed,
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BlockReason::TemporarilyLost => "temporarily reported lost",
            BlockReason::Lost => "reported lost",
            BlockReason::Cancelled => "cancelled",
            BlockReason::Sealed => "sealed",
        })
    }
}

/// A physical card's 9-character number (8 digits or capitals and the GB 11714 check
/// character), checked on the way in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CardNumber(String);

/// A card number of the wrong form or check character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a card number is 8 digits or capital letters and their check character")]
pub struct CardNumberFormError;

impl CardNumber {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CardNumber {
    type Error = CardNumberFormError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let (first8, check) = text.split_at_checked(8).ok_or(CardNumberFormError)?;
        let expected =
            file_structures::codec::card_number_check_char(first8).ok_or(CardNumberFormError)?;
        if check.len() != 1 || !check.starts_with(expected) {
            return Err(CardNumberFormError);
        }
        Ok(Self(text))
    }
}

impl std::str::FromStr for CardNumber {
    type Err = CardNumberFormError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::try_from(text.to_owned())
    }
}

impl From<CardNumber> for String {
    fn from(number: CardNumber) -> Self {
        number.0
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a blacklist entry names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlacklistEntry {
    Ecard(EcardId),
    Card(CardNumber),
}

/// One change of a delta.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum BlacklistChange {
    /// Blocks the entry, or changes the reason it is blocked for.
    Block {
        entry: BlacklistEntry,
        reason: BlockReason,
    },
    /// Lifts a block (a temporary loss report withdrawn).
    Unblock { entry: BlacklistEntry },
}

/// The changes from one version of the blacklist to the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlacklistDelta {
    pub from_version: u64,
    pub to_version: u64,
    pub changes: Vec<BlacklistChange>,
}

/// The most changes one delta may carry, so a terminal's work per delta is bounded.
pub const MAX_DELTA_CHANGES: usize = 100_000;

/// Why a delta was not applied; the blacklist is then unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeltaError {
    #[error("the delta starts at version {from}, the blacklist is at version {have}")]
    WrongBase { have: u64, from: u64 },
    #[error("the delta goes from version {from} to {to}; a delta moves exactly one version")]
    NotNextVersion { from: u64, to: u64 },
    #[error("the delta has {count} changes, more than {MAX_DELTA_CHANGES}")]
    TooManyChanges { count: usize },
    #[error("the delta lifts a block on {entry:?}, which this blacklist does not hold")]
    UnblockOfAbsent { entry: BlacklistEntry },
}

/// The set of blocked e-cards and card numbers at one version. Version 0 is the empty list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blacklist {
    version: u64,
    ecards: BTreeMap<EcardId, BlockReason>,
    cards: BTreeMap<CardNumber, BlockReason>,
}

impl Blacklist {
    pub fn new() -> Self {
        Self::default()
    }

    /// The list at `version` holding `entries`: a snapshot the back office serves to a terminal
    /// without a cache, which then follows with deltas from that version. A later entry for the
    /// same card replaces an earlier one.
    pub fn snapshot(
        version: u64,
        entries: impl IntoIterator<Item = (BlacklistEntry, BlockReason)>,
    ) -> Self {
        let mut list = Self {
            version,
            ..Self::default()
        };
        for (entry, reason) in entries {
            list.insert(entry, reason);
        }
        list
    }

    /// Every entry and its reason: e-cards first, then card numbers, each in order.
    pub fn entries(&self) -> impl Iterator<Item = (BlacklistEntry, BlockReason)> + '_ {
        let ecards = self
            .ecards
            .iter()
            .map(|(ecard, reason)| (BlacklistEntry::Ecard(*ecard), *reason));
        let cards = self
            .cards
            .iter()
            .map(|(card, reason)| (BlacklistEntry::Card(card.clone()), *reason));
        ecards.chain(cards)
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn len(&self) -> usize {
        self.ecards.len() + self.cards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Why this e-card is blocked, if it is.
    pub fn ecard_reason(&self, ecard: &EcardId) -> Option<BlockReason> {
        self.ecards.get(ecard).copied()
    }

    /// Why this physical card is blocked, if it is (the activation terminal's lost list).
    pub fn card_reason(&self, card: &CardNumber) -> Option<BlockReason> {
        self.cards.get(card).copied()
    }

    pub fn reason(&self, entry: &BlacklistEntry) -> Option<BlockReason> {
        match entry {
            BlacklistEntry::Ecard(ecard) => self.ecard_reason(ecard),
            BlacklistEntry::Card(card) => self.card_reason(card),
        }
    }

    /// Applies the delta from this version to the next, all of it or (on error) none of it.
    pub fn apply(&mut self, delta: &BlacklistDelta) -> Result<(), DeltaError> {
        if delta.from_version != self.version {
            return Err(DeltaError::WrongBase {
                have: self.version,
                from: delta.from_version,
            });
        }
        if self.version.checked_add(1) != Some(delta.to_version) {
            return Err(DeltaError::NotNextVersion {
                from: delta.from_version,
                to: delta.to_version,
            });
        }
        if delta.changes.len() > MAX_DELTA_CHANGES {
            return Err(DeltaError::TooManyChanges {
                count: delta.changes.len(),
            });
        }
        let mut next = self.clone();
        for change in &delta.changes {
            match change {
                BlacklistChange::Block { entry, reason } => next.insert(entry.clone(), *reason),
                BlacklistChange::Unblock { entry } => {
                    if !next.remove(entry) {
                        return Err(DeltaError::UnblockOfAbsent {
                            entry: entry.clone(),
                        });
                    }
                }
            }
        }
        next.version = delta.to_version;
        *self = next;
        Ok(())
    }

    /// Applies consecutive deltas in order; stops at the first that does not apply, leaving the
    /// blacklist at the last version reached.
    pub fn apply_all<'a>(
        &mut self,
        deltas: impl IntoIterator<Item = &'a BlacklistDelta>,
    ) -> Result<(), DeltaError> {
        deltas.into_iter().try_for_each(|delta| self.apply(delta))
    }

    fn insert(&mut self, entry: BlacklistEntry, reason: BlockReason) {
        match entry {
            BlacklistEntry::Ecard(ecard) => {
                self.ecards.insert(ecard, reason);
            }
            BlacklistEntry::Card(card) => {
                self.cards.insert(card, reason);
            }
        }
    }

    fn remove(&mut self, entry: &BlacklistEntry) -> bool {
        match entry {
            BlacklistEntry::Ecard(ecard) => self.ecards.remove(ecard).is_some(),
            BlacklistEntry::Card(card) => self.cards.remove(card).is_some(),
        }
    }
}

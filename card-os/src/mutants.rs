//! Deliberately broken card builds, for proving that the conformance suite catches real bugs
//! (docs/test-vectors.md, "Broken card builds"). Compiled only with the `mutants` feature, which
//! no release or chip build enables; even then every mutant is off until a test switches one on,
//! so a build with the feature behaves exactly like one without.
//!
//! This module is only the switch. Each mutant is one `#[cfg(feature = "mutants")]` block at its
//! one site in the card:
//!
//! | mutant | site | the bug |
//! |---|---|---|
//! | [`Mutant::SkipPinDecrement`] | PIN check (`commands/pin.rs`) | a wrong PIN never spends a try |
//! | [`Mutant::AcceptAnyMac`] | `crypto::sm::verify_command_mac` | any 4 bytes pass as the MAC |
//! | [`Mutant::IgnoreAccessRule`] | `access::check` | every access rule is met |
//! | [`Mutant::WrongRecord`] | `fs::records::read` | record n answers record n+1 when it exists |
//! | [`Mutant::GraceOneDayLonger`] | `restriction::status` | the six months end a day late |
//! | [`Mutant::DebitSkipsMac1`] | `commands/purse.rs` `debit` | DEBIT FOR PURCHASE takes any MAC1 |
//! | [`Mutant::DebitWithoutRecord`] | `commands/purse.rs` `append_record` | a debit writes no EF08 record |
//!
//! The switch is one global byte: one mutant (or none) at a time for the whole process.

use core::sync::atomic::{AtomicU8, Ordering};

/// One deliberate bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutant {
    /// A wrong PIN answers `63Cx` but the persistent try counter is never decremented, so the
    /// PIN never blocks.
    SkipPinDecrement = 2,
    /// The secure-messaging MAC check accepts any MAC.
    AcceptAnyMac = 3,
    /// `access::check` grants every operation in every security state.
    IgnoreAccessRule = 4,
    /// READ RECORD of record n answers record n+1 when the file has one.
    WrongRecord = 5,
    /// The six-month rule's off-by-one: the day after the six months still counts as grace.
    GraceOneDayLonger = 6,
    /// DEBIT FOR PURCHASE accepts any MAC1.
    DebitSkipsMac1 = 7,
    /// DEBIT FOR PURCHASE changes the balance but appends no record to the EF08 log.
    DebitWithoutRecord = 8,
}

impl Mutant {
    /// Every mutant, in declaration order.
    pub const ALL: [Mutant; 7] = [
        Mutant::SkipPinDecrement,
        Mutant::AcceptAnyMac,
        Mutant::IgnoreAccessRule,
        Mutant::WrongRecord,
        Mutant::GraceOneDayLonger,
        Mutant::DebitSkipsMac1,
        Mutant::DebitWithoutRecord,
    ];
}

/// `0`: no mutant.
static ACTIVE: AtomicU8 = AtomicU8::new(0);

/// Switches `mutant` on (and every other off); `None` restores the correct card.
pub fn set(mutant: Option<Mutant>) {
    ACTIVE.store(mutant.map_or(0, |m| m as u8), Ordering::SeqCst);
}

/// Whether `mutant` is switched on.
pub fn active(mutant: Mutant) -> bool {
    ACTIVE.load(Ordering::SeqCst) == mutant as u8
}

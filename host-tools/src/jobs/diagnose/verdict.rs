//! From what the checks found to the likely cause (the field's list, as far as a terminal can
//! see) and what the clerk should do next: a small rule table, most serious first.

use serde::Serialize;

/// What the checks established, as facts the rules read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Facts {
    pub no_reader: bool,
    /// The PC/SC service or the system failed in a way that says nothing about the card.
    pub system_error: bool,
    /// The card is held by another program (PC/SC sharing violation, or reset by another program).
    pub reader_busy: bool,
    /// The card image file is missing, or cannot be read or written.
    pub image_missing: bool,
    /// The card image file is damaged, or the card in it does not start.
    pub image_damaged: bool,
    pub no_card: bool,
    /// Inserted, no ATR (or only errors when asked for one).
    pub no_atr: bool,
    /// An ATR that does not parse or whose TCK does not check.
    pub bad_atr: bool,
    /// Every answer the card gave was `6F00`.
    pub only_6f00: bool,
    /// Nothing answered at all after the ATR.
    pub all_unanswered: bool,
    /// `6581` anywhere, or a file whose checksum fails.
    pub memory_damaged: bool,
    /// Some commands went unanswered while others were answered.
    pub some_unanswered: bool,
    /// Answers slower than the threshold.
    pub slow: bool,
    pub app_blocked: bool,
    pub expired: bool,
    pub data_error: bool,
    pub pin_blocked: bool,
    /// Not activated and past the six-month deadline.
    pub not_activated_past_deadline: bool,
    /// With the holder present (`--pin`): the purse's balance is below the amount asked, or the
    /// last settlement was refused for it (`9401`).
    #[serde(default)]
    pub balance_too_low: bool,
}

/// The likely cause, from the field's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// No reader, a failing PC/SC service, a busy reader, no card image or no card in the
    /// reader: not the chip's fault.
    NoReader,
    SystemError,
    ReaderBusy,
    ImageMissing,
    ImageDamaged,
    NoCard,
    DeadChip,
    MemoryDamaged,
    UnstableContact,
    ApplicationBlocked,
    Expired,
    DataError,
    PinBlocked,
    NotActivated,
    /// The medical purse's balance is below the settlement's account amount (`9401`).
    BalanceTooLow,
    /// The card is healthy: contributions, balance or a back-office system.
    BackOffice,
}

/// What the clerk does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    ConnectReader,
    RestartServiceRetry,
    CloseOtherProgram,
    CheckImagePath,
    RestoreImage,
    InsertCard,
    CleanContactsRetry,
    ReplaceCard,
    ActivateAtBank,
    UnblockPin,
    AskInsuranceAgency,
    ReissueDataError,
    LoadPurse,
}

impl Cause {
    /// The cause for a person.
    pub fn words(self) -> &'static str {
        match self {
            Cause::NoReader => "no card reader: nothing can be said about the card",
            Cause::SystemError => {
                "the PC/SC service or the system failed: nothing can be said about the card"
            }
            Cause::ReaderBusy => "the card is held by another program (the reader is busy)",
            Cause::ImageMissing => "the card image file is missing or cannot be used",
            Cause::ImageDamaged => "the card image file is damaged: the simulated card cannot start",
            Cause::NoCard => "no card in the reader",
            Cause::DeadChip => "chip damaged or \"demagnetised\": it gives no usable answer",
            Cause::MemoryDamaged => "chip memory damaged: some data can no longer be read intact",
            Cause::UnstableContact => {
                "card delaminated or contacts worn: the chip answers, but not reliably"
            }
            Cause::ApplicationBlocked => {
                "the social security application is blocked (reported lost, cancelled or suspended)"
            }
            Cause::Expired => "the card has expired",
            Cause::DataError => "wrong information on the card (invalid or inconsistent data)",
            Cause::PinBlocked => "the PIN is blocked (too many wrong tries)",
            Cause::NotActivated => {
                "not activated within six months of issue: medical insurance function restricted"
            }
            Cause::BalanceTooLow => {
                "balance too low: the medical purse holds less than the settlement's account amount"
            }
            Cause::BackOffice => {
                "the card is healthy: the problem is likely contributions not paid in time (medical \
                 insurance suspended), balance, or a hospital or back-office system"
            }
        }
    }

    /// The action that goes with the cause.
    pub fn action(self) -> Action {
        match self {
            Cause::NoReader => Action::ConnectReader,
            Cause::SystemError => Action::RestartServiceRetry,
            Cause::ReaderBusy => Action::CloseOtherProgram,
            Cause::ImageMissing => Action::CheckImagePath,
            Cause::ImageDamaged => Action::RestoreImage,
            Cause::NoCard => Action::InsertCard,
            Cause::DeadChip | Cause::UnstableContact => Action::CleanContactsRetry,
            Cause::MemoryDamaged | Cause::Expired => Action::ReplaceCard,
            Cause::ApplicationBlocked | Cause::BackOffice => Action::AskInsuranceAgency,
            Cause::DataError => Action::ReissueDataError,
            Cause::PinBlocked => Action::UnblockPin,
            Cause::NotActivated => Action::ActivateAtBank,
            Cause::BalanceTooLow => Action::LoadPurse,
        }
    }
}

impl Action {
    pub fn words(self) -> &'static str {
        match self {
            Action::ConnectReader => {
                "connect a card reader (and start the PC/SC service), then retry"
            }
            Action::RestartServiceRetry => {
                "restart the PC/SC service (pcscd) and retry; if it fails again, report the error \
                 shown above"
            }
            Action::CloseOtherProgram => {
                "close the other program that uses the card (or wait until it has finished), then \
                 retry"
            }
            Action::CheckImagePath => {
                "check the card image's path and permissions (or make the image again), then retry"
            }
            Action::RestoreImage => {
                "restore the card image from a copy, or make it again; the chip itself is not \
                 involved"
            }
            Action::InsertCard => "insert the card chip first, contacts up, and retry",
            Action::CleanContactsRetry => {
                "clean the contacts and retry in another reader; if it fails again, replace the \
                 card at a social security service outlet"
            }
            Action::ReplaceCard => "replace the card at a social security service outlet",
            Action::ActivateAtBank => {
                "activate the card at a bank outlet with the holder's identity document"
            }
            Action::UnblockPin => {
                "unblock the PIN at a service outlet (bring the identity document)"
            }
            Action::AskInsuranceAgency => {
                "ask the medical insurance agency about the suspended function (contributions, \
                 balance, card status)"
            }
            Action::ReissueDataError => "card data error: have the card re-issued",
            Action::LoadPurse => {
                "load the medical purse at an outlet, or pay the difference another way"
            }
        }
    }
}

/// The cause a refused settlement's status word names (the seeds' causes): `9401` balance,
/// `9303` blocked, `6983` / `63C0` the PIN.
pub fn cause_of_refusal(sw: u16) -> Option<Cause> {
    match sw {
        0x9401 => Some(Cause::BalanceTooLow),
        0x9303 => Some(Cause::ApplicationBlocked),
        0x6983 | 0x63C0 => Some(Cause::PinBlocked),
        _ => None,
    }
}

/// The rule table, most serious first: the first fact that holds names the cause.
pub fn verdict(f: &Facts) -> Cause {
    let rules: [(bool, Cause); 17] = [
        (f.no_reader, Cause::NoReader),
        (f.system_error, Cause::SystemError),
        (f.reader_busy, Cause::ReaderBusy),
        (f.image_missing, Cause::ImageMissing),
        (f.image_damaged, Cause::ImageDamaged),
        (f.no_card, Cause::NoCard),
        (f.no_atr || f.bad_atr, Cause::DeadChip),
        (f.only_6f00 || f.all_unanswered, Cause::DeadChip),
        (f.memory_damaged, Cause::MemoryDamaged),
        (f.some_unanswered || f.slow, Cause::UnstableContact),
        (f.app_blocked, Cause::ApplicationBlocked),
        (f.expired, Cause::Expired),
        (f.data_error, Cause::DataError),
        (f.pin_blocked, Cause::PinBlocked),
        (f.not_activated_past_deadline, Cause::NotActivated),
        (f.balance_too_low, Cause::BalanceTooLow),
        (true, Cause::BackOffice),
    ];
    rules
        .iter()
        .find(|(holds, _)| *holds)
        .map_or(Cause::BackOffice, |(_, cause)| *cause)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardware_goes_before_the_card_state_and_a_healthy_card_points_at_the_back_office() {
        assert_eq!(verdict(&Facts::default()), Cause::BackOffice);
        let dead = Facts {
            no_atr: true,
            pin_blocked: true,
            ..Facts::default()
        };
        assert_eq!(verdict(&dead), Cause::DeadChip);
        let blocked_and_late = Facts {
            pin_blocked: true,
            not_activated_past_deadline: true,
            ..Facts::default()
        };
        assert_eq!(verdict(&blocked_and_late), Cause::PinBlocked);
        let worn = Facts {
            some_unanswered: true,
            expired: true,
            ..Facts::default()
        };
        assert_eq!(verdict(&worn), Cause::UnstableContact);
        assert_eq!(Cause::NotActivated.action(), Action::ActivateAtBank);
        let poor = Facts {
            balance_too_low: true,
            ..Facts::default()
        };
        assert_eq!(verdict(&poor), Cause::BalanceTooLow);
        assert_eq!(Cause::BalanceTooLow.action(), Action::LoadPurse);
        assert_eq!(cause_of_refusal(0x9401), Some(Cause::BalanceTooLow));
        assert_eq!(cause_of_refusal(0x9303), Some(Cause::ApplicationBlocked));
        assert_eq!(cause_of_refusal(0x6983), Some(Cause::PinBlocked));
        assert_eq!(cause_of_refusal(0x9000), None);
    }
}

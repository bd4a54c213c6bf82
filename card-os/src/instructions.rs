//! The card's instructions, in one table: what each INS (and, where it matters, CLA) means and
//! how the card and the host tools treat it. The card's dispatcher, its admission of commands to
//! a blocked application, its MAC check and its six-month rule read this table; the host reads it
//! to name commands, to redact secrets from traces and to decide what a read-only tool may send.
//! Adding a card command means adding a row here (and its [`Handler`] arm in the dispatcher, which
//! the compiler asks for).

use crate::apdu::{Cla, SecureMessaging};

/// Which classes of command an entry answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassRule {
    /// Any class the card takes (`0x`, `8x`, with or without the SSC MAC).
    Any,
    /// Only with the SSC MAC (`x4`).
    Mac,
    /// Only without secure messaging.
    Plain,
    /// Only with the medical purse's class `B0` (which no other row answers).
    Purse,
}

impl ClassRule {
    const fn admits(self, cla: Cla) -> bool {
        match self {
            ClassRule::Purse => cla.purse,
            _ if cla.purse => false,
            ClassRule::Any => true,
            ClassRule::Mac => matches!(cla.secure_messaging, SecureMessaging::SscMac),
            ClassRule::Plain => matches!(cla.secure_messaging, SecureMessaging::None),
        }
    }

    /// A class byte this rule admits (`00`, `84` or `B0`), for tools and tests.
    pub const fn example_cla(self) -> u8 {
        match self {
            ClassRule::Any | ClassRule::Plain => 0x00,
            ClassRule::Mac => 0x84,
            ClassRule::Purse => crate::apdu::PURSE_CLA,
        }
    }
}

/// The code that runs an instruction (one per row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    Select,
    ReadBinary,
    UpdateBinary,
    ReadRecord,
    UpdateRecord,
    AppendRecord,
    GetResponse,
    GetData,
    SetDate,
    DeliverKey,
    CipherData,
    CreateFile,
    DeleteFile,
    ActivateFile,
    DeactivateFile,
    TerminateEf,
    TerminateDf,
    WriteKey,
    IssueCard,
    Verify,
    ChangePin,
    PinUnblock,
    ChangeReferenceData,
    PinReload,
    GetChallenge,
    ExternalAuthenticate,
    InternalAuthenticate,
    ApplicationBlock,
    ApplicationUnblock,
    CardBlock,
    InitSamForPurchase,
    CreditSamForPurchase,
    InitializePurse,
    CreditForLoad,
    DebitForPurchase,
    GetBalance,
    GetTransactionProof,
    StartingDay,
}

impl Handler {
    /// The name of the command it runs. (A match rather than a column of the table, so that the
    /// names stay out of the card's flash: only the host tools call it.)
    pub const fn name(self) -> &'static str {
        match self {
            Handler::Select => "SELECT",
            Handler::ReadBinary => "READ BINARY",
            Handler::UpdateBinary => "UPDATE BINARY",
            Handler::ReadRecord => "READ RECORD",
            Handler::UpdateRecord => "UPDATE RECORD",
            Handler::AppendRecord => "APPEND RECORD",
            Handler::GetResponse => "GET RESPONSE",
            Handler::GetData => "GET DATA",
            Handler::SetDate => "SET DATE",
            Handler::DeliverKey => "DELIVER KEY",
            Handler::CipherData => "CIPHER DATA",
            Handler::CreateFile => "CREATE FILE",
            Handler::DeleteFile => "DELETE FILE",
            Handler::ActivateFile => "ACTIVATE FILE",
            Handler::DeactivateFile => "DEACTIVATE FILE",
            Handler::TerminateEf => "TERMINATE EF",
            Handler::TerminateDf => "TERMINATE DF",
            Handler::WriteKey => "WRITE KEY / PIN",
            Handler::IssueCard => "ISSUE CARD",
            Handler::Verify => "VERIFY",
            Handler::ChangePin => "CHANGE PIN",
            Handler::PinUnblock => "PIN UNBLOCK",
            Handler::ChangeReferenceData => "CHANGE REFERENCE DATA",
            Handler::PinReload => "PIN RELOAD",
            Handler::GetChallenge => "GET CHALLENGE",
            Handler::ExternalAuthenticate => "EXTERNAL AUTHENTICATE",
            Handler::InternalAuthenticate => "INTERNAL AUTHENTICATE",
            Handler::ApplicationBlock => "APPLICATION BLOCK",
            Handler::ApplicationUnblock => "APPLICATION UNBLOCK",
            Handler::CardBlock => "CARD BLOCK",
            Handler::InitSamForPurchase => "INIT SAM FOR PURCHASE",
            Handler::CreditSamForPurchase => "CREDIT SAM FOR PURCHASE",
            Handler::InitializePurse => "INITIALIZE FOR LOAD / PURCHASE",
            Handler::CreditForLoad => "CREDIT FOR LOAD",
            Handler::DebitForPurchase => "DEBIT FOR PURCHASE",
            Handler::GetBalance => "GET BALANCE",
            Handler::GetTransactionProof => "GET TRANSACTION PROOF",
            Handler::StartingDay => "UPDATE / GET STARTING DAY",
        }
    }
}

/// When a command is admitted on a blocked card or application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Always, even on a blocked card.
    Always,
    /// Also while the current application is temporarily blocked (not permanently, not on a
    /// blocked card).
    WhileTemporarilyBlocked,
    /// Only on a card and application that are not blocked.
    Unblocked,
}

/// Which part of a command or its answer is secret (a trace shows it as stars).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secret {
    None,
    /// The command data (a PIN, a key, a cryptogram).
    CommandData,
    /// The response data (a cryptogram or a MAC computed with a card key).
    ResponseData,
}

/// Whether a read-only tool (the diagnostics) may send the command: it changes nothing on the
/// card (neither its memory nor its session state) and computes nothing with a card key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Safe,
    /// Safe without command data only (VERIFY without data asks for the tries left; with data it
    /// spends one).
    SafeWithoutData,
    Unsafe,
}

/// One instruction of the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instruction {
    pub ins: u8,
    pub class: ClassRule,
    /// The code that runs it; also what names it ([`Instruction::name`]).
    pub handler: Handler,
    pub admission: Admission,
    /// Checks the MAC of a MAC'd class itself, with a key of its own usage; any other command
    /// with a MAC'd class has the current DF's MAC key checked before it runs.
    pub checks_own_mac: bool,
    /// A settlement-type operation, refused while the medical insurance application is
    /// restricted by the six-month rule (`9302`).
    pub settlement: bool,
    pub secret: Secret,
    pub probe: Probe,
}

impl Instruction {
    /// The command's name, for people ("SELECT", "PIN UNBLOCK").
    pub const fn name(&self) -> &'static str {
        self.handler.name()
    }
}

const fn row(ins: u8, handler: Handler) -> Instruction {
    Instruction {
        ins,
        class: ClassRule::Any,
        handler,
        admission: Admission::Unblocked,
        checks_own_mac: false,
        settlement: false,
        secret: Secret::None,
        probe: Probe::Unsafe,
    }
}

const fn reading(ins: u8, handler: Handler) -> Instruction {
    Instruction {
        probe: Probe::Safe,
        ..row(ins, handler)
    }
}

const fn secret(ins: u8, handler: Handler, secret: Secret) -> Instruction {
    Instruction {
        secret,
        ..row(ins, handler)
    }
}

/// A command with a MAC of its own key usage.
const fn own_mac(ins: u8, handler: Handler) -> Instruction {
    Instruction {
        checks_own_mac: true,
        ..row(ins, handler)
    }
}

/// Every instruction the card answers. The first row matching INS and class wins.
pub const INSTRUCTIONS: &[Instruction] = &[
    Instruction {
        admission: Admission::Always,
        ..reading(0xA4, Handler::Select)
    },
    reading(0xB0, Handler::ReadBinary),
    row(0xD6, Handler::UpdateBinary),
    reading(0xB2, Handler::ReadRecord),
    Instruction {
        settlement: true,
        ..row(0xDC, Handler::UpdateRecord)
    },
    Instruction {
        settlement: true,
        ..row(0xE2, Handler::AppendRecord)
    },
    // Served by the transmission layer; as a link of a chain it is not supported.
    reading(0xC0, Handler::GetResponse),
    Instruction {
        admission: Admission::Always,
        ..reading(0xCA, Handler::GetData)
    },
    row(0xDA, Handler::SetDate),
    // The diversification factors are the card's public numbers.
    row(0x1A, Handler::DeliverKey),
    // The answer is a cryptogram or a MAC with a card's key.
    secret(0xFA, Handler::CipherData, Secret::ResponseData),
    row(0xE0, Handler::CreateFile),
    row(0xE4, Handler::DeleteFile),
    row(0x44, Handler::ActivateFile),
    row(0x04, Handler::DeactivateFile),
    row(0xE6, Handler::TerminateEf),
    row(0xE8, Handler::TerminateDf),
    // Key bytes, or the PIN.
    secret(0xD4, Handler::WriteKey, Secret::CommandData),
    row(0xF0, Handler::IssueCard),
    // The PIN.
    Instruction {
        probe: Probe::SafeWithoutData,
        ..secret(0x20, Handler::Verify, Secret::CommandData)
    },
    // Old PIN `FF` new PIN.
    secret(0x5E, Handler::ChangePin, Secret::CommandData),
    // The new PIN (and the MAC).
    Instruction {
        class: ClassRule::Mac,
        checks_own_mac: true,
        ..secret(0x24, Handler::PinUnblock, Secret::CommandData)
    },
    // Old PIN and new PIN.
    Instruction {
        class: ClassRule::Plain,
        ..secret(0x24, Handler::ChangeReferenceData, Secret::CommandData)
    },
    // The new PIN (and the MAC).
    Instruction {
        secret: Secret::CommandData,
        ..own_mac(0x2C, Handler::PinReload)
    },
    Instruction {
        admission: Admission::WhileTemporarilyBlocked,
        ..row(0x84, Handler::GetChallenge)
    },
    // The cryptogram.
    secret(0x82, Handler::ExternalAuthenticate, Secret::CommandData),
    // The challenge is public; the answer is a cryptogram.
    secret(0x88, Handler::InternalAuthenticate, Secret::ResponseData),
    Instruction {
        admission: Admission::WhileTemporarilyBlocked,
        ..own_mac(0x1E, Handler::ApplicationBlock)
    },
    Instruction {
        admission: Admission::WhileTemporarilyBlocked,
        ..own_mac(0x18, Handler::ApplicationUnblock)
    },
    own_mac(0x16, Handler::CardBlock),
    // The PSAM's side of a purchase (MAC1 out, MAC2 in).
    row(0x70, Handler::InitSamForPurchase),
    row(0x72, Handler::CreditSamForPurchase),
    // The medical purse (CLA `B0`): INITIALIZE and DEBIT are settlement (refused while the
    // medical application is restricted); GET BALANCE only reads (after the PIN).
    Instruction {
        settlement: true,
        ..purse(0x28, Handler::InitializePurse)
    },
    purse(0x2A, Handler::CreditForLoad),
    Instruction {
        settlement: true,
        ..purse(0x2C, Handler::DebitForPurchase)
    },
    Instruction {
        probe: Probe::Safe,
        ..purse(0x26, Handler::GetBalance)
    },
    purse(0x2E, Handler::GetTransactionProof),
    purse(0x56, Handler::StartingDay),
];

/// A medical purse command (CLA `B0`).
const fn purse(ins: u8, handler: Handler) -> Instruction {
    Instruction {
        class: ClassRule::Purse,
        ..row(ins, handler)
    }
}

/// The instruction a command with `ins` and this secure messaging runs, if the card has one.
pub fn find(ins: u8, cla: Cla) -> Option<&'static Instruction> {
    INSTRUCTIONS
        .iter()
        .find(|i| i.ins == ins && i.class.admits(cla))
}

/// The instruction of a command's CLA and INS; `None` for an unknown INS or a class the card
/// does not take.
pub fn of_command(cla: u8, ins: u8) -> Option<&'static Instruction> {
    let cla = crate::apdu::Cla::decode(cla).ok()?;
    find(ins, cla)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mac_class_tells_the_two_0x24_commands_apart() {
        assert_eq!(
            of_command(0x84, 0x24).map(|i| i.name()),
            Some("PIN UNBLOCK")
        );
        assert_eq!(
            of_command(0x00, 0x24).map(|i| i.name()),
            Some("CHANGE REFERENCE DATA")
        );
        assert_eq!(of_command(0x00, 0x00), None);
    }

    #[test]
    fn each_handler_and_each_class_of_an_ins_appears_once() {
        for (n, a) in INSTRUCTIONS.iter().enumerate() {
            for b in INSTRUCTIONS.iter().skip(n + 1) {
                assert_ne!(a.handler, b.handler, "{}", a.name());
                if a.ins == b.ins {
                    assert!(
                        matches!(
                            (a.class, b.class),
                            (ClassRule::Mac, ClassRule::Plain)
                                | (ClassRule::Plain, ClassRule::Mac)
                                | (ClassRule::Purse, _)
                                | (_, ClassRule::Purse)
                        ),
                        "{} and {} overlap",
                        a.name(),
                        b.name()
                    );
                }
            }
        }
    }
}

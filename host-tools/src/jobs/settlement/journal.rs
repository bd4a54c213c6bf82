//! The settlement terminal's journal: the activation's JSON-lines file
//! ([`crate::jobs::journal::JsonLines`]), one line per step of a purchase or a load. The intent
//! (card, serial, amounts) is on disk before the DEBIT or CREDIT is sent, so a rerun after a
//! pulled card knows which transaction to ask the card about. An online payment with a QR code
//! ([`super::online`]) writes its lines here too (kind `qr-payment`): its intent, with the
//! terminal's transaction id, is on disk before the payment is sent to the back office.

use serde::{Deserialize, Serialize};

use super::input::Amounts;
use crate::jobs::journal::JsonLines;

/// Which purse transaction a line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Purchase,
    Load,
    /// Paid with an e-card's QR code from the medical account in the back office.
    QrPayment,
}

impl Kind {
    /// The GET TRANSACTION PROOF type (P2); an online payment is not on the card (`00`).
    pub fn proof_type(self) -> u8 {
        match self {
            Kind::Load => 0x01,
            Kind::Purchase => 0x02,
            Kind::QrPayment => 0x00,
        }
    }
}

/// The steps a settlement records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Written before DEBIT / CREDIT: this transaction may happen now.
    Intent,
    /// The card answered with its TAC (and the PSAM checked MAC2): done.
    Settled,
    /// A rerun found the transaction on the card (GET TRANSACTION PROOF): done.
    Recovered,
    /// A rerun found the transaction did not happen (`9406`): closed, may be retried.
    NotDone,
    /// Refused before anything was debited (the reason and the card's status word say why).
    Refused,
    /// The card debited, but the PSAM refused its MAC2: the TAC is kept for the back office.
    Disputed,
    /// The back office answered the upload of this settled purchase (its verdict in `reason`):
    /// it is not sent again (`registry::pending`).
    Uploaded,
}

/// One line of the settlement journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// The card number (an online payment: the e-card id charged).
    pub card: String,
    pub kind: Kind,
    pub step: Step,
    /// The card's serial of this transaction (from INITIALIZE).
    #[serde(default)]
    pub serial: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amounts: Option<Amounts>,
    /// The terminal number (12 digits; an online payment: the till's id).
    #[serde(default)]
    pub terminal_no: String,
    /// The card's balance before the transaction (from INITIALIZE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<u32>,
    /// The card's key algorithm byte (`01` 3DES, `03` SM4), for the back office's TAC check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<u8>,
    /// The card identification code (32 hex digits): the back office diversifies DTK with it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub card_id_code: String,
    /// The PSAM's terminal serial of a purchase (8 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_serial: Option<String>,
    /// `YYYYMMDDhhmmss`.
    pub time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tac: Option<String>,
    /// The card's status word of a refusal (`9401`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sw: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What only an online payment with a QR code carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<OnlinePayment>,
}

/// An online payment's part of a line: what a rerun needs to send the same payment again, and
/// what the back office answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlinePayment {
    /// The terminal's transaction id: the back office answers the same payment for it.
    pub txn: String,
    /// SHA-256 of the code shown (hex): a rerun with the same code finds its transaction.
    pub code_sha256: String,
    /// The one-time settlement token the verification answered. Kept to send the payment
    /// again; it pays once, for this terminal's credential only, and expires within minutes.
    pub token: String,
    /// The e-card whose app showed the code, when it is a family member's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown_by: Option<String>,
    /// The back office's payment id, once paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<String>,
    /// The account balance after the payment, in fen, once paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_after: Option<i64>,
    /// The back office's refusal code, when it refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
}

/// The settlement journal file.
pub type SettlementJournal = JsonLines<Line>;

/// The transaction a card left open on this terminal: its intent line, when it is the card's last
/// line (every run resolves a card's open intent before it writes anything else for that card).
/// Scans from the end: a long journal costs nothing for a card seen recently.
pub fn open_transaction<'j>(journal: &'j SettlementJournal, card: &str) -> Option<&'j Line> {
    journal
        .entries()
        .iter()
        .rev()
        .find(|l| l.card == card)
        .filter(|l| l.step == Step::Intent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(step: Step, serial: u16) -> Line {
        Line {
            card: "T0000001X".into(),
            kind: Kind::Purchase,
            step,
            serial,
            amounts: None,
            balance: None,
            algorithm: None,
            card_id_code: String::new(),
            terminal_no: "110100000001".into(),
            terminal_serial: None,
            time: "20260315103000".into(),
            tac: None,
            sw: None,
            reason: None,
            online: None,
        }
    }

    #[test]
    fn an_intent_stays_open_until_a_line_closes_it() {
        let dir = crate::testdir::TestDir::new("settle-journal");
        let path = dir.path().join("terminal.jsonl");
        let mut journal = SettlementJournal::open(&path).unwrap();
        journal.record(line(Step::Intent, 1)).unwrap();
        journal.record(line(Step::Settled, 1)).unwrap();
        assert_eq!(open_transaction(&journal, "T0000001X"), None);
        journal.record(line(Step::Intent, 2)).unwrap();
        let journal = SettlementJournal::open(&path).unwrap();
        assert_eq!(
            open_transaction(&journal, "T0000001X").map(|l| l.serial),
            Some(2)
        );
        assert_eq!(open_transaction(&journal, "T0000002X"), None);
    }
}

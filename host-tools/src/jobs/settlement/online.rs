//! Paying with an e-card's QR code (docs/settlement.md, "Online mode: paying with a QR code"):
//! the code verified online by the back office (the holder's identity and a one-time settlement
//! token), the intent journalled with a fresh terminal transaction id and synced to disk, then
//! the payment from the holder's medical account in the back office, and the receipt
//! journalled.
//!
//! Never charged twice: the back office answers the same payment for the same transaction id.
//! When the answer is lost (the network, the process killed), the intent stays open in the
//! journal and a rerun with the same code, or [`resume`], sends the same transaction again.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sscard_platform::ecard::online::OnlineVerification;
use sscard_platform::ecard::payments::{EcardPayment, PaymentRequest};
use sscard_platform::{Client, ClientError};

use super::input::{AmountError, Amounts, TradeTime};
use super::journal::{Kind, Line, OnlinePayment, SettlementJournal, Step};
use crate::jobs::journal::JournalError;

/// The longest code looked at (the payload's own limit): anything longer is refused before it
/// is sent.
pub const MAX_CODE_CHARS: usize = sscard_ecard::payload::MAX_CODE_CHARS;

/// Why an online payment did not happen (or is not known to have happened).
#[derive(Debug, thiserror::Error)]
pub enum QrSettleError {
    #[error(transparent)]
    Amount(#[from] AmountError),
    #[error("this is not an e-card QR code (`SSC1:…`, at most 256 characters)")]
    NotACode,
    #[error("the back office refused the code ({code}): {reason}; nothing was charged")]
    CodeRefused { code: String, reason: String },
    #[error("this is an identity code: it identifies the holder but cannot pay; ask the holder for the payment code")]
    NotPaymentCode,
    #[error("the e-card cannot pay ({code}): {reason}; do not accept it, nothing was charged")]
    CardRefused { code: String, reason: String },
    #[error("the settlement token was refused ({code}): {reason}; nothing was charged")]
    TokenRefused { code: String, reason: String },
    #[error("balance too low: {reason}")]
    BalanceTooLow { reason: String },
    #[error("the back office refused the payment: {0}")]
    Refused(#[source] ClientError),
    #[error("the back office did not verify the code: {0}; nothing was charged; try again (with a fresh code if this one reached the back office)")]
    VerifyFailed(#[source] ClientError),
    #[error("payment {txn} is not confirmed: {source}. It may or may not have been made: run the same `settle --qr` (or `settle --resume`) again; it is never charged twice")]
    Unconfirmed {
        txn: String,
        #[source]
        source: ClientError,
    },
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("no randomness for a transaction id: {0}")]
    NoRandomness(String),
}

/// A payment to make with a code: the amounts in fen and the terminal's time.
#[derive(Debug, Clone, Copy)]
pub struct QrPaymentRequest {
    /// Paid from the medical account.
    pub account: u32,
    /// Paid by the holder, recorded only.
    pub self_pay: u32,
    pub time: TradeTime,
}

impl QrPaymentRequest {
    /// The amounts checked as a card settlement's are (not all zero, their sum in range).
    pub fn new(account: u32, self_pay: u32, time: TradeTime) -> Result<Self, AmountError> {
        Amounts::new(account, self_pay, 0)?;
        Ok(QrPaymentRequest {
            account,
            self_pay,
            time,
        })
    }
}

/// The till: its connection to the back office and its id on receipts.
pub struct Till<'a> {
    pub platform: &'a Client,
    /// The till's id (1–64 of `A-Z a-z 0-9 - _ .`), sent with each payment.
    pub terminal_id: String,
}

/// The receipt of an online payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QrReceipt {
    pub kind: Kind,
    pub payment_id: String,
    /// The e-card charged (a family member's for a member's code).
    pub ecard: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shown_by: Option<String>,
    pub card_number: String,
    /// The holder's name, as the back office holds it.
    pub holder: String,
    pub terminal_id: String,
    pub terminal_txn_id: String,
    /// In fen: `account` from the medical account, `self_pay` recorded.
    pub amounts: Amounts,
    pub balance_before: i64,
    pub balance_after: i64,
    /// The back office's time of the payment, RFC 3339 UTC.
    pub paid_at: String,
    /// This run completed a payment an earlier run had sent without an answer.
    pub resumed: bool,
}

impl QrReceipt {
    fn new(payment: EcardPayment, resumed: bool) -> QrReceipt {
        let fen = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
        QrReceipt {
            kind: Kind::QrPayment,
            payment_id: payment.payment_id,
            ecard: payment.ecard,
            shown_by: payment.shown_by,
            card_number: payment.card_number,
            holder: payment.name,
            terminal_id: payment.terminal_id,
            terminal_txn_id: payment.terminal_txn_id,
            amounts: Amounts {
                account: fen(payment.amount_fen),
                self_pay: fen(payment.self_pay_fen),
                pooled: 0,
            },
            balance_before: payment.balance_before_fen,
            balance_after: payment.balance_after_fen,
            paid_at: payment.paid_at,
            resumed,
        }
    }
}

/// SHA-256 of a code (hex): how the journal names it without keeping it.
pub fn code_sha256(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().as_bytes()))
}

fn fresh_txn() -> Result<String, QrSettleError> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|e| QrSettleError::NoRandomness(e.to_string()))?;
    Ok(format!("qr-{}", hex::encode(bytes)))
}

/// The online payments whose intent is the last line of their transaction: sent (or about to
/// be) without an answer on record.
pub fn open_payments(journal: &SettlementJournal) -> Vec<Line> {
    let txn_of = |l: &Line| {
        l.online
            .as_ref()
            .filter(|_| l.kind == Kind::QrPayment)
            .map(|o| o.txn.clone())
    };
    // Each transaction's last line, in the order the transactions began.
    let mut last: Vec<(String, &Line)> = Vec::new();
    for line in journal.entries() {
        let Some(txn) = txn_of(line) else { continue };
        match last.iter_mut().find(|(t, _)| *t == txn) {
            Some(slot) => slot.1 = line,
            None => last.push((txn, line)),
        }
    }
    last.into_iter()
        .filter(|(_, l)| l.step == Step::Intent)
        .map(|(_, l)| l.clone())
        .collect()
}

/// How a refusal of the back office reads for the terminal: by its stable code.
fn classify(error: ClientError) -> QrSettleError {
    let ClientError::Refused {
        status,
        ref code,
        ref reason,
    } = error
    else {
        return QrSettleError::Refused(error);
    };
    let (code, reason) = (code.clone(), reason.clone());
    match code.as_str() {
        _ if status >= 500 => QrSettleError::Refused(error),
        "token-unknown" | "token-expired" | "token-spent" | "txn-reused" => {
            QrSettleError::TokenRefused { code, reason }
        }
        "insufficient-balance" => QrSettleError::BalanceTooLow { reason },
        c if c.starts_with("card-") => QrSettleError::CardRefused { code, reason },
        "malformed" | "bad-signature" | "unknown-key" | "expired" | "not-yet-valid"
        | "replayed" | "unknown-ecard" | "level-1" => QrSettleError::CodeRefused { code, reason },
        _ => QrSettleError::Refused(error),
    }
}

/// The payment of `intent` sent (again) and its answer journalled: the receipt, or the
/// refusal closed as `not-done`, or the intent left open when no answer came.
fn send(
    till: &Till<'_>,
    intent: &Line,
    journal: &mut SettlementJournal,
    resumed: bool,
) -> Result<QrReceipt, QrSettleError> {
    let online = intent.online.clone().ok_or(QrSettleError::NotPaymentCode)?;
    let amounts = intent.amounts.unwrap_or(Amounts {
        account: 0,
        self_pay: 0,
        pooled: 0,
    });
    let request = PaymentRequest {
        token: online.token.clone(),
        amount_fen: i64::from(amounts.account),
        self_pay_fen: i64::from(amounts.self_pay),
        terminal_id: intent.terminal_no.clone(),
        terminal_txn_id: online.txn.clone(),
    };
    match till.platform.pay_with_token(&request) {
        Ok(payment) => {
            journal.record(Line {
                step: if resumed {
                    Step::Recovered
                } else {
                    Step::Settled
                },
                online: Some(OnlinePayment {
                    payment: Some(payment.payment_id.clone()),
                    balance_after: Some(payment.balance_after_fen),
                    ..online
                }),
                ..intent.clone()
            })?;
            Ok(QrReceipt::new(payment, resumed))
        }
        // A definite refusal: nothing was charged, the transaction is closed.
        Err(e @ ClientError::Refused { status, .. }) if status < 500 => {
            journal.record(Line {
                step: Step::NotDone,
                reason: Some(e.to_string()),
                online: Some(OnlinePayment {
                    refusal: e.code().map(str::to_owned),
                    ..online
                }),
                ..intent.clone()
            })?;
            Err(classify(e))
        }
        // No answer, or the back office failed: it may have paid. The intent stays open.
        Err(source) => Err(QrSettleError::Unconfirmed {
            txn: online.txn,
            source,
        }),
    }
}

/// Pays `request` with the QR code `code` (see the module text). `identity` is called with the
/// back office's verification (name, social security number, card) before anything is paid, for
/// the terminal to show. A code whose payment an earlier run left unconfirmed is not verified
/// again: that payment is sent again, with its own amounts, and its receipt returned.
pub fn settle_qr(
    till: &Till<'_>,
    code: &str,
    request: &QrPaymentRequest,
    journal: &mut SettlementJournal,
    identity: &mut dyn FnMut(&OnlineVerification),
) -> Result<QrReceipt, QrSettleError> {
    let code = code.trim();
    if code.chars().count() > MAX_CODE_CHARS || !code.starts_with(sscard_ecard::PREFIX) {
        return Err(QrSettleError::NotACode);
    }
    let hash = code_sha256(code);
    let open = open_payments(journal)
        .into_iter()
        .find(|l| l.online.as_ref().is_some_and(|o| o.code_sha256 == hash));
    if let Some(intent) = open {
        return send(till, &intent, journal, true);
    }
    let verified = till.platform.verify_code(code).map_err(|e| match e {
        ClientError::Refused { status, .. } if status < 500 => classify(e),
        e => QrSettleError::VerifyFailed(e),
    })?;
    identity(&verified);
    let token = verified
        .settlement_token
        .clone()
        .ok_or(QrSettleError::NotPaymentCode)?;
    let intent = Line {
        card: verified.ecard.clone(),
        kind: Kind::QrPayment,
        step: Step::Intent,
        serial: 0,
        amounts: Some(Amounts {
            account: request.account,
            self_pay: request.self_pay,
            pooled: 0,
        }),
        terminal_no: till.terminal_id.clone(),
        balance: None,
        algorithm: None,
        card_id_code: String::new(),
        terminal_serial: None,
        time: request.time.text(),
        tac: None,
        sw: None,
        reason: None,
        online: Some(OnlinePayment {
            txn: fresh_txn()?,
            code_sha256: hash,
            token,
            shown_by: verified.shown_by.clone(),
            payment: None,
            balance_after: None,
            refusal: None,
        }),
    };
    // On disk before the payment is sent: a rerun finds it whatever happens next.
    journal.record(intent.clone())?;
    send(till, &intent, journal, false)
}

/// Sends again every online payment the journal holds unconfirmed: one result each, in the
/// journal's order (none: nothing to resume).
pub fn resume(
    till: &Till<'_>,
    journal: &mut SettlementJournal,
) -> Vec<Result<QrReceipt, QrSettleError>> {
    open_payments(journal)
        .iter()
        .map(|intent| send(till, intent, journal, true))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(txn: &str, step: Step) -> Line {
        Line {
            card: "0123456789abcdef0123456789abcdef".into(),
            kind: Kind::QrPayment,
            step,
            serial: 0,
            amounts: None,
            terminal_no: "till-1".into(),
            balance: None,
            algorithm: None,
            card_id_code: String::new(),
            terminal_serial: None,
            time: "20260315103000".into(),
            tac: None,
            sw: None,
            reason: None,
            online: Some(OnlinePayment {
                txn: txn.into(),
                code_sha256: code_sha256(txn),
                token: "sspay_x".into(),
                shown_by: None,
                payment: None,
                balance_after: None,
                refusal: None,
            }),
        }
    }

    #[test]
    fn a_payment_stays_open_until_its_answer_is_journalled_and_survives_a_reopen() {
        let dir = crate::testdir::TestDir::new("qr-journal");
        let path = dir.path().join("terminal.jsonl");
        let mut journal = SettlementJournal::open(&path).unwrap();
        journal.record(line("qr-a", Step::Intent)).unwrap();
        journal.record(line("qr-b", Step::Intent)).unwrap();
        journal.record(line("qr-a", Step::Settled)).unwrap();
        journal.record(line("qr-c", Step::Intent)).unwrap();
        journal.record(line("qr-c", Step::NotDone)).unwrap();
        let open = |j: &SettlementJournal| -> Vec<String> {
            open_payments(j)
                .iter()
                .map(|l| l.online.as_ref().unwrap().txn.clone())
                .collect()
        };
        assert_eq!(open(&journal), ["qr-b"]);
        // A card's lines beside them are not online payments.
        journal
            .record(Line {
                kind: Kind::Purchase,
                online: None,
                ..line("qr-d", Step::Intent)
            })
            .unwrap();
        let reopened = SettlementJournal::open(&path).unwrap();
        assert_eq!(open(&reopened), ["qr-b"]);
        assert_eq!(reopened.entries().len(), 6);
    }

    #[test]
    fn amounts_are_checked_as_a_card_settlement_s_are() {
        let time = TradeTime::parse("20260315103000").unwrap();
        assert!(QrPaymentRequest::new(0, 0, time).is_err());
        assert!(QrPaymentRequest::new(u32::MAX, 1, time).is_err());
        assert!(QrPaymentRequest::new(1250, 300, time).is_ok());
        assert!(QrPaymentRequest::new(0, 300, time).is_ok());
    }

    #[test]
    fn refusals_are_read_by_their_code() {
        let refused = |status, code: &str| ClientError::Refused {
            status,
            code: code.into(),
            reason: "r".into(),
        };
        assert!(matches!(
            classify(refused(409, "token-spent")),
            QrSettleError::TokenRefused { .. }
        ));
        assert!(matches!(
            classify(refused(409, "card-lost")),
            QrSettleError::CardRefused { .. }
        ));
        assert!(matches!(
            classify(refused(409, "replayed")),
            QrSettleError::CodeRefused { .. }
        ));
        assert!(matches!(
            classify(refused(409, "insufficient-balance")),
            QrSettleError::BalanceTooLow { .. }
        ));
        assert!(matches!(
            classify(refused(403, "role-not-allowed")),
            QrSettleError::Refused(_)
        ));
        assert!(matches!(
            classify(refused(503, "card-lost")),
            QrSettleError::Refused(_)
        ));
    }
}

//! The settlement terminal and the back office (docs/settlement.md, "The registry"): before the
//! purse is touched the registry is asked whether the card may pay today; after a settlement the
//! journal's settled purchases the back office has not acknowledged yet are uploaded, one request
//! per record, keyed by card number and the card's serial so that a repeat never applies twice.
//!
//! The journal is the upload queue: a purchase line `settled` or `recovered` is pending until an
//! `uploaded` line for the same card and serial follows it. Every write is the journal's own
//! (fsync'd) append, so a terminal that loses power keeps the queue.

use std::collections::HashSet;

use serde::Serialize;
use sscard_platform::model::{CardStatus, RecordResult, Refusal, SettlementRecord};
use sscard_platform::{Client, ClientError};

use super::journal::{Kind, Line, SettlementJournal, Step};
use super::SettleError;

/// Asked once the card is identified (and a transaction it left open is resolved), before
/// anything is written to it.
pub trait CardApproval {
    /// `date` is `YYYYMMDD`, `amount_fen` the account amount the purse would pay.
    fn approve(&mut self, card: &str, date: &str, amount_fen: u32) -> Result<(), SettleError>;
}

/// No back office: the card, the lost list and the expiry decide alone.
pub struct NoApproval;

impl CardApproval for NoApproval {
    fn approve(&mut self, _card: &str, _date: &str, _amount_fen: u32) -> Result<(), SettleError> {
        Ok(())
    }
}

/// The registry's refusal codes that stop a settlement. A balance too low is left to the card:
/// the purse is the card's, and the registry's reconciled balance does not see outlet loads.
pub const SETTLEMENT_REFUSALS: &[&str] = &[
    "temporarily-lost",
    "reported-lost",
    "cancelled",
    "sealed",
    "insurance-suspended",
    "expired",
    "not-activated-in-time",
];

/// Why the registry says this card may not pay now, if it says so.
pub fn settlement_refusal(status: &CardStatus) -> Option<&Refusal> {
    status
        .may
        .refusals
        .iter()
        .find(|r| SETTLEMENT_REFUSALS.contains(&r.code.as_str()))
}

/// What the registry said about the card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Consulted {
    /// The card may pay.
    Approved,
    /// No usable answer: the card paid on its own word and the lost list (offline settlement).
    Unavailable { detail: String },
}

/// The back office as the settlement's [`CardApproval`].
pub struct RegistryApproval<'c> {
    client: &'c Client,
    /// Set once the registry was asked (a recovered transaction does not ask it).
    pub consulted: Option<Consulted>,
}

impl<'c> RegistryApproval<'c> {
    pub fn new(client: &'c Client) -> Self {
        RegistryApproval {
            client,
            consulted: None,
        }
    }
}

impl CardApproval for RegistryApproval<'_> {
    fn approve(&mut self, card: &str, date: &str, amount_fen: u32) -> Result<(), SettleError> {
        let refused = |code: &str, reason: &str| SettleError::RegistryRefused {
            card: card.to_owned(),
            code: code.to_owned(),
            reason: reason.to_owned(),
        };
        match self
            .client
            .card_status(card, Some(date), Some(i64::from(amount_fen)))
        {
            Ok(status) => {
                if let Some(r) = settlement_refusal(&status) {
                    return Err(refused(&r.code, &r.reason));
                }
                self.consulted = Some(Consulted::Approved);
                Ok(())
            }
            Err(ClientError::Refused { code, reason, .. }) if code == "unknown-card" => {
                Err(refused(&code, &reason))
            }
            Err(e @ ClientError::Unreachable { .. }) | Err(e @ ClientError::BadAnswer(_)) => {
                self.consulted = Some(Consulted::Unavailable {
                    detail: e.to_string(),
                });
                Ok(())
            }
            Err(e @ ClientError::Refused { status, .. }) if status >= 500 => {
                self.consulted = Some(Consulted::Unavailable {
                    detail: e.to_string(),
                });
                Ok(())
            }
            // The terminal's own credential or role: nothing is paid until it is put right.
            Err(e) => Err(SettleError::Registry(e)),
        }
    }
}

/// The idempotency key of a record's upload: the card number and the card's serial name one
/// purchase for good.
pub fn idempotency_key(card: &str, serial: u16) -> String {
    format!("settlement-{card}-{serial}")
}

/// The record the back office takes, from a settled or recovered purchase line (`None` for a
/// line missing a field the TAC check needs).
pub fn settlement_record(line: &Line) -> Option<SettlementRecord> {
    let amounts = line.amounts?;
    Some(SettlementRecord {
        card_number: line.card.clone(),
        serial: line.serial,
        balance_before: line.balance?,
        account_fen: amounts.account,
        self_pay_fen: amounts.self_pay,
        pooled_fen: amounts.pooled,
        terminal_no: line.terminal_no.clone(),
        terminal_serial: line.terminal_serial.clone()?,
        time: line.time.clone(),
        tac: line.tac.clone()?,
    })
}

/// The purchases of the journal the back office has not acknowledged, oldest first.
pub fn pending(journal: &SettlementJournal) -> Vec<Line> {
    let uploaded: HashSet<(&str, u16)> = journal
        .entries()
        .iter()
        .filter(|l| l.step == Step::Uploaded)
        .map(|l| (l.card.as_str(), l.serial))
        .collect();
    journal
        .entries()
        .iter()
        .filter(|l| l.kind == Kind::Purchase && matches!(l.step, Step::Settled | Step::Recovered))
        .filter(|l| !uploaded.contains(&(l.card.as_str(), l.serial)))
        .cloned()
        .collect()
}

/// The most records one run uploads (each is one bounded request).
pub const MAX_UPLOADS_PER_RUN: usize = 1000;

/// What an upload run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadReport {
    /// The back office's verdict on each record it answered for.
    pub results: Vec<RecordResult>,
    /// Records still queued in the journal.
    pub pending: usize,
    /// Why the run stopped early (the back office did not answer, or refused the request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Uploads the pending records (at most [`MAX_UPLOADS_PER_RUN`]), and journals each answer as
/// `uploaded` (the verdict in `reason`) so it is not sent again. Stops at the first request the
/// back office does not answer; what is left stays queued. Only a journal failure is an error.
pub fn upload_pending(
    client: &Client,
    journal: &mut SettlementJournal,
) -> Result<UploadReport, SettleError> {
    let queue = pending(journal);
    let mut report = UploadReport {
        results: Vec::new(),
        pending: queue.len(),
        error: None,
    };
    for line in queue.into_iter().take(MAX_UPLOADS_PER_RUN) {
        let Some(record) = settlement_record(&line) else {
            continue;
        };
        let key = idempotency_key(&line.card, line.serial);
        match client.upload_settlements(std::slice::from_ref(&record), Some(&key)) {
            Ok(outcome) => {
                for result in outcome.results {
                    let verdict = serde_json::to_value(result.verdict)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    let reason = match &result.detail {
                        Some(detail) => format!("{verdict}: {detail}"),
                        None => verdict,
                    };
                    journal.record(Line {
                        step: Step::Uploaded,
                        reason: Some(reason),
                        sw: None,
                        ..line.clone()
                    })?;
                    report.pending = report.pending.saturating_sub(1);
                    report.results.push(result);
                }
            }
            Err(e) => {
                report.error = Some(e.to_string());
                break;
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::settlement::Amounts;

    fn line(card: &str, kind: Kind, step: Step, serial: u16) -> Line {
        Line {
            card: card.into(),
            kind,
            step,
            serial,
            amounts: Some(Amounts {
                account: 100,
                self_pay: 0,
                pooled: 0,
            }),
            balance: Some(1000),
            algorithm: Some(3),
            card_id_code: "110100D156000005544553540000000A".into(),
            terminal_no: "110100000001".into(),
            terminal_serial: Some("00000001".into()),
            time: "20240315103000".into(),
            tac: Some("0A0B0C0D".into()),
            sw: None,
            reason: None,
            online: None,
        }
    }

    #[test]
    fn settled_and_recovered_purchases_are_queued_until_uploaded() {
        let dir = crate::testdir::TestDir::new("settle-upload-queue");
        let mut journal = SettlementJournal::open(&dir.path().join("till.jsonl")).unwrap();
        for l in [
            line("T1", Kind::Purchase, Step::Intent, 1),
            line("T1", Kind::Purchase, Step::Settled, 1),
            line("T2", Kind::Purchase, Step::Intent, 7),
            // A torn purchase a rerun found on the card.
            line("T2", Kind::Purchase, Step::Recovered, 7),
            line("T1", Kind::Purchase, Step::Refused, 2),
            line("T1", Kind::Purchase, Step::Disputed, 3),
            line("T3", Kind::Load, Step::Settled, 4),
        ] {
            journal.record(l).unwrap();
        }
        let queued: Vec<(String, u16)> = pending(&journal)
            .iter()
            .map(|l| (l.card.clone(), l.serial))
            .collect();
        assert_eq!(queued, [("T1".into(), 1), ("T2".into(), 7)]);
        journal
            .record(line("T1", Kind::Purchase, Step::Uploaded, 1))
            .unwrap();
        // What is on disk, read again.
        let journal = SettlementJournal::open(&dir.path().join("till.jsonl")).unwrap();
        let queued: Vec<u16> = pending(&journal).iter().map(|l| l.serial).collect();
        assert_eq!(queued, [7]);
        let record = settlement_record(&pending(&journal)[0]).unwrap();
        assert_eq!((record.serial, record.balance_before), (7, 1000));
        assert_eq!(idempotency_key("T2", 7), "settlement-T2-7");
        // A line without its TAC cannot be checked by the back office: not sent.
        let mut torn = line("T4", Kind::Purchase, Step::Settled, 1);
        torn.tac = None;
        assert_eq!(settlement_record(&torn), None);
    }

    #[test]
    fn only_the_refusals_that_stop_a_payment_refuse_it() {
        let refusal = |code: &str| sscard_platform::model::Refusal {
            code: code.into(),
            reason: format!("because {code}"),
        };
        let mut status: CardStatus = serde_json::from_value(serde_json::json!({
            "card_number": "T1", "card_id_code": "X", "region": "110100", "version": "3.0",
            "issue_date": "20240101", "expiry_date": "20340101", "state": "activated",
            "ssn": "1", "name": "n", "activation": null, "supersedes": null,
            "superseded_by": null, "insurance": {"status": "not_recorded"},
            "medical_status": "normal", "online_mode": false, "account_balance_fen": 0,
            "purse": {"balance_fen": 10, "last_serial": 1}, "today": "20240315",
            "may": {"identify": true, "settle": false, "activate": false, "refusals": []}
        }))
        .unwrap();
        // The registry's balance lags loads made at outlets: the card judges its own purse.
        status.may.refusals = vec![refusal("already-activated"), refusal("balance-too-low")];
        assert_eq!(settlement_refusal(&status), None);
        for code in SETTLEMENT_REFUSALS {
            status.may.refusals = vec![refusal("balance-too-low"), refusal(code)];
            assert_eq!(
                settlement_refusal(&status).map(|r| r.code.as_str()),
                Some(*code)
            );
        }
    }
}

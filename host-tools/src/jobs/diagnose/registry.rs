//! `diagnose --platform`: what the card says, against the back office's registry. The registry
//! names the causes the chip cannot show: reported lost or cancelled, information that differs
//! from the system (which field), insurance suspended for unpaid contributions, a balance too low,
//! and it confirms "not activated in time". The comparison is one more check, `registry`, and
//! more facts for the same verdict table.

use sscard_platform::model::{CardState, CardStatus, Insurance, MedicalStatus};

use super::{verdict, Check, CheckId, Outcome, Report};
use crate::card::info::ACTIVATION_FIELD;

/// What the registry answered about the card.
#[derive(Debug, Clone)]
pub enum RegistryAnswer {
    Status(Box<CardStatus>),
    /// The registry does not know the card number.
    Unknown,
    /// No answer (or not a usable one): the comparison is not made; why.
    Unavailable(String),
}

fn same(card: &str, registry: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .collect::<String>()
            .to_ascii_uppercase()
    };
    norm(card) == norm(registry)
}

/// The fields on which the card and the registry differ, with both values.
pub fn differences(
    card: &std::collections::BTreeMap<String, String>,
    s: &CardStatus,
) -> Vec<String> {
    let mut out = Vec::new();
    let registry = [
        ("card_id_code", s.card_id_code.as_str()),
        ("issue_date", s.issue_date.as_str()),
        ("expiry_date", s.expiry_date.as_str()),
        ("name", s.name.as_str()),
        ("ssn", s.ssn.as_str()),
    ];
    for (field, theirs) in registry {
        if let Some(ours) = card.get(field) {
            if !same(ours, theirs) {
                out.push(format!("{field} (card {ours}, registry {theirs})"));
            }
        }
    }
    if let Some(state) = card.get(ACTIVATION_FIELD) {
        let card_activated = state == "1";
        let registry_activated = s.activation.is_some();
        if card_activated != registry_activated {
            let word = |a: bool| if a { "activated" } else { "not activated" };
            out.push(format!(
                "activation (card {}, registry {})",
                word(card_activated),
                word(registry_activated)
            ));
        }
    }
    out
}

/// Adds the `registry` check and its facts to `report`, and judges again.
pub fn compare(report: &mut Report, answer: RegistryAnswer) {
    let card_number = report.card.get("card_number").cloned();
    let (outcome, detail) = match (card_number, answer) {
        (None, _) => (
            Outcome::Skipped,
            "the card number could not be read from the card".to_owned(),
        ),
        (Some(_), RegistryAnswer::Unavailable(why)) => {
            (Outcome::Warn, format!("the registry did not answer: {why}"))
        }
        (Some(number), RegistryAnswer::Unknown) => {
            report.facts.registry_differs = true;
            (
                Outcome::Fail,
                format!("card {number} is not in the registry: the system has no record of it"),
            )
        }
        (Some(_), RegistryAnswer::Status(s)) => judge(report, &s),
    };
    report.checks.push(Check {
        id: CheckId::Registry,
        title: CheckId::Registry.title(),
        outcome,
        detail,
        evidence: Vec::new(),
    });
    let cause = verdict(&report.facts);
    report.cause = cause;
    report.cause_words = cause.words();
    report.action = cause.action();
    report.action_words = cause.action().words();
}

fn judge(report: &mut Report, s: &CardStatus) -> (Outcome, String) {
    let mut notes = vec![format!("state {}", s.state.as_str().replace('_', " "))];
    let mut fail = false;
    match s.state {
        CardState::TemporarilyLost | CardState::Lost => {
            report.facts.registry_lost = true;
            fail = true;
        }
        CardState::Cancelled | CardState::Sealed => {
            report.facts.registry_cancelled = true;
            fail = true;
        }
        CardState::Issued | CardState::Activated => {}
    }
    let differs = differences(&report.card, s);
    if !differs.is_empty() {
        report.facts.registry_differs = true;
        fail = true;
        notes.push(format!("differs from the card: {}", differs.join(", ")));
    }
    match &s.insurance {
        Insurance::Suspended { since, reason } => {
            report.facts.insurance_suspended = true;
            fail = true;
            notes.push(format!(
                "medical insurance suspended since {since}: {reason}"
            ));
        }
        Insurance::Paid { through } => notes.push(format!("contributions paid through {through}")),
        Insurance::NotRecorded => notes.push("no contribution recorded".into()),
    }
    if s.medical_status == MedicalStatus::Restricted {
        report.facts.not_activated_past_deadline = true;
        fail = true;
        notes.push("not activated within six months of issue".into());
    }
    if let Some(r) = s.may.refusals.iter().find(|r| r.code == "balance-too-low") {
        report.facts.balance_too_low = true;
        fail = true;
        notes.push(r.reason.clone());
    }
    let outcome = if fail { Outcome::Fail } else { Outcome::Pass };
    (outcome, notes.join("; "))
}

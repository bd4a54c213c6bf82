//! The activation outlet and the back office's registry: with the card number read from the
//! card, the card's full status is asked before anything is written to it. The blacklist (the
//! lost list) is checked first and blocks a listed card; the status adds what the blacklist does
//! not carry: a card replaced by a newer one, a card the registry never issued, an expired card,
//! and a change too recent for the terminal's copy of the blacklist.

use sscard_platform::model::CardStatus;
use sscard_platform::{Client, ClientError};

use super::ActivationError;

/// The registry's refusal codes that stop an activation.
pub const ACTIVATION_REFUSALS: &[&str] = &[
    "temporarily-lost",
    "reported-lost",
    "cancelled",
    "sealed",
    "expired",
];

/// Why the registry says this card may not be activated, as (code, reason).
pub fn activation_refusal(status: &CardStatus) -> Option<(String, String)> {
    if let Some(newer) = &status.superseded_by {
        return Some((
            "replaced".into(),
            format!("the card was replaced by card {newer}: keep this one, activate the new one"),
        ));
    }
    status
        .may
        .refusals
        .iter()
        .find(|r| ACTIVATION_REFUSALS.contains(&r.code.as_str()))
        .map(|r| (r.code.clone(), r.reason.clone()))
}

/// Asks the registry about `card` on `date` (`YYYYMMDD`). `Ok(None)`: go on; `Ok(Some(why))`:
/// the registry did not answer, go on offline (the blacklist's cached copy was checked) and say
/// why; `Err`: refused, nothing written.
pub fn approve(client: &Client, card: &str, date: &str) -> Result<Option<String>, ActivationError> {
    let refused = |code: String, reason: String| ActivationError::RegistryRefused {
        card: card.to_owned(),
        code,
        reason,
    };
    match client.card_status(card, Some(date), None) {
        Ok(status) => match activation_refusal(&status) {
            Some((code, reason)) => Err(refused(code, reason)),
            None => Ok(None),
        },
        Err(ClientError::Refused { code, .. }) if code == "unknown-card" => Err(refused(
            code,
            "the card is not in the registry: it was not issued by this back office".into(),
        )),
        Err(e @ (ClientError::Unreachable { .. } | ClientError::BadAnswer(_))) => {
            Ok(Some(e.to_string()))
        }
        Err(e @ ClientError::Refused { status, .. }) if status >= 500 => Ok(Some(e.to_string())),
        Err(e) => Err(ActivationError::Registry(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: &str, superseded_by: Option<&str>, refusals: &[&str]) -> CardStatus {
        let refusals: Vec<_> = refusals
            .iter()
            .map(|c| serde_json::json!({"code": c, "reason": format!("because {c}")}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "card_number": "T1", "card_id_code": "X", "region": "110100", "version": "3.0",
            "issue_date": "20240101", "expiry_date": "20340101", "state": state,
            "ssn": "1", "name": "n", "activation": null, "supersedes": null,
            "superseded_by": superseded_by, "insurance": {"status": "not_recorded"},
            "medical_status": "grace", "online_mode": false, "account_balance_fen": 0,
            "purse": {"balance_fen": null, "last_serial": null}, "today": "20240315",
            "may": {"identify": true, "settle": true, "activate": true, "refusals": refusals}
        }))
        .unwrap()
    }

    #[test]
    fn a_replaced_sealed_or_expired_card_is_refused_and_an_issued_one_passes() {
        assert_eq!(activation_refusal(&status("issued", None, &[])), None);
        // Suspended insurance does not stop an activation (it is what activation is for).
        assert_eq!(
            activation_refusal(&status("issued", None, &["insurance-suspended"])),
            None
        );
        let (code, reason) = activation_refusal(&status("cancelled", Some("T2"), &[])).unwrap();
        assert_eq!(code, "replaced");
        assert!(reason.contains("T2"), "{reason}");
        for code in ACTIVATION_REFUSALS {
            let state = status("sealed", None, &["insurance-suspended", code]);
            assert_eq!(
                activation_refusal(&state).map(|r| r.0).as_deref(),
                Some(*code)
            );
        }
    }
}

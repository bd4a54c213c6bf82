//! What the files say: every value decodes and agrees with the ATR; the dates against today.

use file_structures::decode::decode_ef;
use file_structures::layout::Layout;

use super::super::{CheckId, Day, Outcome};
use super::files::RecordsRead;
use super::session::Session;
use crate::protocol::atr::Atr;
use crate::protocol::hexstr;
use crate::transport::CardTransport;

pub(super) fn data_check<T: CardTransport>(
    run: &mut Session<T>,
    layout: &Layout,
    records: &RecordsRead,
    atr: &Atr,
) {
    let mut problems = Vec::new();
    for (path, recs) in records {
        match decode_ef(layout, path, recs) {
            Ok(fields) => {
                for f in fields {
                    run.values.insert(f.id, f.value);
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    // The ATR's region and card bytes against the card identification code.
    let code = run
        .values
        .get("card_id_code")
        .cloned()
        .flatten()
        .and_then(|hex| hex::decode(hex).ok());
    match (&atr.ssc, code.as_deref()) {
        (Some(profile), Some(code)) if code.len() == 16 => {
            let region = hexstr::encode(&code[..2]);
            if profile.region != region {
                problems.push(format!(
                    "the ATR says region {} but the card identification code says {region}",
                    profile.region
                ));
            }
            let bytes = hexstr::encode(&code[8..12]);
            if profile.card_bytes != bytes {
                problems.push(format!(
                    "the ATR's card bytes {} differ from the card identification code's {bytes}",
                    profile.card_bytes
                ));
            }
        }
        _ => {}
    }
    for id in ["card_id_code", "card_number"] {
        if layout.field(id).is_some()
            && !matches!(run.values.get(id), Some(Some(_)))
            && problems.is_empty()
        {
            problems.push(format!("{id} could not be read"));
        }
    }
    let (outcome, detail) = if problems.is_empty() {
        (
            Outcome::Pass,
            format!(
                "{} field(s) decode and agree with the ATR",
                run.values.len()
            ),
        )
    } else {
        run.facts.data_error = true;
        (Outcome::Fail, problems.join("; "))
    };
    run.record(CheckId::Data, outcome, detail);
}

pub(super) fn dates_check<T: CardTransport>(run: &mut Session<T>, today: Day) {
    let issue = run.value_day("issue_date");
    let expiry = run.value_day("expiry_date");
    let (outcome, detail) = match (issue, expiry) {
        (_, Some(expiry)) if expiry < today => {
            run.facts.expired = true;
            (
                Outcome::Fail,
                format!("expired on {expiry} (today is {today})"),
            )
        }
        (Some(issue), _) if issue > today => (
            Outcome::Warn,
            format!("issued on {issue}, after today ({today})"),
        ),
        (Some(issue), Some(expiry)) => (
            Outcome::Pass,
            format!("issued {issue}, valid until {expiry}"),
        ),
        _ => (Outcome::Skipped, "the dates could not be read".into()),
    };
    run.record(CheckId::Dates, outcome, detail);
}

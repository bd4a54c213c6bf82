//! The card's state: its life cycle and activation (the six-month rule), and the PIN's tries left.

use file_structures::layout::Layout;

use super::super::{CheckId, Day, Outcome};
use super::session::{ssse_path, Session};
use crate::card::info::ACTIVATION_FIELD;
use crate::protocol::apdu::{build, Status};
use crate::protocol::hexstr;
use crate::protocol::sw::explain;
use crate::transport::CardTransport;

use card_os::data_tags::CARD_LIFE_CYCLE;
use card_os::memory_map::{LIFE_CYCLE_CARD_BLOCKED, LIFE_CYCLE_ISSUED, LIFE_CYCLE_PERSONALISATION};

pub(super) fn activation_check<T: CardTransport>(run: &mut Session<T>, today: Day) {
    let life = run.send(&build::get_data(CARD_LIFE_CYCLE, 1));
    let mut notes = Vec::new();
    let mut outcome = Outcome::Pass;
    match life.as_ref().map(|a| (a.sw, a.data.as_slice())) {
        Some((Status::Success, [LIFE_CYCLE_ISSUED])) => notes.push("card issued".to_owned()),
        Some((Status::Success, [LIFE_CYCLE_PERSONALISATION])) => {
            outcome = Outcome::Warn;
            notes.push("the card is still in personalisation (never issued)".into());
        }
        Some((Status::Success, [LIFE_CYCLE_CARD_BLOCKED])) => {
            run.facts.app_blocked = true;
            outcome = Outcome::Fail;
            notes.push("the card is blocked".into());
        }
        Some((sw, data)) => notes.push(format!(
            "life cycle {} ({})",
            hexstr::encode(data),
            explain(sw)
        )),
        None => notes.push("life cycle: no answer".into()),
    }
    let state = run.values.get(ACTIVATION_FIELD).cloned();
    let issue = run.value_day("issue_date");
    match (state, issue) {
        (Some(Some(s)), _) if s == "1" => notes.push("activated".into()),
        (Some(_), Some(issue)) => {
            let deadline = issue.plus_months(6);
            if today > deadline {
                run.facts.not_activated_past_deadline = true;
                outcome = Outcome::Fail;
                notes.push(format!(
                    "not activated, and the six months after issue ended on {deadline}: \
                     medical insurance restricted"
                ));
            } else {
                if outcome == Outcome::Pass {
                    outcome = Outcome::Warn;
                }
                notes.push(format!("not activated yet (deadline {deadline})"));
            }
        }
        _ => {
            if outcome == Outcome::Pass {
                outcome = Outcome::Warn;
            }
            notes.push("the activation state could not be read".into());
        }
    }
    run.record(CheckId::Activation, outcome, notes.join("; "));
}

pub(super) fn pin_check<T: CardTransport>(run: &mut Session<T>, layout: &Layout) {
    let path = layout
        .df(&layout.pin.df)
        .map(|df| layout.df_path(df))
        .unwrap_or_else(|| ssse_path(layout));
    run.select_df(&path);
    // VERIFY without data: the tries left, none spent.
    let answer = run.send(&build::verify_tries_left());
    let (outcome, detail) = match answer.map(|a| a.sw) {
        Some(Status::Counter(n)) => (
            if n == 0 { Outcome::Fail } else { Outcome::Pass },
            format!("{n} of {} tries left", layout.pin.tries),
        ),
        Some(Status::AuthenticationMethodBlocked) => {
            run.facts.pin_blocked = true;
            (Outcome::Fail, "the PIN is blocked (6983)".into())
        }
        Some(Status::Success) => (Outcome::Pass, "the PIN is verified".into()),
        Some(sw) => (Outcome::Warn, explain(sw)),
        None => (Outcome::Fail, "no answer".into()),
    };
    run.record(CheckId::Pin, outcome, detail);
}

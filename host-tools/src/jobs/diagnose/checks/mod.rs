//! The battery of checks, in the order a clerk would think of them ([`CheckId::ALL`]), one module
//! a phase: opening the card, its answer to reset, the files, their integrity, their data, the
//! card's state, its stability.

mod answer_to_reset;
mod card_state;
mod data;
mod files;
mod integrity;
mod opening;
mod session;
mod stability;

use std::collections::BTreeMap;

use super::guard::ReadOnly;
use super::verdict::{verdict, Facts};
use super::{Check, CheckId, Day, Options, Outcome, Report};
use crate::card::info::{version_from_atr, ACTIVATION_FIELD};
use crate::protocol::apdu::Status;
use crate::protocol::client::Client;
use crate::transport::{CardTransport, TransportError};
use session::{skip, Session};

/// The card's fields a diagnosis reports (and `--platform` compares with the registry).
pub const CARD_IDENTITY_FIELDS: [&str; 6] = [
    "card_number",
    "card_id_code",
    "issue_date",
    "expiry_date",
    "name",
    "ssn",
];

fn finish(
    reader: String,
    today: Day,
    layout: Option<String>,
    checks: Vec<Check>,
    facts: Facts,
    refused: usize,
    card: BTreeMap<String, String>,
) -> Report {
    let cause = verdict(&facts);
    Report {
        reader,
        today: today.to_string(),
        layout,
        checks,
        card,
        facts,
        cause,
        cause_words: cause.words(),
        action: cause.action(),
        action_words: cause.action().words(),
        refused_commands: refused,
    }
}

/// Diagnoses the card `opened` gives, or why it could not be opened. Never writes to the card.
pub fn diagnose<T: CardTransport>(opened: Result<T, TransportError>, options: &Options) -> Report {
    let today = options.today;
    let mut transport = match opened {
        Ok(t) => t,
        Err(e) => {
            let (checks, facts) = opening::failed(e);
            return finish(
                "the reader".into(),
                today,
                None,
                checks,
                facts,
                0,
                BTreeMap::new(),
            );
        }
    };
    let reader = transport.name();
    let mut facts = Facts::default();
    let mut checks = vec![
        Check::new(CheckId::Reader, Outcome::Pass, reader.clone()),
        Check::new(CheckId::Card, Outcome::Pass, "a card is inserted"),
    ];
    let Some((atr, parsed)) = answer_to_reset::atr_check(&mut transport, &mut checks, &mut facts)
    else {
        skip(&mut checks, CheckId::Atr.skips(), "no valid ATR");
        return finish(reader, today, None, checks, facts, 0, BTreeMap::new());
    };
    checks.push(answer_to_reset::profile_check(&parsed));
    let layout = match &options.layout {
        Some(l) => Ok(l.clone()),
        None => file_structures::layout::national(version_from_atr(&atr).unwrap_or("3.0")),
    };
    let layout = match layout {
        Ok(l) => l,
        Err(e) => {
            skip(
                &mut checks,
                CheckId::Select.and_later(),
                &format!("no layout: {e}"),
            );
            return finish(reader, today, None, checks, facts, 0, BTreeMap::new());
        }
    };
    let mut run = Session {
        client: Client::new(ReadOnly::new(transport)),
        checks,
        facts,
        sws: Vec::new(),
        values: BTreeMap::new(),
    };
    files::select_check(&mut run, &layout);
    let (records, dfs_read) = files::read_check(&mut run, &layout);
    integrity::integrity_check(&mut run, &dfs_read);
    data::data_check(&mut run, &layout, &records, &parsed);
    data::dates_check(&mut run, today);
    card_state::activation_check(&mut run, today);
    card_state::pin_check(&mut run, &layout);
    stability::stability_check(&mut run, &layout, options);
    // Facts from the whole session.
    let guard = run.client.transport();
    let (answered, unanswered, refused) = (guard.answered(), guard.unanswered(), guard.refused());
    run.facts.all_unanswered = answered == 0 && unanswered > 0;
    run.facts.some_unanswered = answered > 0 && unanswered > 0;
    run.facts.only_6f00 =
        !run.sws.is_empty() && run.sws.iter().all(|&sw| sw == Status::NoPreciseDiagnosis);
    // What the card says about itself, for a comparison with the registry.
    let card = run
        .values
        .iter()
        .filter(|(id, _)| CARD_IDENTITY_FIELDS.contains(&id.as_str()) || *id == ACTIVATION_FIELD)
        .filter_map(|(id, v)| v.clone().map(|v| (id.clone(), v)))
        .collect();
    finish(
        reader,
        today,
        Some(layout.name.clone()),
        run.checks,
        run.facts,
        refused,
        card,
    )
}

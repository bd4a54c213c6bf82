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
use crate::card::info::version_from_atr;
use crate::protocol::apdu::Status;
use crate::protocol::client::Client;
use crate::transport::{CardTransport, TransportError};
use session::{skip, Session};

fn finish(
    reader: String,
    today: Day,
    layout: Option<String>,
    checks: Vec<Check>,
    facts: Facts,
    refused: usize,
) -> Report {
    let cause = verdict(&facts);
    Report {
        reader,
        today: today.to_string(),
        layout,
        checks,
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
            return finish("the reader".into(), today, None, checks, facts, 0);
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
        return finish(reader, today, None, checks, facts, 0);
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
            return finish(reader, today, None, checks, facts, 0);
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
    finish(
        reader,
        today,
        Some(layout.name.clone()),
        run.checks,
        run.facts,
        refused,
    )
}

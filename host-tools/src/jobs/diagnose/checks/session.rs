//! What the card checks share: the read-only client, the checks so far, the facts, every status
//! word seen and the values decoded from the files read.

use std::collections::BTreeMap;

use file_structures::layout::Layout;

use super::super::guard::ReadOnly;
use super::super::verdict::Facts;
use super::super::{Check, CheckId, Outcome};
use crate::card::files::{self, Answer};
use crate::protocol::apdu::{CommandApdu, Response, Status};
use crate::protocol::client::Client;
use crate::transport::CardTransport;

pub(super) struct Session<T: CardTransport> {
    pub client: Client<ReadOnly<T>>,
    pub checks: Vec<Check>,
    pub facts: Facts,
    /// Every status word the card gave.
    pub sws: Vec<Status>,
    /// Decoded values by field id, from the files read.
    pub values: BTreeMap<String, Option<String>>,
}

impl<T: CardTransport> Session<T> {
    /// Records a check with the exchanges made since the last one as its evidence.
    pub fn record(&mut self, id: CheckId, outcome: Outcome, detail: String) {
        let evidence = self.client.transport_mut().take_log();
        self.checks.push(Check {
            evidence,
            ..Check::new(id, outcome, detail)
        });
    }

    /// One command; its status word noted for the facts. `None` when it went unanswered.
    pub fn send(&mut self, command: &CommandApdu) -> Option<Response> {
        let answer = self.client.send(command).ok()?;
        self.note(answer.sw);
        Some(answer)
    }

    pub fn note(&mut self, sw: Status) {
        self.sws.push(sw);
        match sw {
            Status::MemoryFailure => self.facts.memory_damaged = true,
            Status::APPLICATION_PERMANENTLY_BLOCKED | Status::SelectedFileDeactivated => {
                self.facts.app_blocked = true
            }
            _ => {}
        }
    }

    pub fn select_df(&mut self, path: &[u16]) -> Option<Status> {
        let answer = files::select_df(&mut self.client, path, Answer::Nothing).ok()?;
        self.note(answer.sw);
        Some(answer.sw)
    }

    /// A decoded value that is a date.
    pub fn value_day(&self, id: &str) -> Option<super::super::Day> {
        self.values
            .get(id)
            .cloned()
            .flatten()
            .and_then(|v| super::super::Day::parse(&v))
    }
}

/// The path of the social security application's DF (empty when the layout has none).
pub(super) fn ssse_path(layout: &Layout) -> Vec<u16> {
    layout
        .df("SSSE")
        .map(|df| layout.df_path(df))
        .unwrap_or_default()
}

/// Marks `ids` skipped, with the reason.
pub(super) fn skip(checks: &mut Vec<Check>, ids: &[CheckId], reason: &str) {
    checks.extend(
        ids.iter()
            .map(|&id| Check::new(id, Outcome::Skipped, reason)),
    );
}

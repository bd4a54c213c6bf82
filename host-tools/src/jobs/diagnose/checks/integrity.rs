//! The card's own integrity report (GET DATA DF7F) in each DF read: a checksum that no longer
//! matches means the memory changed by itself.

use super::super::{CheckId, Outcome};
use super::session::Session;
use crate::protocol::apdu::{build, Status};
use crate::protocol::sw::explain;
use crate::transport::CardTransport;

use card_os::data_tags::INTEGRITY;

pub(super) fn integrity_check<T: CardTransport>(run: &mut Session<T>, dfs: &[Vec<u16>]) {
    let mut damaged = Vec::new();
    let mut unprotected = 0;
    let mut intact = 0;
    let mut problems = Vec::new();
    for path in dfs {
        if run.select_df(path) != Some(Status::Success) {
            problems.push("the DF could not be selected".to_owned());
            continue;
        }
        match run.send(&build::get_data(INTEGRITY, 256)) {
            None => problems.push("no answer to GET DATA DF7F".into()),
            Some(a) if a.sw == Status::Success => {
                for entry in a.data.chunks(3) {
                    match entry {
                        [_, _, 0] => intact += 1,
                        [hi, lo, 1] => damaged.push(format!("EF{hi:02X}{lo:02X}")),
                        _ => unprotected += 1,
                    }
                }
            }
            Some(a) if a.sw == Status::ReferencedDataNotFound => {
                problems.push("the card keeps no checksums (GET DATA DF7F: 6A88)".into())
            }
            Some(a) => problems.push(format!("GET DATA DF7F: {}", explain(a.sw))),
        }
    }
    let (outcome, detail) = if !damaged.is_empty() {
        run.facts.memory_damaged = true;
        (
            Outcome::Fail,
            format!(
                "checksum wrong for {}: the memory changed by itself",
                damaged.join(", ")
            ),
        )
    } else if !problems.is_empty() || unprotected > 0 {
        let mut d = problems.join("; ");
        if unprotected > 0 {
            d.push_str(&format!(" {unprotected} file(s) without a checksum"));
        }
        (Outcome::Warn, d.trim().to_owned())
    } else {
        (Outcome::Pass, format!("{intact} file(s) intact"))
    };
    run.record(CheckId::Integrity, outcome, detail);
}

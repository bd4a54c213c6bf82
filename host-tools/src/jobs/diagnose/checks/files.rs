//! SELECT of the social security application, then every freely readable file of the layout.

use file_structures::layout::{Condition, Layout, ReadMode};

use super::super::{CheckId, Outcome};
use super::session::Session;
use crate::card::files::{self, Answer};
use crate::protocol::apdu::{build, SelectReply, Status};
use crate::protocol::client::ClientError;
use crate::protocol::sw::explain;
use crate::transport::CardTransport;

/// The records of each record file read, by the file's path in the layout.
pub(super) type RecordsRead = Vec<(String, Vec<Vec<u8>>)>;

/// SELECT SSSE by its DF name.
pub(super) fn select_check<T: CardTransport>(run: &mut Session<T>, layout: &Layout) {
    let name = layout
        .df("SSSE")
        .map(|df| df.df_name.clone())
        .unwrap_or_default();
    let select = build::select_name(&name, SelectReply::Nothing);
    let (outcome, detail) = match run.send(&select) {
        None => (Outcome::Fail, "no answer".to_owned()),
        Some(a) if a.sw == Status::Success => (Outcome::Pass, explain(a.sw)),
        Some(a) if a.sw == Status::APPLICATION_PERMANENTLY_BLOCKED => (
            Outcome::Fail,
            format!("{}: the application is permanently blocked", explain(a.sw)),
        ),
        Some(a) if a.sw == Status::SelectedFileDeactivated => (
            Outcome::Fail,
            format!("{}: the application is blocked", explain(a.sw)),
        ),
        Some(a) => (Outcome::Fail, explain(a.sw)),
    };
    run.record(CheckId::Select, outcome, detail);
}

/// Reads every file the layout lets anyone read; returns the records read and the DFs visited.
pub(super) fn read_check<T: CardTransport>(
    run: &mut Session<T>,
    layout: &Layout,
) -> (RecordsRead, Vec<Vec<u16>>) {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let mut read = 0;
    let mut dfs_read: Vec<Vec<u16>> = Vec::new();
    for plan in layout.read_plan() {
        let Some((_, ef)) = layout.ef(&plan.path) else {
            continue;
        };
        if ef.access.read.condition != Condition::Free || ef.access.read.secure_messaging {
            continue;
        }
        if !dfs_read.contains(&plan.df_path) {
            dfs_read.push(plan.df_path.clone());
        }
        match read_file(run, &plan.df_path, plan.ef_fid, plan.mode) {
            Ok(data) => {
                read += 1;
                if let Some(recs) = data {
                    records.push((plan.path.clone(), recs));
                }
            }
            Err(why) => problems.push(format!("{}: {why}", plan.path)),
        }
    }
    let (outcome, detail) = if problems.is_empty() {
        (Outcome::Pass, format!("{read} file(s) read"))
    } else {
        (
            Outcome::Fail,
            format!("{read} file(s) read; {}", problems.join("; ")),
        )
    };
    run.record(CheckId::Read, outcome, detail);
    (records, dfs_read)
}

/// Reads one EF; `Ok(Some(records))` for a record file, `Ok(None)` for a transparent one.
fn read_file<T: CardTransport>(
    run: &mut Session<T>,
    df_path: &[u16],
    fid: u16,
    mode: ReadMode,
) -> Result<Option<Vec<Vec<u8>>>, String> {
    match run.select_df(df_path) {
        None => return Err("no answer to SELECT".into()),
        Some(Status::Success) => {}
        Some(sw) => return Err(format!("SELECT DF: {}", explain(sw))),
    }
    let answer = files::select_ef(&mut run.client, fid, Answer::Nothing).map_err(no_answer)?;
    run.note(answer.sw);
    if answer.sw != Status::Success {
        return Err(format!("SELECT EF: {}", explain(answer.sw)));
    }
    match mode {
        ReadMode::Records { records } => {
            let (recs, sw) = files::read_records(&mut run.client, records).map_err(no_answer)?;
            run.note(sw);
            match sw {
                Status::Success | Status::RecordNotFound => Ok(Some(recs)),
                sw => Err(format!("READ RECORD {}: {}", recs.len() + 1, explain(sw))),
            }
        }
        ReadMode::Binary { size } => {
            let (_, sw) = files::read_binary(&mut run.client, size).map_err(no_answer)?;
            run.note(sw);
            match sw {
                Status::Success | Status::EndOfFileReached => Ok(None),
                sw => Err(format!("READ BINARY: {}", explain(sw))),
            }
        }
    }
}

fn no_answer(e: ClientError) -> String {
    format!("no answer ({e})")
}

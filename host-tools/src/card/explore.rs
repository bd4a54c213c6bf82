//! `sscard explore`: every DF and EF of the layout selected on the card, with the FCP facts the
//! card gives and its records decoded through the layout; what could not be read says why.

use file_structures::decode::decode_ef;
use file_structures::layout::{ef_path, Df, Ef, Layout, Structure};
use serde::Serialize;

use crate::card::files::{self, Answer};
use crate::protocol::apdu::{Response, Status};
use crate::protocol::client::{Client, ClientError};
use crate::protocol::fcp::{self, rule_words, FileFacts};
use crate::transport::CardTransport;

/// One DF and what the card said about it and its EFs.
#[derive(Debug, Clone, Serialize)]
pub struct DfReport {
    pub name: String,
    pub zh: String,
    pub en: String,
    /// "6A82 file not found" when the SELECT was refused; facts otherwise.
    pub select: String,
    pub facts: Option<FileFacts>,
    pub efs: Vec<EfReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EfReport {
    pub path: String,
    pub zh: String,
    pub en: String,
    pub select: String,
    pub facts: Option<FileFacts>,
    pub records: Vec<RecordReport>,
    /// Transparent EFs: the bytes read, in hex.
    pub data: Option<String>,
    /// Why reading stopped before the end, when it did (the SW in words).
    pub unread: Option<String>,
}

/// One record as read, and its field when the layout defines its tag.
#[derive(Debug, Clone, Serialize)]
pub struct RecordReport {
    pub number: u8,
    pub tag: Option<String>,
    pub id: Option<String>,
    pub zh: Option<String>,
    pub en: Option<String>,
    pub raw: String,
    /// The decoded value; `None` for an empty field or one that does not decode.
    pub value: Option<String>,
    /// Why the record does not decode, when it does not.
    pub problem: Option<String>,
}

/// Why explore could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    #[error("{0} is neither a DF nor an EF (DF/EFxx) of the layout")]
    UnknownPath(String),
    #[error(transparent)]
    Client(#[from] ClientError),
}

fn outcome(answer: &Response) -> String {
    crate::protocol::sw::explain(answer.sw)
}

fn facts_of(answer: &Response) -> Option<FileFacts> {
    crate::protocol::sw::is_done(answer.sw)
        .then(|| fcp::parse(&answer.data).ok())
        .flatten()
}

fn record_report(layout: &Layout, path: &str, number: u8, record: Vec<u8>) -> RecordReport {
    let raw = hex::encode_upper(&record);
    match decode_ef(layout, path, std::slice::from_ref(&record)) {
        Ok(mut fields) if fields.len() == 1 => {
            let f = fields.remove(0);
            RecordReport {
                number,
                tag: Some(f.tag),
                id: Some(f.id),
                zh: Some(f.zh),
                en: Some(f.en),
                raw,
                value: f.value,
                problem: None,
            }
        }
        other => RecordReport {
            number,
            tag: record.first().map(|t| format!("{t:02X}")),
            id: None,
            zh: None,
            en: None,
            raw,
            value: None,
            problem: Some(match other {
                Err(e) => e.to_string(),
                Ok(_) => "no field".into(),
            }),
        },
    }
}

fn explore_ef<T: CardTransport>(
    client: &mut Client<T>,
    layout: &Layout,
    df: &Df,
    ef: &Ef,
) -> Result<EfReport, ClientError> {
    let path = ef_path(df, ef);
    let answer = files::select_ef(client, ef.fid, Answer::Fcp)?;
    let mut report = EfReport {
        path: path.clone(),
        zh: ef.zh.clone(),
        en: ef.en.clone(),
        select: outcome(&answer),
        facts: facts_of(&answer),
        records: Vec::new(),
        data: None,
        unread: None,
    };
    if !crate::protocol::sw::is_done(answer.sw) {
        report.unread = Some(format!("SELECT: {}", outcome(&answer)));
        return Ok(report);
    }
    let stop = match ef.structure {
        Structure::Transparent { size } => {
            let (data, sw) = files::read_binary(client, size)?;
            report.data = (!data.is_empty()).then(|| hex::encode_upper(&data));
            sw
        }
        Structure::LinearVariable { records, .. } | Structure::Cyclic { records, .. } => {
            let (read, sw) = files::read_records(client, records)?;
            report.records = read
                .into_iter()
                .zip(1..)
                .map(|(record, number)| record_report(layout, &path, number, record))
                .collect();
            // A file holding fewer records than it has slots ends with "record not found".
            if sw == Status::RecordNotFound && !report.records.is_empty() {
                Status::Success
            } else {
                sw
            }
        }
    };
    if stop == Status::SecurityStatusNotSatisfied {
        // Say what the layout asks for, so a person knows what would open the file.
        report.unread = Some(format!(
            "{} (reading needs {})",
            crate::protocol::sw::explain(stop),
            rule_words(ef.access.read)
        ));
    } else if !crate::protocol::sw::is_done(stop) {
        report.unread = Some(crate::protocol::sw::explain(stop));
    }
    Ok(report)
}

/// Explores the layout's files on the card: all of them, or one DF ("SSSE") or EF ("SSSE/EF06").
pub fn explore<T: CardTransport>(
    client: &mut Client<T>,
    layout: &Layout,
    only: Option<&str>,
) -> Result<Vec<DfReport>, ExploreError> {
    let (only_df, only_ef) = match only {
        None => (None, None),
        Some(path) => match (layout.ef(path), layout.df(path)) {
            (Some((df, ef)), _) => (Some(df.name.clone()), Some(ef.fid)),
            (None, Some(df)) => (Some(df.name.clone()), None),
            (None, None) => return Err(ExploreError::UnknownPath(path.to_owned())),
        },
    };
    let mut reports = Vec::new();
    for df in &layout.dfs {
        if only_df.as_ref().is_some_and(|name| *name != df.name) {
            continue;
        }
        let answer = files::select_df(client, &layout.df_path(df), Answer::Fcp)?;
        let mut report = DfReport {
            name: df.name.clone(),
            zh: df.zh.clone(),
            en: df.en.clone(),
            select: outcome(&answer),
            facts: facts_of(&answer),
            efs: Vec::new(),
        };
        if crate::protocol::sw::is_done(answer.sw) {
            for ef in &df.efs {
                if only_ef.is_some_and(|fid| fid != ef.fid) {
                    continue;
                }
                // Selecting an EF keeps its DF current, so the next EF is found from there too.
                report.efs.push(explore_ef(client, layout, df, ef)?);
            }
        }
        reports.push(report);
    }
    Ok(reports)
}

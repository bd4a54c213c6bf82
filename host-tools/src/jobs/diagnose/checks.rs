//! The battery of checks, in the order a clerk would think of them.

use std::collections::BTreeMap;
use std::time::Duration;

use file_structures::decode::decode_ef;
use file_structures::layout::{Condition, Layout, ReadMode};

use super::guard::ReadOnly;
use super::verdict::{verdict, Facts};
use super::{Check, Day, Options, Outcome, Report};
use crate::card::files::{self, Answer};
use crate::card::info::{version_from_atr, ACTIVATION_FIELD};
use crate::protocol::apdu::{self, Command, Status};
use crate::protocol::client::{Client, ClientError};
use crate::transport::{CardTransport, ResetKind, TransportError};

use card_os::data_tags::{CARD_LIFE_CYCLE, INTEGRITY};
use card_os::memory_map::{LIFE_CYCLE_CARD_BLOCKED, LIFE_CYCLE_ISSUED, LIFE_CYCLE_PERSONALISATION};

struct Run<T: CardTransport> {
    client: Client<ReadOnly<T>>,
    checks: Vec<Check>,
    facts: Facts,
    /// Every status word the card gave.
    sws: Vec<Status>,
    /// Decoded values by field id, from the files read.
    values: BTreeMap<String, Option<String>>,
}

impl<T: CardTransport> Run<T> {
    fn record(&mut self, id: &'static str, title: &'static str, outcome: Outcome, detail: String) {
        let evidence = self.client.transport_mut().take_log();
        self.checks.push(Check {
            id,
            title,
            outcome,
            detail,
            evidence,
        });
    }

    /// One command; its status word noted for the facts. `None` when it went unanswered.
    fn send(&mut self, command: &Command<'_>) -> Option<apdu::Response> {
        let answer = self.client.transmit(command).ok()?;
        self.note(answer.sw);
        Some(answer)
    }

    fn note(&mut self, sw: Status) {
        self.sws.push(sw);
        match sw {
            Status::MemoryFailure => self.facts.memory_damaged = true,
            Status::APPLICATION_PERMANENTLY_BLOCKED | Status::SelectedFileDeactivated => {
                self.facts.app_blocked = true
            }
            _ => {}
        }
    }

    fn select_df(&mut self, path: &[u16]) -> Option<Status> {
        let answer = files::select_df(&mut self.client, path, Answer::Nothing).ok()?;
        self.note(answer.sw);
        Some(answer.sw)
    }
}

/// Skips every check from `from` on, with the reason.
fn skip_rest(checks: &mut Vec<Check>, from: usize, reason: &str) {
    for (id, title) in TITLES.iter().skip(from) {
        checks.push(Check {
            id,
            title,
            outcome: Outcome::Skipped,
            detail: reason.to_owned(),
            evidence: Vec::new(),
        });
    }
}

/// The card's fields a diagnosis reports (and `--platform` compares with the registry).
pub const CARD_IDENTITY_FIELDS: [&str; 6] = [
    "card_number",
    "card_id_code",
    "issue_date",
    "expiry_date",
    "name",
    "ssn",
];

const TITLES: [(&str, &str); 12] = [
    ("reader", "reader present"),
    ("card", "card present"),
    ("atr", "ATR received and valid"),
    ("profile", "social security card ATR profile"),
    ("select", "SELECT SSSE"),
    ("read", "read every free file"),
    ("integrity", "integrity of the files"),
    ("data", "data valid and consistent"),
    ("dates", "issue and expiry dates"),
    ("activation", "life cycle and activation"),
    ("pin", "PIN tries left"),
    ("stability", "stability and timing"),
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

fn check(id: &'static str, outcome: Outcome, detail: String) -> Check {
    let title = TITLES.iter().find(|(i, _)| *i == id).map_or(id, |(_, t)| t);
    Check {
        id,
        title,
        outcome,
        detail,
        evidence: Vec::new(),
    }
}

/// Diagnoses the card `opened` gives, or why it could not be opened. Never writes to the card.
pub fn diagnose<T: CardTransport>(opened: Result<T, TransportError>, options: &Options) -> Report {
    let today = options.today;
    let mut facts = Facts::default();
    let transport = match opened {
        Ok(t) => t,
        Err(e) => {
            let mut checks = Vec::new();
            let reason = e.to_string();
            match e {
                TransportError::ServiceUnavailable
                | TransportError::NoReader
                | TransportError::ReaderNotFound(_)
                | TransportError::ReaderAmbiguous(_)
                | TransportError::ReaderGone => {
                    facts.no_reader = true;
                    checks.push(check("reader", Outcome::Fail, reason));
                    skip_rest(&mut checks, 1, "no reader");
                }
                TransportError::CardUnresponsive => {
                    facts.no_atr = true;
                    checks.push(check("reader", Outcome::Pass, "the reader answers".into()));
                    checks.push(check(
                        "card",
                        Outcome::Pass,
                        "a card is inserted (the reader sees it)".into(),
                    ));
                    checks.push(check("atr", Outcome::Fail, format!("no ATR: {reason}")));
                    skip_rest(&mut checks, 3, "no ATR");
                }
                _ => {
                    facts.no_card = true;
                    checks.push(check("reader", Outcome::Pass, "the reader answers".into()));
                    checks.push(check("card", Outcome::Fail, reason));
                    skip_rest(&mut checks, 2, "no card");
                }
            }
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
    let mut checks = vec![
        check("reader", Outcome::Pass, reader.clone()),
        check("card", Outcome::Pass, "a card is inserted".into()),
    ];
    // ATR: a cold reset first, as a terminal powers a card it is handed (no write: volatile
    // state only); a card that cannot be reset counts as giving no ATR.
    let mut transport = transport;
    let atr = transport.reset(ResetKind::Cold).unwrap_or_default();
    let parsed = if atr.is_empty() {
        facts.no_atr = true;
        checks.push(check(
            "atr",
            Outcome::Fail,
            "the card gives no ATR (it is mute)".into(),
        ));
        None
    } else {
        match crate::protocol::atr::parse(&atr) {
            Err(e) => {
                facts.bad_atr = true;
                checks.push(check(
                    "atr",
                    Outcome::Fail,
                    format!(
                        "{} is no valid ATR: {e}",
                        crate::protocol::hexstr::encode(&atr)
                    ),
                ));
                None
            }
            Ok(parsed) if parsed.tck.as_ref().is_some_and(|t| !t.valid) => {
                facts.bad_atr = true;
                checks.push(check(
                    "atr",
                    Outcome::Fail,
                    format!(
                        "{}: the check byte TCK is wrong (bytes were corrupted on the way)",
                        crate::protocol::hexstr::encode(&atr)
                    ),
                ));
                None
            }
            Ok(parsed) => {
                let outcome = if parsed.warnings.is_empty() {
                    Outcome::Pass
                } else {
                    Outcome::Warn
                };
                let mut detail = crate::protocol::hexstr::encode(&atr);
                for w in &parsed.warnings {
                    detail.push_str("; ");
                    detail.push_str(w);
                }
                checks.push(check("atr", outcome, detail));
                Some(parsed)
            }
        }
    };
    let Some(parsed) = parsed else {
        skip_rest(&mut checks, 3, "no valid ATR");
        return finish(reader, today, None, checks, facts, 0, BTreeMap::new());
    };
    match &parsed.ssc {
        Some(p) if p.region_is_bcd => checks.push(check(
            "profile",
            Outcome::Pass,
            format!(
                "SSC historical bytes, region {}, card bytes {}",
                p.region, p.card_bytes
            ),
        )),
        Some(p) => checks.push(check(
            "profile",
            Outcome::Warn,
            format!(
                "SSC historical bytes, but the region {} is not BCD",
                p.region
            ),
        )),
        None => checks.push(check(
            "profile",
            Outcome::Warn,
            "the historical bytes are not the social security card's profile".into(),
        )),
    }
    let layout = match &options.layout {
        Some(l) => Ok(l.clone()),
        None => file_structures::layout::national(version_from_atr(&atr).unwrap_or("3.0")),
    };
    let layout = match layout {
        Ok(l) => l,
        Err(e) => {
            skip_rest(&mut checks, 4, &format!("no layout: {e}"));
            return finish(reader, today, None, checks, facts, 0, BTreeMap::new());
        }
    };
    let mut run = Run {
        client: Client::new(ReadOnly::new(transport)),
        checks,
        facts,
        sws: Vec::new(),
        values: BTreeMap::new(),
    };
    card_checks(&mut run, &layout, &parsed, options);
    // Facts from the whole session.
    let guard = run.client.transport();
    let (answered, unanswered, refused) = (guard.answered(), guard.unanswered(), guard.refused());
    run.facts.all_unanswered = answered == 0 && unanswered > 0;
    run.facts.some_unanswered = answered > 0 && unanswered > 0;
    run.facts.only_6f00 =
        !run.sws.is_empty() && run.sws.iter().all(|&sw| sw == Status::NoPreciseDiagnosis);
    let layout_name = layout.name.clone();
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
        Some(layout_name),
        run.checks,
        run.facts,
        refused,
        card,
    )
}

fn ssse_path(layout: &Layout) -> Vec<u16> {
    layout
        .df("SSSE")
        .map(|df| layout.df_path(df))
        .unwrap_or_default()
}

fn card_checks<T: CardTransport>(
    run: &mut Run<T>,
    layout: &Layout,
    atr: &crate::protocol::atr::Atr,
    options: &Options,
) {
    // SELECT SSSE by its DF name.
    let name = layout
        .df("SSSE")
        .map(|df| df.df_name.clone())
        .unwrap_or_default();
    let select = Command {
        data: &name,
        ..apdu::command(0x00, 0xA4, 0x04, 0x0C)
    };
    let (outcome, detail) = match run.send(&select) {
        None => (Outcome::Fail, "no answer".to_owned()),
        Some(a) if a.sw == Status::Success => (Outcome::Pass, crate::protocol::sw::explain(a.sw)),
        Some(a) if a.sw == Status::APPLICATION_PERMANENTLY_BLOCKED => (
            Outcome::Fail,
            format!(
                "{}: the application is permanently blocked",
                crate::protocol::sw::explain(a.sw)
            ),
        ),
        Some(a) if a.sw == Status::SelectedFileDeactivated => (
            Outcome::Fail,
            format!(
                "{}: the application is blocked",
                crate::protocol::sw::explain(a.sw)
            ),
        ),
        Some(a) => (Outcome::Fail, crate::protocol::sw::explain(a.sw)),
    };
    run.record("select", "SELECT SSSE", outcome, detail);

    // Every freely readable file.
    let mut records: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
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
    run.record("read", "read every free file", outcome, detail);

    integrity_check(run, &dfs_read);
    data_check(run, layout, &records, atr);
    dates_check(run, options.today);
    activation_check(run, options.today);
    pin_check(run, layout);
    stability_check(run, layout, options);
}

/// Reads one EF; `Ok(Some(records))` for a record file, `Ok(None)` for a transparent one.
fn read_file<T: CardTransport>(
    run: &mut Run<T>,
    df_path: &[u16],
    fid: u16,
    mode: ReadMode,
) -> Result<Option<Vec<Vec<u8>>>, String> {
    let words = |sw: Status| crate::protocol::sw::explain(sw);
    match run.select_df(df_path) {
        None => return Err("no answer to SELECT".into()),
        Some(Status::Success) => {}
        Some(sw) => return Err(format!("SELECT DF: {}", words(sw))),
    }
    let answer = files::select_ef(&mut run.client, fid, Answer::Nothing).map_err(no_answer)?;
    run.note(answer.sw);
    if answer.sw != Status::Success {
        return Err(format!("SELECT EF: {}", words(answer.sw)));
    }
    match mode {
        ReadMode::Records { records } => {
            let (recs, sw) = files::read_records(&mut run.client, records).map_err(no_answer)?;
            run.note(sw);
            match sw {
                Status::Success | Status::RecordNotFound => Ok(Some(recs)),
                sw => Err(format!("READ RECORD {}: {}", recs.len() + 1, words(sw))),
            }
        }
        ReadMode::Binary { size } => {
            let (_, sw) = files::read_binary(&mut run.client, size).map_err(no_answer)?;
            run.note(sw);
            match sw {
                Status::Success | Status::EndOfFileReached => Ok(None),
                sw => Err(format!("READ BINARY: {}", words(sw))),
            }
        }
    }
}

fn no_answer(e: ClientError) -> String {
    format!("no answer ({e})")
}

fn integrity_check<T: CardTransport>(run: &mut Run<T>, dfs: &[Vec<u16>]) {
    let mut damaged = Vec::new();
    let mut unprotected = 0;
    let mut intact = 0;
    let mut problems = Vec::new();
    let [p1, p2] = INTEGRITY.to_be_bytes();
    for path in dfs {
        if run.select_df(path) != Some(Status::Success) {
            problems.push("the DF could not be selected".to_owned());
            continue;
        }
        let report = Command {
            ne: Some(256),
            ..apdu::command(0x00, 0xCA, p1, p2)
        };
        match run.send(&report) {
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
            Some(a) => problems.push(format!(
                "GET DATA DF7F: {}",
                crate::protocol::sw::explain(a.sw)
            )),
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
    run.record("integrity", "integrity of the files", outcome, detail);
}

fn data_check<T: CardTransport>(
    run: &mut Run<T>,
    layout: &Layout,
    records: &[(String, Vec<Vec<u8>>)],
    atr: &crate::protocol::atr::Atr,
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
            let region = crate::protocol::hexstr::encode(&code[..2]);
            if profile.region != region {
                problems.push(format!(
                    "the ATR says region {} but the card identification code says {region}",
                    profile.region
                ));
            }
            let bytes = crate::protocol::hexstr::encode(&code[8..12]);
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
    run.record("data", "data valid and consistent", outcome, detail);
}

fn value_day<T: CardTransport>(run: &Run<T>, id: &str) -> Option<Day> {
    run.values
        .get(id)
        .cloned()
        .flatten()
        .and_then(|v| Day::parse(&v))
}

fn dates_check<T: CardTransport>(run: &mut Run<T>, today: Day) {
    let issue = value_day(run, "issue_date");
    let expiry = value_day(run, "expiry_date");
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
    run.record("dates", "issue and expiry dates", outcome, detail);
}

fn activation_check<T: CardTransport>(run: &mut Run<T>, today: Day) {
    let [p1, p2] = CARD_LIFE_CYCLE.to_be_bytes();
    let life = run.send(&Command {
        ne: Some(1),
        ..apdu::command(0x00, 0xCA, p1, p2)
    });
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
            crate::protocol::hexstr::encode(data),
            crate::protocol::sw::explain(sw)
        )),
        None => notes.push("life cycle: no answer".into()),
    }
    let state = run.values.get(ACTIVATION_FIELD).cloned();
    let issue = value_day(run, "issue_date");
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
    run.record(
        "activation",
        "life cycle and activation",
        outcome,
        notes.join("; "),
    );
}

fn pin_check<T: CardTransport>(run: &mut Run<T>, layout: &Layout) {
    let path = layout
        .df(&layout.pin.df)
        .map(|df| layout.df_path(df))
        .unwrap_or_else(|| ssse_path(layout));
    run.select_df(&path);
    // VERIFY without data: the tries left, none spent.
    let answer = run.send(&apdu::command(0x00, 0x20, 0x00, 0x00));
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
        Some(sw) => (Outcome::Warn, crate::protocol::sw::explain(sw)),
        None => (Outcome::Fail, "no answer".into()),
    };
    run.record("pin", "PIN tries left", outcome, detail);
}

fn stability_check<T: CardTransport>(run: &mut Run<T>, layout: &Layout, options: &Options) {
    let unanswered_before = run.client.transport().unanswered();
    let target = layout.read_plan().into_iter().find(|p| {
        matches!(p.mode, ReadMode::Records { .. })
            && layout
                .ef(&p.path)
                .is_some_and(|(_, ef)| ef.access.read.condition == Condition::Free)
    });
    let mut answers: Vec<Option<(Vec<u8>, Status)>> = Vec::new();
    if let Some(plan) = &target {
        run.select_df(&plan.df_path);
        let _ = files::select_ef(&mut run.client, plan.ef_fid, Answer::Nothing);
        for _ in 0..options.stability_reads {
            let a = files::read_record(&mut run.client, 1).ok();
            answers.push(a.map(|a| (a.data, a.sw)));
        }
    }
    // Timing over every answered exchange of the session so far.
    let mut times: Vec<u64> = run
        .checks
        .iter()
        .flat_map(|c| c.evidence.iter())
        .filter(|e| e.sw.is_some())
        .map(|e| e.micros)
        .collect();
    let log = run.client.transport_mut().take_log();
    times.extend(log.iter().filter(|e| e.sw.is_some()).map(|e| e.micros));
    times.sort_unstable();
    let median = times.get(times.len() / 2).copied().unwrap_or(0);
    let unanswered = run.client.transport().unanswered();
    let distinct = {
        let mut seen: Vec<&(Vec<u8>, Status)> = answers.iter().flatten().collect();
        seen.dedup();
        seen.len()
    };
    let mut problems = Vec::new();
    if unanswered > 0 {
        problems.push(format!(
            "{unanswered} command(s) went unanswered ({} during these reads)",
            unanswered - unanswered_before
        ));
    }
    if distinct > 1 {
        problems.push(format!(
            "{distinct} different answers to the same READ RECORD"
        ));
        run.facts.some_unanswered = true;
    }
    let threshold = options.slow_threshold;
    if Duration::from_micros(median) > threshold {
        run.facts.slow = true;
        problems.push(format!(
            "median answer time {:.1} ms, above {} ms",
            median as f64 / 1000.0,
            threshold.as_millis()
        ));
    }
    let (outcome, detail) = if problems.is_empty() {
        (
            Outcome::Pass,
            format!(
                "{} identical answers to {} reads; median answer time {:.1} ms",
                answers.iter().flatten().count(),
                answers.len(),
                median as f64 / 1000.0
            ),
        )
    } else {
        (Outcome::Fail, problems.join("; "))
    };
    let evidence = log;
    run.checks.push(Check {
        id: "stability",
        title: "stability and timing",
        outcome,
        detail,
        evidence,
    });
}

//! The same READ RECORD several times, and the answer times of the whole session.

use std::time::Duration;

use file_structures::layout::{Condition, Layout, ReadMode};

use super::super::{Check, CheckId, Options, Outcome};
use super::session::Session;
use crate::card::files::{self, Answer};
use crate::protocol::apdu::Status;
use crate::transport::CardTransport;

pub(super) fn stability_check<T: CardTransport>(
    run: &mut Session<T>,
    layout: &Layout,
    options: &Options,
) {
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
    run.checks.push(Check {
        evidence: log,
        ..Check::new(CheckId::Stability, outcome, detail)
    });
}

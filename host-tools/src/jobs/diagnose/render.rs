//! The human form of a report: one line per check, the evidence of what did not pass, the verdict.

use std::fmt::Write as _;

use super::{Outcome, Report};

pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Diagnosis of the card in {} on {}{}",
        report.reader,
        report.today,
        report
            .layout
            .as_deref()
            .map(|l| format!(" (layout {l})"))
            .unwrap_or_default()
    );
    for check in &report.checks {
        let mark = match check.outcome {
            Outcome::Pass => "pass",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
            Outcome::Skipped => "skip",
        };
        let _ = writeln!(out, "  {mark}  {:<34} {}", check.title, check.detail);
        if matches!(check.outcome, Outcome::Warn | Outcome::Fail) {
            for e in check.evidence.iter().take(6) {
                let answer = match (&e.sw, &e.error) {
                    (Some(sw), _) => sw.clone(),
                    (None, Some(error)) => format!("no answer ({error})"),
                    (None, None) => "no answer".into(),
                };
                let _ = writeln!(
                    out,
                    "          > {}  < {}  ({:.1} ms)",
                    e.command,
                    answer,
                    e.micros as f64 / 1000.0
                );
            }
            if check.evidence.len() > 6 {
                let _ = writeln!(out, "          ... {} more", check.evidence.len() - 6);
            }
        }
    }
    let _ = writeln!(out, "Likely cause: {}", report.cause_words);
    let _ = writeln!(out, "Next step:    {}", report.action_words);
    out
}

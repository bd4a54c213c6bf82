//! The suite catches real bugs: each deliberately broken card build of card-os' `mutants` feature
//! fails the whole suite against the simulator, and the correct build passes it
//! (docs/test-vectors.md, "Broken card builds").
//!
//! The mutant switch is global to the process, so everything runs in ONE test, one mutant after
//! another; this binary has no other test that could run beside it.

use card_os::mutants::{self, Mutant};
use test_vectors::{Filter, Report, SimulatorTarget, Suite};

/// Runs the whole suite with `mutant` switched on (a fresh target: no card built by another
/// build is reused), and switches it off again.
fn run_with(suite: &Suite, mutant: Option<Mutant>) -> Report {
    mutants::set(mutant);
    let report = suite.run(&mut SimulatorTarget::new(), &Filter::default(), &mut |_| {});
    mutants::set(None);
    report
}

fn failed_ids(report: &Report) -> Vec<&str> {
    report
        .results
        .iter()
        .filter(|r| r.failed())
        .map(|r| r.id.as_str())
        .collect()
}

/// "file: count" for each file with failures, the generated access vectors as one file.
fn by_file(report: &Report) -> String {
    let mut files: Vec<(&str, usize)> = Vec::new();
    for r in report.results.iter().filter(|r| r.failed()) {
        match files.iter_mut().find(|(f, _)| *f == r.file) {
            Some((_, n)) => *n += 1,
            None => files.push((&r.file, 1)),
        }
    }
    let rows: Vec<String> = files.iter().map(|(f, n)| format!("{f}: {n}")).collect();
    rows.join(", ")
}

/// Vectors that must be among those catching each mutant: the ones written for exactly that
/// behaviour.
fn expected_catchers(mutant: Mutant) -> &'static [&'static str] {
    match mutant {
        Mutant::FlipStatusWord => &["record.read.not-found"],
        Mutant::SkipPinDecrement => &["pin.block.after-limit"],
        Mutant::AcceptAnyMac => &["sm.update.wrong-mac"],
        Mutant::IgnoreAccessRule => &["binary.national.photo-needs-key"],
        Mutant::WrongRecord => &["reader.design-note-example"],
        Mutant::GraceOneDayLonger => &["medical.status.restricted-the-day-after"],
    }
}

#[test]
fn every_broken_card_build_fails_the_suite_and_the_correct_one_passes() {
    let suite = Suite::builtin().unwrap_or_else(|e| panic!("the shipped suite does not load: {e}"));
    let total = suite.count(&Filter::default());

    let correct = run_with(&suite, None);
    assert!(correct.success(), "{}", correct.to_text());
    assert_eq!(correct.summary.passed, total);

    for mutant in Mutant::ALL {
        let report = run_with(&suite, Some(mutant));
        let caught = failed_ids(&report);
        let written: Vec<&str> = caught
            .iter()
            .copied()
            .filter(|id| !id.starts_with("access."))
            .collect();
        println!(
            "{mutant:?}: {} of {total} vectors fail ({}); written by hand: {}",
            caught.len(),
            by_file(&report),
            written.join(" ")
        );
        assert!(
            !report.success() && !caught.is_empty(),
            "the suite does not catch {mutant:?}"
        );
        for id in expected_catchers(mutant) {
            assert!(
                caught.contains(id),
                "{mutant:?} is caught by {caught:?} but not by {id}"
            );
        }
        // A mutant makes vectors fail, never the runner or the target break.
        assert_eq!(
            report.summary.skipped,
            0,
            "{mutant:?}: {}",
            report.to_text()
        );
    }

    // Switching the mutants off restores the correct card.
    let again = run_with(&suite, None);
    assert!(again.success(), "{}", again.to_text());
}

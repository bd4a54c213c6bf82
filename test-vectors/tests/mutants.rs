//! The suite catches real bugs: each deliberately broken card build of card-os' `mutants` feature
//! fails the whole suite against the simulator, and the correct build passes it
//! (docs/test-vectors.md, "Broken card builds"). So does a card whose transmission flips one
//! status word, a bug that needs no card build: a wrapper around the simulator here.
//!
//! The mutant switch is global to the process, so everything runs in ONE test, one mutant after
//! another; this binary has no other test that could run beside it.

use card_os::mutants::{self, Mutant};
use test_vectors::format::Vector;
use test_vectors::sim::SimCard;
use test_vectors::target::{CardError, CardUnderTest, NotPrepared, Prepared, Target};
use test_vectors::{Filter, Report, SimulatorTarget, Suite};

/// A deliberate bug: a broken card build, or a correct card behind a broken transmission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bug {
    Card(Mutant),
    /// `6A83` (record not found) is answered as `6A82` (file not found).
    FlipStatusWord,
}

/// Every bug: the card's mutants, then the transmission's.
fn every_bug() -> Vec<Bug> {
    let mut bugs: Vec<Bug> = Mutant::ALL.into_iter().map(Bug::Card).collect();
    bugs.push(Bug::FlipStatusWord);
    bugs
}

/// The simulator, every answer's `6A83` rewritten to `6A82`.
struct FlippingTarget {
    simulator: SimulatorTarget,
    current: Option<FlippingCard>,
}

struct FlippingCard(SimCard);

impl CardUnderTest for FlippingCard {
    fn reset(&mut self, cold: bool) -> Result<Vec<u8>, CardError> {
        self.0.reset(cold)
    }

    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        let mut response = self.0.transmit(apdu)?;
        if response.ends_with(&[0x6A, 0x83]) {
            let at = response.len() - 1;
            response[at] = 0x82;
        }
        Ok(response)
    }
}

impl Target for FlippingTarget {
    fn name(&self) -> String {
        "simulator, 6A83 flipped to 6A82".into()
    }

    fn prepare(&mut self, vector: &Vector) -> Result<Prepared<'_>, NotPrepared> {
        let (card, facts) = self
            .simulator
            .fresh(vector.card)
            .map_err(NotPrepared::Error)?;
        let card = self.current.insert(FlippingCard(card));
        Ok(Prepared { card, facts })
    }
}

/// Runs the whole suite with `bug` (a fresh target: no card built by another build is reused),
/// and switches it off again.
fn run_with(suite: &Suite, bug: Option<Bug>) -> Report {
    let filter = Filter::default();
    let mutant = match bug {
        Some(Bug::FlipStatusWord) => {
            let mut target = FlippingTarget {
                simulator: SimulatorTarget::new(),
                current: None,
            };
            return suite.run(&mut target, &filter, &mut |_| {});
        }
        Some(Bug::Card(mutant)) => Some(mutant),
        None => None,
    };
    mutants::set(mutant);
    let report = suite.run(&mut SimulatorTarget::new(), &filter, &mut |_| {});
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
fn expected_catchers(bug: Bug) -> &'static [&'static str] {
    match bug {
        Bug::FlipStatusWord => &["record.read.not-found"],
        Bug::Card(Mutant::SkipPinDecrement) => &["pin.block.after-limit"],
        Bug::Card(Mutant::AcceptAnyMac) => &["sm.update.wrong-mac"],
        Bug::Card(Mutant::IgnoreAccessRule) => &["binary.national.photo-needs-key"],
        Bug::Card(Mutant::WrongRecord) => &["reader.design-note-example"],
        Bug::Card(Mutant::GraceOneDayLonger) => &["medical.status.restricted-the-day-after"],
        Bug::Card(Mutant::DebitSkipsMac1) => &[
            "purse.national-2.0.debit.wrong-mac1",
            "purse.national-3.0.debit.wrong-mac1",
        ],
        Bug::Card(Mutant::DebitWithoutRecord) => &[
            "purse.debit.logs-its-record",
            "purse.national-2.0.load-then-purchase",
        ],
    }
}

#[test]
fn every_broken_card_build_fails_the_suite_and_the_correct_one_passes() {
    let suite = Suite::builtin().unwrap_or_else(|e| panic!("the shipped suite does not load: {e}"));
    let total = suite.count(&Filter::default());

    let correct = run_with(&suite, None);
    assert!(correct.success(), "{}", correct.to_text());
    assert_eq!(correct.summary.passed, total);

    for bug in every_bug() {
        let report = run_with(&suite, Some(bug));
        let caught = failed_ids(&report);
        let written: Vec<&str> = caught
            .iter()
            .copied()
            .filter(|id| !id.starts_with("access."))
            .collect();
        println!(
            "{bug:?}: {} of {total} vectors fail ({}); written by hand: {}",
            caught.len(),
            by_file(&report),
            written.join(" ")
        );
        assert!(
            !report.success() && !caught.is_empty(),
            "the suite does not catch {bug:?}"
        );
        for id in expected_catchers(bug) {
            assert!(
                caught.contains(id),
                "{bug:?} is caught by {caught:?} but not by {id}"
            );
        }
        // A bug makes vectors fail, never the runner or the target break.
        assert_eq!(report.summary.skipped, 0, "{bug:?}: {}", report.to_text());
    }

    // Switching the mutants off restores the correct card.
    let again = run_with(&suite, None);
    assert!(again.success(), "{}", again.to_text());
}

//! The conformance suite through the real PC/SC stack: personalised simulated cards served to vpcd
//! from a thread, the runner talking to them over sscard's PC/SC transport (pcsc crate → pcscd →
//! vpcd → card-os). Ignored by a plain `cargo test`: scripts/pcsc-tests.sh runs it with `--ignored`.
//!
//! The virtual reader holds one card. A vector that changes the card for good (PIN blocking, an
//! application block) would spoil the vectors after it, so the served card here is put back to its
//! personalised image at the power cycle that starts every vector, as the in-process simulator
//! gives each vector a fresh card; every exchange still goes through pcscd. The second test is
//! what a user gets on a card that cannot be restored: only the non-destructive vectors run.

mod pcsc_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use file_structures::layout::national;
use file_structures::personalise::IssuerKeys;
use host_tools::jobs::conformance::TransportCard;
use host_tools::transport::pcsc::PcscTransport;
use host_tools::transport::sim::{MemoryStorage, SimTransport};
use host_tools::transport::simcard::{personalised_card, sample_holder};
use host_tools::transport::vpcd::FIRST_SLOT_PORT;
use host_tools::transport::{CardTransport, ResetKind, TransportError};
use pcsc::ShareMode;
use pcsc_support::*;
use test_vectors::target::{NotPrepared, Prepared};
use test_vectors::{
    CardKind, ExternalOptions, ExternalTarget, Filter, Report, Suite, Target, Vector,
};

fn personalised(version: &str) -> MemoryStorage {
    let layout = national(version).unwrap();
    let keys = IssuerKeys::test_keys().unwrap();
    personalised_card(&layout, &sample_holder(), &keys)
        .unwrap()
        .0
}

/// The served card: the simulator over a personalised image, put back to that image at the next
/// reset once `restore` is raised.
struct RestorableCard {
    card: SimTransport,
    image: MemoryStorage,
    restore: Arc<AtomicBool>,
}

impl CardTransport for RestorableCard {
    fn name(&self) -> String {
        self.card.name()
    }
    fn atr(&self) -> Vec<u8> {
        self.card.atr()
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.card.transmit(command)
    }
    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        if self.restore.swap(false, Ordering::SeqCst) {
            self.card = SimTransport::in_memory(self.image.clone())?;
        }
        self.card.reset(kind)
    }
    fn power_off(&mut self) -> Result<(), TransportError> {
        self.card.power_off()
    }
}

/// The card in the virtual reader, through pcscd.
fn open_reader() -> PcscTransport {
    open_reader_with(READER, ShareMode::Exclusive).expect("the virtual reader's card opens")
}

/// The card behind pcscd as the runner's external target, with the card restored before each
/// vector.
struct RestoredPerVector {
    inner: ExternalTarget<TransportCard<PcscTransport>>,
    restore: Arc<AtomicBool>,
}

impl Target for RestoredPerVector {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn prepare(&mut self, vector: &Vector) -> Result<Prepared<'_>, NotPrepared> {
        // The runner's cold reset, the first thing of every vector, brings back the image.
        self.restore.store(true, Ordering::SeqCst);
        self.inner.prepare(vector)
    }
}

/// Every vector for the national `version` card, run through pcscd against served cards.
fn run_through_pcscd(suite: &Suite, version: &str, kind: CardKind) -> Report {
    let image = personalised(version);
    let restore = Arc::new(AtomicBool::new(false));
    let card = RestorableCard {
        card: SimTransport::in_memory(image.clone()).unwrap(),
        image,
        restore: restore.clone(),
    };
    let served = ServedCard::start(Box::new(card), FIRST_SLOT_PORT);
    wait_for_card(&context(), READER, true);
    let options = ExternalOptions {
        disposable: true,
        holder: Some(sample_holder()),
        keys: None,
    };
    let inner = ExternalTarget::new(TransportCard(open_reader()), READER, options);
    assert_eq!(
        inner.kind(),
        Ok(kind),
        "the served card is found to be {kind:?}"
    );
    let mut target = RestoredPerVector { inner, restore };
    let report = suite.run(&mut target, &Filter::new([kind.name()]), &mut |_| {});
    drop(target);
    drop(served);
    report
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn every_national_vector_passes_through_pcscd() {
    let _lock = ReaderLock::acquire();
    let suite = Suite::builtin().unwrap();
    let start = Instant::now();
    let mut ran = 0;
    for (version, kind) in [("2.0", CardKind::National20), ("3.0", CardKind::National30)] {
        let report = run_through_pcscd(&suite, version, kind);
        assert!(report.success(), "{version}: {}", report.to_text());
        assert_eq!(
            report.summary.skipped,
            0,
            "a disposable card with its holder runs every vector of its kind:\n{}",
            report.to_text()
        );
        assert_eq!(
            report.summary.total,
            suite.count(&Filter::new([kind.name()]))
        );
        ran += report.summary.passed;
    }
    let total = suite.count(&Filter::default());
    // Not run through pcscd: the vectors for a blank or the demo card (the runner cannot identify
    // a card that is not a personalised SSC card) and the known answers (no card involved).
    let not_run = total - ran;
    eprintln!(
        "through pcscd: {ran} of {total} vectors passed in {:.1} s; {not_run} are for blank or \
         demo cards or known answers",
        start.elapsed().as_secs_f64()
    );
    assert!(ran * 10 >= total * 9, "only {ran} of {total} vectors ran");
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn a_card_that_cannot_be_restored_runs_the_non_destructive_vectors_from_the_cli() {
    let _lock = ReaderLock::acquire();
    let card = SimTransport::in_memory(personalised("2.0")).unwrap();
    let served = ServedCard::start(Box::new(card), FIRST_SLOT_PORT);
    wait_for_card(&context(), READER, true);
    let holder = std::env::temp_dir().join(format!("sscard-holder-{}.json", std::process::id()));
    std::fs::write(&holder, file_structures::samples::HOLDER_JSON).unwrap();
    let output = run(
        env!("CARGO_BIN_EXE_sscard"),
        &[
            "--json",
            "--reader",
            READER,
            "conformance",
            "run",
            "--holder",
            holder.to_str().unwrap(),
        ],
    );
    let _ = std::fs::remove_file(&holder);
    drop(served);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let summary = &report["summary"];
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(summary["errors"], 0, "{summary}");
    assert!(summary["passed"].as_u64().unwrap() > 0, "{summary}");
    // Skipped, each with its reason: destructive vectors, and those for other cards.
    let results = report["results"].as_array().unwrap();
    let destructive_skipped = results
        .iter()
        .any(|r| r["verdict"] == "skip" && r["reason"].as_str().unwrap().contains("disposable"));
    assert!(destructive_skipped, "{summary}");
    eprintln!("one card through pcscd, not disposable: {summary}");
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn a_card_that_answers_no_vector_fails_the_run_from_the_cli() {
    // A chip that answers to reset and then `6F00` (no precise diagnosis) to every command: the
    // runner cannot identify it, so every vector is skipped and only the known answers run. That
    // is no pass: the run fails, saying so, and the reports count 0 vectors that reached the card.
    use host_tools::transport::faults::{FaultKind, FaultyTransport, TransportFaults};
    let _lock = ReaderLock::acquire();
    let card = FaultyTransport::new(
        SimTransport::in_memory(personalised("2.0")).unwrap(),
        TransportFaults::from_kinds(&[FaultKind::NoDiagnosis]),
    );
    let served = ServedCard::start(Box::new(card), FIRST_SLOT_PORT);
    wait_for_card(&context(), READER, true);
    let junit = std::env::temp_dir().join(format!("sscard-dead-{}.xml", std::process::id()));
    let output = run(
        env!("CARGO_BIN_EXE_sscard"),
        &[
            "--reader",
            READER,
            "conformance",
            "run",
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    drop(served);
    let xml = std::fs::read_to_string(&junit).unwrap_or_default();
    let _ = std::fs::remove_file(&junit);
    let text = stdout(&output);
    let errors = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(20), "{text}\n{errors}");
    assert!(
        errors.contains("nothing was checked: no vector reached the card (0 of "),
        "{errors}"
    );
    assert!(text.contains("reached the card: 0 of "), "{text}");
    assert!(
        xml.contains("<property name=\"reached the card\" value=\"0\"/>"),
        "{xml}"
    );
}

//! The whole suite against the in-process simulator, and the runner's behaviour around it.

use std::collections::BTreeSet;

use test_vectors::runner::run_vector;
use test_vectors::suite::{KAT_FILES, VECTOR_FILES};
use test_vectors::{
    CardKind, ExternalOptions, ExternalTarget, Filter, SimulatorTarget, Suite, Verdict,
};

fn suite() -> Suite {
    Suite::builtin().unwrap_or_else(|e| panic!("the shipped suite does not load: {e}"))
}

#[test]
fn the_whole_suite_passes_against_the_simulator() {
    let suite = suite();
    let mut target = SimulatorTarget::new();
    let report = suite.run(&mut target, &Filter::default(), &mut |_| {});
    assert!(report.success(), "{}", report.to_text());
    assert_eq!(
        report.summary.skipped,
        0,
        "the simulator establishes every precondition:\n{}",
        report.to_text()
    );
    assert_eq!(report.summary.total, suite.count(&Filter::default()));
}

#[test]
fn every_file_of_the_suite_directory_is_shipped() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/suite");
    let on_disk = |sub: &str| -> BTreeSet<String> {
        std::fs::read_dir(format!("{dir}{sub}"))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .map(|n| format!("{}{n}", sub.trim_start_matches('/')))
            .collect()
    };
    let shipped: BTreeSet<String> = VECTOR_FILES.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk(""), shipped);
    let kats: BTreeSet<String> = KAT_FILES.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk("/crypto/"), kats);
    // The same files loaded from the directory give the same vectors (less the generated ones).
    let loaded = Suite::load_dir(std::path::Path::new(dir)).unwrap();
    assert_eq!(loaded.files.len() + 1, suite().files.len());
}

#[test]
fn every_interindustry_status_word_the_core_returns_is_expected_somewhere() {
    let text: String = VECTOR_FILES.iter().map(|(_, t)| *t).collect();
    for sw in [
        "9000", "61xx", "6282", "6283", "6285", "63Cx", "6700", "6881", "6882", "6883", "6981",
        "6982", "6983", "6984", "6985", "6986", "6987", "6988", "6A80", "6A81", "6A82", "6A83",
        "6A84", "6A86", "6A88", "6A89", "6A8A", "6B00", "6C12", "6D00", "6E00", "9303",
    ] {
        let found = if sw == "63Cx" {
            text.contains("sw = \"63C")
        } else {
            text.contains(&format!("\"{sw}\""))
        };
        assert!(found, "no vector expects {sw}");
    }
}

#[test]
fn the_filter_selects_by_file_id_glob_and_card() {
    let suite = suite();
    let count = |terms: &[&str]| suite.count(&Filter::new(terms.iter().copied()));
    let select = suite
        .files
        .iter()
        .find(|f| f.name == "select.toml")
        .unwrap();
    assert_eq!(count(&["select"]), select.vectors.len());
    assert_eq!(count(&["select.mf.fcp"]), 1);
    assert_eq!(count(&["select.mf.*"]), 4);
    let blank = suite
        .vectors()
        .filter(|v| v.card == CardKind::Blank)
        .count();
    assert_eq!(count(&["blank"]), blank);
    assert_eq!(count(&["kat.sha256.*"]), 3);
}

#[test]
fn a_card_that_answers_wrongly_fails_with_expected_and_got() {
    let text = r#"
[suite]
title = "t"
card = "national-2.0"
reference = "ssc-card.md"
[[vector]]
id = "wrong.record"
requirement = "the card number is record 7"
steps = [
  { apdu = "00 A4 04 0C 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF", sw = "9000" },
  { apdu = "00 B2 07 2C 00", sw = "9000", data = "{field:ssn}" },
]
"#;
    let file = test_vectors::format::parse_file("t.toml", text).unwrap();
    let mut target = SimulatorTarget::new();
    let result = run_vector(&mut target, &file.vectors[0]);
    match &result.verdict {
        Verdict::Fail { step, message } => {
            assert_eq!(*step, 2);
            assert!(
                message.contains("expected") && message.contains("got"),
                "{message}"
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(result.exchanges.len(), 2, "the failure keeps its exchanges");
}

#[test]
fn an_external_card_runs_only_what_it_can_establish() {
    let mut sim = SimulatorTarget::new();
    let (card, _) = sim.fresh(CardKind::National20).unwrap();
    let mut target = ExternalTarget::new(card, "a card in a reader", ExternalOptions::default());
    assert_eq!(target.kind(), Ok(CardKind::National20));
    let suite = suite();
    let filter = Filter::new(["record", "pin.block.after-limit", "data", "reader"]);
    let report = suite.run(&mut target, &filter, &mut |_| {});
    assert!(report.success(), "{}", report.to_text());
    let reason = |id: &str| {
        report
            .results
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.verdict.clone())
    };
    // Not disposable: the PIN-blocking vector is skipped, with the reason.
    assert!(
        matches!(reason("pin.block.after-limit"), Some(Verdict::Skip { reason }) if reason.contains("disposable"))
    );
    // A demo-card vector cannot be established on a national card.
    assert!(
        matches!(reason("record.update.length"), Some(Verdict::Skip { reason }) if reason.contains("demo"))
    );
    // The holder is not known: vectors comparing holder data are skipped, not failed.
    assert!(
        matches!(reason("reader.ef05.by-number"), Some(Verdict::Skip { reason }) if reason.contains("cardholder"))
    );
    // Data that does not depend on the holder runs.
    assert_eq!(reason("data.life-cycle.issued"), Some(Verdict::Pass));
}

#[test]
fn a_disposable_external_card_with_its_holder_runs_everything_for_its_kind() {
    let mut sim = SimulatorTarget::new();
    let (card, _) = sim.fresh(CardKind::National20).unwrap();
    let options = ExternalOptions {
        disposable: true,
        holder: Some(SimulatorTarget::sample_holder().unwrap()),
        keys: None,
    };
    let mut target = ExternalTarget::new(card, "spare card", options);
    // Vectors that leave the PIN unchanged, so that they can follow one another on one card.
    let report = suite().run(
        &mut target,
        &Filter::new(["reader", "pin.unblock", "auth.internal.3des"]),
        &mut |_| {},
    );
    assert!(report.success(), "{}", report.to_text());
    assert!(report
        .results
        .iter()
        .filter(|r| r.card == "national-2.0")
        .all(|r| r.passed() || r.id == "reader.design-note-example"));
}

#[test]
fn a_vector_that_is_wrong_itself_is_a_vector_error_not_the_cards_failure() {
    // The second step uses a capture no step made: the file's fault, found only at run time.
    let text = r#"
[suite]
title = "t"
card = "demo"
reference = "ISO 7816-4"

[[vector]]
id = "wrong.capture"
requirement = "the card answers a GET CHALLENGE"
steps = [
  { apdu = "00 84 00 00 08", sw = "9000", capture = "challenge" },
  { apdu = "00 82 00 01 08 {chalenge}", sw = "9000" },
]
"#;
    let file = test_vectors::format::parse_file("wrong.toml", text).unwrap();
    let mut target = SimulatorTarget::new();
    let result = run_vector(&mut target, &file.vectors[0]);
    match &result.verdict {
        Verdict::VectorError { step, message } => {
            assert_eq!(*step, 2);
            assert!(message.contains("\"chalenge\""), "{message}");
        }
        other => panic!("expected a vector error, got {other:?}"),
    }
    assert!(result.vector_error() && !result.failed());
    assert_eq!(
        (result.file.as_str(), result.id.as_str()),
        ("wrong.toml", "wrong.capture")
    );

    let report = test_vectors::Report::new("simulator", vec![result]);
    assert_eq!(report.summary.vector_errors, 1);
    assert_eq!((report.summary.failed, report.summary.errors), (0, 0));
    assert!(report.card_passed() && !report.success());
    let text = report.to_text();
    assert!(
        text.contains("VECTOR ERROR wrong.capture (wrong.toml)"),
        "{text}"
    );
    assert!(
        text.contains("VECTOR ERRORS: 0 passed, 0 failed, 0 errors, 1 vector errors"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["results"][0]["verdict"], "vector-error");
    assert_eq!(json["results"][0]["file"], "wrong.toml");
    assert!(report
        .to_junit()
        .contains("<error type=\"vector-error\" message=\"vector error in wrong.toml, step 2"));
}

//! The confusion matrix in-process: every fault of the catalogue (alone and in pairs) injected into
//! a healthy card, diagnosed, and the verdict compared with the cause (docs/diagnostics.md).

use file_structures::layout::national;
use file_structures::personalise::IssuerKeys;
use host_tools::jobs::diagnose::matrix::{self, cases, expected};
use host_tools::jobs::diagnose::{diagnose, Action, Cause, CheckId, Day, Options, Outcome};
use host_tools::testdir::TestDir;
use host_tools::transport::faults::{faulty_card, FaultKind, MATRIX_TODAY};
use host_tools::transport::sim::SimTransport;
use host_tools::transport::TransportError;

fn options() -> Options {
    Options::new(Day::parse(MATRIX_TODAY).unwrap())
}

#[test]
fn every_fault_of_the_catalogue_gets_the_right_verdict() {
    let layout = national("3.0").unwrap();
    let keys = IssuerKeys::test_keys().unwrap();
    let rows = matrix::run(&layout, &keys, &mut |_| {}).unwrap();
    let table = matrix::render(&rows);
    assert!(rows.iter().all(|r| r.ok), "\n{table}");
    // Every fault appears alone, and the pairs are there too.
    for kind in FaultKind::ALL {
        assert!(rows.iter().any(|r| r.faults == [kind]), "{kind} missing");
    }
    assert!(rows.iter().filter(|r| r.faults.len() == 2).count() >= 5);
    assert!(table.ends_with(&format!("{0} of {0} correct\n", rows.len())));
}

#[test]
fn a_healthy_card_passes_every_check_and_points_at_the_back_office() {
    let layout = national("3.0").unwrap();
    let keys = IssuerKeys::test_keys().unwrap();
    let report = diagnose(Ok(faulty_card(&layout, &keys, &[]).unwrap()), &options());
    assert_eq!(report.cause, Cause::BackOffice);
    for check in &report.checks {
        assert_eq!(check.outcome, Outcome::Pass, "{check:?}");
    }
    assert_eq!(report.checks.len(), 12);
    let text = report.render();
    assert!(text.contains("ask the medical insurance agency"), "{text}");
}

#[test]
fn failing_checks_carry_their_evidence() {
    let layout = national("3.0").unwrap();
    let keys = IssuerKeys::test_keys().unwrap();
    let card = faulty_card(&layout, &keys, &[FaultKind::MemoryFailure]).unwrap();
    let report = diagnose(Ok(card), &options());
    let read = report
        .checks
        .iter()
        .find(|c| c.id == CheckId::Read)
        .unwrap();
    assert_eq!(read.outcome, Outcome::Fail);
    assert!(read
        .evidence
        .iter()
        .any(|e| e.sw.as_deref() == Some("6581")));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["cause"], "memory-damaged");
    assert_eq!(json["action"], "replace-card");
}

#[test]
fn the_six_month_rule_depends_on_today() {
    let layout = national("3.0").unwrap();
    let keys = IssuerKeys::test_keys().unwrap();
    // Issued 2024-01-01, never activated: fine in March, restricted from July on.
    let early = Options::new(Day::parse("20240301").unwrap());
    let card = faulty_card(&layout, &keys, &[FaultKind::NotActivated]).unwrap();
    let report = diagnose(Ok(card), &early);
    assert_eq!(report.cause, Cause::BackOffice);
    let activation = report
        .checks
        .iter()
        .find(|c| c.id == CheckId::Activation)
        .unwrap();
    assert_eq!(activation.outcome, Outcome::Warn);
    assert!(
        activation.detail.contains("2024-07-01"),
        "{}",
        activation.detail
    );
    let card = faulty_card(&layout, &keys, &[FaultKind::NotActivated]).unwrap();
    assert_eq!(diagnose(Ok(card), &options()).cause, Cause::NotActivated);
}

#[test]
fn pairs_expect_the_most_serious_cause() {
    assert_eq!(
        expected(&[FaultKind::Mute, FaultKind::PinBlocked]),
        Cause::DeadChip
    );
    assert_eq!(expected(&[]), Cause::BackOffice);
    assert!(cases().iter().any(|c| c.is_empty()));
}

/// A card that could not be opened: the error, the cause it stands for, and the check that fails
/// (every check before it passes, every one after it is skipped).
fn opening_case(label: &str, error: TransportError, cause: Cause, failed: CheckId) {
    let opened: Result<SimTransport, _> = Err(error);
    let report = diagnose(opened, &options());
    assert_eq!(report.cause, cause, "{label}:\n{}", report.render());
    assert_eq!(report.action, cause.action(), "{label}");
    assert_eq!(report.checks.len(), CheckId::ALL.len(), "{label}");
    for (check, id) in report.checks.iter().zip(CheckId::ALL) {
        assert_eq!(check.id, id, "{label}: the battery's order");
        assert_eq!(check.title, id.title(), "{label}");
        let expected = match id.cmp(&failed) {
            std::cmp::Ordering::Less => Outcome::Pass,
            std::cmp::Ordering::Equal => Outcome::Fail,
            std::cmp::Ordering::Greater => Outcome::Skipped,
        };
        assert_eq!(check.outcome, expected, "{label}: {check:?}");
    }
    let text = report.render();
    assert!(text.contains(cause.words()), "{label}: {text}");
    assert!(text.contains(cause.action().words()), "{label}: {text}");
}

#[test]
fn each_reason_a_card_cannot_be_opened_has_its_own_cause() {
    let io = |kind| TransportError::ImageIo {
        path: "holder.card".into(),
        source: std::io::Error::from(kind),
    };
    let damaged = SimTransport::open_image(&garbage_image(&TestDir::new("diag-open")))
        .err()
        .expect("a garbage image does not open");
    let cases: Vec<(&str, TransportError, Cause, CheckId)> = vec![
        (
            "no PC/SC service",
            TransportError::ServiceUnavailable,
            Cause::NoReader,
            CheckId::Reader,
        ),
        (
            "no reader",
            TransportError::NoReader,
            Cause::NoReader,
            CheckId::Reader,
        ),
        (
            "reader unplugged",
            TransportError::ReaderGone,
            Cause::NoReader,
            CheckId::Reader,
        ),
        (
            "no card",
            TransportError::NoCard,
            Cause::NoCard,
            CheckId::Card,
        ),
        (
            "no card before the wait ended",
            TransportError::Timeout(5000),
            Cause::NoCard,
            CheckId::Card,
        ),
        (
            "mute chip",
            TransportError::CardUnresponsive,
            Cause::DeadChip,
            CheckId::Atr,
        ),
        (
            "a card that does not answer within its bound",
            TransportError::NoAnswer(2000),
            Cause::DeadChip,
            CheckId::Atr,
        ),
        (
            "pcscd does not answer",
            TransportError::ServiceNoAnswer(5000),
            Cause::SystemError,
            CheckId::Reader,
        ),
        (
            "garbage ATR (PC/SC finds no protocol)",
            TransportError::UnusableAtr,
            Cause::DeadChip,
            CheckId::Atr,
        ),
        (
            "held by another program",
            TransportError::CardInUse,
            Cause::ReaderBusy,
            CheckId::Card,
        ),
        (
            "reset by another program",
            TransportError::CardReset,
            Cause::ReaderBusy,
            CheckId::Card,
        ),
        (
            "image missing",
            io(std::io::ErrorKind::NotFound),
            Cause::ImageMissing,
            CheckId::Card,
        ),
        (
            "image unreadable",
            io(std::io::ErrorKind::PermissionDenied),
            Cause::ImageMissing,
            CheckId::Card,
        ),
        ("image damaged", damaged, Cause::ImageDamaged, CheckId::Card),
        (
            "PC/SC failure",
            TransportError::Pcsc(pcsc::Error::InternalError),
            Cause::SystemError,
            CheckId::Reader,
        ),
    ];
    for (label, error, cause, failed) in cases {
        opening_case(label, error, cause, failed);
    }
}

/// An image file whose bytes are no card image.
fn garbage_image(dir: &TestDir) -> std::path::PathBuf {
    let path = dir.path().join("garbage.card");
    std::fs::write(&path, b"this is no card image, only text").unwrap();
    path
}

#[test]
fn a_damaged_or_missing_image_through_the_cli_is_named_as_such() {
    let dir = TestDir::new("diag-cli-image");
    let garbage = garbage_image(&dir);
    let missing = dir.path().join("missing.card");
    for (label, path, cause, action) in [
        ("damaged", &garbage, "image-damaged", Action::RestoreImage),
        ("missing", &missing, "image-missing", Action::CheckImagePath),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_sscard"))
            .arg("--card")
            .arg(path)
            .args(["diagnose", "--today", MATRIX_TODAY, "--json"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{label}: {output:?}");
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(json["cause"], cause, "{label}: {json}");
        assert_eq!(json["action_words"], action.words(), "{label}: {json}");
        assert_eq!(json["checks"][1]["id"], "card", "{label}: {json}");
        assert_eq!(json["checks"][1]["outcome"], "fail", "{label}: {json}");
    }
}

//! The confusion matrix in-process: every fault of the catalogue (alone and in pairs) injected into
//! a healthy card, diagnosed, and the verdict compared with the cause (docs/diagnostics.md).

use file_structures::layout::national;
use file_structures::personalise::IssuerKeys;
use host_tools::jobs::diagnose::matrix::{self, cases, expected};
use host_tools::jobs::diagnose::{diagnose, Cause, Day, Options, Outcome};
use host_tools::transport::faults::{faulty_card, FaultKind, MATRIX_TODAY};

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
    let read = report.checks.iter().find(|c| c.id == "read").unwrap();
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
    let activation = report.checks.iter().find(|c| c.id == "activation").unwrap();
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

#[test]
fn a_reader_that_reports_the_card_unresponsive_means_a_dead_chip_not_a_software_error() {
    use host_tools::transport::sim::SimTransport;
    use host_tools::transport::TransportError;
    let unresponsive: Result<SimTransport, _> = Err(TransportError::CardUnresponsive);
    let report = diagnose(unresponsive, &options());
    assert_eq!(report.cause, Cause::DeadChip);
    let no_reader: Result<SimTransport, _> = Err(TransportError::NoReader);
    assert_eq!(diagnose(no_reader, &options()).cause, Cause::NoReader);
    let no_card: Result<SimTransport, _> = Err(TransportError::NoCard);
    assert_eq!(diagnose(no_card, &options()).cause, Cause::NoCard);
}

#[test]
fn every_back_office_fault_gets_the_right_verdict_through_a_real_registry() {
    use host_tools::jobs::diagnose::matrix::{back_office_cases, run_back_office, BackOfficeFault};
    let layout = national("3.0").unwrap();
    let keys = IssuerKeys::test_keys().unwrap();
    let rows = run_back_office(&layout, &keys, &mut |_| {}).unwrap();
    let table = matrix::render(&rows);
    assert!(rows.iter().all(|r| r.ok), "\n{table}");
    assert_eq!(rows.len(), back_office_cases().len());
    for fault in BackOfficeFault::ALL {
        let alone = rows
            .iter()
            .find(|r| r.faults.is_empty() && r.back_office == Some(fault))
            .unwrap_or_else(|| panic!("{fault:?} alone missing"));
        assert_eq!(alone.verdict, fault.cause());
    }
    // A healthy card that the registry agrees with and allows: the rest of the back office.
    let healthy = rows
        .iter()
        .find(|r| r.faults.is_empty() && r.back_office.is_none());
    assert_eq!(healthy.unwrap().verdict, Cause::BackOffice);
    // The registry's word goes before the chip's for a blocked card, after it for a dead one.
    let lost_and_blocked = rows
        .iter()
        .find(|r| r.faults == [FaultKind::AppBlocked])
        .unwrap();
    assert_eq!(lost_and_blocked.verdict, Cause::ReportedLost);
    let mute_and_lost = rows.iter().find(|r| r.faults == [FaultKind::Mute]).unwrap();
    assert_eq!(mute_and_lost.verdict, Cause::DeadChip);
}

#[test]
fn the_registry_check_names_the_field_that_differs() {
    use host_tools::jobs::diagnose::registry::{compare, RegistryAnswer};
    use sscard_platform::model::*;
    let layout = national("3.0").unwrap();
    let keys = IssuerKeys::test_keys().unwrap();
    let mut options = options();
    options.layout = Some(layout.clone());
    let mut report = diagnose(Ok(faulty_card(&layout, &keys, &[]).unwrap()), &options);
    let card = report.card.clone();
    let status = CardStatus {
        card_number: card["card_number"].clone(),
        card_id_code: card["card_id_code"].clone(),
        region: "110100".into(),
        version: "3.0".into(),
        issue_date: "20240101".into(),
        expiry_date: "20290101".into(),
        state: CardState::Activated,
        ssn: "110105199001010010".into(),
        name: "张测试".into(),
        activation: Some(Activation {
            date: "20240115".into(),
            outlet: "B".into(),
            terminal: "T".into(),
            late: false,
        }),
        supersedes: None,
        superseded_by: None,
        insurance: Insurance::Paid {
            through: "202512".into(),
        },
        medical_status: MedicalStatus::Normal,
        online_mode: false,
        account_balance_fen: 0,
        purse: PurseView {
            balance_fen: None,
            last_serial: None,
        },
        today: MATRIX_TODAY.into(),
        may: Permissions {
            identify: true,
            settle: true,
            activate: false,
            refusals: Vec::new(),
        },
    };
    compare(&mut report, RegistryAnswer::Status(Box::new(status)));
    assert_eq!(report.cause, Cause::InformationDiffers);
    let check = report.checks.iter().find(|c| c.id == "registry").unwrap();
    assert_eq!(check.outcome, Outcome::Fail);
    assert!(
        check
            .detail
            .contains("expiry_date (card 20340101, registry 20290101)"),
        "{}",
        check.detail
    );
}

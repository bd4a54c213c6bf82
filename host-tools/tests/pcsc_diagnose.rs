//! Diagnostics through the real PC/SC stack (pcscd + vpcd): the faults a reader can show, served
//! from a thread, diagnosed over sscard's PC/SC transport and by the `sscard` binary, a mute chip
//! included (pcscd's "unresponsive card" must come out as a dead chip, not a software error).
//! Ignored by a plain `cargo test`: scripts/pcsc-tests.sh runs it with `--ignored`.

mod pcsc_support;

use std::ffi::CString;
use std::time::Instant;

use file_structures::layout::national;
use file_structures::personalise::IssuerKeys;
use host_tools::jobs::diagnose::{diagnose, Action, Cause, CheckId, Day, Options, Outcome};
use host_tools::transport::faults::{faulty_card, FaultKind, MATRIX_TODAY};
use host_tools::transport::pcsc::{map_error, PcscTransport};
use host_tools::transport::vpcd::FIRST_SLOT_PORT;
use host_tools::transport::TransportError;
use pcsc::{ReaderState, ShareMode, State};
use pcsc_support::*;

/// Waits until PC/SC sees a card in the reader, answering or mute.
fn wait_for_insertion(ctx: &pcsc::Context) {
    let name = CString::new(READER).unwrap();
    let mut states = [ReaderState::new(name, State::UNAWARE)];
    let deadline = Instant::now() + STACK_TIMEOUT;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        assert!(!remaining.is_zero(), "PC/SC never saw the card");
        match ctx.get_status_change(remaining, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(pcsc::Error::UnknownReader) => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            Err(e) => panic!("waiting for {READER:?}: {e}"),
        }
        let event = states[0].event_state();
        // A mute card is PRESENT and MUTE once pcscd has tried to power it.
        if event.contains(State::MUTE)
            || (event.contains(State::PRESENT) && !states[0].atr().is_empty())
        {
            return;
        }
        states[0].sync_current_state();
    }
}

/// The card with `faults`, served in the virtual reader until dropped.
fn serve_faulty(faults: &[FaultKind]) -> ServedCard {
    let layout = national("3.0").unwrap();
    let keys = IssuerKeys::test_keys().unwrap();
    let card = faulty_card(&layout, &keys, faults).unwrap();
    ServedCard::start(Box::new(card), FIRST_SLOT_PORT)
}

fn open_reader() -> Result<PcscTransport, TransportError> {
    open_reader_with(READER, ShareMode::Exclusive)
}

fn diagnosed_through_pcscd(faults: &[FaultKind]) -> Cause {
    let served = serve_faulty(faults);
    wait_for_insertion(&context());
    let opened = open_reader();
    let report = diagnose(opened, &Options::new(Day::parse(MATRIX_TODAY).unwrap()));
    drop(served);
    eprintln!("{}", report.render());
    report.cause
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn faults_a_reader_can_see_get_the_same_verdict_through_pcscd() {
    let _lock = ReaderLock::acquire();
    for (faults, cause) in [
        (vec![], Cause::BackOffice),
        (vec![FaultKind::NoDiagnosis], Cause::DeadChip),
        (vec![FaultKind::MemoryFailure], Cause::MemoryDamaged),
        (vec![FaultKind::Corrupted], Cause::MemoryDamaged),
        (vec![FaultKind::PinBlocked], Cause::PinBlocked),
    ] {
        assert_eq!(diagnosed_through_pcscd(&faults), cause, "{faults:?}");
    }
}

/// `sscard --reader READER diagnose --json`: a verdict, whatever it is, exits 0.
fn sscard_diagnose_json() -> serde_json::Value {
    let args = [
        "--reader",
        READER,
        "diagnose",
        "--today",
        MATRIX_TODAY,
        "--json",
    ];
    let output = sscard(&args);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    json(&output)
}

/// A card in the reader that the library cannot open, and why: each reason has its own cause, by
/// the library and by the binary (none of them is "no card in the reader").
#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn a_garbage_atr_and_a_card_held_by_another_program_have_their_own_causes_through_pcscd() {
    let _lock = ReaderLock::acquire();
    for (label, faults, held_elsewhere, cause) in [
        (
            "garbage ATR",
            vec![FaultKind::GarbageAtr],
            false,
            Cause::DeadChip,
        ),
        ("held by another program", vec![], true, Cause::ReaderBusy),
    ] {
        let served = serve_faulty(&faults);
        wait_for_insertion(&context());
        let holder =
            held_elsewhere.then(|| open_reader().expect("the first program opens the card"));
        let report = diagnose(
            open_reader(),
            &Options::new(Day::parse(MATRIX_TODAY).unwrap()),
        );
        eprintln!("{label}:\n{}", report.render());
        assert_eq!(report.cause, cause, "{label}");
        let verdict = sscard_diagnose_json();
        assert_eq!(verdict["cause_words"], cause.words(), "{label}: {verdict}");
        drop(holder);
        drop(served);
    }
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn a_mute_chip_through_pcscd_is_a_dead_chip_not_a_software_error() {
    let _lock = ReaderLock::acquire();
    let _served = serve_faulty(&[FaultKind::Mute]);
    let ctx = context();
    wait_for_insertion(&ctx);

    // What PC/SC shows: a card in the reader, present and mute, without an ATR.
    let name = CString::new(READER).unwrap();
    let mut states = [ReaderState::new(name, State::UNAWARE)];
    ctx.get_status_change(std::time::Duration::ZERO, &mut states)
        .unwrap();
    let event = states[0].event_state();
    assert!(
        event.contains(State::PRESENT | State::MUTE),
        "not present and mute: {event:?}"
    );
    assert!(states[0].atr().is_empty(), "{:02X?}", states[0].atr());

    // A PC/SC connect makes pcscd power the card up again: each attempt fails as a card that
    // does not answer (pcscd 1.9.9: "unpowered card"), and the card stays in the reader, mute.
    // (NoCard only if vpcd polled in the instant the card was out: docs/pcsc.md.)
    let reader = CString::new(READER).unwrap();
    for attempt in 0..3 {
        let connected = ctx.connect(&reader, ShareMode::Shared, pcsc::Protocols::ANY);
        let error = connected.err().expect("a mute card cannot be connected to");
        assert!(
            matches!(
                map_error(error),
                TransportError::CardUnresponsive | TransportError::NoCard
            ),
            "attempt {attempt}: {error:?}"
        );
        wait_for_insertion(&ctx);
    }

    // The library: opening is "the card does not answer", at once (not a wait for a card).
    let opened = open_reader();
    assert!(
        matches!(opened, Err(TransportError::CardUnresponsive)),
        "{:?}",
        opened.as_ref().err()
    );
    let report = diagnose(opened, &Options::new(Day::parse(MATRIX_TODAY).unwrap()));
    eprintln!("{}", report.render());
    assert_eq!(report.cause, Cause::DeadChip);
    assert_eq!(report.action, Action::CleanContactsRetry);
    assert!(report.facts.no_atr, "{:?}", report.facts);
    let outcome = |id: CheckId| report.checks.iter().find(|c| c.id == id).unwrap().outcome;
    assert_eq!(outcome(CheckId::Reader), Outcome::Pass);
    assert_eq!(
        outcome(CheckId::Card),
        Outcome::Pass,
        "the reader sees a card"
    );
    assert_eq!(outcome(CheckId::Atr), Outcome::Fail);

    // The binary: a verdict (exit 0), the dead chip and its action, no error.
    let verdict = sscard_diagnose_json();
    assert_eq!(verdict["cause"], "dead-chip", "{verdict}");
    assert_eq!(verdict["action"], "clean-contacts-retry", "{verdict}");
    assert_eq!(
        verdict["action_words"],
        Action::CleanContactsRetry.words(),
        "{verdict}"
    );
    assert!(verdict.get("error").is_none(), "{verdict}");
    let human = sscard(&["--reader", READER, "diagnose", "--today", MATRIX_TODAY]);
    assert_eq!(human.status.code(), Some(0), "{human:?}");
    assert!(
        stdout(&human).contains(Action::CleanContactsRetry.words()),
        "{}",
        stdout(&human)
    );
    assert!(!stdout(&human).contains("PC/SC layer failed"));

    // Any other command: the card-unresponsive exit class, not a PC/SC failure.
    let output = sscard(&["--reader", READER, "atr", "--json"]);
    assert!(!output.status.success(), "{output:?}");
    let error = &json(&output)["error"];
    assert_eq!(error["kind"], "card_unresponsive", "{error}");
}

//! Diagnostics through the real PC/SC stack (pcscd + vpcd): the faults a reader can show, served
//! from a thread, diagnosed over sscard's PC/SC transport and by the `sscard` binary, a mute chip
//! included (pcscd's "unresponsive card" must come out as a dead chip, not a software error).
//! Runs only with SSCARD_PCSC_TESTS=1.

mod pcsc_support;

use std::ffi::CString;
use std::time::Instant;

use file_structures::layout::national;
use file_structures::personalise::IssuerKeys;
use host_tools::jobs::diagnose::{diagnose, Action, Cause, Day, Options, Outcome};
use host_tools::transport::faults::{faulty_card, FaultKind, MATRIX_TODAY};
use host_tools::transport::pcsc::{map_error, PcscOptions, PcscTransport, ReaderChoice};
use host_tools::transport::vpcd::FIRST_SLOT_PORT;
use host_tools::transport::TransportError;
use pcsc::{ReaderState, ShareMode, State};
use pcsc_support::*;
use serde_json::Value;

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
    PcscTransport::open(&PcscOptions {
        reader: Some(ReaderChoice::Name(READER.to_string())),
        wait: STACK_TIMEOUT,
        answer_timeout: STACK_TIMEOUT,
        share: ShareMode::Exclusive,
    })
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
fn faults_a_reader_can_see_get_the_same_verdict_through_pcscd() {
    if !enabled("faults_a_reader_can_see_get_the_same_verdict_through_pcscd") {
        return;
    }
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

fn sscard(args: &[&str]) -> std::process::Output {
    run(env!("CARGO_BIN_EXE_sscard"), args)
}

fn json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("sscard printed no JSON ({e}):\n{}", stdout(output)))
}

#[test]
fn a_mute_chip_through_pcscd_is_a_dead_chip_not_a_software_error() {
    if !enabled("a_mute_chip_through_pcscd_is_a_dead_chip_not_a_software_error") {
        return;
    }
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
    let outcome = |id: &str| report.checks.iter().find(|c| c.id == id).unwrap().outcome;
    assert_eq!(outcome("reader"), Outcome::Pass);
    assert_eq!(outcome("card"), Outcome::Pass, "the reader sees a card");
    assert_eq!(outcome("atr"), Outcome::Fail);

    // The binary: a verdict (exit 0), the dead chip and its action, no error.
    let output = sscard(&[
        "--reader",
        READER,
        "diagnose",
        "--today",
        MATRIX_TODAY,
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let verdict = json(&output);
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

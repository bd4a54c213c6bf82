//! Diagnostics through the real PC/SC stack (pcscd + vpcd): the faults a reader can show, served
//! from a thread, diagnosed over sscard's PC/SC transport. Runs only with SSCARD_PCSC_TESTS=1.
//! (A mute chip is not here yet: vpcd takes "no ATR" for "no card", see docs/diagnostics.md; the
//! mapping of PC/SC's unresponsive card to a dead chip is tested in diagnose_matrix.rs.)

mod pcsc_support;

use std::ffi::CString;
use std::time::Instant;

use file_structures::layout::national;
use file_structures::personalise::IssuerKeys;
use host_tools::diagnose::{diagnose, Cause, Day, Options};
use host_tools::faults::{faulty_card, FaultKind, MATRIX_TODAY};
use host_tools::transport::pcsc::{PcscOptions, PcscTransport, ReaderChoice};
use host_tools::vpcd::FIRST_SLOT_PORT;
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

fn diagnosed_through_pcscd(faults: &[FaultKind]) -> Cause {
    let layout = national("3.0").unwrap();
    let keys = IssuerKeys::test_keys().unwrap();
    let card = faulty_card(&layout, &keys, faults).unwrap();
    let served = ServedCard::start(Box::new(card), FIRST_SLOT_PORT);
    wait_for_insertion(&context());
    let opened = PcscTransport::open(&PcscOptions {
        reader: Some(ReaderChoice::Name(READER.to_string())),
        wait: STACK_TIMEOUT,
        share: ShareMode::Exclusive,
    });
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

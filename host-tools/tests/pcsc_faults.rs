//! Faults through the real PC/SC stack, seen by sscard's PC/SC transport: the card pulled during a
//! multi-APDU operation, put back, and pcscd restarted. Ignored by a plain `cargo test`: scripts/pcsc-tests.sh runs it with `--ignored`.

mod pcsc_support;

use host_tools::transport::pcsc::PcscTransport;
use host_tools::transport::vpcd::{ServeOptions, FIRST_SLOT_PORT};
use host_tools::transport::{CardTransport, ResetKind, TransportError};
use pcsc::ShareMode;
use pcsc_support::*;

/// READ RECORD n of EF05 by number.
fn read_ef05(n: u8) -> [u8; 5] {
    [0x00, 0xB2, n, 0x2C, 0x00]
}

fn open_virtual_reader() -> PcscTransport {
    open_reader_with(READER, ShareMode::Shared).expect("sscard opens the served card")
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn a_card_pulled_during_a_multi_apdu_operation_is_reported_and_recovered_after_reinsertion() {
    let _lock = ReaderLock::acquire();
    let options = ServeOptions::new(FIRST_SLOT_PORT);
    // Pulled right after its third answer.
    let mut answered = 0;
    let card = PulledOnCue::new(demo_sim(), options.control.clone(), move |_, _| {
        answered += 1;
        answered == 3
    });
    let served = ServedCard::start_with(Box::new(card), options);
    let ctx = context();
    wait_for_card(&ctx, READER, true);
    let mut transport = open_virtual_reader();
    assert_eq!(transport.transmit(&select_ssse()).unwrap(), [0x90, 0x00]);

    // SELECT and records 1..2 arrive; the card leaves after its third answer; record 3 fails, and
    // says why.
    for n in 1..=2 {
        let response = transport
            .transmit(&read_ef05(n))
            .expect("a record before the pull");
        assert!(response.ends_with(&[0x90, 0x00]), "{response:02X?}");
    }
    // pcsc-lite answers the first transmit after the card left with SCARD_E_NOT_TRANSACTED: the
    // transport must still say "the card was removed".
    let error = transport
        .transmit(&read_ef05(3))
        .expect_err("the card was pulled");
    assert!(
        matches!(
            error,
            TransportError::CardRemoved | TransportError::ShortResponse(_) | TransportError::NoCard
        ),
        "unexpected error: {error:?}"
    );
    eprintln!("sscard said: {error}");
    // While it is out, every command fails the same clear way (no hang, no garbage).
    wait_for_card(&ctx, READER, false);
    let error = transport.transmit(&read_ef05(4)).expect_err("no card");
    assert!(
        matches!(error, TransportError::CardRemoved | TransportError::NoCard),
        "unexpected error while out: {error:?}"
    );

    // Re-inserted: a cold reset reconnects the same transport, and the operation can start over.
    served.control.insert_card();
    wait_for_card(&ctx, READER, true);
    let atr = transport
        .reset(ResetKind::Cold)
        .expect("reconnect after re-insertion");
    assert_eq!(atr, demo_sim().atr());
    assert_eq!(transport.transmit(&select_ssse()).unwrap(), [0x90, 0x00]);
    let response = transport
        .transmit(&read_ef05(3))
        .expect("record 3 after re-insertion");
    assert!(response.ends_with(&[0x90, 0x00]), "{response:02X?}");
    drop(transport);
    assert_eq!(served.stop().insertions, 2);
}

/// The served card through sscard's transport: SELECT SSSE and record 1 of EF05 answer 9000.
fn open_and_read_a_record() -> PcscTransport {
    let mut transport = open_virtual_reader();
    assert_eq!(transport.transmit(&select_ssse()).unwrap(), [0x90, 0x00]);
    let record = transport.transmit(&read_ef05(1)).unwrap();
    assert!(record.ends_with(&[0x90, 0x00]), "{record:02X?}");
    transport
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn a_pcscd_restart_is_reported_and_the_served_card_comes_back() {
    let _lock = ReaderLock::acquire();
    let served = ServedCard::start(demo_sim(), FIRST_SLOT_PORT);
    wait_for_card(&context(), READER, true);
    let mut transport = open_and_read_a_record();

    stack("restart");
    let error = transport
        .transmit(&read_ef05(1))
        .expect_err("pcscd went away");
    assert!(
        matches!(
            error,
            TransportError::ServiceUnavailable
                | TransportError::ReaderGone
                | TransportError::CardRemoved
        ),
        "unexpected error: {error:?}"
    );
    eprintln!("sscard said: {error}");
    drop(transport);

    // The serve loop reconnects to the new pcscd's vpcd by itself.
    wait_for_card(&context(), READER, true);
    drop(open_and_read_a_record());
    assert!(served.stop().insertions >= 2);
}

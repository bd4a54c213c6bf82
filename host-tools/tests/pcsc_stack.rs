//! The served card through the real PC/SC stack, seen by a PC/SC client (the pcsc crate).
//! Ignored by a plain `cargo test`: scripts/pcsc-tests.sh runs it with `--ignored`.

mod pcsc_support;

use host_tools::transport::vpcd::{EchoCard, ECHO_ATR, FIRST_SLOT_PORT, SECOND_SLOT_PORT};
use pcsc_support::*;

const READ_RECORD: [u8; 5] = [0x00, 0xB2, 0x01, 0x2C, 0x00];

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn pcsc_sees_the_virtual_reader_with_the_served_card_and_its_atr() {
    let _lock = ReaderLock::acquire();
    let served = ServedCard::start(Box::new(EchoCard::new()), FIRST_SLOT_PORT);
    let ctx = context();
    assert_eq!(wait_for_card(&ctx, READER, true), ECHO_ATR);
    let readers = ctx.list_readers_owned().unwrap();
    assert!(
        readers.iter().any(|r| r.to_str() == Ok(READER)),
        "{READER} not in {readers:?}"
    );

    let card = connect(&ctx, READER);
    assert_eq!(card.status2_owned().unwrap().atr(), ECHO_ATR);
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
    for _ in 0..50 {
        assert_eq!(card.transmit(&READ_RECORD, &mut buf).unwrap(), [0x90, 0x00]);
    }
    drop(card);
    assert_eq!(served.stop().apdus, 50);
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn an_extended_apdu_crosses_the_stack_whole() {
    let _lock = ReaderLock::acquire();
    let served = ServedCard::start(Box::new(EchoCard::new()), FIRST_SLOT_PORT);
    let ctx = context();
    wait_for_card(&ctx, READER, true);
    let card = connect(&ctx, READER);
    // UPDATE BINARY with 2,000 bytes of data: extended Lc.
    let mut command = vec![0x00, 0xD6, 0x00, 0x00, 0x00, 0x07, 0xD0];
    command.extend(std::iter::repeat_n(0x5A, 2000));
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
    assert_eq!(card.transmit(&command, &mut buf).unwrap(), [0x90, 0x00]);
    drop(card);
    assert_eq!(served.stop().apdus, 1);
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn a_second_card_is_served_in_the_second_slot() {
    let _lock = ReaderLock::acquire();
    let first = ServedCard::start(Box::new(EchoCard::new()), FIRST_SLOT_PORT);
    let second = ServedCard::start(Box::new(EchoCard::new()), SECOND_SLOT_PORT);
    let ctx = context();
    assert_eq!(wait_for_card(&ctx, READER, true), ECHO_ATR);
    assert_eq!(wait_for_card(&ctx, SECOND_READER, true), ECHO_ATR);
    let card = connect(&ctx, SECOND_READER);
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
    assert_eq!(card.transmit(&READ_RECORD, &mut buf).unwrap(), [0x90, 0x00]);
    drop(card);
    assert_eq!(second.stop().apdus, 1);
    assert_eq!(first.stop().apdus, 0);
}

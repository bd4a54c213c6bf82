//! APPLICATION BLOCK / UNBLOCK and CARD BLOCK.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::hex;
use common::secured::*;

use card_os::testing::exchange;

const BLOCK_TEMPORARILY: [u8; 4] = [0x84, 0x1E, 0x00, 0x00];
const BLOCK_PERMANENTLY: [u8; 4] = [0x84, 0x1E, 0x00, 0x01];
const UNBLOCK_APPLICATION: [u8; 4] = [0x84, 0x18, 0x00, 0x00];
const BLOCK_CARD: [u8; 4] = [0x84, 0x16, 0x00, 0x00];

#[test]
fn a_temporarily_blocked_application_answers_6985_until_unblocked() {
    let mut card = issued();
    assert_eq!(
        send_with_bad_mac(&mut card, MAC, BLOCK_TEMPORARILY, &[]),
        0x6988
    );
    assert_eq!(
        swb(&mut card, &hex("801E0000 04 00000000")),
        0x6987,
        "no MAC class"
    );
    assert_eq!(swb(&mut card, &hex("00B0940001")), 0x9000, "not blocked");
    assert_eq!(
        send_with_mac(&mut card, MAC, BLOCK_TEMPORARILY, &[]),
        0x9000
    );
    assert_eq!(swb(&mut card, &hex("00B0940001")), 0x6985);
    assert_eq!(swb(&mut card, &hex("00200000 03 123456")), 0x6985);
    let select = exchange(&mut card, &hex("00A40000 02 DDF1 00"));
    assert_eq!(select.status().to_u16(), 0x6283);
    assert_eq!(select.data()[0], 0x6F, "FCI still returned");
    // Other DFs are not affected.
    swb(&mut card, &hex(SELECT_DF01));
    assert_eq!(swb(&mut card, &hex("00B2012C00")), 0x6A83);
    swb(&mut card, &hex(SELECT_SSSE_FID));
    assert_eq!(
        send_with_bad_mac(&mut card, MAC, UNBLOCK_APPLICATION, &[]),
        0x6988
    );
    assert_eq!(swb(&mut card, &hex("00B0940001")), 0x6985);
    assert_eq!(
        send_with_mac(&mut card, MAC, UNBLOCK_APPLICATION, &[]),
        0x9000
    );
    assert_eq!(swb(&mut card, &hex("00B0940001")), 0x9000);
    assert_eq!(swb(&mut card, &hex(SELECT_SSSE_FID)), 0x9000);
}

#[test]
fn a_permanently_blocked_application_answers_9303_except_to_select_and_get_data() {
    let mut card = issued();
    assert_eq!(
        send_with_mac(&mut card, MAC, BLOCK_PERMANENTLY, &[]),
        0x9000
    );
    assert_eq!(swb(&mut card, &hex("00B0940001")), 0x9303);
    assert_eq!(swb(&mut card, &hex("0084000008")), 0x9303);
    assert_eq!(
        swb(&mut card, &hex("84180000 04 00000000")),
        0x9303,
        "no way back"
    );
    assert_eq!(swb(&mut card, &hex(SELECT_SSSE_FID)), 0x9303);
    assert_eq!(swb(&mut card, &hex("00CA9F7001")), 0x9000);
    // After a power cycle too.
    let storage = card.into_storage();
    let mut card = card_os::Card::power_on(storage).unwrap();
    assert_eq!(swb(&mut card, &hex(SELECT_SSSE_FID)), 0x9303);
    assert_eq!(swb(&mut card, &hex("00200000 03 123456")), 0x9303);
    assert_eq!(swb(&mut card, &hex(SELECT_DF01)), 0x9000);
}

#[test]
fn a_blocked_card_answers_6a81_except_to_select_and_get_data() {
    let mut card = issued();
    assert_eq!(send_with_bad_mac(&mut card, MAC, BLOCK_CARD, &[]), 0x6988);
    assert_eq!(
        send_with_mac(&mut card, MAC, [0x84, 0x16, 0x00, 0x01], &[]),
        0x6A86
    );
    assert_eq!(send_with_mac(&mut card, MAC, BLOCK_CARD, &[]), 0x9000);
    assert_eq!(swb(&mut card, &hex("00CA9F7001")), 0x9000);
    assert_eq!(exchange(&mut card, &hex("00CA9F7001")).data(), &[0x04]);
    assert_eq!(swb(&mut card, &hex(SELECT_DF01)), 0x9000);
    assert_eq!(swb(&mut card, &hex("00B2012C00")), 0x6A81);
    assert_eq!(swb(&mut card, &hex("0084000008")), 0x6A81);
    assert_eq!(swb(&mut card, &hex("00200000 03 123456")), 0x6A81);
}

//! WRITE KEY, WRITE PIN, ISSUE CARD and the personalisation phase.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::secured::*;
use common::{hex, send};

use card_os::Card;

#[test]
fn personalisation_commands_are_refused_after_issue() {
    let mut card = issued();
    assert_eq!(swb(&mut card, &write_key(0x30, 1)), 0x6985);
    assert_eq!(swb(&mut card, &hex("80D40100 04 06 654321")), 0x6985);
    assert_eq!(swb(&mut card, &hex("80F00200")), 0x6985);
    assert_eq!(swb(&mut card, &hex("00E4000002EF20")), 0x6985);
    assert_eq!(
        swb(&mut card, &hex("00E000000E620C8201388302DF0784035A5A5A")),
        0x6985
    );
    assert_eq!(send(&mut card, "00CA9F7001"), (vec![0x02], 0x9000));
}

#[test]
fn write_key_and_write_pin_check_their_data() {
    let mut card = Card::power_on(Box::leak(personalised_storage())).unwrap();
    swb(&mut card, &hex(SELECT_SSSE_FID));
    let mut bad = write_key(0x30, 1);
    bad[7] = 0x02; // SSF33
    assert_eq!(swb(&mut card, &bad), 0x6A80);
    let mut bad = write_key(0x30, 1);
    bad[6] = 0x09; // no such usage (06..08 are the purse keys)
    assert_eq!(swb(&mut card, &bad), 0x6A80);
    let mut bad = write_key(0x30, 1);
    bad[8] = 0; // error limit 0
    assert_eq!(swb(&mut card, &bad), 0x6A80);
    assert_eq!(swb(&mut card, &write_key(0x00, 1)), 0x6A80);
    assert_eq!(swb(&mut card, &write_key(0x30, 1)[..24]), 0x6700);
    assert_eq!(swb(&mut card, &hex("80D40200 04 06 123456")), 0x6A86);
    // 8 slots: 7 keys in SSSE, one more fits, a ninth does not; the same id replaces.
    assert_eq!(swb(&mut card, &write_key(0x30, 1)), 0x9000);
    assert_eq!(swb(&mut card, &write_key(0x31, 1)), 0x6A84);
    assert_eq!(swb(&mut card, &write_key(0x30, 1)), 0x9000);
    // PIN: 4-16 digits, try limit 1-15.
    assert_eq!(swb(&mut card, &hex("80D40100 02 06 12")), 0x6700);
    assert_eq!(swb(&mut card, &hex("80D40100 03 06 123F")), 0x6A80);
    assert_eq!(swb(&mut card, &hex("80D40100 04 00 123456")), 0x6A80);
    assert_eq!(swb(&mut card, &hex("80D40100 04 10 123456")), 0x6A80);
    assert_eq!(swb(&mut card, &hex("80D40100 04 06 12A456")), 0x6A80);
    assert_eq!(swb(&mut card, &hex("80F00300")), 0x6A86);
    assert_eq!(swb(&mut card, &hex("80F00200 01 00")), 0x6700);
}

#[test]
fn access_rules_are_waived_while_personalising_and_apply_after_issue() {
    let mut card = Card::power_on(Box::leak(personalised_storage())).unwrap();
    swb(&mut card, &hex(SELECT_SSSE_FID));
    assert_eq!(
        swb(&mut card, &hex("00D6950001AA")),
        0x9000,
        "PIN-or-key EF"
    );
    assert_eq!(swb(&mut card, &hex("00B0950001")), 0x9000);
    assert_eq!(swb(&mut card, &hex("80F00200")), 0x9000);
    assert_eq!(swb(&mut card, &hex("00D6950001AA")), 0x6982);
    assert_eq!(swb(&mut card, &hex("00B0950001")), 0x6982);
}

//! The holder PIN: VERIFY, CHANGE PIN, CHANGE REFERENCE DATA, PIN UNBLOCK, PIN RELOAD.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::hex;
use common::secured::*;

use card_os::Card;

const CHANGE_TO_654321: &str = "805E0100 07 123456 FF 654321";

#[test]
fn a_wrong_pin_costs_a_try_until_blocked_and_the_right_one_restores_them() {
    let mut card = issued();
    assert_eq!(pin_tries(&mut card), 0x63C6);
    assert_eq!(swb(&mut card, &hex("00200000 03 111111")), 0x63C5);
    assert_eq!(swb(&mut card, &hex("00200000 03 111111")), 0x63C4);
    assert_eq!(pin_tries(&mut card), 0x63C4);
    assert_eq!(swb(&mut card, &hex("00200000 03 123456")), 0x9000);
    assert_eq!(
        pin_tries(&mut card),
        0x63C6,
        "initial PIN verified: not a transacting PIN"
    );
    for left in (0..6).rev() {
        assert_eq!(swb(&mut card, &hex("00200000 03 111111")), 0x63C0 + left);
    }
    assert_eq!(
        swb(&mut card, &hex("00200000 03 123456")),
        0x6983,
        "blocked"
    );
    assert_eq!(pin_tries(&mut card), 0x6983);
    assert_eq!(swb(&mut card, &hex(CHANGE_TO_654321)), 0x6983);
    // Power cycles do not give tries back.
    let storage = card.into_storage();
    let mut card = Card::power_on(storage).unwrap();
    assert_eq!(pin_tries(&mut card), 0x6983);
}

#[test]
fn verify_checks_its_parameters_without_spending_a_try() {
    let mut card = issued();
    assert_eq!(swb(&mut card, &hex("00200001 03 123456")), 0x6A86);
    assert_eq!(swb(&mut card, &hex("00200000 01 12")), 0x6700);
    assert_eq!(swb(&mut card, &hex("00200000 03 12A456")), 0x6A80);
    assert_eq!(pin_tries(&mut card), 0x63C6);
}

#[test]
fn the_initial_pin_cannot_transact_until_changed() {
    let mut card = issued();
    assert_eq!(swb(&mut card, &hex("00200000 03 123456")), 0x9000);
    // EF21 needs the PIN to read: the initial PIN is not usable for it.
    assert_eq!(swb(&mut card, &hex("00B0950001")), 0x6984);
    // Changing back to the initial PIN is refused, without spending a try.
    assert_eq!(swb(&mut card, &hex("805E0100 07 123456 FF 123456")), 0x6A80);
    assert_eq!(swb(&mut card, &hex(CHANGE_TO_654321)), 0x9000);
    assert_eq!(swb(&mut card, &hex("00B0950001")), 0x9000);
    assert_eq!(swb(&mut card, &hex("805E0100 07 654321 FF 123456")), 0x6A80);
    // After a reset the new PIN verifies and transacts; the old one is wrong.
    card.warm_reset();
    swb(&mut card, &hex(SELECT_SSSE_FID));
    assert_eq!(swb(&mut card, &hex("00B0950001")), 0x6982);
    assert_eq!(swb(&mut card, &hex("00200000 03 123456")), 0x63C5);
    assert_eq!(swb(&mut card, &hex("00200000 03 654321")), 0x9000);
    assert_eq!(pin_tries(&mut card), 0x9000, "verified");
    assert_eq!(swb(&mut card, &hex("00B0950001")), 0x9000);
}

#[test]
fn change_pin_refuses_a_wrong_old_pin_and_bad_formats() {
    let mut card = issued();
    assert_eq!(swb(&mut card, &hex("805E0100 07 111111 FF 654321")), 0x63C5);
    assert_eq!(
        swb(&mut card, &hex("805E0100 06 123456 654321")),
        0x6A80,
        "no FF"
    );
    assert_eq!(swb(&mut card, &hex("805E0100 06 123456 FF 65")), 0x6700);
    assert_eq!(swb(&mut card, &hex("805E0000 07 123456 FF 654321")), 0x6A86);
    assert_eq!(pin_tries(&mut card), 0x63C5);
    // ISO CHANGE REFERENCE DATA: old (the stored length) then new; 4 to 16 digits.
    assert_eq!(swb(&mut card, &hex("00240000 05 111111 7654")), 0x63C4);
    assert_eq!(
        swb(&mut card, &hex("00240000 09 123456 1234567890FF")),
        0x9000
    );
    assert_eq!(swb(&mut card, &hex("00200000 05 1234567890")), 0x9000);
    assert_eq!(swb(&mut card, &hex("00B0950001")), 0x9000);
    assert_eq!(pin_tries(&mut card), 0x9000);
}

#[test]
fn the_pin_is_card_global_and_survives_selecting_another_df_but_not_a_reset() {
    let mut card = issued();
    assert_eq!(swb(&mut card, &hex(CHANGE_TO_654321)), 0x9000);
    assert_eq!(swb(&mut card, &hex(SELECT_DF01)), 0x9000);
    assert_eq!(pin_tries(&mut card), 0x9000, "still verified in DF01");
    assert_eq!(swb(&mut card, &hex(SELECT_SSSE_FID)), 0x9000);
    assert_eq!(swb(&mut card, &hex("00B0950001")), 0x9000);
    card.warm_reset();
    swb(&mut card, &hex(SELECT_DF01));
    assert_eq!(pin_tries(&mut card), 0x63C6);
    // VERIFY from DF01 reaches the PIN under SSSE.
    assert_eq!(swb(&mut card, &hex("00200000 03 654321")), 0x9000);
}

fn block_pin<S: card_os::Storage>(card: &mut Card<S>) {
    for _ in 0..PIN_TRIES {
        swb(card, &hex("00200000 03 999999"));
    }
    assert_eq!(pin_tries(card), 0x6983);
}

#[test]
fn pin_unblock_needs_the_unblock_key_and_a_fresh_mac() {
    let mut card = issued();
    block_pin(&mut card);
    let header = [0x84, 0x24, 0x00, UNBLOCK];
    assert_eq!(
        send_with_bad_mac(&mut card, UNBLOCK, header, &[]),
        0x6988,
        "wrong MAC"
    );
    // The reload key is not an unblock key; a MAC by another key is wrong.
    assert_eq!(
        send_with_mac(&mut card, RELOAD, [0x84, 0x24, 0x00, RELOAD], &[]),
        0x6A88
    );
    assert_eq!(send_with_mac(&mut card, MAC, header, &[]), 0x6988);
    // No challenge: refused; a replayed challenge: refused.
    let challenge = challenge(&mut card);
    let apdu = with_mac(UNBLOCK, &challenge, header, &[]);
    assert_eq!(
        swb(&mut card, &hex("00A4000C02DDF1")),
        0x9000,
        "another command"
    );
    assert_eq!(swb(&mut card, &apdu), 0x6985, "challenge gone");
    let challenge = self::challenge(&mut card);
    let apdu = with_mac(UNBLOCK, &challenge, header, &[]);
    assert_eq!(swb(&mut card, &apdu), 0x9000);
    assert_eq!(swb(&mut card, &apdu), 0x6985, "replayed");
    assert_eq!(pin_tries(&mut card), 0x63C6);
    // Without the MAC class: 6987.
    assert_eq!(swb(&mut card, &hex("80240001 00")), 0x6A86);
    assert_eq!(swb(&mut card, &hex("802C0003 07 654321 00000000")), 0x6987);
}

#[test]
fn the_unblock_key_blocks_after_its_error_limit() {
    let mut card = issued();
    let header = [0x84, 0x24, 0x00, UNBLOCK];
    for _ in 0..KEY_LIMIT {
        assert_eq!(send_with_bad_mac(&mut card, UNBLOCK, header, &[]), 0x6988);
    }
    assert_eq!(
        send_with_mac(&mut card, UNBLOCK, header, &[]),
        0x6983,
        "key blocked"
    );
}

#[test]
fn pin_reload_sets_a_new_pin_with_its_tries() {
    let mut card = issued();
    block_pin(&mut card);
    let header = [0x84, 0x2C, 0x00, RELOAD];
    let pin = hex("778899");
    assert_eq!(send_with_bad_mac(&mut card, RELOAD, header, &pin), 0x6988);
    assert_eq!(
        send_with_mac(&mut card, UNBLOCK, [0x84, 0x2C, 0x00, UNBLOCK], &pin),
        0x6A88
    );
    assert_eq!(send_with_mac(&mut card, RELOAD, header, &hex("77")), 0x6700);
    assert_eq!(pin_tries(&mut card), 0x6983);
    assert_eq!(send_with_mac(&mut card, RELOAD, header, &pin), 0x9000);
    assert_eq!(pin_tries(&mut card), 0x63C6);
    assert_eq!(swb(&mut card, &hex("00200000 03 778899")), 0x9000);
    assert_eq!(
        swb(&mut card, &hex("00B0950001")),
        0x9000,
        "a reloaded PIN transacts"
    );
}

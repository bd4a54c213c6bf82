//! GET CHALLENGE, EXTERNAL / INTERNAL AUTHENTICATE, access rules, secure messaging, and secrets
//! kept out of `Debug` output.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::secured::*;
use common::{hex, send};

use card_os::crypto::{external_cryptogram, internal_authenticate, Pin};
use card_os::Card;

#[test]
fn challenges_never_repeat_even_across_power_cycles() {
    let mut storage = issued_storage();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let mut card = Card::power_on(&mut *storage).unwrap();
        for _ in 0..4 {
            let c = challenge(&mut card);
            assert_eq!(c.len(), 8);
            assert!(!seen.contains(&c));
            seen.push(c);
        }
        assert_eq!(send(&mut card, "0084000004").0.len(), 4);
        assert_eq!(swb(&mut card, &hex("0084000005")), 0x6700);
        assert_eq!(swb(&mut card, &hex("00840000")), 0x6700);
        assert_eq!(swb(&mut card, &hex("0084010008")), 0x6A86);
    }
}

#[test]
fn external_authenticate_with_each_algorithm_opens_key_rules() {
    for id in [EXTERNAL, EXTERNAL_SM4, EXTERNAL_AES] {
        let mut card = issued();
        assert_eq!(external(&mut card, id), 0x9000, "key {id:02X}");
        assert!(card.volatile().security.authenticated_keys.contains(id));
    }
    let mut card = issued();
    // EF21 update: PIN or key 04.
    assert_eq!(swb(&mut card, &hex("00D6950001AA")), 0x6982);
    assert_eq!(external(&mut card, EXTERNAL), 0x9000);
    assert_eq!(swb(&mut card, &hex("00D6950001AA")), 0x9000);
}

#[test]
fn external_authenticate_refuses_wrong_cryptogram_key_and_replay() {
    let mut card = issued();
    // Wrong cryptogram (computed with another key): a try spent.
    assert_eq!(external_with(&mut card, EXTERNAL, MAC), 0x63C2);
    // Wrong key id: no such key, or a key of another usage.
    assert_eq!(external(&mut card, 0x77), 0x6A88);
    assert_eq!(external(&mut card, INTERNAL), 0x6A88);
    // No challenge.
    assert_eq!(swb(&mut card, &hex("00820004 08 0102030405060708")), 0x6985);
    // Replayed challenge: the answer to a challenge works once.
    let c = challenge(&mut card);
    let cryptogram = external_cryptogram(&key(EXTERNAL), &c).unwrap();
    let mut apdu = hex("00820004 08");
    apdu.extend_from_slice(cryptogram.as_bytes());
    assert_eq!(swb(&mut card, &apdu), 0x9000);
    assert_eq!(swb(&mut card, &apdu), 0x6985);
    // Wrong length and parameters.
    challenge(&mut card);
    assert_eq!(swb(&mut card, &hex("00820004 04 01020304")), 0x6700);
    assert_eq!(swb(&mut card, &hex("00820000 08 0102030405060708")), 0x6A86);
    assert!(!card.volatile().security.authenticated_keys.contains(0x77));
}

#[test]
fn a_key_blocks_after_its_error_limit_and_the_right_cryptogram_restores_tries() {
    let mut card = issued();
    assert_eq!(external_with(&mut card, EXTERNAL, MAC), 0x63C2);
    assert_eq!(external(&mut card, EXTERNAL), 0x9000);
    assert_eq!(
        external_with(&mut card, EXTERNAL, MAC),
        0x63C2,
        "tries restored"
    );
    assert_eq!(external_with(&mut card, EXTERNAL, MAC), 0x63C1);
    assert_eq!(external_with(&mut card, EXTERNAL, MAC), 0x63C0);
    assert_eq!(external(&mut card, EXTERNAL), 0x6983, "blocked key");
    let storage = card.into_storage();
    let mut card = Card::power_on(storage).unwrap();
    swb(&mut card, &hex(SELECT_SSSE_FID));
    assert_eq!(external(&mut card, EXTERNAL), 0x6983, "still blocked");
}

#[test]
fn key_authentication_is_forgotten_when_another_df_is_selected() {
    let mut card = issued();
    assert_eq!(external(&mut card, EXTERNAL), 0x9000);
    assert_eq!(swb(&mut card, &hex(SELECT_SSSE_FID)), 0x9000, "same DF");
    assert_eq!(swb(&mut card, &hex("00D6950001AA")), 0x9000);
    assert_eq!(swb(&mut card, &hex(SELECT_DF01)), 0x9000);
    assert!(!card
        .volatile()
        .security
        .authenticated_keys
        .contains(EXTERNAL));
    // DF01's own key, then back to SSSE: gone again.
    assert_eq!(external(&mut card, DF01_EXTERNAL), 0x9000);
    assert_eq!(
        external(&mut card, EXTERNAL),
        0x6A88,
        "SSSE's key is not DF01's"
    );
    swb(&mut card, &hex(SELECT_SSSE_FID));
    assert_eq!(swb(&mut card, &hex("00D6950001AA")), 0x6982);
}

#[test]
fn internal_authenticate_answers_the_cryptogram_of_the_card_key() {
    let mut card = issued();
    let (data, status) = send(&mut card, "00880001 08 0102030405060708 00");
    assert_eq!(status, 0x9000);
    assert_eq!(
        data,
        internal_authenticate(&key(INTERNAL), &hex("0102030405060708"))
            .unwrap()
            .as_bytes()
    );
    assert_eq!(
        swb(&mut card, &hex("00880004 08 0102030405060708 00")),
        0x6A88
    );
    assert_eq!(
        swb(&mut card, &hex("00880009 08 0102030405060708 00")),
        0x6A88
    );
    assert_eq!(
        swb(
            &mut card,
            &hex("00880001 11 0102030405060708090A0B0C0D0E0F1011 00")
        ),
        0x6700
    );
}

#[test]
fn access_rules_of_every_kind() {
    let mut card = issued();
    // EF20: read free, update key 04 + MAC, append never, admin never.
    assert_eq!(swb(&mut card, &hex("00B0940001")), 0x9000);
    assert_eq!(swb(&mut card, &hex("00D6940001AA")), 0x6982);
    assert_eq!(swb(&mut card, &hex("00A4000C02EF20")), 0x9000);
    assert_eq!(swb(&mut card, &hex("0044000000")), 0x6982, "admin never");
    assert_eq!(swb(&mut card, &hex("0004000000")), 0x6982);
    // EF22: read PIN and key 04, update MAC only.
    swb(&mut card, &hex(SELECT_SSSE_FID));
    assert_eq!(swb(&mut card, &hex("00B0960001")), 0x6982);
    assert_eq!(external(&mut card, EXTERNAL), 0x9000);
    assert_eq!(
        swb(&mut card, &hex("00B0960001")),
        0x6982,
        "key without PIN"
    );
    assert_eq!(swb(&mut card, &hex("805E0100 07 123456 FF 654321")), 0x9000);
    assert_eq!(swb(&mut card, &hex("00B0960001")), 0x9000, "PIN and key");
    assert_eq!(swb(&mut card, &hex("00D6960001AA")), 0x6987, "MAC missing");
    assert_eq!(
        send_with_mac(&mut card, MAC, [0x04, 0xD6, 0x96, 0x00], &[0xAA]),
        0x9000
    );
    // EF21: read PIN, update PIN or key.
    card.warm_reset();
    swb(&mut card, &hex(SELECT_SSSE_FID));
    assert_eq!(swb(&mut card, &hex("00B0950001")), 0x6982);
    assert_eq!(swb(&mut card, &hex("00D6950001AA")), 0x6982);
    assert_eq!(swb(&mut card, &hex("00200000 03 654321")), 0x9000);
    assert_eq!(swb(&mut card, &hex("00B0950001")), 0x9000);
    assert_eq!(swb(&mut card, &hex("00D6950001AA")), 0x9000);
}

#[test]
fn secure_messaging_writes_happen_only_with_the_right_mac() {
    let mut card = issued();
    assert_eq!(external(&mut card, EXTERNAL), 0x9000);
    let header = [0x04, 0xD6, 0x94, 0x00];
    assert_eq!(swb(&mut card, &hex("00D6940003 313233")), 0x6987, "no MAC");
    assert_eq!(send_with_bad_mac(&mut card, MAC, header, b"123"), 0x6988);
    assert_eq!(
        send(&mut card, "00B0940003").0,
        vec![0, 0, 0],
        "nothing written"
    );
    // A MAC by another key, or over other data, is wrong.
    assert_eq!(send_with_mac(&mut card, EXTERNAL, header, b"123"), 0x6988);
    // A right MAC gives the MAC key its tries back.
    assert_eq!(send_with_mac(&mut card, MAC, header, b"000"), 0x9000);
    let c = challenge(&mut card);
    let mut apdu = with_mac(MAC, &c, header, b"123");
    apdu[6] = b'X';
    assert_eq!(swb(&mut card, &apdu), 0x6988);
    // Replay of a good command: its challenge is gone.
    let c = challenge(&mut card);
    let apdu = with_mac(MAC, &c, header, b"123");
    assert_eq!(swb(&mut card, &apdu), 0x9000);
    assert_eq!(send(&mut card, "00B0940003").0, b"123".to_vec());
    assert_eq!(swb(&mut card, &apdu), 0x6985, "replayed");
    // A MAC'd class on a file without the MAC rule: checked anyway.
    assert_eq!(
        send_with_bad_mac(&mut card, MAC, [0x04, 0xD6, 0x95, 0x00], b"1"),
        0x6988
    );
    assert_eq!(
        send_with_mac(&mut card, MAC, [0x04, 0xD6, 0x95, 0x00], b"1"),
        0x9000
    );
    // ISO secure messaging classes are not supported.
    assert_eq!(swb(&mut card, &hex("08B0A00001")), 0x6882);
}

#[test]
fn the_mac_key_blocks_after_its_error_limit() {
    let mut card = issued();
    let header = [0x04, 0xD6, 0x95, 0x00];
    for _ in 0..KEY_LIMIT {
        assert_eq!(send_with_bad_mac(&mut card, MAC, header, b"1"), 0x6988);
    }
    assert_eq!(send_with_mac(&mut card, MAC, header, b"1"), 0x6983);
}

#[test]
fn pins_keys_and_session_keys_never_show_in_debug_output() {
    let secret = key(EXTERNAL);
    let session = card_os::crypto::session_key(&secret, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    let pin = Pin::from_ascii(b"975312").unwrap();
    let hex_of = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02X}")).collect::<String>();
    for (debug, bytes) in [
        (
            format!("{secret:?} {secret}"),
            secret.expose_bytes().to_vec(),
        ),
        (format!("{session:?}"), session.expose_bytes().to_vec()),
        (format!("{pin:?} {pin}"), pin.as_bcd().to_vec()),
    ] {
        assert!(debug.contains("redacted"), "{debug}");
        assert!(
            !debug.to_uppercase().contains(&hex_of(&bytes[..3])),
            "{debug}"
        );
        assert!(!debug.contains(&format!("{:?}", &bytes[..3])), "{debug}");
    }
    assert!(!format!("{pin:?}").contains("975312"));
    // The card's RAM state shows no secret after a PIN verification and an authentication.
    let mut card = issued();
    swb(&mut card, &hex("805E0100 07 123456 FF 975312"));
    external(&mut card, EXTERNAL);
    let state = format!("{:?}", card.volatile());
    assert!(
        !state.contains("975312") && !state.contains("151"),
        "{state}"
    );
    let key_hex = hex_of(key(EXTERNAL).expose_bytes());
    assert!(!state.to_uppercase().contains(&key_hex[..8]));
}

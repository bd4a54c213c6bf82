//! Known answers of the medical purse's MAC rules (docs/settlement.md, "Known answers"). No
//! public vectors exist: these are this project's own, computed by `card_os::crypto::purse` from
//! the rules and frozen here so that any change to the rules shows.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use card_os::crypto::purse::{
    load_session_input, purchase_session_input, session_key, Load, Purchase, Settings,
};
use card_os::crypto::{Algorithm, SecretKey};
use hex_literal::hex;

const DPK: [u8; 16] = hex!("404142434445464748494A4B4C4D4E4F");
const DLK: [u8; 16] = hex!("505152535455565758595A5B5C5D5E5F");
const DTK: [u8; 16] = hex!("606162636465666768696A6B6C6D6E6F");

fn answers(algorithm: Algorithm) -> [String; 6] {
    let key = |b| SecretKey::new(algorithm, b);
    let s = Settings::default();
    let purchase = Purchase {
        amounts: hex!("000004E2 0000012C 000002BC"),
        terminal_no: hex!("330300000001"),
        terminal_serial: hex!("00001234"),
        time: hex!("20260315103000"),
    };
    let sespk = session_key(
        &key(DPK),
        &purchase_session_input(&hex!("A1B2C3D4"), 7, &purchase.terminal_serial),
    )
    .unwrap();
    let load = Load {
        balance: 100_000,
        amount: 5_000,
        serial: 3,
        terminal_no: hex!("330300000001"),
    };
    let seslk = session_key(&key(DLK), &load_session_input(&hex!("01020304"), 3)).unwrap();
    let h = |b: [u8; 4]| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
    [
        h(purchase.mac1(&sespk, s).unwrap()),
        h(purchase.mac2(&sespk, s).unwrap()),
        h(purchase.tac(&key(DTK), s).unwrap()),
        h(load.mac1(&seslk, s).unwrap()),
        h(load.mac2(&seslk, s, &purchase.time).unwrap()),
        h(load.tac(&key(DTK), s, &purchase.time).unwrap()),
    ]
}

#[test]
fn des_known_answers() {
    let got = answers(Algorithm::Des3);
    assert_eq!(got, DES_ANSWERS.map(String::from));
}

#[test]
fn sm4_known_answers() {
    let got = answers(Algorithm::Sm4);
    assert_eq!(got, SM4_ANSWERS.map(String::from));
}

/// MAC1, MAC2, TAC of the purchase; MAC1, MAC2, TAC of the load.
const DES_ANSWERS: [&str; 6] = [
    "4163D023", "3EC053D5", "35E80482", "78118970", "F45EC0F5", "16559A33",
];
const SM4_ANSWERS: [&str; 6] = [
    "7EB769BB", "9B280C6A", "AFF5F66B", "A1E2EDA1", "9B6C9A19", "CF54AA02",
];

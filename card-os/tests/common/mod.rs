//! Shared by the integration tests: a demo card in a box and hex helpers.
#![allow(dead_code)]

use card_os::testing::{demo_card, exchange};
use card_os::{Card, RamStorage, Status};

pub type Storage = RamStorage<65536>;

pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn demo_storage() -> Box<Storage> {
    let mut storage = Box::new(Storage::new());
    demo_card(&mut *storage).unwrap();
    storage
}

/// A powered demo card (its storage leaked: tests are short-lived).
pub fn demo() -> Card<&'static mut Storage> {
    Card::power_on(Box::leak(demo_storage())).unwrap()
}

pub const SELECT_SSSE: &str = "00A404000F 7378312E73682EC9E7BBE1B1A3D5CF";

/// Sends hex, returns (data, SW).
pub fn send<S: card_os::Storage>(card: &mut Card<S>, apdu: &str) -> (Vec<u8>, u16) {
    let r = exchange(card, &hex(apdu));
    (r.data().to_vec(), r.status().to_u16())
}

pub fn sw<S: card_os::Storage>(card: &mut Card<S>, apdu: &str) -> u16 {
    send(card, apdu).1
}

pub fn status<S: card_os::Storage>(card: &mut Card<S>, apdu: &str) -> Status {
    Status::from_u16(sw(card, apdu))
}
pub mod purse;
pub mod secured;

//! Shared by the integration tests: a demo card in a box, hex helpers, and the snapshot of a card's
//! state that the power-cut tests compare.
#![allow(dead_code)]

use card_os::memory_map::{FILE_TABLE_OFFSET, HDR_ALLOC, HEADER_SIZE};
use card_os::testing::{demo_card, exchange, TearingStorage};
use card_os::{Card, RamStorage, Status};

pub type Storage = RamStorage<65536>;

pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// What a card holds, without the journal and the free space past the allocation pointer: two
/// cards in the same state have the same snapshot whatever their journals went through.
pub fn snapshot(storage: &Storage) -> Vec<u8> {
    let bytes = storage.as_bytes();
    let alloc_at = HDR_ALLOC as usize;
    let alloc = u32::from_be_bytes(bytes[alloc_at..alloc_at + 4].try_into().unwrap()) as usize;
    let mut state = bytes[..HEADER_SIZE as usize].to_vec();
    state.extend_from_slice(&bytes[FILE_TABLE_OFFSET as usize..alloc]);
    state
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

/// After a cut: power back, cut again during the recovery (after one write, torn if `tear`), then
/// power back for good and check the card powers on.
pub fn recover_through_second_cut(
    tearing: &mut card_os::testing::TearingStorage<&mut Storage>,
    tear: bool,
) {
    tearing.restore_power();
    tearing.cut_after(1, tear);
    let _ = Card::power_on(&mut *tearing);
    tearing.restore_power();
    assert!(Card::power_on(&mut *tearing).is_ok());
}

/// Every power cut of one command that makes `writes` writes: for each cut point, torn and not, on
/// a fresh copy of `base`, `command` (on the powered card) sends what has to come first and gives
/// the command; power is cut after `cut` of its writes, recovery is cut too
/// ([`recover_through_second_cut`]), and `check` gets the command's status, the re-powered card's
/// [`snapshot`], `cut` and `tear`.
pub fn cut_at_every_write(
    base: &Storage,
    writes: usize,
    mut command: impl FnMut(&mut Card<&mut TearingStorage<&mut Storage>>) -> Vec<u8>,
    mut check: impl FnMut(Status, Vec<u8>, usize, bool),
) {
    for cut in 0..writes {
        for tear in [false, true] {
            let mut storage = Box::new(base.clone());
            let mut tearing = TearingStorage::new(&mut *storage);
            let status = {
                let mut card = Card::power_on(&mut tearing).unwrap();
                let apdu = command(&mut card);
                card.storage_mut().cut_after(cut, tear);
                exchange(&mut card, &apdu).status()
            };
            recover_through_second_cut(&mut tearing, tear);
            check(status, snapshot(&storage), cut, tear);
        }
    }
}

//! Per-EF integrity (docs/card-os.md, "Integrity"): a CRC-32 of every EF kept beside its
//! descriptor, updated with every write, checked on every read, reported by GET DATA DF7F.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use card_os::fs::integrity::{D_INTEGRITY, INTEGRITY_MARKER};
use card_os::fs::Descriptor;
use card_os::memory_map::MAX_FILES;
use card_os::testing::TearingStorage;
use card_os::{Card, Storage as _};
use common::*;

/// SELECT SSSE by name, no FCI.
const SELECT_SSSE: &str = "00A4040C0F 7378312E73682EC9E7BBE1B1A3D5CF";
const INTEGRITY_REPORT: &str = "00CADF7F00";
const READ_EF06_REC2: &str = "00B2023400";
const READ_EF05_REC1: &str = "00B2012C00";

/// Descriptor index and descriptor of the EF with `fid` (the demo card's FIDs are unique).
fn find_ef<S: card_os::Storage>(storage: &S, fid: u16) -> (u8, Descriptor) {
    (0..MAX_FILES as u8)
        .filter_map(|i| Descriptor::read(storage, i).ok().map(|d| (i, d)))
        .find(|(_, d)| d.fid == fid)
        .expect("the demo card has the file")
}

/// Flips one bit of `fid`'s content directly in memory, as worn memory would.
fn corrupt(storage: &mut Storage, fid: u16) {
    let (_, file) = find_ef(&*storage, fid);
    let mut byte = [0u8];
    storage.read(file.data_offset + 3, &mut byte).unwrap();
    storage
        .write(file.data_offset + 3, &[byte[0] ^ 0x04])
        .unwrap();
}

/// GET DATA DF7F as (FID, status) pairs.
fn report<S: card_os::Storage>(card: &mut Card<S>) -> Vec<(u16, u8)> {
    let (data, sw) = send(card, INTEGRITY_REPORT);
    assert_eq!(sw, 0x9000);
    data.chunks(3)
        .map(|c| (u16::from_be_bytes([c[0], c[1]]), c[2]))
        .collect()
}

#[test]
fn a_healthy_card_reports_every_ef_of_the_df_intact() {
    let mut card = demo();
    assert_eq!(sw(&mut card, SELECT_SSSE), 0x9000);
    assert_eq!(
        report(&mut card),
        [(0xEF05, 0), (0xEF06, 0), (0xEF07, 0), (0xEF08, 0)]
    );
}

#[test]
fn memory_changed_behind_the_card_answers_6581_on_read_and_shows_in_the_report() {
    let mut storage = demo_storage();
    corrupt(&mut storage, 0xEF06);
    let mut card = Card::power_on(&mut *storage).unwrap();
    assert_eq!(sw(&mut card, SELECT_SSSE), 0x9000);
    assert_eq!(sw(&mut card, READ_EF06_REC2), 0x6581);
    // Another file of the same DF still reads.
    assert_eq!(sw(&mut card, READ_EF05_REC1), 0x9000);
    assert!(report(&mut card).contains(&(0xEF06, 1)));
    assert!(report(&mut card).contains(&(0xEF05, 0)));
}

#[test]
fn transparent_files_are_checked_too() {
    let mut storage = demo_storage();
    corrupt(&mut storage, 0xEF07);
    let mut card = Card::power_on(&mut *storage).unwrap();
    assert_eq!(sw(&mut card, SELECT_SSSE), 0x9000);
    // READ BINARY SFI 7, offset 0.
    assert_eq!(sw(&mut card, "00B0870010"), 0x6581);
    assert!(report(&mut card).contains(&(0xEF07, 1)));
}

#[test]
fn writes_through_the_card_keep_the_file_intact() {
    let mut card = demo();
    assert_eq!(sw(&mut card, SELECT_SSSE), 0x9000);
    // UPDATE RECORD of EF06 tag 0A (gender), APPEND to DF04's cyclic file, UPDATE BINARY of EF07.
    assert_eq!(sw(&mut card, "00DC0A3003 0A0132"), 0x9000);
    assert_eq!(sw(&mut card, "00D6870004 01020304"), 0x9000);
    assert_eq!(
        send(&mut card, "00B2 0A 30 00"),
        (vec![0x0A, 0x01, b'2'], 0x9000)
    );
    assert_eq!(send(&mut card, "00B0870004").0, [1, 2, 3, 4]);
    assert!(report(&mut card).iter().all(|&(_, status)| status == 0));
}

#[test]
fn a_write_to_a_damaged_file_does_not_hide_the_damage() {
    let mut storage = demo_storage();
    corrupt(&mut storage, 0xEF06);
    let mut card = Card::power_on(&mut *storage).unwrap();
    assert_eq!(sw(&mut card, SELECT_SSSE), 0x9000);
    // The write itself succeeds (writes do not read the file first)...
    assert_eq!(sw(&mut card, "00DC0A3003 0A0132"), 0x9000);
    // ...but the CRC was carried along from the damaged content, so the damage still shows.
    assert_eq!(sw(&mut card, READ_EF06_REC2), 0x6581);
    assert!(report(&mut card).contains(&(0xEF06, 1)));
}

#[test]
fn a_file_without_a_checksum_is_reported_unprotected_and_still_reads() {
    let mut storage = demo_storage();
    let (index, _) = find_ef(&*storage, 0xEF06);
    let at = card_os::fs::descriptor::descriptor_offset(index) + D_INTEGRITY;
    let mut marker = [0u8];
    storage.read(at, &mut marker).unwrap();
    assert_eq!(marker[0], INTEGRITY_MARKER);
    storage.write(at, &[0]).unwrap();
    let mut card = Card::power_on(&mut *storage).unwrap();
    assert_eq!(sw(&mut card, SELECT_SSSE), 0x9000);
    assert_eq!(sw(&mut card, READ_EF06_REC2), 0x9000);
    assert!(report(&mut card).contains(&(0xEF06, 2)));
}

#[test]
fn a_power_cut_at_any_write_of_an_update_leaves_the_file_intact_after_recovery() {
    for cut in 0..12 {
        for tear in [false, true] {
            let mut storage = TearingStorage::new(*demo_storage());
            {
                let mut card = Card::power_on(&mut storage).unwrap();
                assert_eq!(sw(&mut card, SELECT_SSSE), 0x9000);
                card.storage_mut().cut_after(cut, tear);
                send(&mut card, "00DC0A3003 0A0132");
            }
            storage.restore_power();
            let mut card = Card::power_on(&mut storage).unwrap();
            assert_eq!(sw(&mut card, SELECT_SSSE), 0x9000);
            let (data, status) = send(&mut card, "00B20A3000");
            assert_eq!(status, 0x9000, "cut after {cut} writes (tear {tear})");
            assert!(data == [0x0A, 0x01, b'1'] || data == [0x0A, 0x01, b'2']);
            assert!(report(&mut card).iter().all(|&(_, s)| s == 0));
        }
    }
}

//! Power cuts during every state-changing command: after re-powering, the card holds exactly the
//! old or exactly the new state, whichever write the cut hit and even when recovery is cut too.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::*;

use card_os::testing::{exchange, TearingStorage};
use card_os::{Card, Status, Storage as _};

fn run(storage: &mut Storage, select: &[&str], command: &str) -> Status {
    let mut card = Card::power_on(storage).unwrap();
    for apdu in select {
        exchange(&mut card, &hex(apdu));
    }
    exchange(&mut card, &hex(command)).status()
}

/// Cuts power after every possible number of writes of `command` (run after `select`, on the
/// demo card changed by `prepare`), with and without a torn last write, then checks the
/// re-powered card.
fn check_atomic(prepare: &[&str], select: &[&str], command: &str) {
    let mut base = demo_storage();
    run_all(&mut base, prepare);
    let old = snapshot(&base);
    let select_then_command = |card: &mut Card<&mut TearingStorage<&mut Storage>>| {
        for apdu in select {
            exchange(card, &hex(apdu));
        }
        hex(command)
    };
    let mut done = base.clone();
    let mut counter = TearingStorage::new(&mut *done);
    let writes = {
        let mut card = Card::power_on(&mut counter).unwrap();
        let apdu = select_then_command(&mut card);
        let before = card.storage().writes();
        assert_eq!(
            exchange(&mut card, &apdu).status(),
            Status::Success,
            "{command}"
        );
        card.storage().writes() - before
    };
    assert!(writes > 0);
    let new = snapshot(&done);
    assert_ne!(old, new, "{command} changed nothing");
    cut_at_every_write(
        &base,
        writes,
        select_then_command,
        |status, state, cut, tear| {
            assert_eq!(
                status,
                Status::MemoryFailure,
                "{command}: cut after {cut} writes"
            );
            assert!(
                state == old || state == new,
                "{command}: cut after {cut} writes (tear {tear}) left a mixed state"
            );
        },
    );
}

fn run_all(storage: &mut Storage, apdus: &[&str]) {
    let mut card = Card::power_on(storage).unwrap();
    for apdu in apdus {
        exchange(&mut card, &hex(apdu));
    }
}

const SSSE: &str = "00A4000C02DDF1";

#[test]
fn update_binary_is_atomic() {
    check_atomic(&[], &[SSSE], &format!("00D6870080{}", "A5".repeat(128)));
}

#[test]
fn update_record_is_atomic() {
    check_atomic(&[], &[SSSE], "00DC0930 07 09054142434445");
    check_atomic(
        &[],
        &[SSSE],
        &format!("00DC0134 22 0820{}", "31".repeat(32)),
    );
}

#[test]
fn append_record_is_atomic_linear_and_cyclic() {
    check_atomic(&[], &["00A4000C02DF01"], "00E20028 05 2003414243");
    let first = format!("00E2004010{}", "11".repeat(16));
    check_atomic(
        &["00A4000C02DF04", &first],
        &["00A4000C02DF04"],
        &format!("00E2004010{}", "22".repeat(16)),
    );
}

#[test]
fn create_file_is_atomic() {
    check_atomic(&[], &[SSSE], "00E000001062 0E820101830201018002 0100880150");
    check_atomic(
        &[],
        &["00A4000C023F00"],
        "00E000000E620C8201388302DF0784035A5A5A",
    );
}

#[test]
fn delete_file_is_atomic() {
    check_atomic(&[], &[], "00E4000002DF01");
    check_atomic(&[], &[SSSE], "00E4000002EF08");
}

#[test]
fn a_write_that_does_not_fit_leaves_the_old_content() {
    let mut storage = demo_storage();
    let old = snapshot(&storage);
    assert_eq!(
        run(
            &mut storage,
            &[SSSE, "00A4000C02EF07"],
            &format!("00D603F0 20{}", "EE".repeat(32))
        ),
        Status::NotEnoughMemory
    );
    assert_eq!(snapshot(&storage), old);
    // And a storage that refuses writes answers 6581 without changing anything.
    let mut tearing = TearingStorage::new(&mut *storage);
    tearing.cut_after(0, false);
    let mut card = Card::power_on(&mut tearing).unwrap();
    exchange(&mut card, &hex(SSSE));
    assert_eq!(
        exchange(&mut card, &hex("00D6870001AA")).status(),
        Status::MemoryFailure
    );
    let _ = tearing.capacity();
    assert_eq!(snapshot(&storage), old);
}

//! The purse's two mutants (card-os/src/mutants.rs) are caught: a DEBIT that takes any MAC1 and
//! a DEBIT that writes no record each fail a check that the correct card passes. One test: the
//! mutant switch is global to the process.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::purse::*;
use common::send;

use card_os::crypto::purse::Settings;
use card_os::crypto::Algorithm;
use card_os::mutants::{self, Mutant};
use card_os::testing::exchange;

/// Whether a DEBIT with a wrong MAC1 is refused with 9302 and leaves the balance alone.
fn refuses_a_wrong_mac1() -> bool {
    let mut storage = purse_storage();
    let mut card = purse_card(&mut storage, Algorithm::Des3);
    let a = amounts(500, 0, 0);
    let answer = exchange(&mut card, &init_purchase(DPK, &a));
    let init = purchase_init(answer.data(), a, TIME);
    let mut debit = init.debit(Algorithm::Des3, Settings::default());
    let n = debit.len();
    debit[n - 2] ^= 0x40;
    let sw = exchange(&mut card, &debit).status().to_u16();
    let (balance, _) = send(&mut card, "B0260001 04");
    sw == 0x9302 && balance == STARTING_BALANCE.to_be_bytes()
}

/// Whether a DEBIT appends its record to EF08.
fn logs_the_debit() -> bool {
    let mut storage = purse_storage();
    let mut card = purse_card(&mut storage, Algorithm::Sm4);
    let a = amounts(500, 0, 0);
    let answer = exchange(&mut card, &init_purchase(DPK, &a));
    let init = purchase_init(answer.data(), a, TIME);
    let sw = exchange(&mut card, &init.debit(Algorithm::Sm4, Settings::default()))
        .status()
        .to_u16();
    let (record, record_sw) = send(&mut card, "00B20144 1C");
    sw == 0x9000 && record_sw == 0x9000 && record[..3] == [0, 0, b'2']
}

#[test]
fn each_purse_mutant_is_caught_and_the_correct_card_passes() {
    mutants::set(None);
    assert!(refuses_a_wrong_mac1());
    assert!(logs_the_debit());
    mutants::set(Some(Mutant::DebitSkipsMac1));
    let caught_mac = !refuses_a_wrong_mac1();
    mutants::set(Some(Mutant::DebitWithoutRecord));
    let caught_record = !logs_the_debit();
    mutants::set(None);
    assert!(caught_mac, "a DEBIT that skips MAC1 went unnoticed");
    assert!(caught_record, "a DEBIT without its record went unnoticed");
}

//! Power cuts at every write of DEBIT FOR PURCHASE and CREDIT FOR LOAD (torn or not, and again
//! during the recovery): afterwards GET TRANSACTION PROOF tells what happened, and the card holds
//! either the old balance with no record and no proof (`9406`) or the new balance with its record
//! and its proof — never a half.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::purse::*;
use common::{send, Storage};

use card_os::crypto::purse::Settings;
use card_os::crypto::Algorithm;
use card_os::testing::{exchange, TearingStorage};
use card_os::Card;

/// What the card must hold after the transaction, if it happened.
struct Outcome {
    balance: u32,
    record: Vec<u8>,
    proof_query: String,
    proof: Vec<u8>,
}

type Card2<'a, 'b> = Card<&'a mut TearingStorage<&'b mut Storage>>;

/// Runs INITIALIZE on the card and returns the CREDIT or DEBIT to cut, and what it must do.
type Build = fn(&mut Card2<'_, '_>, Algorithm) -> (Vec<u8>, Outcome);

fn debit(card: &mut Card2<'_, '_>, algorithm: Algorithm) -> (Vec<u8>, Outcome) {
    ready(card, algorithm);
    let a = amounts(2_500, 100, 400);
    let answer = exchange(card, &init_purchase(DPK, &a));
    let init = purchase_init(answer.data(), a, TIME);
    let expected = init.expected_answer(algorithm, Settings::default());
    let mut record = vec![0, 0, b'2'];
    record.extend_from_slice(&TERMINAL_NO);
    record.extend_from_slice(&TIME);
    record.extend_from_slice(&a);
    (
        init.debit(algorithm, Settings::default()),
        Outcome {
            balance: STARTING_BALANCE - 2_500,
            record,
            proof_query: "B02E0002 02 0000 08".into(),
            proof: [&expected[4..], &expected[..4]].concat(),
        },
    )
}

fn credit(card: &mut Card2<'_, '_>, algorithm: Algorithm) -> (Vec<u8>, Outcome) {
    ready(card, algorithm);
    let answer = exchange(card, &init_load(DLK, 7_000));
    let init = load_init(answer.data(), 7_000);
    let apdu = init.credit(algorithm, Settings::default());
    let tac = init
        .load
        .tac(&purse_key(algorithm, DTK), Settings::default(), &TIME)
        .unwrap();
    let mut record = vec![0, 0, b'1'];
    record.extend_from_slice(&TERMINAL_NO);
    record.extend_from_slice(&TIME);
    record.extend_from_slice(&amounts(7_000, 0, 0));
    (
        apdu.clone(),
        Outcome {
            balance: STARTING_BALANCE + 7_000,
            record,
            proof_query: "B02E0001 02 0000 08".into(),
            proof: [&apdu[12..16], &tac[..]].concat(),
        },
    )
}

fn check_every_cut(build: Build) {
    let base = purse_storage();
    for algorithm in [Algorithm::Des3, Algorithm::Sm4] {
        // The writes of the command itself.
        let writes = {
            let mut storage = base.clone();
            let mut tearing = TearingStorage::new(&mut *storage);
            let mut card = Card::power_on(&mut tearing).unwrap();
            let (apdu, _) = build(&mut card, algorithm);
            let before = card.storage().writes();
            assert_eq!(exchange(&mut card, &apdu).status().to_u16(), 0x9000);
            card.storage().writes() - before
        };
        assert!(writes > 4, "{writes}");
        let (mut happened, mut not) = (0, 0);
        for cut in 0..=writes {
            for tear in [false, true] {
                let mut storage = base.clone();
                let mut tearing = TearingStorage::new(&mut *storage);
                let outcome = {
                    let mut card = Card::power_on(&mut tearing).unwrap();
                    let (apdu, outcome) = build(&mut card, algorithm);
                    card.storage_mut().cut_after(cut, tear);
                    exchange(&mut card, &apdu);
                    outcome
                };
                // Power back, cut again during the recovery, then power on for good.
                tearing.restore_power();
                tearing.cut_after(1, tear);
                let _ = Card::power_on(&mut tearing);
                tearing.restore_power();
                let mut card = Card::power_on(&mut tearing).unwrap();
                ready(&mut card, algorithm);
                let (proof, sw) = send(&mut card, &outcome.proof_query);
                let (balance_bytes, _) = send(&mut card, "B0260001 04");
                let balance = u32::from_be_bytes(balance_bytes.try_into().unwrap());
                let (record, record_sw) = send(&mut card, "00B20144 1C");
                match sw {
                    0x9000 => {
                        happened += 1;
                        assert_eq!(proof, outcome.proof, "cut {cut} tear {tear}");
                        assert_eq!(balance, outcome.balance, "cut {cut} tear {tear}");
                        assert_eq!(record, outcome.record, "cut {cut} tear {tear}");
                    }
                    0x9406 => {
                        not += 1;
                        assert_eq!(balance, STARTING_BALANCE, "cut {cut} tear {tear}");
                        assert_eq!(record_sw, 0x6A83, "cut {cut} tear {tear}: a record");
                    }
                    other => panic!("cut {cut} tear {tear}: GET TRANSACTION PROOF {other:04X}"),
                }
                // The integrity of every EF of the purse DF still holds.
                let (integrity, _) = send(&mut card, "00CADF7F 00");
                assert!(
                    integrity.chunks(3).all(|e| e[2] != 1),
                    "cut {cut} tear {tear}: {integrity:02X?}"
                );
            }
        }
        assert!(happened > 0 && not > 0, "{happened} {not}");
    }
}

#[test]
fn a_debit_cut_at_any_write_happened_entirely_or_not_at_all() {
    check_every_cut(debit);
}

#[test]
fn a_credit_cut_at_any_write_happened_entirely_or_not_at_all() {
    check_every_cut(credit);
}

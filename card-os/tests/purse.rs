//! The medical purse (docs/settlement.md): purchases and loads with DES and SM4, their MACs and
//! TACs, the state machine, every status word, the log that only the card writes, the year rule
//! and the starting day.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::purse::*;
use common::{hex, send};

use card_os::crypto::external_cryptogram;
use card_os::crypto::purse::Settings;
use card_os::crypto::Algorithm;
use card_os::memory_map::STARTING_DAY_KEY_ID;
use card_os::testing::exchange;
use card_os::Card;

const BOTH: [Algorithm; 2] = [Algorithm::Des3, Algorithm::Sm4];

fn balance<S: card_os::Storage>(card: &mut Card<S>) -> u32 {
    let (data, sw) = send(card, "B0260001 04");
    assert_eq!(sw, 0x9000);
    u32::from_be_bytes(data.try_into().unwrap())
}

/// INIT + DEBIT of `amounts`; returns the purchase and the card's DEBIT answer and SW.
fn purchase<S: card_os::Storage>(
    card: &mut Card<S>,
    algorithm: Algorithm,
    amounts: [u8; 12],
    time: [u8; 7],
) -> (PurchaseInit, Vec<u8>, u16) {
    let answer = exchange(card, &init_purchase(DPK, &amounts));
    assert_eq!(answer.status().to_u16(), 0x9000);
    let init = purchase_init(answer.data(), amounts, time);
    let debit = exchange(card, &init.debit(algorithm, Settings::default()));
    let (data, sw) = (debit.data().to_vec(), debit.status().to_u16());
    (init, data, sw)
}

#[test]
fn a_purchase_debits_the_balance_logs_a_record_and_keeps_its_proof() {
    for algorithm in BOTH {
        let mut storage = purse_storage();
        let mut card = purse_card(&mut storage, algorithm);
        let a = amounts(1_250, 300, 700);
        let init_answer = exchange(&mut card, &init_purchase(DPK, &a));
        let d = init_answer.data();
        assert_eq!(&d[..4], &STARTING_BALANCE.to_be_bytes());
        assert_eq!(&d[4..12], &[0; 8], "SPIP, SPFP");
        assert_eq!(&d[12..14], &[0x20, 0x26], "payment year");
        assert_eq!(&d[14..16], &[0, 0], "purchase serial");
        assert_eq!(d[16], DPK, "key version");
        assert_eq!(d[17], algorithm.to_byte());
        let init = purchase_init(d, a, TIME);
        let debit = exchange(&mut card, &init.debit(algorithm, Settings::default()));
        assert_eq!(debit.status().to_u16(), 0x9000, "{algorithm:?}");
        assert_eq!(
            debit.data(),
            init.expected_answer(algorithm, Settings::default())
        );
        assert_eq!(balance(&mut card), STARTING_BALANCE - 1_250);
        let (spip, _) = send(&mut card, "B0260002 06");
        assert_eq!(spip, hex("0000012C 2026"));
        let (spfp, _) = send(&mut card, "B0260003 06");
        assert_eq!(spfp, hex("000002BC 2026"));
        // The newest record of the log.
        let (record, sw) = send(&mut card, "00B20144 1C");
        assert_eq!(sw, 0x9000);
        let mut expected = vec![0, 0, b'2'];
        expected.extend_from_slice(&TERMINAL_NO);
        expected.extend_from_slice(&TIME);
        expected.extend_from_slice(&a);
        assert_eq!(record, expected);
        // Its proof: MAC2 then TAC; the next serial has none.
        let (proof, sw) = send(&mut card, "B02E0002 02 0000 08");
        assert_eq!(sw, 0x9000);
        let answer = debit.data();
        assert_eq!(proof, [&answer[4..8], &answer[..4]].concat());
        assert_eq!(send(&mut card, "B02E0002 02 0001 08").1, 0x9406);
        assert_eq!(send(&mut card, "B02E0001 02 0000 08").1, 0x9406);
        // The counter moved on.
        let next = exchange(&mut card, &init_purchase(DPK, &a));
        assert_eq!(&next.data()[14..16], &[0, 1]);
    }
}

#[test]
fn a_load_credits_the_balance_with_the_macs_and_tac_of_the_rules() {
    for algorithm in BOTH {
        for settings in [
            Settings::default(),
            Settings {
                load_tac_balance_after: true,
                ascii_type: true,
                sm4_left_bytes: true,
                four_byte_serial: false,
            },
        ] {
            let mut storage = purse_storage_with(&purse_object(settings, 7, 0));
            let mut card = purse_card(&mut storage, algorithm);
            let answer = exchange(&mut card, &init_load(DLK, 5_000));
            assert_eq!(answer.status().to_u16(), 0x9000);
            let init = load_init(answer.data(), 5_000);
            assert_eq!(init.load.serial, 7);
            assert_eq!(init.load.balance, STARTING_BALANCE);
            assert_eq!(answer.data()[6..8], [DLK, algorithm.to_byte()]);
            assert_eq!(
                init.mac1,
                init.load.mac1(&init.session(algorithm), settings).unwrap()
            );
            let credit = exchange(&mut card, &init.credit(algorithm, settings));
            assert_eq!(credit.status().to_u16(), 0x9000);
            let tac = init
                .load
                .tac(&purse_key(algorithm, DTK), settings, &TIME)
                .unwrap();
            assert_eq!(credit.data(), tac);
            assert_eq!(balance(&mut card), STARTING_BALANCE + 5_000);
            let (record, _) = send(&mut card, "00B20144 1C");
            assert_eq!(&record[..3], &[0, 7, b'1']);
            assert_eq!(&record[16..20], &5_000u32.to_be_bytes());
            let (proof, sw) = send(&mut card, "B02E0001 02 0007 08");
            assert_eq!(sw, 0x9000);
            assert_eq!(&proof[4..], &tac);
        }
    }
}

#[test]
fn the_settings_change_what_the_card_computes() {
    let settings = Settings {
        ascii_type: true,
        four_byte_serial: true,
        ..Settings::default()
    };
    let mut storage = purse_storage_with(&purse_object(settings, 0, 5));
    let mut card = purse_card(&mut storage, Algorithm::Des3);
    let a = amounts(10, 0, 0);
    let mut init4 = init_purchase(DPK, &a);
    *init4.last_mut().unwrap() = 0x18;
    let answer = exchange(&mut card, &init4);
    let d = answer.data();
    assert_eq!(d.len(), 24, "a 4-byte serial");
    assert_eq!(&d[14..18], &[0, 0, 0, 5]);
    // The same answer with the 2-byte serial cut out, for the helper.
    let short = [&d[..14], &d[16..]].concat();
    let init = purchase_init(&short, a, TIME);
    // A MAC1 with the binary type byte is wrong on this card.
    let wrong = exchange(&mut card, &init.debit(Algorithm::Des3, Settings::default()));
    assert_eq!(wrong.status().to_u16(), 0x9302);
    // A new INIT has a new random: build again from its answer.
    let d = exchange(&mut card, &init4).data().to_vec();
    let init = purchase_init(&[&d[..14], &d[16..]].concat(), a, TIME);
    let debit = exchange(&mut card, &init.debit(Algorithm::Des3, settings));
    assert_eq!(debit.status().to_u16(), 0x9000);
    assert_eq!(
        debit.data(),
        init.expected_answer(Algorithm::Des3, settings)
    );
    assert_eq!(send(&mut card, "B02E0002 04 00000005 08").1, 0x9000);
    assert_eq!(send(&mut card, "B02E0002 04 00010005 08").1, 0x9406);
}

#[test]
fn init_holds_for_the_next_command_only_and_a_failure_returns_to_idle() {
    let mut storage = purse_storage();
    let mut card = purse_card(&mut storage, Algorithm::Des3);
    let a = amounts(100, 0, 0);
    // DEBIT and CREDIT without INIT.
    assert_eq!(
        send(&mut card, "B02C0100 0F 00000000 20260315103000 00000000 08").1,
        0x6901
    );
    assert_eq!(
        send(&mut card, "B02A0000 0B 20260315103000 00000000 04").1,
        0x6901
    );
    // INIT, another command, DEBIT.
    let d = exchange(&mut card, &init_purchase(DPK, &a)).data().to_vec();
    let init = purchase_init(&d, a, TIME);
    assert_eq!(balance(&mut card), STARTING_BALANCE);
    assert_eq!(
        exchange(&mut card, &init.debit(Algorithm::Des3, Settings::default()))
            .status()
            .to_u16(),
        0x6901
    );
    // INIT FOR LOAD then DEBIT: the wrong state.
    let d = exchange(&mut card, &init_purchase(DPK, &a)).data().to_vec();
    let init = purchase_init(&d, a, TIME);
    exchange(&mut card, &init_load(DLK, 1));
    assert_eq!(
        exchange(&mut card, &init.debit(Algorithm::Des3, Settings::default()))
            .status()
            .to_u16(),
        0x6901
    );
    // A wrong MAC1: 9302, then the replay of the right DEBIT finds no INIT.
    let d = exchange(&mut card, &init_purchase(DPK, &a)).data().to_vec();
    let init = purchase_init(&d, a, TIME);
    let mut bad = init.debit(Algorithm::Des3, Settings::default());
    let n = bad.len();
    bad[n - 2] ^= 1;
    assert_eq!(exchange(&mut card, &bad).status().to_u16(), 0x9302);
    assert_eq!(
        exchange(&mut card, &init.debit(Algorithm::Des3, Settings::default()))
            .status()
            .to_u16(),
        0x6901
    );
    // A completed DEBIT replayed: 6901, charged once.
    let d = exchange(&mut card, &init_purchase(DPK, &a)).data().to_vec();
    let init = purchase_init(&d, a, TIME);
    let debit = init.debit(Algorithm::Des3, Settings::default());
    assert_eq!(exchange(&mut card, &debit).status().to_u16(), 0x9000);
    assert_eq!(exchange(&mut card, &debit).status().to_u16(), 0x6901);
    assert_eq!(balance(&mut card), STARTING_BALANCE - 100);
    // Nothing else changed the balance or the log.
    assert_eq!(send(&mut card, "00B20244 1C").1, 0x6A83);
}

#[test]
fn every_refusal_has_its_status_word_and_changes_nothing() {
    for algorithm in BOTH {
        let mut storage = purse_storage();
        let mut card = Card::power_on(&mut *storage).unwrap();
        exchange(&mut card, &select(algorithm));
        let a = amounts(100, 0, 0);
        // No PIN, then the initial PIN.
        assert_eq!(
            exchange(&mut card, &init_purchase(DPK, &a))
                .status()
                .to_u16(),
            0x6982
        );
        assert_eq!(send(&mut card, "B0260001 04").1, 0x6982);
        ready(&mut card, algorithm);
        // (The card's PIN is the holder's; the initial PIN: file-structures/tests/purse.rs.)
        // Balance too low; unknown key index; lengths and parameters.
        let too_much = amounts(STARTING_BALANCE + 1, 0, 0);
        assert_eq!(
            exchange(&mut card, &init_purchase(DPK, &too_much))
                .status()
                .to_u16(),
            0x9401
        );
        assert_eq!(
            exchange(&mut card, &init_purchase(0x42, &a))
                .status()
                .to_u16(),
            0x9403
        );
        assert_eq!(
            exchange(&mut card, &init_purchase(DLK, &a))
                .status()
                .to_u16(),
            0x9403
        );
        assert_eq!(
            exchange(&mut card, &init_load(DPK, 1)).status().to_u16(),
            0x9403
        );
        assert_eq!(
            exchange(&mut card, &init_load(DLK, u32::MAX))
                .status()
                .to_u16(),
            0x6A80
        );
        assert_eq!(
            send(&mut card, "B0280201 0B 11 00000001 330300000001 10").1,
            0x6A86
        );
        assert_eq!(
            send(&mut card, "B0280001 0A 11 00000001 3303000000 10").1,
            0x6700
        );
        assert_eq!(send(&mut card, "B0260004 04").1, 0x6A86);
        assert_eq!(send(&mut card, "B02E0003 02 0000 08").1, 0x6A86);
        assert_eq!(send(&mut card, "B02E0002 03 000000 08").1, 0x6700);
        // An unknown purse INS and a purse INS under another class.
        assert_eq!(send(&mut card, "B0300000").1, 0x6D00);
        assert_eq!(send(&mut card, "80260001 04").1, 0x6D00);
        assert_eq!(balance(&mut card), STARTING_BALANCE);
        // The log and the purse object are the card's own.
        assert_eq!(
            send(
                &mut card,
                "00E20040 1C 00000000000000000000000000000000000000000000000000000000"
            )
            .1,
            0x6982
        );
        assert_eq!(
            send(
                &mut card,
                "00DC0144 1C 00000000000000000000000000000000000000000000000000000000"
            )
            .1,
            0x6982
        );
        assert_eq!(send(&mut card, "00A4000C02 0F04").1, 0x9000);
        assert_eq!(send(&mut card, "00B00000 04").1, 0x6982);
        assert_eq!(send(&mut card, "00D60004 04 FFFFFFFF").1, 0x6982);
        exchange(&mut card, &select(algorithm));
        assert_eq!(balance(&mut card), STARTING_BALANCE);
        assert_eq!(send(&mut card, "00B20144 1C").1, 0x6A83);
    }
}

#[test]
fn counters_at_their_maximum_refuse_with_9402() {
    let mut storage = purse_storage_with(&purse_object(Settings::default(), 0xFFFF, 0xFFFF));
    let mut card = purse_card(&mut storage, Algorithm::Sm4);
    assert_eq!(
        exchange(&mut card, &init_load(DLK, 1)).status().to_u16(),
        0x9402
    );
    assert_eq!(
        exchange(&mut card, &init_purchase(DPK, &amounts(1, 0, 0)))
            .status()
            .to_u16(),
        0x9402
    );
}

#[test]
fn the_yearly_totals_grow_within_the_year_and_start_again_after_it() {
    let mut storage = purse_storage();
    let mut card = purse_card(&mut storage, Algorithm::Des3);
    let t = |s: &str| -> [u8; 7] { hex(s).try_into().unwrap() };
    for time in ["20260315103000", "20261231235959"] {
        let (_, _, sw) = purchase(&mut card, Algorithm::Des3, amounts(10, 1, 2), t(time));
        assert_eq!(sw, 0x9000);
    }
    assert_eq!(send(&mut card, "B0260002 06").0, hex("00000002 2026"));
    assert_eq!(send(&mut card, "B0260003 06").0, hex("00000004 2026"));
    let (_, _, sw) = purchase(
        &mut card,
        Algorithm::Des3,
        amounts(10, 5, 6),
        t("20270101000000"),
    );
    assert_eq!(sw, 0x9000);
    assert_eq!(send(&mut card, "B0260002 06").0, hex("00000005 2027"));
    assert_eq!(send(&mut card, "B0260003 06").0, hex("00000006 2027"));
    // A date that is not BCD: 6A80, nothing changed and no try of DPK spent (its limit is 3:
    // four such refusals leave the next DEBIT working).
    for _ in 0..4 {
        let time = t("2027AA01000000");
        let (_, _, sw) = purchase(&mut card, Algorithm::Des3, amounts(10, 5, 6), time);
        assert_eq!(sw, 0x6A80);
    }
    assert_eq!(balance(&mut card), STARTING_BALANCE - 30);
    let (_, _, sw) = purchase(
        &mut card,
        Algorithm::Des3,
        amounts(10, 5, 6),
        t("20270102000000"),
    );
    assert_eq!(sw, 0x9000);
}

#[test]
fn a_payment_year_that_starts_in_july_is_named_by_its_first_day() {
    let mut storage = purse_storage();
    let mut card = purse_card(&mut storage, Algorithm::Des3);
    // Only after DSK's external authentication.
    assert_eq!(send(&mut card, "B0560000 02 0701").1, 0x6982);
    let challenge = send(&mut card, "0084000008").0;
    let cryptogram =
        external_cryptogram(&purse_key(Algorithm::Des3, STARTING_DAY_KEY_ID), &challenge).unwrap();
    let mut auth = vec![0x00, 0x82, 0x00, STARTING_DAY_KEY_ID, 0x08];
    auth.extend_from_slice(cryptogram.as_bytes());
    assert_eq!(exchange(&mut card, &auth).status().to_u16(), 0x9000);
    assert_eq!(send(&mut card, "B0560000 02 1301").1, 0x6A80);
    assert_eq!(send(&mut card, "B0560000 02 0701").1, 0x9000);
    assert_eq!(send(&mut card, "B0560100 02"), (hex("0701"), 0x9000));
    let t = |s: &str| -> [u8; 7] { hex(s).try_into().unwrap() };
    // 2026-03: before the start of the payment year 2026 (which now begins on 07-01): a new year.
    let (_, _, sw) = purchase(
        &mut card,
        Algorithm::Des3,
        amounts(1, 3, 4),
        t("20280301000000"),
    );
    assert_eq!(sw, 0x9000);
    assert_eq!(send(&mut card, "B0260002 06").0, hex("00000003 2027"));
}

#[test]
fn the_psam_computes_mac1_from_its_diversified_dpk_counts_its_serial_and_checks_mac2() {
    use card_os::crypto::diversify;
    use card_os::crypto::purse::{purchase_session_input, session_key, Purchase};
    for algorithm in BOTH {
        let mut storage = purse_storage();
        // The purse DF holds the PSAM files too: its DPK plays the PSAM's master key.
        let mut card = Card::power_on(&mut *storage).unwrap();
        exchange(&mut card, &select(algorithm));
        let a = amounts(1_000, 200, 300);
        let factors = hex("3333303030307368 3333303330307378 0081544C02868433");
        let mut data = hex("A1B2C3D4 0007");
        data.extend_from_slice(&a);
        data.push(0x02);
        data.extend_from_slice(&TIME);
        data.extend_from_slice(&[DPK, algorithm.to_byte()]);
        data.extend_from_slice(&factors);
        let mut init = hex("80700100");
        init.push(data.len() as u8);
        init.extend_from_slice(&data);
        init.push(0x08);
        let answer = exchange(&mut card, &init);
        assert_eq!(answer.status().to_u16(), 0x9000);
        assert_eq!(&answer.data()[..4], &TERMINAL_SERIAL);
        let mut key = purse_key(algorithm, DPK);
        for f in factors.chunks(8) {
            key = diversify(&key, f.try_into().unwrap()).unwrap();
        }
        let session = session_key(
            &key,
            &purchase_session_input(&[0xA1, 0xB2, 0xC3, 0xD4], 7, &TERMINAL_SERIAL),
        )
        .unwrap();
        let purchase = Purchase {
            amounts: a,
            terminal_no: TERMINAL_NO,
            terminal_serial: TERMINAL_SERIAL,
            time: TIME,
        };
        assert_eq!(
            &answer.data()[4..],
            &purchase.mac1(&session, Settings::default()).unwrap()
        );
        let mac2 = purchase.mac2(&session, Settings::default()).unwrap();
        let mut credit = hex("80720000 04");
        credit.extend_from_slice(&mac2);
        let mut wrong = credit.clone();
        wrong[8] ^= 1;
        assert_eq!(exchange(&mut card, &wrong).status().to_u16(), 0x9302);
        assert_eq!(
            exchange(&mut card, &credit).status().to_u16(),
            0x6901,
            "INIT is spent"
        );
        // The next INIT has the next terminal serial; its MAC2 passes.
        let answer = exchange(&mut card, &init);
        assert_eq!(&answer.data()[..4], &[0, 0, 0x12, 0x35]);
        let serial2 = [0, 0, 0x12, 0x35];
        let session = session_key(
            &key,
            &purchase_session_input(&[0xA1, 0xB2, 0xC3, 0xD4], 7, &serial2),
        )
        .unwrap();
        let mut credit = hex("80720000 04");
        credit.extend_from_slice(&purchase.mac2(&session, Settings::default()).unwrap());
        assert_eq!(exchange(&mut card, &credit).status().to_u16(), 0x9000);
        // Bad input: an unknown DPK version, one factor too many, a type that is neither.
        let mut bad = init.clone();
        bad[5 + 26] = 0x42;
        assert_eq!(exchange(&mut card, &bad).status().to_u16(), 0x9403);
        let mut bad = init.clone();
        bad[5 + 18] = 0x07;
        assert_eq!(exchange(&mut card, &bad).status().to_u16(), 0x6A80);
        let mut long = init[..init.len() - 1].to_vec();
        long.extend_from_slice(&[0; 8]);
        long[4] += 8;
        assert_eq!(exchange(&mut card, &long).status().to_u16(), 0x6700);
        // The terminal serial is the PSAM's own: no UPDATE BINARY changes it.
        exchange(&mut card, &hex("00A4000C02 0019"));
        assert_eq!(send(&mut card, "00D60000 04 00000000").1, 0x6982);
    }
}

#[test]
fn three_wrong_mac1s_block_the_purchase_key() {
    let mut storage = purse_storage();
    let mut card = purse_card(&mut storage, Algorithm::Sm4);
    let a = amounts(100, 0, 0);
    for _ in 0..3 {
        let d = exchange(&mut card, &init_purchase(DPK, &a)).data().to_vec();
        let init = purchase_init(&d, a, TIME);
        let mut bad = init.debit(Algorithm::Sm4, Settings::default());
        let n = bad.len();
        bad[n - 2] ^= 1;
        assert_eq!(exchange(&mut card, &bad).status().to_u16(), 0x9302);
    }
    assert_eq!(
        exchange(&mut card, &init_purchase(DPK, &a))
            .status()
            .to_u16(),
        0x6983
    );
    assert_eq!(balance(&mut card), STARTING_BALANCE);
    // Loads use their own key.
    assert_eq!(
        exchange(&mut card, &init_load(DLK, 1)).status().to_u16(),
        0x9000
    );
}

//! The national layout's cards carry the medical purse in offline mode (DF04 EF05 tag 8F = '2'),
//! with keys diversified from the issuer's masters and the starting balance personalisation sets:
//! a purchase on a personalised 2.0 (3DES) and 3.0 (SM4) card, its MAC1 and TAC computed from the
//! issuer keys as a PSAM and the back office do.

use card_os::crypto::purse::{purchase_session_input, session_key, Purchase, Settings};
use card_os::{Card, Storage};
use file_structures::layout;
use file_structures::personalise::*;

fn transmit<S: Storage>(card: &mut Card<S>, apdu: &[u8]) -> (Vec<u8>, u16) {
    let mut response = [0u8; 300];
    let n = card.process(apdu, &mut response);
    (
        response[..n - 2].to_vec(),
        u16::from_be_bytes([response[n - 2], response[n - 1]]),
    )
}

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

#[test]
fn national_cards_pay_from_the_purse_personalisation_filled() {
    let keys = IssuerKeys::test_keys().unwrap();
    for (version, alg) in [("2.0", 0x01), ("3.0", 0x03)] {
        let layout = layout::national(version).unwrap();
        let purse = layout
            .purse
            .as_ref()
            .expect("the national layout has a purse");
        assert_eq!(purse.df, "DF04");
        assert_eq!(purse.settings, Settings::default());
        let mut holder =
            record_from_json("holder.json", include_str!("../samples/holder.json")).unwrap();
        holder
            .values
            .insert(layout::PURSE_BALANCE_FIELD.into(), "88800".into());
        let script = personalisation_script(&layout, &holder, &keys).unwrap();
        let mut storage = Box::new(CardStorage::new());
        run_script(
            &mut *storage,
            &format_params(&layout, &script.card_id_code),
            &script,
        )
        .unwrap();
        let mut card = Card::power_on(&mut *storage).unwrap();
        assert_eq!(transmit(&mut card, &hex("00A4000C02DF04")).1, 0x9000);
        // The initial PIN cannot pay; the holder's own can.
        assert_eq!(transmit(&mut card, &hex("0020000003123456")).1, 0x9000);
        assert_eq!(transmit(&mut card, &hex("B026000104")).1, 0x6984);
        assert_eq!(
            transmit(&mut card, &hex("805E010007123456FF654321")).1,
            0x9000
        );
        if version == "3.0" {
            // 3.0 reads DF04 EF05 after key 0A; the mode is checked on 2.0.
        } else {
            let (mode, sw) = transmit(&mut card, &hex("00B28F2800"));
            assert_eq!((mode, sw), (hex("8F0132"), 0x9000), "offline mode");
        }
        let (balance, sw) = transmit(&mut card, &hex("B026000104"));
        assert_eq!((balance, sw), (88_800u32.to_be_bytes().to_vec(), 0x9000));
        // Not activated: a purchase is refused (six-month rule) until the terminal gives a date
        // within the six months after issue.
        let mut init_check = hex("B0280101 13 32");
        init_check.extend_from_slice(&[0; 12]);
        init_check.extend_from_slice(&hex("330300000001 16"));
        assert_eq!(transmit(&mut card, &init_check).1, 0x9302);
        assert_eq!(transmit(&mut card, &hex("80DA000004 20240301")).1, 0x9000);
        let amounts: [u8; 12] = hex("00000064 0000000A 00000014").try_into().unwrap();
        let mut init = hex("B0280101 13 32");
        init.extend_from_slice(&amounts);
        init.extend_from_slice(&hex("330300000001 16"));
        let (answer, sw) = transmit(&mut card, &init);
        assert_eq!(sw, 0x9000, "{version}");
        assert_eq!(answer[16..18], [0x32, alg]);
        let algorithm = card_os::crypto::Algorithm::from_byte(alg).unwrap();
        let dpk = keys
            .card_key("DF04", 0x32, algorithm, &script.card_id_code)
            .unwrap();
        let dtk = keys
            .card_key("DF04", 0x33, algorithm, &script.card_id_code)
            .unwrap();
        let terminal_serial = [0, 0, 0, 9];
        let purchase = Purchase {
            amounts,
            terminal_no: hex("330300000001").try_into().unwrap(),
            terminal_serial,
            time: hex("20260601120000").try_into().unwrap(),
        };
        let random: [u8; 4] = answer[18..22].try_into().unwrap();
        let serial = u16::from_be_bytes([answer[14], answer[15]]);
        let sespk = session_key(
            &dpk,
            &purchase_session_input(&random, serial, &terminal_serial),
        )
        .unwrap();
        let mut debit = hex("B02C0100 0F 00000009 20260601120000");
        debit.extend_from_slice(&purchase.mac1(&sespk, Settings::default()).unwrap());
        debit.push(0x08);
        let (answer, sw) = transmit(&mut card, &debit);
        assert_eq!(sw, 0x9000, "{version}");
        // The back office checks the TAC with the card's DTK from the issuer keys.
        assert!(purchase
            .verify_tac(&dtk, Settings::default(), &answer[..4])
            .is_ok());
        let mut forged = answer[..4].to_vec();
        forged[0] ^= 0x80;
        assert!(purchase
            .verify_tac(&dtk, Settings::default(), &forged)
            .is_err());
        let (balance, _) = transmit(&mut card, &hex("B026000104"));
        assert_eq!(balance, (88_800u32 - 100).to_be_bytes().to_vec());
        let (record, sw) = transmit(&mut card, &hex("00B201441C"));
        assert_eq!(sw, 0x9000);
        assert_eq!(record[..3], [0, 0, b'2']);
        // Nobody writes the log from outside.
        let mut append = hex("00E20040 1C");
        append.extend_from_slice(&[0; 28]);
        assert_eq!(transmit(&mut card, &append).1, 0x6982);
    }
}

#[test]
fn a_starting_balance_that_is_not_a_number_is_a_record_error() {
    let keys = IssuerKeys::test_keys().unwrap();
    let layout = layout::national("2.0").unwrap();
    let mut holder =
        record_from_json("holder.json", include_str!("../samples/holder.json")).unwrap();
    holder
        .values
        .insert(layout::PURSE_BALANCE_FIELD.into(), "-5".into());
    let error = personalisation_script(&layout, &holder, &keys).unwrap_err();
    assert!(error.to_string().contains("purse_balance"), "{error}");
}

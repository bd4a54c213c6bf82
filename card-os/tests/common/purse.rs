//! A card with a medical purse (3DES in DF06, SM4 in DF07) and the terminal's side of its
//! commands, computed with `card_os::crypto::purse` as a PSAM and the back office do.
use card_os::crypto::purse::{
    load_session_input, purchase_session_input, session_key, Load, Purchase, Settings,
};
use card_os::crypto::{Algorithm, SecretKey};
use card_os::memory_map::*;
use card_os::testing::exchange;
use card_os::{Card, Status};

use super::secured::personalised_storage;
use super::{hex, Storage};

pub const DLK: u8 = 0x11;
pub const DPK: u8 = 0x12;
pub const DTK: u8 = 0x13;
pub const STARTING_BALANCE: u32 = 100_000;
pub const TERMINAL_NO: [u8; 6] = [0x33, 0x03, 0x00, 0x00, 0x00, 0x01];
pub const TIME: [u8; 7] = [0x20, 0x26, 0x03, 0x15, 0x10, 0x30, 0x00];
pub const TERMINAL_SERIAL: [u8; 4] = [0, 0, 0x12, 0x34];

/// The purse's DFs: `DF06` with 3DES keys, `DF07` with SM4 keys.
pub fn select(algorithm: Algorithm) -> Vec<u8> {
    match algorithm {
        Algorithm::Des3 => hex("00A4000C02DF06"),
        _ => hex("00A4000C02DF07"),
    }
}

pub fn purse_key(algorithm: Algorithm, id: u8) -> SecretKey {
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = id ^ (i as u8).wrapping_mul(0x1D) ^ algorithm.to_byte();
    }
    SecretKey::new(algorithm, bytes)
}

/// The purse object a card starts with: balance, payment year 2026 from 01-01, counters.
pub fn purse_object(settings: Settings, load_counter: u16, purchase_counter: u16) -> Vec<u8> {
    let mut object = vec![0u8; PURSE_SIZE];
    object[PURSE_LOAD_COUNTER..][..2].copy_from_slice(&load_counter.to_be_bytes());
    object[PURSE_PURCHASE_COUNTER..][..2].copy_from_slice(&purchase_counter.to_be_bytes());
    object[PURSE_BALANCE..][..4].copy_from_slice(&STARTING_BALANCE.to_be_bytes());
    object[PURSE_YEAR..][..2].copy_from_slice(&[0x20, 0x26]);
    object[PURSE_START_DAY..][..2].copy_from_slice(&[0x01, 0x01]);
    object[PURSE_SETTINGS..][..4].copy_from_slice(&settings.to_bytes());
    object
}

fn apdu(header: &str, data: &[u8]) -> Vec<u8> {
    let mut apdu = hex(header);
    apdu.push(data.len() as u8);
    apdu.extend_from_slice(data);
    apdu
}

/// The secured test card plus the two purse DFs, issued, PIN changed to 654321 (not verified).
pub fn purse_storage_with(object: &[u8]) -> Box<Storage> {
    let mut storage = personalised_storage();
    {
        let mut card = Card::power_on(&mut *storage).unwrap();
        let mut run = |apdu: &[u8]| {
            assert_eq!(
                exchange(&mut card, apdu).status(),
                Status::Success,
                "{apdu:02X?}"
            );
        };
        for (fid, algorithm) in [(0x06u8, Algorithm::Des3), (0x07, Algorithm::Sm4)] {
            run(&hex("00A4000C02 3F00"));
            let mut df = hex("62 0F 820138 8302DF");
            df.push(fid);
            df.extend_from_slice(&hex("8406 D156000005F0"));
            *df.last_mut().unwrap() = fid;
            run(&apdu("00E00000", &df));
            run(&select(algorithm));
            for (id, usage) in [(DLK, 6), (DPK, 7), (DTK, 8), (STARTING_DAY_KEY_ID, 1)] {
                let mut data = vec![id, usage, algorithm.to_byte(), 3];
                data.extend_from_slice(purse_key(algorithm, id).expose_bytes());
                run(&apdu("80D40000", &data));
            }
            run(&apdu(
                "00E00000",
                &hex("62 15 820101 83020F04 80020030 8608 FF00FF00FF00FF00"),
            ));
            run(&apdu("00D60000", object));
            run(&select(algorithm));
            run(&apdu(
                "00E00000",
                &hex("62 18 820506 21001C1E 8302EF08 880140 8608 0100FF00FF000000"),
            ));
            // The PSAM's terminal number and terminal serial files (for the PSAM commands).
            for (fid, content) in [("0016", &TERMINAL_NO[..]), ("0019", &TERMINAL_SERIAL[..])] {
                run(&select(algorithm));
                let fcp = format!(
                    "62 15 820101 8302{fid} 8002000{} 8608 0000FF00FF000000",
                    content.len()
                );
                run(&apdu("00E00000", &hex(&fcp)));
                run(&apdu("00D60000", content));
            }
            run(&select(algorithm));
            run(&apdu(
                "00E00000",
                &hex("62 18 820506 21000308 8302EF15 8801A8 8608 0100 01000100 0000"),
            ));
        }
        run(&hex("80F00200"));
        run(&hex("805E0100 07 123456 FF 654321"));
    }
    storage
}

pub fn purse_storage() -> Box<Storage> {
    purse_storage_with(&purse_object(Settings::default(), 0, 0))
}

/// A powered purse card with the purse DF of `algorithm` selected and the PIN verified.
pub fn purse_card(storage: &mut Storage, algorithm: Algorithm) -> Card<&mut Storage> {
    let mut card = Card::power_on(storage).unwrap();
    ready(&mut card, algorithm);
    card
}

/// Selects the purse DF and verifies the holder PIN.
pub fn ready<S: card_os::Storage>(card: &mut Card<S>, algorithm: Algorithm) {
    assert_eq!(exchange(card, &select(algorithm)).status(), Status::Success);
    assert_eq!(
        exchange(card, &hex("00200000 03 654321")).status(),
        Status::Success
    );
}

/// The amounts of a purchase (account, self-pay, pooled).
pub fn amounts(account: u32, self_pay: u32, pooled: u32) -> [u8; 12] {
    let mut a = [0u8; 12];
    a[..4].copy_from_slice(&account.to_be_bytes());
    a[4..8].copy_from_slice(&self_pay.to_be_bytes());
    a[8..].copy_from_slice(&pooled.to_be_bytes());
    a
}

pub fn init_purchase(key_id: u8, amounts: &[u8; 12]) -> Vec<u8> {
    let mut data = vec![key_id];
    data.extend_from_slice(amounts);
    data.extend_from_slice(&TERMINAL_NO);
    let mut apdu = apdu("B0280101", &data);
    apdu.push(0x16);
    apdu
}

pub fn init_load(key_id: u8, amount: u32) -> Vec<u8> {
    let mut data = vec![key_id];
    data.extend_from_slice(&amount.to_be_bytes());
    data.extend_from_slice(&TERMINAL_NO);
    let mut apdu = apdu("B0280001", &data);
    apdu.push(0x10);
    apdu
}

/// What the terminal (through its PSAM) knows of a purchase after INITIALIZE.
pub struct PurchaseInit {
    pub random: [u8; 4],
    pub serial: u16,
    pub purchase: Purchase,
}

/// Parses an INITIALIZE FOR PURCHASE answer (2-byte serial).
pub fn purchase_init(answer: &[u8], amounts: [u8; 12], time: [u8; 7]) -> PurchaseInit {
    assert_eq!(answer.len(), 22, "{answer:02X?}");
    PurchaseInit {
        serial: u16::from_be_bytes([answer[14], answer[15]]),
        random: answer[18..22].try_into().unwrap(),
        purchase: Purchase {
            amounts,
            terminal_no: TERMINAL_NO,
            terminal_serial: TERMINAL_SERIAL,
            time,
        },
    }
}

impl PurchaseInit {
    pub fn session(&self, algorithm: Algorithm) -> SecretKey {
        session_key(
            &purse_key(algorithm, DPK),
            &purchase_session_input(&self.random, self.serial, &TERMINAL_SERIAL),
        )
        .unwrap()
    }

    /// The DEBIT FOR PURCHASE with the right MAC1.
    pub fn debit(&self, algorithm: Algorithm, settings: Settings) -> Vec<u8> {
        let mac1 = self
            .purchase
            .mac1(&self.session(algorithm), settings)
            .unwrap();
        let mut data = TERMINAL_SERIAL.to_vec();
        data.extend_from_slice(&self.purchase.time);
        data.extend_from_slice(&mac1);
        let mut apdu = apdu("B02C0100", &data);
        apdu.push(0x08);
        apdu
    }

    /// TAC ‖ MAC2 as the card must answer DEBIT.
    pub fn expected_answer(&self, algorithm: Algorithm, settings: Settings) -> Vec<u8> {
        let mut out = self
            .purchase
            .tac(&purse_key(algorithm, DTK), settings)
            .unwrap()
            .to_vec();
        out.extend_from_slice(
            &self
                .purchase
                .mac2(&self.session(algorithm), settings)
                .unwrap(),
        );
        out
    }
}

/// INITIALIZE FOR LOAD's answer parsed, with the load it describes.
pub struct LoadInit {
    pub random: [u8; 4],
    pub load: Load,
    pub mac1: [u8; 4],
}

pub fn load_init(answer: &[u8], amount: u32) -> LoadInit {
    assert_eq!(answer.len(), 16, "{answer:02X?}");
    LoadInit {
        random: answer[8..12].try_into().unwrap(),
        mac1: answer[12..16].try_into().unwrap(),
        load: Load {
            balance: u32::from_be_bytes(answer[..4].try_into().unwrap()),
            amount,
            serial: u16::from_be_bytes([answer[4], answer[5]]),
            terminal_no: TERMINAL_NO,
        },
    }
}

impl LoadInit {
    pub fn session(&self, algorithm: Algorithm) -> SecretKey {
        session_key(
            &purse_key(algorithm, DLK),
            &load_session_input(&self.random, self.load.serial),
        )
        .unwrap()
    }

    pub fn credit(&self, algorithm: Algorithm, settings: Settings) -> Vec<u8> {
        let mac2 = self
            .load
            .mac2(&self.session(algorithm), settings, &TIME)
            .unwrap();
        let mut data = TIME.to_vec();
        data.extend_from_slice(&mac2);
        let mut apdu = apdu("B02A0000", &data);
        apdu.push(0x04);
        apdu
    }
}

//! An issued card with keys, a PIN and files guarded by every kind of access rule, and the
//! terminal side of the security commands (cryptograms and MACs computed with card_os::crypto).

use card_os::crypto::sm::command_mac;
use card_os::crypto::{external_cryptogram, Algorithm, SecretKey};
use card_os::testing::exchange;
use card_os::{Card, Status};

use super::{demo_storage, hex, Storage};

pub const INTERNAL: u8 = 0x01;
pub const UNBLOCK: u8 = 0x02;
pub const RELOAD: u8 = 0x03;
pub const EXTERNAL: u8 = 0x04;
pub const MAC: u8 = 0x05;
pub const EXTERNAL_SM4: u8 = 0x0A;
pub const EXTERNAL_AES: u8 = 0x0C;
pub const DF01_EXTERNAL: u8 = 0x84;
/// Error limit of every key.
pub const KEY_LIMIT: u8 = 3;
pub const PIN_TRIES: u8 = 6;

pub const SELECT_SSSE_FID: &str = "00A4000C02DDF1";
pub const SELECT_DF01: &str = "00A4000C02DF01";
/// SSSE EF20 (SFI 20): read free, update key 04 + MAC.
pub const EF_KEY_SM: u8 = 20;
/// SSSE EF21 (SFI 21): read PIN, update PIN or key 04, append never.
pub const EF_PIN: u8 = 21;
/// SSSE EF22 (SFI 22): read PIN and key 04, update MAC only.
pub const EF_PIN_AND_KEY: u8 = 22;

/// The algorithm of each test key.
pub fn algorithm(id: u8) -> Algorithm {
    match id {
        EXTERNAL_SM4 | DF01_EXTERNAL => Algorithm::Sm4,
        EXTERNAL_AES => Algorithm::Aes128,
        _ => Algorithm::Des3,
    }
}

pub fn key(id: u8) -> SecretKey {
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = id.wrapping_mul(0x11).wrapping_add(i as u8 * 7);
    }
    SecretKey::new(algorithm(id), bytes)
}

pub fn write_key(id: u8, usage: u8) -> Vec<u8> {
    let mut apdu = vec![
        0x80,
        0xD4,
        0x00,
        0x00,
        0x14,
        id,
        usage,
        algorithm(id).to_byte(),
        KEY_LIMIT,
    ];
    apdu.extend_from_slice(key(id).expose_bytes());
    apdu
}

fn transparent_ef(fid: u8, sfi: u8, access: [u8; 8]) -> Vec<u8> {
    let mut apdu = hex("00E00000 1A 62 18 820101 8302EF");
    apdu.push(fid);
    apdu.extend_from_slice(&hex("80020010 8801"));
    apdu.push(sfi << 3);
    apdu.extend_from_slice(&[0x86, 0x08]);
    apdu.extend_from_slice(&access);
    apdu
}

/// The demo card with keys and PIN 123456 (6 tries) in SSSE, key 84 in DF01, three guarded EFs
/// in SSSE, still in personalisation (life cycle 01).
pub fn personalised_storage() -> Box<Storage> {
    let mut storage = demo_storage();
    {
        let mut card = Card::power_on(&mut *storage).unwrap();
        let mut run = |apdu: &[u8]| {
            assert_eq!(
                exchange(&mut card, apdu).status(),
                Status::Success,
                "{apdu:02X?}"
            );
        };
        run(&hex(SELECT_SSSE_FID));
        for (id, usage) in [
            (INTERNAL, 2),
            (UNBLOCK, 3),
            (RELOAD, 4),
            (EXTERNAL, 1),
            (MAC, 5),
            (EXTERNAL_SM4, 1),
            (EXTERNAL_AES, 1),
        ] {
            run(&write_key(id, usage));
        }
        run(&hex("80D40100 04 06 123456"));
        run(&transparent_ef(
            0x20,
            EF_KEY_SM,
            [0, 0, 0x12, EXTERNAL, 0xFF, 0, 0xFF, 0],
        ));
        run(&hex(SELECT_SSSE_FID));
        run(&transparent_ef(
            0x21,
            EF_PIN,
            [0x01, 0, 0x07, EXTERNAL, 0xFF, 0, 0xFF, 0],
        ));
        run(&hex(SELECT_SSSE_FID));
        run(&transparent_ef(
            0x22,
            EF_PIN_AND_KEY,
            [0x03, EXTERNAL, 0x10, 0, 0xFF, 0, 0xFF, 0],
        ));
        run(&hex(SELECT_DF01));
        run(&write_key(DF01_EXTERNAL, 1));
    }
    storage
}

/// [`personalised_storage`] after ISSUE CARD.
pub fn issued_storage() -> Box<Storage> {
    let mut storage = personalised_storage();
    {
        let mut card = Card::power_on(&mut *storage).unwrap();
        assert_eq!(
            exchange(&mut card, &hex("80F00200")).status(),
            Status::Success
        );
    }
    storage
}

/// A powered issued card with SSSE selected.
pub fn issued() -> Card<&'static mut Storage> {
    let mut card = Card::power_on(Box::leak(issued_storage())).unwrap();
    assert_eq!(swb(&mut card, &hex(SELECT_SSSE_FID)), 0x9000);
    card
}

pub fn swb<S: card_os::Storage>(card: &mut Card<S>, apdu: &[u8]) -> u16 {
    exchange(card, apdu).status().to_u16()
}

pub fn challenge<S: card_os::Storage>(card: &mut Card<S>) -> Vec<u8> {
    let answer = exchange(card, &hex("0084000008"));
    assert_eq!(answer.status(), Status::Success);
    answer.data().to_vec()
}

/// EXTERNAL AUTHENTICATE with the right cryptogram for a fresh challenge (key `with` used to
/// compute it, P2 = `id`).
pub fn external_with<S: card_os::Storage>(card: &mut Card<S>, id: u8, with: u8) -> u16 {
    let challenge = challenge(card);
    let cryptogram = external_cryptogram(&key(with), &challenge).unwrap();
    let mut apdu = vec![0x00, 0x82, 0x00, id, cryptogram.as_bytes().len() as u8];
    apdu.extend_from_slice(cryptogram.as_bytes());
    swb(card, &apdu)
}

pub fn external<S: card_os::Storage>(card: &mut Card<S>, id: u8) -> u16 {
    external_with(card, id, id)
}

/// `header || Lc || data || MAC` with the MAC of key `id` over the given challenge.
pub fn with_mac(id: u8, challenge: &[u8], header: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mac = command_mac(&key(id), challenge, header, data).unwrap();
    let mut apdu = header.to_vec();
    apdu.push((data.len() + 4) as u8);
    apdu.extend_from_slice(data);
    apdu.extend_from_slice(&mac);
    apdu
}

/// Gets a challenge and sends the command MAC'd with key `id`.
pub fn send_with_mac<S: card_os::Storage>(
    card: &mut Card<S>,
    id: u8,
    header: [u8; 4],
    data: &[u8],
) -> u16 {
    let challenge = challenge(card);
    swb(card, &with_mac(id, &challenge, header, data))
}

/// The same command with the last MAC byte flipped.
pub fn send_with_bad_mac<S: card_os::Storage>(
    card: &mut Card<S>,
    id: u8,
    header: [u8; 4],
    data: &[u8],
) -> u16 {
    let challenge = challenge(card);
    let mut apdu = with_mac(id, &challenge, header, data);
    if let Some(last) = apdu.last_mut() {
        *last ^= 1;
    }
    swb(card, &apdu)
}

/// Tries left on the PIN (`VERIFY` without data).
pub fn pin_tries<S: card_os::Storage>(card: &mut Card<S>) -> u16 {
    swb(card, &hex("00200000"))
}

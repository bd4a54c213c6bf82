//! Properties of the ciphers, padding, MACs and diversification.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use card_os::crypto::diversify::{card_factor, region_factor};
use card_os::crypto::mac::{line_mac, pad_method2, verify, CbcMac};
use card_os::crypto::{
    decrypt_block, diversify, diversify_two_level, ecb_decrypt, ecb_encrypt, encrypt_block,
    session_key, Algorithm, Error, SecretKey,
};
use hex_literal::hex;
use proptest::prelude::*;

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Des3),
        Just(Algorithm::Sm4),
        Just(Algorithm::Aes128)
    ]
}

fn key() -> impl Strategy<Value = SecretKey> {
    (algorithm(), any::<[u8; 16]>()).prop_map(|(alg, bytes)| SecretKey::new(alg, bytes))
}

fn encrypted(key: &SecretKey, block: &[u8]) -> Vec<u8> {
    let mut out = block.to_vec();
    encrypt_block(key, &mut out).unwrap();
    out
}

fn inverted(factor: &[u8; 8]) -> [u8; 8] {
    factor.map(|b| !b)
}

proptest! {
    #[test]
    fn block_decrypt_inverts_encrypt(key in key(), data in any::<[u8; 16]>()) {
        let block = &data[..key.algorithm().block_size()];
        let mut work = block.to_vec();
        encrypt_block(&key, &mut work).unwrap();
        prop_assert_ne!(&work[..], block);
        decrypt_block(&key, &mut work).unwrap();
        prop_assert_eq!(&work[..], block);
    }

    #[test]
    fn ecb_is_block_by_block(key in key(), data in proptest::collection::vec(any::<u8>(), 0..64)) {
        let size = key.algorithm().block_size();
        let mut buffer = data.clone();
        let result = ecb_encrypt(&key, &mut buffer);
        if data.len() % size != 0 {
            prop_assert_eq!(result, Err(Error::Length));
        } else {
            result.unwrap();
            for (out, plain) in buffer.chunks(size).zip(data.chunks(size)) {
                prop_assert_eq!(out, &encrypted(&key, plain)[..]);
            }
            ecb_decrypt(&key, &mut buffer).unwrap();
            prop_assert_eq!(buffer, data);
        }
    }

    #[test]
    fn a_block_of_the_wrong_size_is_refused(key in key(), len in 0usize..40) {
        prop_assume!(len != key.algorithm().block_size());
        let mut block = vec![0; len];
        prop_assert_eq!(encrypt_block(&key, &mut block), Err(Error::Length));
    }

    #[test]
    fn padding_method2_is_80_then_zeros_to_the_next_block(data in proptest::collection::vec(any::<u8>(), 0..40),
                                                          size in prop_oneof![Just(8usize), Just(16usize)]) {
        let mut buffer = data.clone();
        buffer.resize(data.len() + size, 0xEE);
        let padded = pad_method2(&mut buffer, data.len(), size).unwrap();
        prop_assert_eq!(padded % size, 0);
        prop_assert!(padded > data.len() && padded <= data.len() + size);
        prop_assert_eq!(&buffer[..data.len()], &data[..]);
        prop_assert_eq!(buffer[data.len()], 0x80);
        prop_assert!(buffer[data.len() + 1..padded].iter().all(|&b| b == 0));
        prop_assert_eq!(pad_method2(&mut buffer[..padded - 1], data.len(), size), Err(Error::Length));
    }

    #[test]
    fn mac_padding_is_method2_and_pieces_do_not_matter(key in key(), iv in any::<[u8; 16]>(),
                                                       data in proptest::collection::vec(any::<u8>(), 0..70),
                                                       cut in any::<prop::sample::Index>()) {
        let size = key.algorithm().block_size();
        let iv = &iv[..size];
        let mut whole = CbcMac::line_protection(&key, iv).unwrap();
        whole.update(&data).unwrap();
        let whole = whole.finalize().unwrap();

        let (a, b) = data.split_at(cut.index(data.len() + 1));
        let mut pieces = CbcMac::line_protection(&key, iv).unwrap();
        pieces.update(a).unwrap();
        pieces.update(b).unwrap();
        prop_assert_eq!(pieces.finalize().unwrap(), whole);

        let mut padded = data.clone();
        padded.resize(data.len() + size, 0);
        let len = pad_method2(&mut padded, data.len(), size).unwrap();
        let mut unpadded = CbcMac::line_protection(&key, iv).unwrap();
        unpadded.update(&padded[..len]).unwrap();
        prop_assert_eq!(unpadded.finalize_unpadded().unwrap(), whole);
    }

    #[test]
    fn algorithm1_is_cbc_encryption(key in key(), iv in any::<[u8; 16]>(), data in proptest::collection::vec(any::<u8>(), 1..4)) {
        // CBC-MAC = last block of CBC encryption of the padded message.
        let size = key.algorithm().block_size();
        let mut chain = iv[..size].to_vec();
        let mut padded = data.clone();
        padded.resize(data.len() + size, 0);
        let len = pad_method2(&mut padded, data.len(), size).unwrap();
        for block in padded[..len].chunks(size) {
            let mixed: Vec<u8> = chain.iter().zip(block).map(|(c, p)| c ^ p).collect();
            chain = encrypted(&key, &mixed);
        }
        let mut mac = CbcMac::algorithm1(&key, &iv[..size]).unwrap();
        mac.update(&data).unwrap();
        let mac = mac.finalize().unwrap();
        prop_assert_eq!(mac.as_bytes(), &chain[..]);
    }

    #[test]
    fn a_flipped_bit_in_data_or_mac_is_refused(key in key(), data in proptest::collection::vec(any::<u8>(), 1..40),
                                               bit in any::<prop::sample::Index>(), in_mac in any::<bool>()) {
        let iv = [0u8; 8];
        let mac = line_mac(&key, &iv, &[&data]).unwrap();
        prop_assert_eq!(verify(&mac, &line_mac(&key, &iv, &[&data]).unwrap()), Ok(()));
        let mut data2 = data.clone();
        let mut mac2 = mac;
        if in_mac {
            let i = bit.index(32);
            mac2[i / 8] ^= 1 << (i % 8);
        } else {
            let i = bit.index(data.len() * 8);
            data2[i / 8] ^= 1 << (i % 8);
        }
        prop_assert_eq!(verify(&line_mac(&key, &iv, &[&data2]).unwrap(), &mac2), Err(Error::Mismatch));
    }

    #[test]
    fn a_wrong_key_gives_another_mac(key in key(), other in any::<[u8; 16]>(), data in proptest::collection::vec(any::<u8>(), 0..40)) {
        let wrong = SecretKey::new(key.algorithm(), other);
        prop_assume!(wrong != key);
        prop_assert_ne!(line_mac(&key, &[], &[&data]).unwrap(), line_mac(&wrong, &[], &[&data]).unwrap());
    }

    #[test]
    fn des3_diversification_is_e_factor_then_e_inverted_factor(master in any::<[u8; 16]>(), factor in any::<[u8; 8]>()) {
        let master = SecretKey::new(Algorithm::Des3, master);
        let derived = diversify(&master, &factor).unwrap();
        prop_assert_eq!(derived.algorithm(), Algorithm::Des3);
        prop_assert_eq!(&derived.expose_bytes()[..8], &encrypted(&master, &factor)[..]);
        prop_assert_eq!(&derived.expose_bytes()[8..], &encrypted(&master, &inverted(&factor))[..]);
    }

    #[test]
    fn wide_block_diversification_is_one_encryption_of_factor_and_inverse(
        alg in prop_oneof![Just(Algorithm::Sm4), Just(Algorithm::Aes128)], master in any::<[u8; 16]>(), factor in any::<[u8; 8]>()) {
        let master = SecretKey::new(alg, master);
        let input = [factor, inverted(&factor)].concat();
        let derived = diversify(&master, &factor).unwrap();
        prop_assert_eq!(derived.algorithm(), alg);
        prop_assert_eq!(&derived.expose_bytes()[..], &encrypted(&master, &input)[..]);
    }

    #[test]
    fn different_factors_give_different_card_keys(master in key(), a in any::<[u8; 8]>(), b in any::<[u8; 8]>()) {
        prop_assume!(a != b);
        let (ka, kb) = (diversify(&master, &a).unwrap(), diversify(&master, &b).unwrap());
        prop_assert!(ka != kb);
        prop_assert!(ka != master);
    }

    #[test]
    fn two_levels_are_region_then_card(master in key(), region in any::<[u8; 8]>(), card in any::<[u8; 8]>()) {
        let regional = diversify(&master, &region).unwrap();
        prop_assert_eq!(diversify_two_level(&master, &region, &card).unwrap(), diversify(&regional, &card).unwrap());
        prop_assume!(region != card);
        prop_assert!(diversify_two_level(&master, &region, &card).unwrap() != diversify_two_level(&master, &card, &region).unwrap());
    }

    #[test]
    fn session_key_is_diversification_by_the_zero_padded_challenge(key in key(), challenge in any::<[u8; 8]>(), short in any::<bool>()) {
        let challenge = if short { &challenge[..4] } else { &challenge[..] };
        let mut factor = [0u8; 8];
        factor[..challenge.len()].copy_from_slice(challenge);
        prop_assert_eq!(session_key(&key, challenge).unwrap(), diversify(&key, &factor).unwrap());
    }

    #[test]
    fn region_factor_is_ascii_digits_and_sx(region in 0u32..1_000_000) {
        let digits = format!("{region:06}");
        let bcd: Vec<u8> = digits.as_bytes().chunks(2).map(|p| ((p[0] - b'0') << 4) | (p[1] - b'0')).collect();
        let factor = region_factor(&bcd.try_into().unwrap()).unwrap();
        let expected = format!("{digits}sx");
        prop_assert_eq!(&factor[..], expected.as_bytes());
    }
}

#[test]
fn session_key_needs_a_4_or_8_byte_challenge() {
    let key = SecretKey::new(Algorithm::Sm4, [1; 16]);
    for len in [0, 1, 3, 5, 7, 9, 16] {
        let challenge = vec![0; len];
        assert_eq!(
            session_key(&key, &challenge).unwrap_err(),
            Error::Length,
            "len {len}"
        );
    }
}

#[test]
fn region_factor_refuses_non_bcd() {
    assert_eq!(
        region_factor(&[0x33, 0x0A, 0x00]).unwrap_err(),
        Error::Format
    );
}

#[test]
fn card_factor_is_the_last_8_bytes_of_the_identification_code() {
    let code = hex!("330300D15600000501005794E4B2CBAC");
    assert_eq!(card_factor(&code).unwrap(), hex!("01005794E4B2CBAC"));
    assert_eq!(card_factor(&code[..15]).unwrap_err(), Error::Length);
}

#[test]
fn an_iv_longer_than_a_block_is_refused() {
    let key = SecretKey::new(Algorithm::Des3, [1; 16]);
    assert!(CbcMac::algorithm3(&key, &[0; 9]).is_err());
    assert!(CbcMac::algorithm1(&SecretKey::new(Algorithm::Sm4, [1; 16]), &[0; 17]).is_err());
}

#[test]
fn verify_refuses_empty_and_length_mismatches() {
    assert_eq!(verify(&[], &[]), Err(Error::Mismatch));
    assert_eq!(verify(&[1, 2, 3, 4], &[1, 2, 3]), Err(Error::Mismatch));
    assert_eq!(
        verify(&[1, 2, 3, 4], &[1, 2, 3, 4, 5]),
        Err(Error::Mismatch)
    );
}

proptest! {
    /// The incremental update a write to an EF makes: the CRC of the changed range's difference,
    /// carried past the bytes after it, turns the old whole-file CRC into the new one.
    #[test]
    fn crc32_of_a_changed_range_updates_the_whole_crc(
        content in proptest::collection::vec(any::<u8>(), 1..2048),
        start in any::<prop::sample::Index>(),
        replacement in proptest::collection::vec(any::<u8>(), 1..300),
    ) {
        use card_os::crypto::hash::Crc32;
        let at = start.index(content.len());
        let len = replacement.len().min(content.len() - at);
        let mut changed = content.clone();
        changed[at..at + len].copy_from_slice(&replacement[..len]);
        let mut difference = Crc32::of_difference();
        let delta: Vec<u8> = content[at..at + len]
            .iter()
            .zip(&changed[at..at + len])
            .map(|(old, new)| old ^ new)
            .collect();
        difference.update(&delta);
        let trailing = (content.len() - at - len) as u16;
        let updated = card_os::crypto::crc32(&content) ^ difference.after_zeros(trailing).difference();
        prop_assert_eq!(updated, card_os::crypto::crc32(&changed));
    }

    /// A run of zero bytes skipped by multiplication equals feeding them one by one.
    #[test]
    fn crc32_after_zeros_equals_feeding_zeros(prefix in proptest::collection::vec(any::<u8>(), 0..64), zeros in prop_oneof![0usize..5000, 60000usize..65536]) {
        use card_os::crypto::hash::Crc32;
        let mut fed = Crc32::new();
        fed.update(&prefix);
        let mut skipped = fed;
        fed.update(&vec![0u8; zeros]);
        skipped = skipped.after_zeros(zeros as u16);
        prop_assert_eq!(skipped.finalize(), fed.finalize());
    }
}

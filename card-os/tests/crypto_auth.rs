//! EXTERNAL / INTERNAL AUTHENTICATE cryptograms and the secure-messaging MAC, with a
//! negative test for every way a terminal can get them wrong.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use card_os::crypto::sm::{command_mac, verify_command_mac};
use card_os::crypto::{
    encrypt_block, external_cryptogram, internal_authenticate, verify_external_cryptogram,
    Algorithm, Error, SecretKey,
};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = SecretKey> {
    (
        prop_oneof![
            Just(Algorithm::Des3),
            Just(Algorithm::Sm4),
            Just(Algorithm::Aes128)
        ],
        any::<[u8; 16]>(),
    )
        .prop_map(|(alg, bytes)| SecretKey::new(alg, bytes))
}

fn challenge() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 4),
        proptest::collection::vec(any::<u8>(), 8)
    ]
}

/// Two challenges of the same length (a 4-byte challenge equals its 8-byte zero-padded
/// form, and the card only ever holds one).
fn challenge_pair() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    prop_oneof![Just(4usize), Just(8usize)].prop_flat_map(|len| {
        (
            proptest::collection::vec(any::<u8>(), len),
            proptest::collection::vec(any::<u8>(), len),
        )
    })
}

fn flip(bytes: &mut [u8], bit: prop::sample::Index) {
    let i = bit.index(bytes.len() * 8);
    bytes[i / 8] ^= 1 << (i % 8);
}

proptest! {
    #[test]
    fn external_cryptogram_is_the_zero_padded_challenge_encrypted(key in key(), challenge in challenge()) {
        let mut block = challenge.clone();
        block.resize(key.algorithm().block_size(), 0);
        encrypt_block(&key, &mut block).unwrap();
        let cryptogram = external_cryptogram(&key, &challenge).unwrap();
        prop_assert_eq!(cryptogram.as_bytes(), &block[..]);
        prop_assert_eq!(verify_external_cryptogram(&key, &challenge, &block), Ok(()));
    }

    #[test]
    fn external_authenticate_refuses_a_flipped_bit(key in key(), challenge in challenge(), bit in any::<prop::sample::Index>()) {
        let mut cryptogram = external_cryptogram(&key, &challenge).unwrap().as_bytes().to_vec();
        flip(&mut cryptogram, bit);
        prop_assert_eq!(verify_external_cryptogram(&key, &challenge, &cryptogram), Err(Error::Mismatch));
    }

    #[test]
    fn external_authenticate_refuses_a_wrong_key(key in key(), other in any::<[u8; 16]>(), challenge in challenge()) {
        let wrong = SecretKey::new(key.algorithm(), other);
        prop_assume!(wrong != key);
        let cryptogram = external_cryptogram(&wrong, &challenge).unwrap();
        prop_assert_ne!(cryptogram, external_cryptogram(&key, &challenge).unwrap());
        prop_assert_eq!(verify_external_cryptogram(&key, &challenge, cryptogram.as_bytes()), Err(Error::Mismatch));
    }

    #[test]
    fn external_authenticate_refuses_an_old_challenge(key in key(), (old, new) in challenge_pair()) {
        prop_assume!(old != new);
        let replayed = external_cryptogram(&key, &old).unwrap();
        prop_assert_eq!(verify_external_cryptogram(&key, &new, replayed.as_bytes()), Err(Error::Mismatch));
    }

    #[test]
    fn external_authenticate_refuses_a_truncated_or_extended_cryptogram(key in key(), challenge in challenge(), cut in 0usize..8) {
        let cryptogram = external_cryptogram(&key, &challenge).unwrap().as_bytes().to_vec();
        prop_assert_eq!(verify_external_cryptogram(&key, &challenge, &cryptogram[..cut]), Err(Error::Mismatch));
        let mut longer = cryptogram.clone();
        longer.push(0);
        prop_assert_eq!(verify_external_cryptogram(&key, &challenge, &longer), Err(Error::Mismatch));
    }

    #[test]
    fn internal_authenticate_is_the_zero_padded_data_encrypted(key in key(), data in proptest::collection::vec(any::<u8>(), 1..=16)) {
        let size = key.algorithm().block_size();
        let mut padded = data.clone();
        padded.resize(data.len().div_ceil(size) * size, 0);
        for block in padded.chunks_mut(size) {
            encrypt_block(&key, block).unwrap();
        }
        let answer = internal_authenticate(&key, &data).unwrap();
        prop_assert_eq!(answer.as_bytes(), &padded[..]);
    }

    #[test]
    fn internal_authenticate_answer_depends_on_the_key(key in key(), other in any::<[u8; 16]>(), data in any::<[u8; 8]>()) {
        let wrong = SecretKey::new(key.algorithm(), other);
        prop_assume!(wrong != key);
        prop_assert_ne!(internal_authenticate(&key, &data).unwrap(), internal_authenticate(&wrong, &data).unwrap());
    }

    #[test]
    fn secure_messaging_accepts_the_terminal_mac(key in key(), challenge in challenge(), header in any::<[u8; 4]>(),
                                                 data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mac = command_mac(&key, &challenge, header, &data).unwrap();
        let command = [&data[..], &mac[..]].concat();
        prop_assert_eq!(verify_command_mac(&key, &challenge, header, &command), Ok(&data[..]));
    }

    #[test]
    fn secure_messaging_refuses_a_flipped_bit_anywhere(key in key(), challenge in challenge(), header in any::<[u8; 4]>(),
                                                       data in proptest::collection::vec(any::<u8>(), 0..40),
                                                       bit in any::<prop::sample::Index>()) {
        let mac = command_mac(&key, &challenge, header, &data).unwrap();
        let mut command = [&header[..], &data[..], &mac[..]].concat();
        flip(&mut command, bit);
        let (header2, body) = command.split_at(4);
        let header2: [u8; 4] = header2.try_into().unwrap();
        // Only the chaining bit of CLA is outside the MAC: it is not a change.
        prop_assume!(header2[0] ^ header[0] != 0x10);
        prop_assert_eq!(verify_command_mac(&key, &challenge, header2, body), Err(Error::Mismatch));
    }

    #[test]
    fn secure_messaging_refuses_a_wrong_key_or_challenge(key in key(), other in any::<[u8; 16]>(),
                                                         (challenge, other_challenge) in challenge_pair(),
                                                         data in any::<[u8; 5]>()) {
        let header = [0x04, 0xD6, 0x85, 0x00];
        let mac = command_mac(&key, &challenge, header, &data).unwrap();
        let command = [&data[..], &mac[..]].concat();
        let wrong = SecretKey::new(key.algorithm(), other);
        if wrong != key {
            prop_assert_eq!(verify_command_mac(&wrong, &challenge, header, &command), Err(Error::Mismatch));
        }
        if other_challenge != challenge {
            prop_assert_eq!(verify_command_mac(&key, &other_challenge, header, &command), Err(Error::Mismatch));
        }
    }
}

#[test]
fn chaining_bit_is_not_part_of_the_mac() {
    let key = SecretKey::new(Algorithm::Sm4, [0x5A; 16]);
    let challenge = [1, 2, 3, 4, 5, 6, 7, 8];
    assert_eq!(
        command_mac(&key, &challenge, [0x14, 0xD6, 0, 0], b"data").unwrap(),
        command_mac(&key, &challenge, [0x04, 0xD6, 0, 0], b"data").unwrap()
    );
}

#[test]
fn secure_messaging_refuses_a_command_shorter_than_its_mac() {
    let key = SecretKey::new(Algorithm::Des3, [0x5A; 16]);
    assert_eq!(
        verify_command_mac(&key, &[0; 8], [0x84, 0x24, 0, 0], &[1, 2, 3]),
        Err(Error::Length)
    );
    assert_eq!(
        verify_command_mac(&key, &[0; 8], [0x84, 0x24, 0, 0], &[]),
        Err(Error::Length)
    );
}

#[test]
fn challenges_other_than_4_or_8_bytes_are_refused() {
    let key = SecretKey::new(Algorithm::Aes128, [0x5A; 16]);
    for len in [0, 3, 5, 16] {
        let challenge = vec![7; len];
        assert_eq!(
            external_cryptogram(&key, &challenge).unwrap_err(),
            Error::Length
        );
        assert_eq!(
            command_mac(&key, &challenge, [0x84, 0x24, 0, 0], &[]).unwrap_err(),
            Error::Length
        );
    }
}

#[test]
fn internal_authenticate_refuses_empty_or_long_data() {
    let key = SecretKey::new(Algorithm::Des3, [0x5A; 16]);
    assert_eq!(internal_authenticate(&key, &[]).unwrap_err(), Error::Length);
    assert_eq!(
        internal_authenticate(&key, &[0; 17]).unwrap_err(),
        Error::Length
    );
}

#[test]
fn lc_switches_to_extended_form_above_255() {
    // 251 data bytes + 4 MAC bytes = Lc 255 (short); 252 + 4 = 256 (extended 00 01 00).
    let key = SecretKey::new(Algorithm::Sm4, [0x5A; 16]);
    let challenge = [9; 8];
    let header = [0x04, 0xD6, 0x00, 0x00];
    let short = command_mac(&key, &challenge, header, &[0xAB; 251]).unwrap();
    let extended = command_mac(&key, &challenge, header, &[0xAB; 252]).unwrap();
    let session = card_os::crypto::session_key(&key, &challenge).unwrap();
    let iv = [[9u8; 8], [0; 8]].concat();
    let by_hand_short =
        card_os::crypto::mac::line_mac(&session, &iv, &[&header, &[255], &[0xAB; 251]]).unwrap();
    let by_hand_extended =
        card_os::crypto::mac::line_mac(&session, &iv, &[&header, &[0, 1, 0], &[0xAB; 252]])
            .unwrap();
    assert_eq!(short, by_hand_short);
    assert_eq!(extended, by_hand_extended);
}

//! Keys and PINs: redacted printing, constant-time equality, PIN parsing.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use card_os::crypto::{Algorithm, Error, Pin, SecretKey};
use proptest::prelude::*;

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn assert_redacted(printed: &str, secret: &[u8]) {
    let upper = hex_upper(secret);
    assert!(!printed.contains(&upper), "{printed} contains {upper}");
    assert!(
        !printed.contains(&upper.to_lowercase()),
        "{printed} contains hex"
    );
    assert!(
        !printed.contains(&format!("{secret:?}")),
        "{printed} contains the byte list"
    );
}

#[test]
fn secret_key_prints_its_algorithm_and_nothing_else() {
    let key = SecretKey::new(
        Algorithm::Sm4,
        *b"\x01\x23\x45\x67\x89\xab\xcd\xef\xfe\xdc\xba\x98\x76\x54\x32\x10",
    );
    assert_eq!(format!("{key:?}"), "SecretKey(Sm4, <redacted>)");
    assert_eq!(format!("{key}"), "SecretKey(Sm4, <redacted>)");
    assert_eq!(
        format!("{:?}", Some(&key)),
        "Some(SecretKey(Sm4, <redacted>))"
    );
}

#[test]
fn pin_prints_redacted() {
    let pin = Pin::from_ascii(b"987654").unwrap();
    for printed in [format!("{pin:?}"), format!("{pin}"), format!("{pin:#?}")] {
        assert_eq!(printed, "Pin(<redacted>)");
        assert!(!printed.contains("987654"));
    }
}

proptest! {
    #[test]
    fn secret_key_debug_never_shows_the_key(bytes in any::<[u8; 16]>(), alg in prop_oneof![
        Just(Algorithm::Des3), Just(Algorithm::Sm4), Just(Algorithm::Aes128)]) {
        let key = SecretKey::new(alg, bytes);
        assert_redacted(&format!("{key:?}"), &bytes);
        assert_redacted(&format!("{key}"), &bytes);
        assert_redacted(&format!("{key:#?}"), &bytes);
        let diversifier = card_os::crypto::diversify::Diversifier::new(&key);
        assert_redacted(&format!("{diversifier:?}"), &bytes);
        assert_redacted(&format!("{diversifier:#?}"), &bytes);
    }

    #[test]
    fn pin_debug_never_shows_the_digits(digits in "[0-9]{4,16}") {
        let pin = Pin::from_ascii(digits.as_bytes()).unwrap();
        let printed = format!("{pin:?} {pin}");
        prop_assert!(!printed.contains(&digits));
        prop_assert!(!printed.contains(&hex_upper(pin.as_bcd())));
        prop_assert!(!printed.chars().any(|c| c.is_ascii_digit()));
    }

    #[test]
    fn pin_ascii_and_bcd_round_trip(digits in "[0-9]{4,16}") {
        let pin = Pin::from_ascii(digits.as_bytes()).unwrap();
        prop_assert_eq!(pin.len(), digits.len());
        let mut expected = digits.clone();
        if expected.len() % 2 == 1 {
            expected.push('F');
        }
        prop_assert_eq!(hex_upper(pin.as_bcd()), expected);
        prop_assert_eq!(Pin::from_bcd(pin.as_bcd()).unwrap(), pin);
    }

    #[test]
    fn pin_bcd_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
        if let Ok(pin) = Pin::from_bcd(&bytes) {
            prop_assert!((4..=16).contains(&pin.len()));
            prop_assert_eq!(Pin::from_bcd(pin.as_bcd()).unwrap(), pin);
        }
    }

    #[test]
    fn different_pins_are_unequal(a in "[0-9]{4,16}", b in "[0-9]{4,16}") {
        let (pa, pb) = (Pin::from_ascii(a.as_bytes()).unwrap(), Pin::from_ascii(b.as_bytes()).unwrap());
        prop_assert_eq!(pa == pb, a == b);
    }

    #[test]
    fn keys_equal_only_with_same_bytes_and_algorithm(a in any::<[u8; 16]>(), b in any::<[u8; 16]>()) {
        prop_assert_eq!(SecretKey::new(Algorithm::Sm4, a) == SecretKey::new(Algorithm::Sm4, b), a == b);
        prop_assert!(SecretKey::new(Algorithm::Sm4, a) != SecretKey::new(Algorithm::Aes128, a));
    }
}

#[test]
fn pin_from_bcd_accepts_f_padding_only_at_the_end() {
    assert_eq!(
        Pin::from_bcd(&[0x12, 0x34, 0x56]).unwrap(),
        Pin::from_ascii(b"123456").unwrap()
    );
    assert_eq!(
        Pin::from_bcd(&[0x12, 0x34, 0x5F]).unwrap(),
        Pin::from_ascii(b"12345").unwrap()
    );
    assert_eq!(
        Pin::from_bcd(&[0x12, 0x34, 0xFF]).unwrap(),
        Pin::from_ascii(b"1234").unwrap()
    );
    assert_eq!(
        Pin::from_bcd(&[0x12, 0xF4, 0x56]).unwrap_err(),
        Error::Format
    );
    assert_eq!(
        Pin::from_bcd(&[0x12, 0x3A, 0x56]).unwrap_err(),
        Error::Format
    );
}

#[test]
fn pin_lengths_outside_4_to_16_digits_are_refused() {
    assert_eq!(Pin::from_ascii(b"123").unwrap_err(), Error::Length);
    assert_eq!(
        Pin::from_ascii(b"12345678901234567").unwrap_err(),
        Error::Length
    );
    assert_eq!(Pin::from_bcd(&[0x12, 0x3F]).unwrap_err(), Error::Length);
    assert_eq!(Pin::from_bcd(&[]).unwrap_err(), Error::Length);
    assert_eq!(Pin::from_bcd(&[0x11; 9]).unwrap_err(), Error::Length);
    assert_eq!(Pin::from_ascii(b"12a456").unwrap_err(), Error::Format);
}

#[test]
fn key_from_slice_needs_16_bytes() {
    assert_eq!(
        SecretKey::from_slice(Algorithm::Des3, &[0; 15]).unwrap_err(),
        Error::Length
    );
    assert_eq!(
        SecretKey::from_slice(Algorithm::Des3, &[7; 16]).unwrap(),
        SecretKey::new(Algorithm::Des3, [7; 16])
    );
}

#[test]
fn algorithm_bytes_round_trip_and_ssf33_is_refused() {
    for alg in [Algorithm::Des3, Algorithm::Sm4, Algorithm::Aes128] {
        assert_eq!(Algorithm::from_byte(alg.to_byte()).unwrap(), alg);
    }
    assert_eq!(
        Algorithm::from_byte(0x02).unwrap_err(),
        Error::UnsupportedAlgorithm
    );
    assert_eq!(
        Algorithm::from_byte(0x02).unwrap_err().status_word(),
        0x6A80
    );
    assert_eq!(
        (
            Algorithm::Des3.block_size(),
            Algorithm::Sm4.block_size(),
            Algorithm::Aes128.block_size()
        ),
        (8, 16, 16)
    );
}

/// The bytes a value's storage holds after its destructor ran.
fn bytes_after_drop<T>(value: T) -> Vec<u8> {
    let mut slot = std::mem::ManuallyDrop::new(value);
    // SAFETY: the value is dropped once and never used as a `T` again; only the raw
    // bytes of its (still allocated) storage are read afterwards.
    unsafe {
        std::mem::ManuallyDrop::drop(&mut slot);
        std::slice::from_raw_parts(
            std::ptr::addr_of!(slot).cast::<u8>(),
            std::mem::size_of::<T>(),
        )
        .to_vec()
    }
}

#[test]
fn secret_key_is_zeroized_on_drop() {
    let storage = bytes_after_drop(SecretKey::new(Algorithm::Aes128, [0xA5; 16]));
    assert!(
        !storage.windows(4).any(|w| w == [0xA5; 4]),
        "{storage:02X?}"
    );
}

#[test]
fn pin_is_zeroized_on_drop() {
    let storage = bytes_after_drop(Pin::from_ascii(b"9876543210987654").unwrap());
    assert!(
        !storage.windows(2).any(|w| w == [0x98, 0x76]),
        "{storage:02X?}"
    );
}

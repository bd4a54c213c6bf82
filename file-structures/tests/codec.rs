//! Field codecs: known examples of the check characters and property tests that every valid
//! value round-trips and every invalid one is refused.

use file_structures::codec::{
    card_number_check_char, citizen_id_check_char, decode, encode, is_valid_date, CodecError,
    Encoding,
};
use proptest::prelude::*;

#[test]
fn gb11643_example_has_check_character_x() {
    assert_eq!(citizen_id_check_char("11010519491231002"), Some('X'));
    assert!(encode(Encoding::CitizenId, 18, "11010519491231002X").is_ok());
}

#[test]
fn citizen_id_with_wrong_check_digit_is_refused_naming_the_right_one() {
    let err = encode(Encoding::CitizenId, 18, "110105194912310021").unwrap_err();
    assert_eq!(
        err,
        CodecError::CitizenIdCheck {
            value: "110105194912310021".into(),
            found: '1',
            expected: 'X'
        }
    );
}

#[test]
fn citizen_id_with_impossible_birth_date_is_refused() {
    let first17 = "11010520230231001";
    let id = format!("{first17}{}", citizen_id_check_char(first17).unwrap());
    assert!(matches!(
        encode(Encoding::CitizenId, 18, &id),
        Err(CodecError::BadDate { .. })
    ));
}

#[test]
fn design_note_card_number_example_checks() {
    assert_eq!(card_number_check_char("X0000001"), Some('9'));
    assert!(encode(Encoding::CardNumber, 9, "X00000019").is_ok());
    assert!(matches!(
        encode(Encoding::CardNumber, 9, "X00000018"),
        Err(CodecError::CardNumberCheck { expected: '9', .. })
    ));
}

#[test]
fn calendar_checks() {
    for good in ["20240229", "20000229", "19000101", "20991231", "20230131"] {
        assert!(is_valid_date(good), "{good}");
    }
    for bad in [
        "20230231", "19000229", "21000101", "20231301", "20230400", "2023011", "2023-1-1",
    ] {
        assert!(!is_valid_date(bad), "{bad}");
    }
    assert!(matches!(
        encode(Encoding::Date, 4, "20230231"),
        Err(CodecError::BadDate { .. })
    ));
}

#[test]
fn name_of_fifteen_chinese_characters_fits_thirty_bytes_sixteen_do_not() {
    let fifteen = "张".repeat(15);
    let bytes = encode(Encoding::Gbk, 30, &fifteen).unwrap();
    assert_eq!(bytes.len(), 30);
    assert_eq!(decode(Encoding::Gbk, &bytes).unwrap(), fifteen);
    let sixteen = "张".repeat(16);
    assert_eq!(
        encode(Encoding::Gbk, 30, &sixteen),
        Err(CodecError::TooLong { bytes: 32, max: 30 })
    );
}

#[test]
fn gbk_name_is_left_aligned_and_zero_padded() {
    let bytes = encode(Encoding::Gbk, 8, "张测试").unwrap();
    assert_eq!(bytes, [0xD5, 0xC5, 0xB2, 0xE2, 0xCA, 0xD4, 0x00, 0x00]);
}

#[test]
fn text_outside_gbk_is_refused() {
    assert!(matches!(
        encode(Encoding::Gbk, 30, "张😀"),
        Err(CodecError::NotGbk {
            ch: '😀',
            position: 1
        })
    ));
    assert!(matches!(
        encode(Encoding::An, 30, "é"),
        Err(CodecError::NotAscii { .. })
    ));
}

#[test]
fn bcd_is_left_aligned_and_f_padded() {
    assert_eq!(
        encode(Encoding::Cn, 4, "123").unwrap(),
        [0x12, 0x3F, 0xFF, 0xFF]
    );
    assert_eq!(
        decode(Encoding::Cn, &[0x12, 0x3F, 0xFF, 0xFF]).unwrap(),
        "123"
    );
    assert!(matches!(
        decode(Encoding::Cn, &[0x1F, 0x2F]),
        Err(CodecError::BadBcd { .. })
    ));
    assert!(matches!(
        decode(Encoding::Cn, &[0x1A]),
        Err(CodecError::BadBcd { nibble: 0xA, .. })
    ));
}

#[test]
fn codes_are_checked() {
    assert!(encode(Encoding::Region, 3, "110105").is_ok());
    assert!(matches!(
        encode(Encoding::Region, 3, "990105"),
        Err(CodecError::BadRegion { .. })
    ));
    assert!(encode(Encoding::Gender, 1, "2").is_ok());
    assert!(matches!(
        encode(Encoding::Gender, 1, "3"),
        Err(CodecError::BadGender { .. })
    ));
    assert!(encode(Encoding::Nation, 1, "01").is_ok());
    assert!(matches!(
        encode(Encoding::Nation, 1, "57"),
        Err(CodecError::BadNation { .. })
    ));
    let code = "110100D156000005000000000000000A";
    assert_eq!(
        decode(
            Encoding::CardIdCode,
            &encode(Encoding::CardIdCode, 16, code).unwrap()
        )
        .unwrap(),
        code
    );
    assert!(matches!(
        encode(Encoding::CardIdCode, 16, "110100D156000006000000000000000A"),
        Err(CodecError::BadCardIdCode { .. })
    ));
}

#[test]
fn every_encoding_name_parses_back() {
    for (name, encoding) in Encoding::ALL {
        assert_eq!(Encoding::from_name(name), Some(encoding));
        assert_eq!(encoding.name(), name);
    }
    assert_eq!(Encoding::from_name("utf8"), None);
}

fn valid_date() -> impl Strategy<Value = String> {
    (1900u32..=2099, 1u32..=12, 1u32..=31)
        .prop_map(|(y, m, d)| format!("{y:04}{m:02}{d:02}"))
        .prop_filter("a real day", |s| is_valid_date(s))
}

fn valid_citizen_id() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["110105", "310101", "440305", "650102"]),
        valid_date(),
        0u32..1000,
    )
        .prop_map(|(region, date, seq)| {
            let first17 = format!("{region}{date}{seq:03}");
            let check = citizen_id_check_char(&first17).unwrap();
            format!("{first17}{check}")
        })
}

proptest! {
    #[test]
    fn ascii_round_trips(value in "[ -~]{0,20}", extra in 0usize..10) {
        let len = value.len() + extra;
        let bytes = encode(Encoding::An, len, &value).unwrap();
        prop_assert_eq!(bytes.len(), len);
        // Trailing spaces are kept: only 00 is padding.
        prop_assert_eq!(decode(Encoding::An, &bytes).unwrap(), value);
    }

    #[test]
    fn gbk_round_trips_within_its_byte_limit(value in "[a-zA-Z0-9 张王李测试社会保障卡中华人民共和国·]{0,20}", len in 1usize..40) {
        match encode(Encoding::Gbk, len, &value) {
            Ok(bytes) => {
                prop_assert_eq!(bytes.len(), len);
                prop_assert_eq!(decode(Encoding::Gbk, &bytes).unwrap(), value);
            }
            Err(CodecError::TooLong { bytes, max }) => {
                prop_assert_eq!(max, len);
                prop_assert!(bytes > len);
                prop_assert_eq!(bytes, encoding_rs::GBK.encode(&value).0.len());
            }
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }

    #[test]
    fn bcd_round_trips(value in "[0-9]{0,24}", extra in 0usize..4) {
        let len = value.len().div_ceil(2) + extra;
        let bytes = encode(Encoding::Cn, len, &value).unwrap();
        prop_assert_eq!(bytes.len(), len);
        prop_assert_eq!(decode(Encoding::Cn, &bytes).unwrap(), value);
    }

    #[test]
    fn binary_round_trips(bytes in prop::collection::vec(any::<u8>(), 1..32)) {
        let text = hex::encode_upper(&bytes);
        prop_assert_eq!(&encode(Encoding::B, bytes.len(), &text).unwrap(), &bytes);
        prop_assert_eq!(decode(Encoding::B, &bytes).unwrap(), text);
    }

    #[test]
    fn dates_round_trip(date in valid_date()) {
        let bytes = encode(Encoding::Date, 4, &date).unwrap();
        prop_assert_eq!(decode(Encoding::Date, &bytes).unwrap(), date);
    }

    #[test]
    fn citizen_ids_round_trip(id in valid_citizen_id()) {
        let bytes = encode(Encoding::CitizenId, 18, &id).unwrap();
        prop_assert_eq!(decode(Encoding::CitizenId, &bytes).unwrap(), id);
    }

    #[test]
    fn any_single_digit_change_breaks_the_citizen_id_check(id in valid_citizen_id(), pos in 0usize..17, delta in 1u8..10) {
        let mut bytes = id.into_bytes();
        bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert!(encode(Encoding::CitizenId, 18, &changed).is_err());
    }

    #[test]
    fn card_numbers_round_trip(first8 in "[0-9A-Z]{8}") {
        let number = format!("{first8}{}", card_number_check_char(&first8).unwrap());
        let bytes = encode(Encoding::CardNumber, 9, &number).unwrap();
        prop_assert_eq!(decode(Encoding::CardNumber, &bytes).unwrap(), number);
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        for (_, encoding) in Encoding::ALL {
            let _ = decode(encoding, &bytes);
        }
    }
}

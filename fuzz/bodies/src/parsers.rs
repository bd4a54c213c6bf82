//! Byte and text parsers: BER-TLV (card-os), the ATR and FCP analyses and hex input (host-tools).
//! Each body checks what its parser promises beyond "no panic".

use card_os::response::Writer;
use card_os::tlv;
use host_tools::protocol::{atr, fcp, hexstr};

use crate::input;

/// card-os' BER-TLV reader: values lie inside the input, and every object read writes back to
/// bytes that read as the same object.
pub fn tlv(data: &[u8]) {
    let mut consumed = 0usize;
    // An object written back takes at most 4 bytes of tag and length more than its value.
    let mut buf = vec![0u8; data.len() + 8];
    for object in tlv::Reader::new(data) {
        let Ok(object) = object else { break };
        consumed += object.value.len();
        assert!(consumed <= data.len(), "objects longer than their input");
        let mut writer = Writer::new(&mut buf);
        tlv::write(&mut writer, object.tag, object.value)
            .unwrap_or_else(|sw| panic!("an object read does not write back: {sw:?}"));
        let written = writer.written();
        assert_eq!(
            tlv::single(written),
            Ok(object),
            "an object written reads back differently"
        );
    }
    let _ = tlv::single(data);
}

/// The ATR analysis: a parsed ATR keeps its bytes, and its description and SSC profile are
/// computed without fault for any ATR.
pub fn atr(data: &[u8]) {
    match atr::parse(data) {
        Ok(parsed) => {
            assert_eq!(parsed.bytes, data, "the parsed ATR is not the input");
            let description = parsed.describe();
            assert!(!description.is_empty());
            let _ = atr::ssc_profile(&parsed.historical);
        }
        Err(e) => {
            // The error is a sentence for a person.
            assert!(!e.to_string().is_empty());
        }
    }
}

/// The FCP analysis of a SELECT answer.
pub fn fcp(data: &[u8]) {
    if let Ok(facts) = fcp::parse(data) {
        assert!(!facts.structure.is_empty());
        if let Some(access) = facts.access {
            assert_eq!(access.len(), 4, "read, update, append, admin");
        }
    }
}

/// Hex input from people: what parses encodes back to the same bytes (with and without
/// separators), and an error points at the character it names.
pub fn hex_input(data: &[u8]) {
    let text = input::text(data);
    match hexstr::parse(&text) {
        Ok(bytes) => {
            assert_eq!(hexstr::parse(&hexstr::encode(&bytes)).as_ref(), Ok(&bytes));
            assert_eq!(hexstr::parse(&hexstr::spaced(&bytes)).as_ref(), Ok(&bytes));
        }
        Err(e) => {
            let at = text.chars().nth(e.position);
            match e.kind {
                hexstr::HexErrorKind::NotHexDigit(c) | hexstr::HexErrorKind::SplitByte(c) => {
                    assert_eq!(at, Some(c), "the error names another character")
                }
                hexstr::HexErrorKind::OddDigit => {
                    assert!(at.is_some_and(|c| c.is_ascii_hexdigit()))
                }
                hexstr::HexErrorKind::TooLong => {
                    assert!(text.chars().count() > hexstr::MAX_HEX_INPUT_CHARS)
                }
            }
            assert!(!e.sentence().is_empty());
            let _ = e.caret();
        }
    }
}

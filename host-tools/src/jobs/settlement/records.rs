//! The card's transaction log, DF04 EF08 (SFI 8): cyclic records of 28 bytes (20 in
//! account-only mode), newest first, appended by the card itself; read after the PIN.

use serde::Serialize;

use super::SettleError;
use crate::protocol::apdu::{build, Status};
use crate::protocol::client::Client;
use crate::transport::CardTransport;

/// The log's short file identifier.
pub const LOG_SFI: u8 = 8;
/// The most records read (the specification asks for at least 30).
pub const MAX_RECORDS: u8 = 64;

/// One decoded log record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogRecord {
    /// The record number (1 = newest).
    pub number: u8,
    pub serial: u16,
    /// "load" or "settlement" (or the type byte in hex when it is neither).
    pub kind: String,
    pub terminal_no: String,
    /// `YYYYMMDDhhmmss`.
    pub time: String,
    /// In fen.
    pub account: u32,
    pub self_pay: Option<u32>,
    pub pooled: Option<u32>,
}

/// Why a record's bytes are not a log record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("log record {number} has {len} bytes, not 20 or 28")]
pub struct RecordShape {
    pub number: u8,
    pub len: usize,
}

/// Decodes one record (28 bytes, or 20 in account-only mode). An all-`FF` or all-zero record is
/// an empty slot: `Ok(None)`.
pub fn decode(number: u8, bytes: &[u8]) -> Result<Option<LogRecord>, RecordShape> {
    if bytes.len() != 28 && bytes.len() != 20 {
        return Err(RecordShape {
            number,
            len: bytes.len(),
        });
    }
    if bytes.iter().all(|&b| b == 0xFF) || bytes.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    let be32 = |at: usize| {
        bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
    };
    let kind = match bytes[2] {
        b'1' => "load".to_owned(),
        b'2' => "settlement".to_owned(),
        other => format!("type {other:02X}"),
    };
    Ok(Some(LogRecord {
        number,
        serial: u16::from_be_bytes([bytes[0], bytes[1]]),
        kind,
        terminal_no: hex::encode_upper(&bytes[3..9]),
        time: hex::encode_upper(&bytes[9..16]),
        account: be32(16).unwrap_or(0),
        self_pay: be32(20),
        pooled: be32(24),
    }))
}

/// Reads the log of the purse DF (selected, PIN verified): every record, newest first, up to
/// [`MAX_RECORDS`].
pub fn read_log<T: CardTransport>(client: &mut Client<T>) -> Result<Vec<LogRecord>, SettleError> {
    let mut out = Vec::new();
    for number in 1..=MAX_RECORDS {
        let answer = client.send(&build::read_record_sfi(number, LOG_SFI))?;
        match answer.sw {
            Status::Success => {}
            Status::RecordNotFound => break,
            sw => return Err(SettleError::from_card("READ RECORD (EF08)", sw)),
        }
        match decode(number, &answer.data) {
            Ok(Some(record)) => out.push(record),
            Ok(None) => break,
            Err(shape) => return Err(SettleError::Unreadable(shape.to_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_settlement_record_is_decoded() {
        let bytes = hex::decode(
            "0007 32 110100000001 20260315103000 000004E2 0000012C 000002BC".replace(' ', ""),
        )
        .unwrap();
        let r = decode(1, &bytes).unwrap().unwrap();
        assert_eq!((r.serial, r.kind.as_str()), (7, "settlement"));
        assert_eq!(r.terminal_no, "110100000001");
        assert_eq!(r.time, "20260315103000");
        assert_eq!(
            (r.account, r.self_pay, r.pooled),
            (1250, Some(300), Some(700))
        );
        let short = decode(2, &bytes[..20]).unwrap().unwrap();
        assert_eq!((short.self_pay, short.pooled), (None, None));
        assert_eq!(decode(3, &[0xFF; 28]), Ok(None));
        assert_eq!(decode(4, &[0; 27]), Err(RecordShape { number: 4, len: 27 }));
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_are_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let result = decode(1, &bytes);
            prop_assert_eq!(result.is_err(), bytes.len() != 28 && bytes.len() != 20);
        }
    }
}

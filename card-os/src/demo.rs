//! The demo card (feature `demo`): an SSC-like card personalised through APDUs, for the
//! conformance simulator, tests and benches, and the card-in-a-box exchange helper it uses.

use crate::card::Card;
use crate::fs::{format, FormatError, FormatParams};
use crate::memory_map::MAX_RESPONSE;
use crate::response::Writer;
use crate::storage::Storage;
use crate::sw::Status;

/// One response held in a fixed buffer.
pub struct Exchange {
    buf: [u8; MAX_RESPONSE],
    len: usize,
}

impl Exchange {
    /// The response data (without the SW).
    pub fn data(&self) -> &[u8] {
        self.buf.get(..self.len.saturating_sub(2)).unwrap_or(&[])
    }

    /// The status word.
    pub fn status(&self) -> Status {
        match self.buf.get(self.len.saturating_sub(2)..self.len) {
            Some([sw1, sw2]) => Status::from_u16(u16::from_be_bytes([*sw1, *sw2])),
            _ => Status::NoPreciseDiagnosis,
        }
    }

    /// Data and SW as sent.
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// Sends `apdu` to `card`.
pub fn exchange<S: Storage>(card: &mut Card<S>, apdu: &[u8]) -> Exchange {
    let mut exchange = Exchange {
        buf: [0; MAX_RESPONSE],
        len: 0,
    };
    exchange.len = card.process(apdu, &mut exchange.buf);
    exchange
}

/// The SSSE DF name ("sx1.sh." + GBK 社会保障).
pub const SSSE_NAME: [u8; 15] = [
    0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
];
/// The demo card's FID for SSSE.
pub const SSSE_FID: u16 = 0xDDF1;
/// Maximum record length of the demo card's record files.
pub const DEMO_RECORD_MAX: u8 = 64;

/// EF05 (card identification) records of the demo card: `tag len value`.
pub const DEMO_EF05: [&[u8]; 7] = [
    &[
        0x01, 0x10, 0x33, 0x03, 0x00, 0xD1, 0x56, 0x00, 0x00, 0x05, 0x01, 0x00, 0x57, 0x94, 0xE4,
        0xB2, 0xCB, 0xAC,
    ],
    &[0x02, 0x01, b'3'],
    &[0x03, 0x04, b'3', b'.', b'0', b'0'],
    &[
        0x04, 0x0C, 0x33, 0x03, 0x00, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    ],
    &[0x05, 0x04, 0x20, 0x24, 0x01, 0x15],
    &[0x06, 0x04, 0x20, 0x34, 0x01, 0x15],
    &[
        0x07, 0x09, b'X', b'0', b'0', b'0', b'0', b'0', b'0', b'1', b'9',
    ],
];

/// EF06 (cardholder basic data) records of the demo card.
pub const DEMO_EF06: [&[u8]; 7] = [
    &[
        0x08, 0x12, b'3', b'3', b'0', b'1', b'0', b'6', b'1', b'9', b'9', b'0', b'0', b'1', b'0',
        b'1', b'0', b'0', b'1', b'X',
    ],
    // 张三 in GBK, padded with 00 to 30 bytes.
    &[
        0x09, 0x1E, 0xD5, 0xC5, 0xC8, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
    ],
    &[
        0x4E, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    &[0x0A, 0x01, b'1'],
    &[0x0B, 0x01, 0x01],
    &[0x0C, 0x03, 0x33, 0x01, 0x06],
    &[0x0D, 0x04, 0x19, 0x90, 0x01, 0x01],
];

/// Why the demo card could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoError {
    Format(FormatError),
    /// The card is not formatted after formatting (the storage loses writes).
    PowerOn,
    /// A personalisation command failed: which step and its SW.
    Command {
        step: &'static str,
        status: Status,
    },
}

/// The demo card's format parameters (serial number, SSC historical bytes).
pub fn demo_params() -> FormatParams {
    FormatParams::ssc(
        [0x33, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01],
        0x97,
        [0x33, 0x03],
        [0xE4, 0xB2, 0xCB, 0xAC],
    )
}

/// Formats `storage` and personalises an SSC-like card through APDUs: MF; SSSE (DF name
/// [`SSSE_NAME`], FID [`SSSE_FID`], FCI proprietary `9F0C 03 86 01 01`) holding EF05 (SFI 5) and
/// EF06 (SFI 6), linear variable files with the records [`DEMO_EF05`] / [`DEMO_EF06`], EF07
/// fingerprint (transparent, 1024 bytes, SFI 7) and EF08 photo (transparent, 4096 bytes, SFI 8);
/// DF01 public application (AID D15600000500) under the MF with EF05 (SFI 5, linear variable, 3
/// records free) and DF04 (AID D15600000503) with a cyclic EF08 journal (SFI 8, 4 records of 16
/// bytes). Everything is free to read and write; the card stays in life cycle 01.
pub fn demo_card<S: Storage>(storage: &mut S) -> Result<(), DemoError> {
    format(storage, &demo_params()).map_err(DemoError::Format)?;
    let mut card = Card::power_on(storage).map_err(|_| DemoError::PowerOn)?;
    let mut run = |step: &'static str, apdu: &[u8]| {
        let status = exchange(&mut card, apdu).status();
        if status == Status::Success {
            Ok(())
        } else {
            Err(DemoError::Command { step, status })
        }
    };
    let [s1, s2] = SSSE_FID.to_be_bytes();
    let mut ssse = [0u8; 5 + 2 + 7 + 2 + 15 + 8];
    let ssse_len = ssse.len() as u8;
    let mut writer = Writer::new(&mut ssse);
    let written = writer
        .extend(&[
            0x00,
            0xE0,
            0x00,
            0x00,
            ssse_len - 5,
            0x62,
            ssse_len - 7,
            0x82,
            0x01,
            0x38,
            0x83,
            0x02,
            s1,
            s2,
            0x84,
            0x0F,
        ])
        .and_then(|()| writer.extend(&SSSE_NAME))
        .and_then(|()| writer.extend(&[0xA5, 0x06, 0x9F, 0x0C, 0x03, 0x86, 0x01, 0x01]));
    if let Err(status) = written {
        return Err(DemoError::Command {
            step: "build SSSE template",
            status,
        });
    }
    run("create SSSE", &ssse)?;
    let record_ef = |fdb: u8, fid: u8, sfi: u8, mrl: u8, nr: u8| {
        [
            0x00,
            0xE0,
            0x00,
            0x00,
            16,
            0x62,
            14,
            0x82,
            0x05,
            fdb,
            0x21,
            0x00,
            mrl,
            nr,
            0x83,
            0x02,
            0xEF,
            fid,
            0x88,
            0x01,
            sfi << 3,
        ]
    };
    let transparent_ef = |fid: u8, sfi: u8, size: u16| {
        let [hi, lo] = size.to_be_bytes();
        [
            0x00,
            0xE0,
            0x00,
            0x00,
            16,
            0x62,
            14,
            0x82,
            0x01,
            0x01,
            0x83,
            0x02,
            0xEF,
            fid,
            0x80,
            0x02,
            hi,
            lo,
            0x88,
            0x01,
            sfi << 3,
        ]
    };
    run(
        "create SSSE EF05",
        &record_ef(0x04, 0x05, 5, DEMO_RECORD_MAX, 7),
    )?;
    append_all(&mut run, &DEMO_EF05)?;
    run("select SSSE", &[0x00, 0xA4, 0x00, 0x0C, 0x02, s1, s2])?;
    run(
        "create SSSE EF06",
        &record_ef(0x04, 0x06, 6, DEMO_RECORD_MAX, 7),
    )?;
    append_all(&mut run, &DEMO_EF06)?;
    run("select SSSE", &[0x00, 0xA4, 0x00, 0x0C, 0x02, s1, s2])?;
    run("create SSSE EF07", &transparent_ef(0x07, 7, 0x400))?;
    run("select SSSE", &[0x00, 0xA4, 0x00, 0x0C, 0x02, s1, s2])?;
    run("create SSSE EF08", &transparent_ef(0x08, 8, 0x1000))?;
    run("select MF", &[0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00])?;
    run(
        "create DF01",
        &[
            0x00, 0xE0, 0x00, 0x00, 17, 0x62, 15, 0x82, 0x01, 0x38, 0x83, 0x02, 0xDF, 0x01, 0x84,
            0x06, 0xD1, 0x56, 0x00, 0x00, 0x05, 0x00,
        ],
    )?;
    run(
        "create DF01 EF05",
        &record_ef(0x04, 0x05, 5, DEMO_RECORD_MAX, 3),
    )?;
    run("select MF", &[0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00])?;
    run(
        "create DF04",
        &[
            0x00, 0xE0, 0x00, 0x00, 17, 0x62, 15, 0x82, 0x01, 0x38, 0x83, 0x02, 0xDF, 0x04, 0x84,
            0x06, 0xD1, 0x56, 0x00, 0x00, 0x05, 0x03,
        ],
    )?;
    run("create DF04 EF08", &record_ef(0x06, 0x08, 8, 16, 4))?;
    Ok(())
}

fn append_all(
    run: &mut impl FnMut(&'static str, &[u8]) -> Result<(), DemoError>,
    records: &[&[u8]],
) -> Result<(), DemoError> {
    for record in records {
        let mut apdu = [0u8; 5 + 255];
        let header = [0x00, 0xE2, 0x00, 0x00, record.len() as u8];
        apdu.get_mut(..5)
            .ok_or(DemoError::PowerOn)?
            .copy_from_slice(&header);
        let end = 5 + record.len();
        apdu.get_mut(5..end)
            .ok_or(DemoError::PowerOn)?
            .copy_from_slice(record);
        run("append record", apdu.get(..end).unwrap_or(&[]))?;
    }
    Ok(())
}

//! The personalisation commands of docs/card-os.md and docs/security.md, as bytes.

use card_os::fs::fcp::{
    FCP_TAG, TAG_ACCESS, TAG_DESCRIPTOR, TAG_DF_NAME, TAG_FID, TAG_LIFE_CYCLE, TAG_PROPRIETARY,
    TAG_SFI, TAG_SIZE,
};
use card_os::fs::LCS_ACTIVATED;
use card_os::memory_map::LIFE_CYCLE_ISSUED;

use crate::layout::{AccessRules, Df, Ef, Structure};

pub(super) fn select_mf() -> Vec<u8> {
    vec![0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00]
}

/// SELECT by path from the MF (P1 08), no answer data.
pub(super) fn select_path(path: &[u16]) -> Vec<u8> {
    let mut apdu = vec![0x00, 0xA4, 0x08, 0x0C, (path.len() * 2) as u8];
    path.iter()
        .for_each(|fid| apdu.extend_from_slice(&fid.to_be_bytes()));
    apdu
}

/// One data object of the template; every FCP tag is one byte.
fn tlv(out: &mut Vec<u8>, tag: u16, value: &[u8]) {
    out.push(tag as u8);
    out.push(value.len() as u8);
    out.extend_from_slice(value);
}

fn create(fcp_body: &[u8]) -> Vec<u8> {
    let mut apdu = vec![
        0x00,
        0xE0,
        0x00,
        0x00,
        (fcp_body.len() + 2) as u8,
        FCP_TAG as u8,
        fcp_body.len() as u8,
    ];
    apdu.extend_from_slice(fcp_body);
    apdu
}

fn common(body: &mut Vec<u8>, access: &AccessRules) {
    tlv(body, TAG_LIFE_CYCLE, &[LCS_ACTIVATED]);
    tlv(body, TAG_ACCESS, &access.to_bytes());
}

pub(super) fn create_df(df: &Df) -> Vec<u8> {
    let mut body = Vec::with_capacity(48);
    tlv(&mut body, TAG_DESCRIPTOR, &[0x38]);
    tlv(&mut body, TAG_FID, &df.fid.to_be_bytes());
    tlv(&mut body, TAG_DF_NAME, &df.df_name);
    common(&mut body, &df.access);
    if df.announce_algorithm {
        tlv(
            &mut body,
            TAG_PROPRIETARY,
            &[0x9F, 0x0C, 0x03, 0x86, 0x01, df.algorithm.to_byte()],
        );
    }
    create(&body)
}

pub(super) fn create_ef(ef: &Ef) -> Vec<u8> {
    let mut body = Vec::with_capacity(32);
    match ef.structure {
        Structure::Transparent { size } => {
            tlv(&mut body, TAG_DESCRIPTOR, &[0x01]);
            tlv(&mut body, TAG_FID, &ef.fid.to_be_bytes());
            tlv(&mut body, TAG_SIZE, &size.to_be_bytes());
        }
        Structure::LinearVariable { records, max_len } => {
            tlv(
                &mut body,
                TAG_DESCRIPTOR,
                &[0x04, 0x21, 0x00, max_len, records],
            );
            tlv(&mut body, TAG_FID, &ef.fid.to_be_bytes());
        }
        Structure::Cyclic {
            records,
            record_len,
        } => {
            tlv(
                &mut body,
                TAG_DESCRIPTOR,
                &[0x06, 0x21, 0x00, record_len, records],
            );
            tlv(&mut body, TAG_FID, &ef.fid.to_be_bytes());
        }
    }
    if let Some(sfi) = ef.sfi {
        tlv(&mut body, TAG_SFI, &[sfi << 3]);
    }
    common(&mut body, &ef.access);
    create(&body)
}

/// WRITE KEY into the current DF.
pub(super) fn write_key(
    id: u8,
    usage: u8,
    algorithm: u8,
    error_limit: u8,
    key: &[u8; 16],
) -> Vec<u8> {
    let mut apdu = vec![
        0x80,
        0xD4,
        0x00,
        0x00,
        0x14,
        id,
        usage,
        algorithm,
        error_limit,
    ];
    apdu.extend_from_slice(key);
    apdu
}

/// WRITE PIN into the current DF: try limit, then the PIN as packed BCD padded with F.
pub(super) fn write_pin(tries: u8, digits: &str) -> Vec<u8> {
    let bcd_len = digits.len().div_ceil(2);
    let mut apdu = vec![0x80, 0xD4, 0x01, 0x00, (1 + bcd_len) as u8, tries];
    let nibbles: Vec<u8> = digits.bytes().map(|d| d - b'0').collect();
    for pair in nibbles.chunks(2) {
        apdu.push(pair[0] << 4 | pair.get(1).copied().unwrap_or(0x0F));
    }
    apdu
}

/// ISSUE CARD: the card life cycle (P1) becomes "issued".
pub(super) fn issue_card() -> Vec<u8> {
    vec![0x80, 0xF0, LIFE_CYCLE_ISSUED, 0x00]
}

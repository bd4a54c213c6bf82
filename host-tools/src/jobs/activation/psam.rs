//! A simulated PSAM card: card-os formatted with one application (AID [`PSAM_AID`]) holding the
//! region keys of the holder PIN's DF (the keys an activation uses), made with card-os's own
//! commands (CREATE FILE, WRITE KEY, ISSUE CARD). TEST keys only.

use card_os::crypto::KEY_LEN;
use card_os::{Card, FormatParams};
use file_structures::layout::Layout;
use file_structures::personalise::{IssuerKeys, KeyError};

use super::security::PSAM_AID;
use crate::transport::sim::MemoryStorage;

/// Bytes of memory of a simulated PSAM.
const PSAM_CAPACITY: usize = 8 * 1024;
/// FID of the PSAM application.
const PSAM_FID: [u8; 2] = [0xDF, 0x90];
/// Historical bytes of the PSAM's ATR: "sscard PSAM" and two bytes of version.
const PSAM_HISTORICAL: [u8; 13] = *b"sscardPSAM\x00\x01\x00";

/// Why a PSAM image could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PsamImageError {
    #[error("the key file holds real keys: a simulated PSAM takes TEST keys only")]
    NotTestKeys,
    #[error("the layout's PIN DF {0} is not in the layout")]
    NoPinDf(String),
    #[error("the key file cannot give the PSAM's keys")]
    Key(#[source] KeyError),
    #[error("the simulated PSAM could not be formatted: {0}")]
    Format(card_os::FormatError),
    #[error("the simulated PSAM refused {step}: SW {sw:04X}")]
    Command { step: String, sw: u16 },
}

/// A PSAM for the cards of region `region_bcd` (3 BCD bytes, e.g. `33 03 00`) of `layout`.
pub fn psam_image(
    layout: &Layout,
    keys: &IssuerKeys,
    region_bcd: &[u8; 3],
) -> Result<MemoryStorage, PsamImageError> {
    if !keys.test_only {
        return Err(PsamImageError::NotTestKeys);
    }
    let df = layout
        .df(&layout.pin.df)
        .ok_or_else(|| PsamImageError::NoPinDf(layout.pin.df.clone()))?;
    let mut storage = MemoryStorage::erased(PSAM_CAPACITY);
    let params = FormatParams {
        serial_number: [
            0x50,
            0x53,
            0x41,
            0x4D,
            region_bcd[0],
            region_bcd[1],
            region_bcd[2],
            0x01,
        ],
        historical_bytes: PSAM_HISTORICAL,
        mf_access: [0; 8],
    };
    card_os::format(&mut storage, &params).map_err(PsamImageError::Format)?;
    let mut card = Card::power_on(storage).map_err(|f| PsamImageError::Command {
        step: format!("power-on ({})", f.error),
        sw: 0x6F00,
    })?;
    let mut run = |step: String, apdu: Vec<u8>| {
        let mut response = [0u8; card_os::MAX_RESPONSE];
        let n = card.process(&apdu, &mut response);
        let sw = match response.get(..n) {
            Some([.., a, b]) => u16::from_be_bytes([*a, *b]),
            _ => 0x6F00,
        };
        if sw == 0x9000 {
            Ok(())
        } else {
            Err(PsamImageError::Command { step, sw })
        }
    };
    let mut template = vec![0x82, 0x01, 0x38, 0x83, 0x02, PSAM_FID[0], PSAM_FID[1], 0x84];
    template.push(PSAM_AID.len() as u8);
    template.extend_from_slice(&PSAM_AID);
    let mut create = vec![0x00, 0xE0, 0x00, 0x00, template.len() as u8 + 2, 0x62];
    create.push(template.len() as u8);
    create.extend_from_slice(&template);
    run("CREATE FILE (PSAM application)".into(), create)?;
    let mut select = vec![0x00, 0xA4, 0x04, 0x0C, PSAM_AID.len() as u8];
    select.extend_from_slice(&PSAM_AID);
    run("SELECT (PSAM application)".into(), select)?;
    for spec in &df.keys {
        let region_key = keys
            .region_key(&df.name, spec.id, spec.algorithm, region_bcd)
            .map_err(PsamImageError::Key)?;
        let mut write = vec![0x80, 0xD4, 0x00, 0x00, 4 + KEY_LEN as u8];
        write.extend_from_slice(&[
            spec.id,
            spec.usage.to_byte(),
            spec.algorithm.to_byte(),
            spec.error_limit,
        ]);
        write.extend_from_slice(region_key.expose_bytes());
        let step = format!("WRITE KEY {:02X}", spec.id);
        let result = run(step, write.clone());
        zeroize::Zeroize::zeroize(&mut write);
        result?;
    }
    run("ISSUE CARD".into(), vec![0x80, 0xF0, 0x02, 0x00])?;
    Ok(card.into_storage())
}

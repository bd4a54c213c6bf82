//! A simulated PSAM card: card-os formatted with one application (AID [`PSAM_AID`]) holding the
//! region keys of the holder PIN's DF (the keys an activation uses), made with card-os's own
//! commands (CREATE FILE, WRITE KEY, ISSUE CARD). TEST keys only.

use card_os::fs::fcp::{TAG_DESCRIPTOR, TAG_DF_NAME, TAG_FID};
use card_os::fs::FileKind;
use card_os::{Card, FormatParams};
use file_structures::layout::Layout;
use file_structures::personalise::{IssuerKeys, KeyError};
use zeroize::Zeroize;

use super::security::PSAM_AID;
use crate::protocol::apdu::{build, CommandApdu, SelectReply};
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
    let mut run = |step: String, command: CommandApdu| {
        let mut response = [0u8; card_os::MAX_RESPONSE];
        let sw = match command.to_bytes() {
            Ok(mut apdu) => {
                let n = card.process(&apdu, &mut response);
                apdu.zeroize();
                match response.get(..n) {
                    Some([.., a, b]) => u16::from_be_bytes([*a, *b]),
                    _ => 0x6F00,
                }
            }
            Err(_) => 0x6700,
        };
        if sw == 0x9000 {
            Ok(())
        } else {
            Err(PsamImageError::Command { step, sw })
        }
    };
    let application = build::create_file(&[
        (TAG_DESCRIPTOR, vec![FileKind::Df.descriptor_byte()]),
        (TAG_FID, PSAM_FID.to_vec()),
        (TAG_DF_NAME, PSAM_AID.to_vec()),
    ])
    .map_err(|_| PsamImageError::Command {
        step: "CREATE FILE (PSAM application)".into(),
        sw: 0x6700,
    })?;
    run("CREATE FILE (PSAM application)".into(), application)?;
    run(
        "SELECT (PSAM application)".into(),
        build::select_name(&PSAM_AID, SelectReply::Nothing),
    )?;
    for spec in &df.keys {
        let region_key = keys
            .region_key(&df.name, spec.id, spec.algorithm, region_bcd)
            .map_err(PsamImageError::Key)?;
        let write = build::write_key(
            spec.id,
            spec.usage.to_byte(),
            spec.algorithm.to_byte(),
            spec.error_limit,
            region_key.expose_bytes(),
        );
        run(format!("WRITE KEY {:02X}", spec.id), write)?;
    }
    run("ISSUE CARD".into(), build::issue_card())?;
    Ok(card.into_storage())
}

//! A simulated PSAM card: card-os formatted with one application (AID [`PSAM_AID`]) holding the
//! region keys of the holder PIN's DF (the keys an activation uses), made with card-os's own
//! commands (CREATE FILE, WRITE KEY, ISSUE CARD). With a medical purse in the layout it also holds
//! the region key of the purse's purchase key (DPK) and the purchase files 0016, 0019 and
//! 001A..001C, for INIT SAM / CREDIT SAM FOR PURCHASE (docs/settlement.md). TEST keys only.

use card_os::fs::fcp::{TAG_ACCESS, TAG_DESCRIPTOR, TAG_DF_NAME, TAG_FID, TAG_SIZE};
use card_os::fs::FileKind;
use card_os::{Card, FormatParams};
use file_structures::layout::{KeySpec, KeyUsage, Layout};
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

/// The PSAM's terminal number file (cn6) and terminal serial file.
pub const PSAM_TERMINAL_NO: u16 = 0x0016;
pub const PSAM_TERMINAL_SERIAL: u16 = 0x0019;

/// The DF and spec of the medical purse's purchase key (DPK), when the layout has a purse.
fn purse_purchase_key(layout: &Layout) -> Option<(String, KeySpec)> {
    let purse = layout.purse.as_ref()?;
    let df = layout.df(&purse.df)?;
    let spec = df
        .keys
        .iter()
        .find(|k| k.usage == KeyUsage::PursePurchase)?;
    Some((df.name.clone(), spec.clone()))
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
    if let Some(dpk) = purse_purchase_key(layout) {
        let region_key = keys
            .region_key(&dpk.0, dpk.1.id, dpk.1.algorithm, region_bcd)
            .map_err(PsamImageError::Key)?;
        let write = build::write_key(
            dpk.1.id,
            dpk.1.usage.to_byte(),
            dpk.1.algorithm.to_byte(),
            dpk.1.error_limit,
            region_key.expose_bytes(),
        );
        run(format!("WRITE KEY {:02X} (DPK)", dpk.1.id), write)?;
        // The purchase files (docs/settlement.md, "The PSAM's side"): terminal number (the
        // region, then 000001), terminal serial (counted by the PSAM, never written from
        // outside), and the purchase key's index per diversification level (this PSAM holds the
        // region level: 001A; 001B and 001C are 00, no key).
        let terminal_no = [
            region_bcd[0],
            region_bcd[1],
            region_bcd[2],
            0x00,
            0x00,
            0x01,
        ];
        for (fid, content) in [
            (PSAM_TERMINAL_NO, &terminal_no[..]),
            (PSAM_TERMINAL_SERIAL, &[0, 0, 0, 0][..]),
            (0x001A, &[dpk.1.id][..]),
            (0x001B, &[0x00][..]),
            (0x001C, &[0x00][..]),
        ] {
            run(
                "SELECT (PSAM application)".into(),
                build::select_name(&PSAM_AID, SelectReply::Nothing),
            )?;
            let size = u16::try_from(content.len()).unwrap_or(u16::MAX);
            let create = build::create_file(&[
                (
                    TAG_DESCRIPTOR,
                    vec![FileKind::Transparent.descriptor_byte()],
                ),
                (TAG_FID, fid.to_be_bytes().to_vec()),
                (TAG_SIZE, size.to_be_bytes().to_vec()),
                // Read free, update / append never, admin free.
                (
                    TAG_ACCESS,
                    vec![0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0x00, 0x00],
                ),
            ])
            .map_err(|_| PsamImageError::Command {
                step: format!("CREATE FILE {fid:04X}"),
                sw: 0x6700,
            })?;
            run(format!("CREATE FILE {fid:04X}"), create)?;
            run(
                format!("UPDATE BINARY {fid:04X}"),
                build::update_binary(0, content),
            )?;
        }
    }
    run("ISSUE CARD".into(), build::issue_card())?;
    Ok(card.into_storage())
}

#[cfg(test)]
mod tests {
    use super::*;
    use card_os::crypto::purse::{purchase_session_input, session_key, Purchase, Settings};
    use card_os::crypto::{diversify::card_factor, Algorithm};

    fn send(card: &mut Card<MemoryStorage>, apdu: &[u8]) -> (Vec<u8>, u16) {
        let mut response = [0u8; 300];
        let n = card.process(apdu, &mut response);
        (
            response[..n - 2].to_vec(),
            u16::from_be_bytes([response[n - 2], response[n - 1]]),
        )
    }

    /// The national PSAM computes the MAC1 a national card checks: its region DPK diversified
    /// with the card factor is the card's DPK (IssuerKeys::card_key), and it counts its serial.
    #[test]
    fn the_psam_signs_a_purchase_with_the_cards_own_dpk() {
        let keys = IssuerKeys::test_keys().unwrap();
        for (version, algorithm) in [("2.0", Algorithm::Des3), ("3.0", Algorithm::Sm4)] {
            let layout = file_structures::layout::national(version).unwrap();
            let region = [0x33, 0x03, 0x00];
            let mut psam = Card::power_on(psam_image(&layout, &keys, &region).unwrap()).unwrap();
            let mut select = vec![0x00, 0xA4, 0x04, 0x0C, PSAM_AID.len() as u8];
            select.extend_from_slice(&PSAM_AID);
            assert_eq!(send(&mut psam, &select).1, 0x9000);
            let code: [u8; 16] = hex::decode("330300D15600000501005794E4B2CBAC")
                .unwrap()
                .try_into()
                .unwrap();
            let amounts: [u8; 12] = hex::decode("000003E8000000C80000012C")
                .unwrap()
                .try_into()
                .unwrap();
            let time = hex::decode("20260315103000").unwrap();
            let mut data = hex::decode("A1B2C3D40007").unwrap();
            data.extend_from_slice(&amounts);
            data.push(0x02);
            data.extend_from_slice(&time);
            data.extend_from_slice(&[0x32, algorithm.to_byte()]);
            data.extend_from_slice(&card_factor(&code).unwrap());
            let mut init = vec![0x80, 0x70, 0x01, 0x00, data.len() as u8];
            init.extend_from_slice(&data);
            init.push(0x08);
            let dpk = keys.card_key("DF04", 0x32, algorithm, &code).unwrap();
            for serial in [[0, 0, 0, 0], [0, 0, 0, 1]] {
                let (answer, sw) = send(&mut psam, &init);
                assert_eq!(sw, 0x9000, "{version}");
                assert_eq!(answer[..4], serial);
                let purchase = Purchase {
                    amounts,
                    terminal_no: [0x33, 0x03, 0x00, 0x00, 0x00, 0x01],
                    terminal_serial: serial,
                    time: time.clone().try_into().unwrap(),
                };
                let session = session_key(
                    &dpk,
                    &purchase_session_input(&[0xA1, 0xB2, 0xC3, 0xD4], 7, &serial),
                )
                .unwrap();
                assert_eq!(
                    answer[4..],
                    purchase.mac1(&session, Settings::default()).unwrap()
                );
                let mut credit = vec![0x80, 0x72, 0x00, 0x00, 0x04];
                credit.extend_from_slice(&purchase.mac2(&session, Settings::default()).unwrap());
                assert_eq!(send(&mut psam, &credit).1, 0x9000);
            }
            // The terminal serial file is the PSAM's own.
            assert_eq!(
                send(&mut psam, &[0x00, 0xA4, 0x00, 0x0C, 0x02, 0x00, 0x19]).1,
                0x9000
            );
            assert_eq!(
                send(&mut psam, &[0x00, 0xD6, 0x00, 0x00, 0x04, 0, 0, 0, 0]).1,
                0x6982
            );
        }
    }
}

//! File control parameters: the `62`/`6F` template a SELECT returns and CREATE FILE takes.

use crate::memory_map::{DF_NAME_MAX, PROPRIETARY_MAX};
use crate::response::Writer;
use crate::sw::Status;
use crate::tlv;

use super::descriptor::{Descriptor, FileKind};
use super::{LCS_ACTIVATED, LCS_INITIALISED, MF_FID};

/// Template tags.
pub const FCP_TAG: u16 = 0x62;
pub const FCI_TAG: u16 = 0x6F;

// The data objects inside the template.

/// Data size in bytes (2 bytes; for record EFs, in answers, MRL × NR).
pub const TAG_SIZE: u16 = 0x80;
/// File descriptor: `38` DF, `01` transparent, or `FDB 21 MRL(2) NR` for record EFs.
pub const TAG_DESCRIPTOR: u16 = 0x82;
/// File identifier (2 bytes).
pub const TAG_FID: u16 = 0x83;
/// DF name (1-16 bytes).
pub const TAG_DF_NAME: u16 = 0x84;
/// Access conditions (8 bytes, `access`).
pub const TAG_ACCESS: u16 = 0x86;
/// Short file identifier in bits 8-4.
pub const TAG_SFI: u16 = 0x88;
/// Life-cycle status byte (`fs::LCS_*`).
pub const TAG_LIFE_CYCLE: u16 = 0x8A;
/// Proprietary data, kept verbatim (at most `memory_map::PROPRIETARY_MAX` bytes).
pub const TAG_PROPRIETARY: u16 = 0xA5;

/// Largest template the card writes.
pub const FCP_MAX: usize = 96;

/// Writes the template `tag` (`62` FCP or `6F` FCI) describing `file`.
pub fn write(file: &Descriptor, tag: u16, out: &mut Writer<'_>) -> Result<(), Status> {
    let mut buf = [0u8; FCP_MAX];
    let mut inner = Writer::new(&mut buf);
    let fdb = file.kind.descriptor_byte();
    if file.kind.is_record() {
        tlv::write(
            &mut inner,
            TAG_DESCRIPTOR,
            &[fdb, 0x21, 0, file.max_record_len, file.record_slots],
        )?;
    } else {
        tlv::write(&mut inner, TAG_DESCRIPTOR, &[fdb])?;
    }
    tlv::write(&mut inner, TAG_FID, &file.fid.to_be_bytes())?;
    if file.kind == FileKind::Df {
        if file.name_len > 0 {
            tlv::write(&mut inner, TAG_DF_NAME, file.name())?;
        }
    } else {
        let size = if file.kind.is_record() {
            u16::from(file.max_record_len) * u16::from(file.record_slots)
        } else {
            file.data_size
        };
        tlv::write(&mut inner, TAG_SIZE, &size.to_be_bytes())?;
    }
    if file.sfi != 0 {
        tlv::write(&mut inner, TAG_SFI, &[file.sfi << 3])?;
    }
    tlv::write(&mut inner, TAG_LIFE_CYCLE, &[file.life_cycle])?;
    tlv::write(&mut inner, TAG_ACCESS, &file.access)?;
    if file.proprietary_len > 0 {
        tlv::write(&mut inner, TAG_PROPRIETARY, file.proprietary())?;
    }
    tlv::write(out, tag, inner.written())
}

/// Decodes the CREATE FILE template into a descriptor under `parent` (contents not yet placed).
/// Anything malformed, missing or unknown is `6A80`.
pub fn parse_create(data: &[u8], parent: u8) -> Result<Descriptor, Status> {
    let bad = Status::IncorrectDataParameters;
    let template = tlv::single(data)?;
    if template.tag != FCP_TAG {
        return Err(bad);
    }
    let mut file = Descriptor::new(FileKind::Df, 0, parent);
    let (mut have_kind, mut have_fid, mut size) = (false, false, None);
    let mut sfi_given = false;
    for object in tlv::Reader::new(template.value) {
        let object = object?;
        match (object.tag, object.value) {
            (TAG_DESCRIPTOR, [0x38]) => file.kind = FileKind::Df,
            (TAG_DESCRIPTOR, [0x01]) => file.kind = FileKind::Transparent,
            (TAG_DESCRIPTOR, [fdb, 0x21, mrl_hi, mrl, nr]) => {
                file.kind = match fdb {
                    0x02 => FileKind::LinearFixed,
                    0x04 => FileKind::LinearVariable,
                    0x06 => FileKind::Cyclic,
                    _ => return Err(bad),
                };
                if *mrl_hi != 0 || *mrl == 0 || *nr == 0 {
                    return Err(bad);
                }
                file.max_record_len = *mrl;
                file.record_slots = *nr;
            }
            (TAG_FID, [hi, lo]) => {
                file.fid = u16::from_be_bytes([*hi, *lo]);
                if matches!(file.fid, MF_FID | 0x3FFF | 0xFFFF) {
                    return Err(bad);
                }
                have_fid = true;
            }
            (TAG_DF_NAME, name) if !name.is_empty() && name.len() <= DF_NAME_MAX => {
                file.name_len = name.len() as u8;
                file.name
                    .get_mut(..name.len())
                    .ok_or(bad)?
                    .copy_from_slice(name);
            }
            (TAG_SIZE, [hi, lo]) => size = Some(u16::from_be_bytes([*hi, *lo])),
            (TAG_SFI, []) => {}
            (TAG_SFI, [byte]) => {
                let sfi = byte >> 3;
                if byte & 0x07 != 0 || sfi == 0 || sfi > 30 {
                    return Err(bad);
                }
                file.sfi = sfi;
                sfi_given = true;
            }
            (TAG_LIFE_CYCLE, [lcs @ (LCS_INITIALISED | LCS_ACTIVATED)]) => file.life_cycle = *lcs,
            (TAG_ACCESS, access) if access.len() == 8 => file.access.copy_from_slice(access),
            (TAG_PROPRIETARY, proprietary) if proprietary.len() <= PROPRIETARY_MAX => {
                file.proprietary_len = proprietary.len() as u8;
                file.proprietary
                    .get_mut(..proprietary.len())
                    .ok_or(bad)?
                    .copy_from_slice(proprietary);
            }
            _ => return Err(bad),
        }
        if object.tag == TAG_DESCRIPTOR {
            have_kind = true;
        }
    }
    if !have_kind || !have_fid {
        return Err(bad);
    }
    match file.kind {
        FileKind::Df if sfi_given => return Err(bad),
        FileKind::Df => {}
        _ if file.name_len > 0 => return Err(bad),
        FileKind::Transparent => match size {
            Some(size) if size > 0 => file.data_size = size,
            _ => return Err(bad),
        },
        _ => {
            file.data_size =
                u16::try_from(u32::from(file.record_slots) * file.slot_size()).map_err(|_| bad)?;
        }
    }
    Ok(file)
}

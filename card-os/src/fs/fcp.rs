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
            0x82,
            &[fdb, 0x21, 0, file.max_record_len, file.record_slots],
        )?;
    } else {
        tlv::write(&mut inner, 0x82, &[fdb])?;
    }
    tlv::write(&mut inner, 0x83, &file.fid.to_be_bytes())?;
    if file.kind == FileKind::Df {
        if file.name_len > 0 {
            tlv::write(&mut inner, 0x84, file.name())?;
        }
    } else {
        let size = if file.kind.is_record() {
            u16::from(file.max_record_len) * u16::from(file.record_slots)
        } else {
            file.data_size
        };
        tlv::write(&mut inner, 0x80, &size.to_be_bytes())?;
    }
    if file.sfi != 0 {
        tlv::write(&mut inner, 0x88, &[file.sfi << 3])?;
    }
    tlv::write(&mut inner, 0x8A, &[file.life_cycle])?;
    tlv::write(&mut inner, 0x86, &file.access)?;
    if file.proprietary_len > 0 {
        tlv::write(&mut inner, 0xA5, file.proprietary())?;
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
            (0x82, [0x38]) => file.kind = FileKind::Df,
            (0x82, [0x01]) => file.kind = FileKind::Transparent,
            (0x82, [fdb, 0x21, mrl_hi, mrl, nr]) => {
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
            (0x83, [hi, lo]) => {
                file.fid = u16::from_be_bytes([*hi, *lo]);
                if matches!(file.fid, MF_FID | 0x3FFF | 0xFFFF) {
                    return Err(bad);
                }
                have_fid = true;
            }
            (0x84, name) if !name.is_empty() && name.len() <= DF_NAME_MAX => {
                file.name_len = name.len() as u8;
                file.name
                    .get_mut(..name.len())
                    .ok_or(bad)?
                    .copy_from_slice(name);
            }
            (0x80, [hi, lo]) => size = Some(u16::from_be_bytes([*hi, *lo])),
            (0x88, []) => {}
            (0x88, [byte]) => {
                let sfi = byte >> 3;
                if byte & 0x07 != 0 || sfi == 0 || sfi > 30 {
                    return Err(bad);
                }
                file.sfi = sfi;
                sfi_given = true;
            }
            (0x8A, [lcs @ (LCS_INITIALISED | LCS_ACTIVATED)]) => file.life_cycle = *lcs,
            (0x86, access) if access.len() == 8 => file.access.copy_from_slice(access),
            (0xA5, proprietary) if proprietary.len() <= PROPRIETARY_MAX => {
                file.proprietary_len = proprietary.len() as u8;
                file.proprietary
                    .get_mut(..proprietary.len())
                    .ok_or(bad)?
                    .copy_from_slice(proprietary);
            }
            _ => return Err(bad),
        }
        if object.tag == 0x82 {
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

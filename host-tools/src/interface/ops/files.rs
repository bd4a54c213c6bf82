//! iReadCard and iWriteCard: items of any files addressed by tag (several files in one call,
//! cyclic records with `^`), with the access each file's rule in the layout asks for: the PIN
//! from the pad, external authentication through the PSAM, secure messaging MAC'd by the PSAM.

use crate::protocol::apdu::{self, Command};
use file_structures::codec;
use file_structures::layout::{AccessRule, Condition, Df, Ef, KeyUsage, Structure};

use super::address::{self, DfRef, FileAddr, Item};
use super::{pins, CardInfo};
use crate::interface::api::Driver;
use crate::interface::codes::{self, Failure, Outcome};
use crate::interface::config::Config;
use crate::interface::session::{require_psam, succeeded, CardFacts, CardSession};

/// A file of the address resolved against the layout.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub df: String,
    pub ef_fid: u16,
    pub ef: Ef,
}

/// The layout's DF and EF for a file address: −23 for files and tags the layout does not know.
pub(crate) fn resolve(session: &CardSession, file: &FileAddr) -> Result<Resolved, Failure> {
    let df: &Df = match file.df {
        DfRef::Ssse => session.df("SSSE")?,
        DfRef::Fid(fid) => session
            .layout
            .dfs
            .iter()
            .find(|d| d.fid == fid)
            .ok_or_else(|| unknown(format!("no DF {fid:04X} in the layout")))?,
    };
    let ef = df.efs.iter().find(|e| e.fid == file.ef).ok_or_else(|| {
        unknown(format!(
            "no EF {:04X} under {} in the layout",
            file.ef, df.name
        ))
    })?;
    let cyclic = matches!(ef.structure, Structure::Cyclic { .. });
    for item in &file.items {
        match item {
            Item::Cyclic { .. } if !cyclic => {
                return Err(unknown(format!(
                    "{}: '^' addresses a cyclic file's records",
                    file.label
                )))
            }
            Item::Tag { .. } if cyclic => {
                return Err(unknown(format!(
                    "{} is a cyclic file: address its records with '^'",
                    file.label
                )))
            }
            Item::Tag { tag, .. } if !ef.fields.iter().any(|f| f.tag == *tag) => {
                return Err(unknown(format!("{} has no item {tag:02X}", file.label)))
            }
            _ => {}
        }
    }
    Ok(Resolved {
        df: df.name.clone(),
        ef_fid: ef.fid,
        ef: ef.clone(),
    })
}

fn unknown(message: String) -> Failure {
    Failure::new(codes::ILLEGAL_DATA, message)
}

/// What a call has done for access so far (the PIN is verified once per call).
pub(crate) struct Access<'a> {
    pub readers: crate::interface::readers::Readers,
    pub config: &'a Config,
    pub facts: &'a CardFacts,
    pub pin_verified: bool,
    pub psam: Option<crate::interface::readers::PsamLease>,
}

impl Access<'_> {
    fn psam(&mut self) -> Result<&mut crate::interface::session::PsamModuleBox, Failure> {
        if self.psam.is_none() {
            self.psam = Some(require_psam(&self.readers, self.config)?);
        }
        self.psam
            .as_deref_mut()
            .ok_or_else(|| Failure::new(codes::NO_PSAM, "no PSAM"))
    }
}

/// Meets `rule` for a file of `df` (selected): PIN, key through the PSAM, as `auth_type` (1 PIN,
/// 2 key) chooses when either will do.
fn meet(
    driver: &mut Driver,
    session: &mut CardSession,
    access: &mut Access<'_>,
    df: &str,
    rule: AccessRule,
    auth_type: i32,
) -> Result<(), Failure> {
    let (pin, key) = match rule.condition {
        Condition::Never => return Err(never_by_terminal(df)),
        Condition::Free => (false, None),
        Condition::Pin => (true, None),
        Condition::Key(id) => (false, Some(id)),
        Condition::PinOrKey(_) if auth_type == 1 => (true, None),
        Condition::PinOrKey(id) => (false, Some(id)),
        Condition::PinAndKey(id) => (true, Some(id)),
    };
    if pin && !access.pin_verified {
        let config = access.config.clone();
        pins::verify(driver, &config, session)?;
        access.pin_verified = true;
        session.select_df(df)?;
    }
    if let Some(id) = key {
        let key = session.key_ref(df, id)?;
        let facts = access.facts.clone();
        session.authenticate_with(access.psam()?, &key, &facts)?;
    }
    Ok(())
}

/// Reads one addressed item of the selected EF.
pub(crate) fn read_item(session: &mut CardSession, ef: &Ef, item: Item) -> Result<String, Failure> {
    match item {
        Item::Cyclic { record } => {
            let answer = session.transmit(&Command {
                ne: Some(256),
                ..apdu::command(0x00, 0xB2, record, 0x04)
            })?;
            succeeded(&format!("READ RECORD {record}"), answer.sw)?;
            Ok(hex::encode_upper(answer.data))
        }
        Item::Tag { tag, occurrence } => {
            let field = ef
                .fields
                .iter()
                .find(|f| f.tag == tag)
                .ok_or_else(|| unknown(format!("no item {tag:02X}")))?;
            if occurrence == 1 {
                return session.read_field(field);
            }
            // The n-th record carrying the tag: first, then next (P2 mode 02) n-1 times.
            let mut answer = session.transmit(&Command {
                ne: Some(256),
                ..apdu::command(0x00, 0xB2, tag, 0x00)
            })?;
            for _ in 1..occurrence {
                succeeded(&format!("READ RECORD {tag:02X}"), answer.sw)?;
                answer = session.transmit(&Command {
                    ne: Some(256),
                    ..apdu::command(0x00, 0xB2, tag, 0x02)
                })?;
            }
            succeeded(&format!("READ RECORD {tag:02X}:{occurrence}"), answer.sw)?;
            match answer.data.as_slice() {
                [_, len, value @ ..] if usize::from(*len) <= value.len() => {
                    let value = &value[..usize::from(*len)];
                    if value.is_empty() {
                        return Ok(String::new());
                    }
                    codec::decode(field.encoding, value).map_err(|e| {
                        Failure::new(
                            codes::ILLEGAL_DATA,
                            format!("{} does not decode: {e}", field.id),
                        )
                    })
                }
                _ => Err(Failure::new(
                    codes::ILLEGAL_DATA,
                    "a record is not tag-length-value",
                )),
            }
        }
    }
}

pub(crate) fn check_auth_type(auth_type: i32) -> Result<(), Failure> {
    if matches!(auth_type, 1 | 2) {
        Ok(())
    } else {
        Err(Failure::new(
            codes::BAD_PARAMETER,
            format!("iAuthType {auth_type} is not 1 (PIN) or 2 (key)"),
        ))
    }
}

/// Reads `files` through the session, meeting each file's read rule; the answer's values.
pub(crate) fn read_files(
    driver: &mut Driver,
    session: &mut CardSession,
    access: &mut Access<'_>,
    files: &[FileAddr],
    auth_type: i32,
) -> Result<Vec<Vec<String>>, Failure> {
    let resolved: Vec<Resolved> = files
        .iter()
        .map(|f| resolve(session, f))
        .collect::<Result<_, _>>()?;
    let mut values = Vec::with_capacity(files.len());
    for (file, r) in files.iter().zip(&resolved) {
        session.select_df(&r.df)?;
        meet(driver, session, access, &r.df, r.ef.access.read, auth_type)?;
        session.select_ef(r.ef_fid)?;
        let mut file_values = Vec::with_capacity(file.items.len());
        for item in &file.items {
            file_values.push(read_item(session, &r.ef, *item)?);
        }
        values.push(file_values);
    }
    Ok(values)
}

pub fn read_card(
    driver: &mut Driver,
    i_type: i32,
    auth_type: i32,
    card_info: &str,
    file_addr: &str,
) -> Outcome {
    check_auth_type(auth_type)?;
    let info = CardInfo::parse(card_info)?;
    let files = address::parse(file_addr)?;
    let config = driver.config()?;
    let (mut session, facts) = pins::open_named(&driver.readers(), &config, i_type, &info)?;
    let result = (|| {
        let mut access = Access {
            readers: driver.readers(),
            config: &config,
            facts: &facts,
            pin_verified: false,
            psam: None,
        };
        let values = read_files(driver, &mut session, &mut access, &files, auth_type)?;
        Ok(address::render(&files, &values))
    })();
    session.close();
    result
}

/// The record bytes of a field's value: `tag len value` (len 0 for an empty value).
pub(crate) fn record_of(ef: &Ef, tag: u8, value: &str) -> Result<Vec<u8>, Failure> {
    let field = ef
        .fields
        .iter()
        .find(|f| f.tag == tag)
        .ok_or_else(|| unknown(format!("no item {tag:02X}")))?;
    let mut record = vec![tag, 0];
    if !value.is_empty() {
        codec::encode_into(field.encoding, usize::from(field.len), value, &mut record).map_err(
            |e| {
                Failure::new(
                    codes::ILLEGAL_DATA,
                    format!("{} cannot hold {value:?}: {e}", field.id),
                )
            },
        )?;
        record[1] = field.len;
    }
    Ok(record)
}

/// The command that writes one item: UPDATE RECORD by identifier, or APPEND RECORD to a cyclic
/// file (the value is the record in hex); header and data.
pub(crate) fn write_command(
    ef: &Ef,
    item: Item,
    value: &str,
) -> Result<([u8; 4], Vec<u8>), Failure> {
    match item {
        Item::Cyclic { record: 1 } => {
            if !value.bytes().all(|b| b.is_ascii_hexdigit()) || !value.len().is_multiple_of(2) {
                return Err(Failure::new(
                    codes::ILLEGAL_CHARACTERS,
                    "a cyclic record is written as hex bytes",
                ));
            }
            let data = hex::decode(value).unwrap_or_default();
            if data.is_empty() || data.len() > 255 {
                return Err(Failure::new(
                    codes::ILLEGAL_LENGTH,
                    "a record is 1 to 255 bytes",
                ));
            }
            Ok(([0x00, 0xE2, 0x00, 0x00], data))
        }
        Item::Cyclic { .. } => Err(unknown(
            "a cyclic file is written by appending its newest record: address it as '^'".into(),
        )),
        Item::Tag { tag, occurrence: 1 } => {
            Ok(([0x00, 0xDC, tag, 0x00], record_of(ef, tag, value)?))
        }
        Item::Tag { .. } => Err(unknown(
            "a write addresses the first record carrying a tag".into(),
        )),
    }
}

/// Sends one write; under secure messaging (the rule's `+sm`) with the DF's MAC key via `module`.
fn send_write(
    session: &mut CardSession,
    access: &mut Access<'_>,
    df: &str,
    rule: AccessRule,
    header: [u8; 4],
    data: &[u8],
) -> Result<(), Failure> {
    if rule.secure_messaging {
        let key = session.key_with_usage(df, KeyUsage::Mac)?;
        let facts = access.facts.clone();
        let [cla, ins, p1, p2] = header;
        let answer = session.send_with_mac(
            access.psam()?,
            &key,
            &facts,
            [cla | 0x04, ins, p1, p2],
            data,
        )?;
        return succeeded("UPDATE RECORD", answer.sw);
    }
    let [cla, ins, p1, p2] = header;
    let answer = session.transmit(&Command {
        data,
        ..apdu::command(cla, ins, p1, p2)
    })?;
    succeeded(
        if ins == 0xE2 {
            "APPEND RECORD"
        } else {
            "UPDATE RECORD"
        },
        answer.sw,
    )
}

pub fn write_card(
    driver: &mut Driver,
    i_type: i32,
    card_info: &str,
    file_addr: &str,
    write_data: &str,
) -> Outcome {
    let info = CardInfo::parse(card_info)?;
    let files = address::parse(file_addr)?;
    let values = address::parse_write_data(&files, write_data)?;
    let config = driver.config()?;
    let (mut session, facts) = pins::open_named(&driver.readers(), &config, i_type, &info)?;
    let result = (|| {
        let resolved: Vec<Resolved> = files
            .iter()
            .map(|f| resolve(&session, f))
            .collect::<Result<_, _>>()?;
        // Every value is checked against its field before anything is written.
        let mut commands = Vec::new();
        for ((file, r), values) in files.iter().zip(&resolved).zip(&values) {
            let mut file_commands = Vec::new();
            for (item, value) in file.items.iter().zip(values) {
                file_commands.push(write_command(&r.ef, *item, value)?);
            }
            commands.push(file_commands);
        }
        let mut access = Access {
            readers: driver.readers(),
            config: &config,
            facts: &facts,
            pin_verified: false,
            psam: None,
        };
        for (r, file_commands) in resolved.iter().zip(commands) {
            let cyclic = matches!(r.ef.structure, Structure::Cyclic { .. });
            let rule = if cyclic {
                r.ef.access.append
            } else {
                r.ef.access.update
            };
            session.select_df(&r.df)?;
            meet(driver, &mut session, &mut access, &r.df, rule, 2)?;
            session.select_ef(r.ef_fid)?;
            for (header, data) in file_commands {
                send_write(&mut session, &mut access, &r.df, rule, header, &data)?;
            }
        }
        Ok(String::new())
    })();
    session.close();
    result
}

/// A file no terminal may read or write that way (the card keeps it, as the medical purse's log):
/// refused before anything is sent, with the code of the card's own answer (`6982`).
pub(crate) fn never_by_terminal(df: &str) -> Failure {
    Failure::new(
        codes::of_sw(0x6982),
        format!("this file of {df} is kept by the card itself: no terminal may do that to it"),
    )
}

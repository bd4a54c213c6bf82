//! iReadCard_HSM_Step1/2 and iWriteCard_HSM_Step1/2: files behind a key, authenticated by the
//! back office's HSM instead of a PSAM. One pKey authenticates one key, so the files of one call
//! are in one DF and need at most that DF's one key; a PIN the rules ask for is verified at
//! the pad during Step1.
//!
//! Step1 answers `region | ATR historical bytes | algorithm id | card identification code | DF |
//! key id | challenge (16 hex) | zero padding to the key's block |`, its last command being the
//! GET CHALLENGE; pKey is `<EXTERNAL AUTHENTICATE cryptogram hex>|`.

use crate::protocol::apdu::{self, Command};
use file_structures::layout::{Condition, Structure};

use super::address::{self, FileAddr};
use super::files::{read_item, resolve, write_command, Resolved};
use super::{key_hex, key_items, pins, CardInfo};
use crate::interface::api::{Driver, Pending};
use crate::interface::codes::{self, Failure, Outcome};
use crate::interface::session::{succeeded, CardSession};
use crate::interface::text::list;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Read,
    Write,
}

/// What Step1 keeps for Step2.
pub(crate) struct FilesPending {
    pub session: CardSession,
    files: Vec<FileAddr>,
    resolved: Vec<Resolved>,
    key_id: u8,
    block: usize,
}

pub fn step1(
    driver: &mut Driver,
    direction: Direction,
    i_type: i32,
    card_info: &str,
    file_addr: &str,
) -> Outcome {
    let info = CardInfo::parse(card_info)?;
    let files = address::parse(file_addr)?;
    let config = driver.config()?;
    let (mut session, facts) = pins::open_named(&driver.readers(), &config, i_type, &info)?;
    let prepared = (|| {
        let resolved: Vec<Resolved> = files
            .iter()
            .map(|f| resolve(&session, f))
            .collect::<Result<_, _>>()?;
        let df = resolved[0].df.clone();
        if resolved.iter().any(|r| r.df != df) {
            return Err(Failure::new(
                codes::ILLEGAL_DATA,
                "the HSM functions take the files of one DF per call",
            ));
        }
        let mut key_id = None;
        let mut pin = false;
        for r in &resolved {
            let rule = match direction {
                Direction::Read => r.ef.access.read,
                Direction::Write if matches!(r.ef.structure, Structure::Cyclic { .. }) => {
                    r.ef.access.append
                }
                Direction::Write => r.ef.access.update,
            };
            if rule.secure_messaging {
                return Err(Failure::new(
                    codes::ILLEGAL_DATA,
                    "this file is written under secure messaging, one MAC per command: use iWriteCard with a PSAM",
                ));
            }
            let (needs_pin, key) = match rule.condition {
                Condition::Never => return Err(super::files::never_by_terminal(&df)),
                Condition::Free => (false, None),
                Condition::Pin => (true, None),
                Condition::Key(id) | Condition::PinOrKey(id) => (false, Some(id)),
                Condition::PinAndKey(id) => (true, Some(id)),
            };
            pin |= needs_pin;
            if let Some(id) = key {
                if key_id.is_some_and(|k| k != id) {
                    return Err(Failure::new(
                        codes::ILLEGAL_DATA,
                        "the files of one HSM call must need the same key",
                    ));
                }
                key_id = Some(id);
            }
        }
        let Some(key_id) = key_id else {
            return Err(Failure::new(
                codes::NO_HSM_NEEDED,
                "these files need no key: use iReadCard / iWriteCard",
            ));
        };
        let key = session.key_ref(&df, key_id)?;
        if pin {
            pins::verify(driver, &config, &mut session)?;
        }
        session.select_df(&df)?;
        let challenge = session.challenge()?;
        let block = crate::interface::hsm::block_len(key.algorithm);
        let out = list([
            facts.region().to_owned(),
            session.historical_hex(),
            CardSession::algorithm_id(key.algorithm).to_owned(),
            facts.code_hex.clone(),
            df,
            format!("{key_id:02X}"),
            hex::encode_upper(&challenge),
            "00".repeat(block.saturating_sub(challenge.len())),
        ]);
        Ok((out, resolved, key_id, block))
    })();
    match prepared {
        Ok((out, resolved, key_id, block)) => {
            let pending = FilesPending {
                session,
                files,
                resolved,
                key_id,
                block,
            };
            driver.pending = Some(match direction {
                Direction::Read => Pending::ReadCard(pending),
                Direction::Write => Pending::WriteCard(pending),
            });
            Ok(out)
        }
        Err(e) => {
            session.close();
            Err(e)
        }
    }
}

fn take(driver: &mut Driver, direction: Direction) -> Result<FilesPending, Failure> {
    match (driver.pending.take(), direction) {
        (Some(Pending::ReadCard(p)), Direction::Read)
        | (Some(Pending::WriteCard(p)), Direction::Write) => Ok(p),
        (other, _) => {
            if let Some(other) = other {
                other.into_session().close();
            }
            Err(Failure::new(
                codes::NO_CONNECTION,
                "no matching HSM Step1 before this Step2",
            ))
        }
    }
}

/// The cryptogram in pKey, checked against the open exchange's key before it is used up (a
/// malformed pKey leaves the exchange open for a corrected one).
fn cryptogram(driver: &Driver, key: &str) -> Result<Vec<u8>, Failure> {
    let items = key_items(key, 1)?;
    let block = match &driver.pending {
        Some(Pending::ReadCard(p)) | Some(Pending::WriteCard(p)) => p.block,
        _ => items[0].len() / 2,
    };
    key_hex(items[0], block, "the cryptogram")
}

/// EXTERNAL AUTHENTICATE with the HSM's cryptogram (the DF stays selected: selecting it again
/// would forget the key).
fn authenticate(pending: &mut FilesPending, cryptogram: &[u8]) -> Result<(), Failure> {
    let answer = pending.session.transmit(&Command {
        data: cryptogram,
        ..apdu::command(0x00, 0x82, 0x00, pending.key_id)
    })?;
    succeeded("EXTERNAL AUTHENTICATE", answer.sw)
}

pub fn read_step2(driver: &mut Driver, key: &str) -> Outcome {
    let cryptogram = cryptogram(driver, key)?;
    let mut pending = take(driver, Direction::Read)?;
    let result = (|| {
        authenticate(&mut pending, &cryptogram)?;
        let mut values = Vec::new();
        for (file, r) in pending.files.iter().zip(&pending.resolved) {
            pending.session.select_ef(r.ef_fid)?;
            let mut file_values = Vec::new();
            for item in &file.items {
                file_values.push(read_item(&mut pending.session, &r.ef, *item)?);
            }
            values.push(file_values);
        }
        Ok(address::render(&pending.files, &values))
    })();
    pending.session.close();
    result
}

pub fn write_step2(driver: &mut Driver, key: &str, write_data: &str) -> Outcome {
    let cryptogram = cryptogram(driver, key)?;
    let Some(Pending::WriteCard(files_pending)) = &driver.pending else {
        return Err(take(driver, Direction::Write).err().unwrap_or_else(|| {
            Failure::new(
                codes::NO_CONNECTION,
                "no iWriteCard_HSM_Step1 before this Step2",
            )
        }));
    };
    // Values are checked before the exchange is used up, so a caller can correct them.
    let values = address::parse_write_data(&files_pending.files, write_data)?;
    let mut commands = Vec::new();
    for ((file, r), values) in files_pending
        .files
        .iter()
        .zip(&files_pending.resolved)
        .zip(&values)
    {
        let mut file_commands = Vec::new();
        for (item, value) in file.items.iter().zip(values) {
            file_commands.push(write_command(&r.ef, *item, value)?);
        }
        commands.push((r.ef_fid, file_commands));
    }
    let mut pending = take(driver, Direction::Write)?;
    let result = (|| {
        authenticate(&mut pending, &cryptogram)?;
        for (fid, file_commands) in commands {
            pending.session.select_ef(fid)?;
            for ([cla, ins, p1, p2], data) in file_commands {
                let answer = pending.session.transmit(&Command {
                    data: &data,
                    ..apdu::command(cla, ins, p1, p2)
                })?;
                succeeded(
                    if ins == 0xE2 {
                        "APPEND RECORD"
                    } else {
                        "UPDATE RECORD"
                    },
                    answer.sw,
                )?;
            }
        }
        Ok(String::new())
    })();
    pending.session.close();
    result
}

//! The card: power-on, the APDU loop (parsing, CLA, chaining, response sizing, GET RESPONSE) and
//! dispatch to the command handlers.

use crate::apdu::{Cla, Command};
use crate::atr;
use crate::commands::{self, secure, Answer, Context};
use crate::fs::header::{CardHeader, HeaderError};
use crate::fs::FileIndex;
use crate::journal;
use crate::layout::CHAIN_MAX;
use crate::response::finish;
use crate::security::objects::card_life_cycle;
use crate::security::random::{self, POOL_LEN};
use crate::security::Usage;
use crate::storage::{Storage, StorageError};
use crate::sw::Status;
use crate::volatile::{IoMode, Volatile};

/// Answers that may exceed Ne (FCI, GET DATA, ...) are built in a buffer of at least this size.
pub const LONG_MAX: usize = 256;

/// Why a storage could not be powered on as a card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerOnError {
    /// No card header (never formatted, or formatting was cut).
    NotFormatted,
    /// A header of another format version.
    UnsupportedVersion(u8),
    /// The memory failed during recovery or reading.
    Storage(StorageError),
}

impl core::fmt::Display for PowerOnError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PowerOnError::NotFormatted => f.write_str("the storage holds no formatted card"),
            PowerOnError::UnsupportedVersion(v) => {
                write!(f, "card format version {v} is not supported")
            }
            PowerOnError::Storage(e) => write!(f, "card memory failed at power-on: {e}"),
        }
    }
}

/// A failed power-on hands the storage back.
#[derive(Debug)]
pub struct PowerOnFailure<S> {
    pub storage: S,
    pub error: PowerOnError,
}

/// A powered card: its storage, its volatile state and a RAM index of its file table.
pub struct Card<S: Storage> {
    storage: S,
    volatile: Volatile,
    index: FileIndex,
    /// Host entropy for challenges (kept across warm resets).
    pool: [u8; POOL_LEN],
}

impl<S: Storage> Card<S> {
    /// Powers the card on: rolls back an interrupted command, checks the header, clears the
    /// volatile state (MF selected).
    pub fn power_on(mut storage: S) -> Result<Self, PowerOnFailure<S>> {
        let result = (|| {
            journal::recover(&mut storage).map_err(PowerOnError::Storage)?;
            CardHeader::read(&storage).map_err(|e| match e {
                HeaderError::NotFormatted => PowerOnError::NotFormatted,
                HeaderError::UnsupportedVersion(v) => PowerOnError::UnsupportedVersion(v),
                HeaderError::Storage(e) => PowerOnError::Storage(e),
            })?;
            let mut index = FileIndex::default();
            index.rebuild(&storage).map_err(PowerOnError::Storage)?;
            Ok(index)
        })();
        match result {
            Ok(index) => Ok(Card {
                storage,
                volatile: Volatile::new(),
                index,
                pool: [0; POOL_LEN],
            }),
            Err(error) => Err(PowerOnFailure { storage, error }),
        }
    }

    /// Warm reset: volatile state cleared, storage kept.
    pub fn warm_reset(&mut self) {
        self.volatile = Volatile::new();
        // The storage may have been changed through `storage_mut`.
        if self.index.rebuild(&self.storage).is_err() {
            self.index = FileIndex::default();
        }
    }

    /// Mixes entropy from the host (e.g. a reader's random numbers) into the challenge generator.
    /// Challenges stay unique without it; with it they are also unpredictable before any key is
    /// loaded.
    pub fn add_entropy(&mut self, entropy: &[u8]) {
        random::stir(&mut self.pool, entropy);
    }

    /// Writes the ATR into `out` and returns its length (0 if `out` is too small or the header
    /// cannot be read).
    pub fn atr(&self, out: &mut [u8]) -> usize {
        match CardHeader::read(&self.storage) {
            Ok(header) => atr::ssc(header.historical(), out).unwrap_or(0),
            Err(_) => 0,
        }
    }

    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The storage, e.g. for fault injection. Call `warm_reset` after changing it behind the card.
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    pub fn into_storage(self) -> S {
        self.storage
    }

    pub fn volatile(&self) -> &Volatile {
        &self.volatile
    }

    /// The volatile state, for the security commands and tests.
    pub fn volatile_mut(&mut self) -> &mut Volatile {
        &mut self.volatile
    }

    /// Processes one command APDU and writes the response (data + SW) into `response`, returning
    /// its length. Every input gets a status word; a `response` shorter than 2 bytes gets nothing.
    pub fn process(&mut self, apdu: &[u8], response: &mut [u8]) -> usize {
        if response.len() < 2 {
            return 0;
        }
        let (len, sw) = self.dispatch(apdu, response);
        #[cfg(feature = "mutants")]
        let sw = crate::mutants::status_word(sw);
        finish(response, len, sw)
    }

    /// Runs the command; returns the length of the data placed at the start of `response`.
    fn dispatch(&mut self, apdu: &[u8], response: &mut [u8]) -> (usize, Status) {
        let pending = core::mem::take(&mut self.volatile.io);
        let command = match Command::parse(apdu) {
            Ok(command) => command,
            Err(sw) => return (0, sw),
        };
        let cla = match Cla::decode(command.cla) {
            Ok(cla) => cla,
            Err(sw) => return (0, sw),
        };
        if cla.channel != 0 {
            return (0, Status::LogicalChannelNotSupported);
        }
        // Only the SSC MAC (`x4`) is supported, not ISO secure messaging (`x8`, `xC`).
        self.volatile.security.sm_mac_verified = false;
        if cla.secure_messaging > 1 {
            return (0, Status::SecureMessagingNotSupported);
        }
        if command.ins == 0xC0 && !cla.chaining {
            return self.get_response(&command, pending, response);
        }
        // A challenge is good for the next command only (links of a chain aside).
        let challenge = self.volatile.security.challenge.take();
        let life_cycle = match card_life_cycle(&self.storage) {
            Ok(life_cycle) => life_cycle,
            Err(sw) => return (0, sw),
        };

        let Volatile {
            selection,
            security,
            io,
            buffer,
            derived_key,
        } = &mut self.volatile;
        let data: &[u8] = match (pending, cla.chaining) {
            (
                IoMode::Chain {
                    cla: c,
                    ins,
                    p1,
                    p2,
                    ..
                },
                _,
            ) if (c & !0x10, ins, p1, p2)
                != (command.cla & !0x10, command.ins, command.p1, command.p2) =>
            {
                return (0, Status::LastCommandOfChainExpected);
            }
            (IoMode::Chain { len, .. }, more) => {
                let start = usize::from(len);
                let end = start + command.data.len();
                match buffer.get_mut(start..end) {
                    Some(dest) if end <= CHAIN_MAX => dest.copy_from_slice(command.data),
                    _ => return (0, Status::NotEnoughMemory),
                }
                if more {
                    *io = IoMode::Chain {
                        cla: command.cla,
                        ins: command.ins,
                        p1: command.p1,
                        p2: command.p2,
                        len: end as u16,
                    };
                    security.challenge = challenge;
                    return (0, Status::Success);
                }
                buffer.get(..end).unwrap_or(&[])
            }
            (_, true) => {
                match buffer.get_mut(..command.data.len()) {
                    Some(dest) => dest.copy_from_slice(command.data),
                    None => return (0, Status::NotEnoughMemory),
                }
                let len = command.data.len() as u16;
                *io = IoMode::Chain {
                    cla: command.cla,
                    ins: command.ins,
                    p1: command.p1,
                    p2: command.p2,
                    len,
                };
                security.challenge = challenge;
                return (0, Status::Success);
            }
            (_, false) if command.data.len() > CHAIN_MAX => return (0, Status::WrongLength),
            (_, false) => command.data,
        };
        let command = Command { data, ..command };
        let df_before = selection.df;
        let mut context = Context {
            storage: &mut self.storage,
            selection,
            security,
            index: &mut self.index,
            life_cycle,
            challenge,
            pool: &self.pool,
            derived_key,
        };
        if let Err(sw) = commands::admit(&context, command.ins) {
            return (0, sw);
        }
        // A MAC'd class on any command but those that check their own MAC: the MAC of the
        // current DF's MAC key, checked (and stripped) before the command runs.
        let command = if cla.secure_messaging == 1 && !secure::checks_own_mac(command.ins) {
            match secure::verify(&mut context, &command, df_before, 0, Usage::Mac) {
                Ok(data) => {
                    context.security.sm_mac_verified = true;
                    Command { data, ..command }
                }
                Err(sw) => return (0, sw),
            }
        } else {
            command
        };

        let space = response.len() - 2;
        if space >= LONG_MAX {
            let out = response.get_mut(..space).unwrap_or(&mut []);
            let result = commands::execute(&mut context, &command, out);
            forget_keys_of_other_df(&mut context, df_before);
            let space = out.len();
            settle(result, command.ne, out, space, io, buffer)
        } else {
            // A small response buffer: answer into a local one, send what fits, keep the rest.
            let mut local = [0u8; LONG_MAX];
            let result = commands::execute(&mut context, &command, &mut local);
            forget_keys_of_other_df(&mut context, df_before);
            let (sent, sw) = settle(result, command.ne, &local, space, io, buffer);
            if let (Some(dest), Some(src)) = (response.get_mut(..sent), local.get(..sent)) {
                dest.copy_from_slice(src);
            }
            (sent, sw)
        }
    }

    /// GET RESPONSE: the next part of a pending answer.
    fn get_response(
        &mut self,
        command: &Command<'_>,
        pending: IoMode,
        response: &mut [u8],
    ) -> (usize, Status) {
        let IoMode::Pending { start, end } = pending else {
            return (0, Status::ConditionsOfUseNotSatisfied);
        };
        if (command.p1, command.p2) != (0, 0) || !command.data.is_empty() {
            self.volatile.io = pending;
            return (0, Status::IncorrectP1P2);
        }
        let Some(ne) = command.ne else {
            self.volatile.io = pending;
            return (0, Status::WrongLength);
        };
        let (start, end) = (usize::from(start), usize::from(end));
        let sent = (end - start).min(ne).min(response.len() - 2);
        let src = self.volatile.buffer.get(start..start + sent).unwrap_or(&[]);
        if let Some(dest) = response.get_mut(..src.len()) {
            dest.copy_from_slice(src);
        }
        let next = start + sent;
        if next < end {
            self.volatile.io = IoMode::Pending {
                start: next as u16,
                end: end as u16,
            };
            (sent, bytes_remaining(end - next))
        } else {
            (sent, Status::Success)
        }
    }
}

/// Key authentication belongs to a DF: selecting another DF forgets it (the PIN is card-global
/// and stays verified).
fn forget_keys_of_other_df<S: Storage>(context: &mut Context<'_, S>, df_before: u8) {
    if context.selection.df != df_before {
        context.security.authenticated_keys.clear();
    }
}

/// `61xx`: xx bytes still available, `00` for 256 or more.
fn bytes_remaining(n: usize) -> Status {
    Status::BytesRemaining(if n >= 256 { 0 } else { n as u8 })
}

/// Applies the response rules to a handler's result: data beyond what may be sent now (Ne for
/// answers that allow it) is kept for GET RESPONSE and announced with `61xx`.
fn settle(
    result: Result<Answer, Status>,
    ne: Option<usize>,
    out: &[u8],
    space: usize,
    io: &mut IoMode,
    buffer: &mut [u8; CHAIN_MAX],
) -> (usize, Status) {
    let (len, sw, limit) = match result {
        Ok(Answer::Data(len, sw)) => (len, sw, usize::MAX),
        Ok(Answer::Long(len, sw)) => (len, sw, ne.unwrap_or(0)),
        Err(sw) => return (0, sw),
    };
    let sent = len.min(limit).min(space);
    let rest = out.get(sent..len).unwrap_or(&[]);
    if rest.is_empty() || sw != Status::Success {
        return (sent, sw);
    }
    let kept = rest.len().min(CHAIN_MAX);
    if let (Some(dest), Some(src)) = (buffer.get_mut(..kept), rest.get(..kept)) {
        dest.copy_from_slice(src);
    }
    *io = IoMode::Pending {
        start: 0,
        end: kept as u16,
    };
    (sent, bytes_remaining(kept))
}

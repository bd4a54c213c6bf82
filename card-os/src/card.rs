//! The card: power-on, reset, and the pipeline of one APDU from the transmission layer
//! (`transmission`) to the command handlers (`commands`).

use crate::apdu::Command;
use crate::atr;
use crate::commands::{self, secure, Context};
use crate::fs::header::{CardHeader, HeaderError};
use crate::fs::FileIndex;
use crate::instructions::{self, Handler};
use crate::journal;
use crate::response::finish;
use crate::security::objects::card_life_cycle;
use crate::security::random::{self, POOL_LEN};
use crate::storage::{Storage, StorageError};
use crate::sw::Status;
use crate::transmission::{self, Reply};
use crate::volatile::Volatile;

pub use crate::transmission::LONG_MAX;

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
        let (len, sw) = self.dispatch(apdu, response).unwrap_or_else(|sw| (0, sw));
        finish(response, len, sw)
    }

    /// The pipeline of one APDU: parse, judge the class, serve GET RESPONSE, collect a chain,
    /// admit the command, check a MAC, run it, size its answer. Returns the length of the data
    /// placed at the start of `response` and the status word.
    fn dispatch(&mut self, apdu: &[u8], response: &mut [u8]) -> Result<(usize, Status), Status> {
        let pending = core::mem::take(&mut self.volatile.io);
        self.volatile.security.sm_mac_verified = false;
        let command = Command::parse(apdu)?;
        let cla = transmission::class_of(&command)?;
        let instruction = instructions::find(command.ins, cla);
        let Volatile {
            selection,
            security,
            io,
            buffer,
            derived_key,
            purse,
        } = &mut self.volatile;
        if !cla.chaining && instruction.is_some_and(|i| i.handler == Handler::GetResponse) {
            return Ok(transmission::get_response(
                &command, pending, io, buffer, response,
            ));
        }
        // A challenge is good for the next command only (links of a chain aside).
        let challenge = security.challenge.take();
        // So is the medical purse's INITIALIZE.
        let pending_purse = purse.take();
        let life_cycle = card_life_cycle(&self.storage)?;
        let Some(data) = transmission::collect(pending, &command, cla.chaining, io, buffer)? else {
            security.challenge = challenge;
            *purse = pending_purse;
            return Ok((0, Status::Success));
        };
        let command = Command { data, ..command };
        let df_before = selection.df;
        let mut context = Context {
            storage: &mut self.storage,
            selection,
            security,
            index: &mut self.index,
            life_cycle,
            secure_messaging: cla.secure_messaging,
            challenge,
            pool: &self.pool,
            derived_key,
            pending_purse,
            purse,
        };
        commands::admit(&context, instruction)?;
        let command = secure::check_class_mac(&mut context, instruction, command, df_before)?;
        let ne = command.ne;
        let mut reply = Reply::new(response);
        let result = commands::execute(&mut context, instruction, &command, reply.out());
        forget_keys_of_other_df(&mut context, df_before);
        Ok(reply.settle(result, ne, io, buffer))
    }
}

/// Key authentication belongs to a DF: selecting another DF forgets it (the PIN is card-global
/// and stays verified).
fn forget_keys_of_other_df<S: Storage>(context: &mut Context<'_, S>, df_before: u8) {
    if context.selection.df != df_before {
        context.security.authenticated_keys.clear();
    }
}

//! The medical purse of DF04 (docs/settlement.md): INITIALIZE FOR LOAD / PURCHASE, CREDIT FOR
//! LOAD, DEBIT FOR PURCHASE, GET BALANCE, GET TRANSACTION PROOF and UPDATE / GET STARTING DAY,
//! all under CLA `B0`. A CREDIT or DEBIT changes the purse object, its proof and the EF08 log in
//! one journal transaction, so a power cut leaves all of them old or all of them new.

use super::{atomically, done, expect_p1p2, Answer, Context};
use crate::apdu::Command;
use crate::crypto::mac::verify;
use crate::crypto::purse::{
    load_session_input, purchase_session_input, session_key, Amounts, Load, Purchase, PurseMac,
    Settings, TERMINAL_NO_LEN, TIME_LEN, TYPE_LOAD, TYPE_PURCHASE,
};
use crate::fs::{integrity, records, Descriptor, FileKind};
use crate::journal::{memory_failure, Transaction};
use crate::memory_map::*;
use crate::security::objects::{self, KeyObject};
use crate::security::{random, tries, Usage};
use crate::storage::Storage;
use crate::sw::Status;
use crate::volatile::PurseSession;

/// Length of an EF08 record with self-pay and pooled amounts.
const RECORD_LEN: usize = 28;

fn crypto(e: crate::crypto::Error) -> Status {
    Status::from_u16(e.status_word())
}

fn bytes<const N: usize>(data: &[u8], at: usize) -> Result<[u8; N], Status> {
    data.get(at..at + N)
        .and_then(|b| b.try_into().ok())
        .ok_or(Status::WrongLength)
}

/// The purse object of the current DF, read into RAM.
struct Purse {
    index: u8,
    file: Descriptor,
    bytes: [u8; PURSE_SIZE],
}

impl Purse {
    /// `6985` when the current DF has no purse; `6581` when it is damaged.
    fn open<S: Storage>(ctx: &mut Context<'_, S>) -> Result<Self, Status> {
        let index = ctx
            .index
            .child(ctx.selection.df, PURSE_FID)
            .ok_or(Status::ConditionsOfUseNotSatisfied)?;
        let file = Descriptor::read(ctx.storage, index)?;
        if file.kind != FileKind::Transparent || usize::from(file.data_size) < PURSE_SIZE {
            return Err(Status::MemoryFailure);
        }
        integrity::verify(ctx.storage, ctx.index, index, &file)?;
        let mut bytes = [0u8; PURSE_SIZE];
        ctx.storage
            .read(file.data_offset, &mut bytes)
            .map_err(memory_failure)?;
        Ok(Purse { index, file, bytes })
    }

    fn u16(&self, at: usize) -> Result<u16, Status> {
        bytes(&self.bytes, at).map(u16::from_be_bytes)
    }

    fn u32(&self, at: usize) -> Result<u32, Status> {
        bytes(&self.bytes, at).map(u32::from_be_bytes)
    }

    fn put(&mut self, at: usize, value: &[u8]) -> Result<(), Status> {
        self.bytes
            .get_mut(at..at + value.len())
            .ok_or(Status::MemoryFailure)?
            .copy_from_slice(value);
        Ok(())
    }

    fn settings(&self) -> Result<Settings, Status> {
        bytes(&self.bytes, PURSE_SETTINGS).map(Settings::from_bytes)
    }

    /// The new counter, balance and proof of a transaction (the caller has set the rest).
    fn commit_state(
        &mut self,
        counter_at: usize,
        serial: u16,
        balance: u32,
        proof_at: usize,
        mac: &PurseMac,
        tac: &PurseMac,
    ) -> Result<(), Status> {
        self.put(counter_at, &serial.wrapping_add(1).to_be_bytes())?;
        self.put(PURSE_BALANCE, &balance.to_be_bytes())?;
        let [s1, s2] = serial.to_be_bytes();
        let [m1, m2, m3, m4] = *mac;
        let [t1, t2, t3, t4] = *tac;
        self.put(proof_at, &[1, s1, s2, m1, m2, m3, m4, t1, t2, t3, t4])
    }

    fn save<S: Storage>(&self, tx: &mut Transaction<'_, S>) -> Result<(), Status> {
        integrity::write(tx, self.index, &self.file, 0, &self.bytes)
    }
}

/// The holder must have given the PIN, and not the initial one: `6982`, `6984`.
fn holder_present<S: Storage>(ctx: &Context<'_, S>) -> Result<(), Status> {
    // VERIFY with the initial PIN leaves `pin_verified` clear and `pin_initial` set.
    if ctx.security.pin_verified {
        Ok(())
    } else if ctx.security.pin_initial {
        Err(Status::ReferenceDataNotUsable)
    } else {
        Err(Status::SecurityStatusNotSatisfied)
    }
}

/// The purse key `id` of `usage` in the current DF; `9403` when there is none.
fn purse_key<S: Storage>(ctx: &Context<'_, S>, id: u8, usage: Usage) -> Result<KeyObject, Status> {
    if id == 0 {
        return Err(Status::KEY_INDEX_NOT_SUPPORTED);
    }
    objects::find_key(ctx.storage, ctx.index, ctx.selection.df, id, usage)
        .map_err(|_| Status::KEY_INDEX_NOT_SUPPORTED)
}

/// INITIALIZE FOR LOAD `B0 28 00 01 0B` key index ‖ amount 4 ‖ terminal no. 6 → balance ‖ load
/// serial ‖ key version ‖ algorithm ‖ random ‖ MAC1; INITIALIZE FOR PURCHASE `B0 28 01 01 13`
/// key index ‖ account 4 ‖ self-pay 4 ‖ pooled 4 ‖ terminal no. 6 → balance ‖ SPIP ‖ SPFP ‖
/// payment year ‖ purchase serial (2 or 4) ‖ key version ‖ algorithm ‖ random. The key version
/// is the key index; the algorithm the key's algorithm byte (`01` 3DES, `03` SM4).
pub(super) fn initialize<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    let (kind, usage, amounts_len, counter_at) = match (command.p1, command.p2) {
        (0, 1) => (TYPE_LOAD, Usage::PurseLoad, 4, PURSE_LOAD_COUNTER),
        (1, 1) => (
            TYPE_PURCHASE,
            Usage::PursePurchase,
            12,
            PURSE_PURCHASE_COUNTER,
        ),
        _ => return Err(Status::IncorrectP1P2),
    };
    let data = command.data;
    if data.len() != 1 + amounts_len + TERMINAL_NO_LEN {
        return Err(Status::WrongLength);
    }
    holder_present(ctx)?;
    let purse = Purse::open(ctx)?;
    let settings = purse.settings()?;
    let key_id = data.first().copied().unwrap_or(0);
    let key = purse_key(ctx, key_id, usage)?;
    if key.tries == 0 {
        return Err(Status::AuthenticationMethodBlocked);
    }
    let serial = purse.u16(counter_at)?;
    if serial == u16::MAX {
        return Err(Status::COUNTER_AT_MAXIMUM);
    }
    let balance = purse.u32(PURSE_BALANCE)?;
    let mut amounts: Amounts = [0; 12];
    amounts
        .get_mut(..amounts_len)
        .ok_or(Status::WrongLength)?
        .copy_from_slice(data.get(1..1 + amounts_len).ok_or(Status::WrongLength)?);
    let terminal_no = bytes(data, 1 + amounts_len)?;
    let amount = u32::from_be_bytes(bytes(&amounts, 0)?);
    if kind == TYPE_LOAD && balance.checked_add(amount).is_none() {
        return Err(Status::IncorrectDataParameters);
    }
    if kind == TYPE_PURCHASE && amount > balance {
        return Err(Status::BALANCE_TOO_LOW);
    }
    let challenge = random::next_challenge(ctx.storage, ctx.pool, 4)?;
    let random: [u8; 4] = bytes(challenge.as_bytes(), 0)?;
    let mut w = Out { out, len: 0 };
    w.put(&balance.to_be_bytes())?;
    // The key version is the key index; the algorithm the key's algorithm byte.
    let version_and_algorithm = [key_id, key.key.algorithm().to_byte()];
    if kind == TYPE_LOAD {
        let load = Load {
            balance,
            amount,
            serial,
            terminal_no,
        };
        let session =
            session_key(&key.key, &load_session_input(&random, serial)).map_err(crypto)?;
        let mac1 = load.mac1(&session, settings).map_err(crypto)?;
        w.put(&serial.to_be_bytes())?;
        w.put(&version_and_algorithm)?;
        w.put(&random)?;
        w.put(&mac1)?;
    } else {
        w.put(purse.bytes.get(PURSE_SPIP..PURSE_START_DAY).unwrap_or(&[]))?;
        let serial4 = u32::from(serial).to_be_bytes();
        w.put(serial4.get(4 - settings.serial_len()..).unwrap_or(&[]))?;
        w.put(&version_and_algorithm)?;
        w.put(&random)?;
    }
    *ctx.purse = Some(PurseSession {
        kind,
        key_id,
        random,
        serial,
        amounts,
        terminal_no,
        balance,
    });
    Ok(Answer::Long(w.len, Status::Success))
}

/// Appends to a handler's answer buffer.
struct Out<'o> {
    out: &'o mut [u8],
    len: usize,
}

impl Out<'_> {
    fn put(&mut self, value: &[u8]) -> Result<(), Status> {
        self.out
            .get_mut(self.len..self.len + value.len())
            .ok_or(Status::NotEnoughMemory)?
            .copy_from_slice(value);
        self.len += value.len();
        Ok(())
    }
}

/// The pending transaction of `kind`, taken: `6901` when the command before was not its
/// INITIALIZE.
fn pending<S: Storage>(ctx: &mut Context<'_, S>, kind: u8) -> Result<PurseSession, Status> {
    ctx.pending_purse
        .filter(|session| session.kind == kind)
        .ok_or(Status::WRONG_STATE)
}

/// A packed-BCD number; `6A80` when a nibble is not a digit.
fn bcd(value: &[u8]) -> Result<u32, Status> {
    value
        .iter()
        .flat_map(|b| [b >> 4, b & 0x0F])
        .try_fold(0u32, |n, d| {
            if d > 9 {
                Err(Status::IncorrectDataParameters)
            } else {
                Ok(n * 10 + u32::from(d))
            }
        })
}

fn to_bcd2(n: u32) -> [u8; 2] {
    let d = |p: u32| ((n / p) % 10) as u8;
    [d(1000) << 4 | d(100), d(10) << 4 | d(1)]
}

/// Checks a MAC from the terminal with the key's try counter spent first (and given back in the
/// transaction that commits the change): a wrong MAC `9302`, nothing changed but the try.
fn check_mac<S: Storage>(
    ctx: &mut Context<'_, S>,
    key: &KeyObject,
    expected: &PurseMac,
    received: &PurseMac,
) -> Result<(), Status> {
    tries::spend(ctx.storage, key.tries_at, key.tries)?;
    verify(expected, received).map_err(|_| Status::PURSE_MAC_WRONG)
}

/// Appends the transaction's record to the EF08 log (28 bytes; 20 in account-only mode).
fn append_record<S: Storage>(
    tx: &mut Transaction<'_, S>,
    index: &crate::fs::FileIndex,
    df: u8,
    session: &PurseSession,
    time: &[u8; TIME_LEN],
) -> Result<(), Status> {
    #[cfg(feature = "mutants")]
    if crate::mutants::active(crate::mutants::Mutant::DebitWithoutRecord)
        && session.kind == TYPE_PURCHASE
    {
        return Ok(());
    }
    let log = index
        .child_by_sfi(df, PURSE_LOG_SFI)
        .ok_or(Status::FileNotFound)?;
    let mut file = Descriptor::read(tx.storage(), log)?;
    let mut record = [0u8; RECORD_LEN];
    let mut w = Out {
        out: &mut record,
        len: 0,
    };
    w.put(&session.serial.to_be_bytes())?;
    w.put(&[b'0' + session.kind])?;
    w.put(&session.terminal_no)?;
    w.put(time)?;
    w.put(&session.amounts)?;
    let len = usize::from(file.max_record_len);
    let record = record
        .get(..len)
        .filter(|_| file.kind == FileKind::Cyclic && len >= 20)
        .ok_or(Status::IncompatibleFileStructure)?;
    records::append(tx, &mut file, log, record).map(|_| ())
}

/// CREDIT FOR LOAD `B0 2A 00 00 0B` host time 7 ‖ MAC2 4 → TAC 4.
pub(super) fn credit<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    let session = pending(ctx, TYPE_LOAD)?;
    expect_p1p2(command, 0, 0)?;
    if command.data.len() != TIME_LEN + 4 {
        return Err(Status::WrongLength);
    }
    let time: [u8; TIME_LEN] = bytes(command.data, 0)?;
    let mac2: PurseMac = bytes(command.data, TIME_LEN)?;
    let mut purse = Purse::open(ctx)?;
    let settings = purse.settings()?;
    let key = purse_key(ctx, session.key_id, Usage::PurseLoad)?;
    let dtk = objects::find_key(ctx.storage, ctx.index, ctx.selection.df, 0, Usage::PurseTac)?;
    let amount = u32::from_be_bytes(bytes(&session.amounts, 0)?);
    let load = Load {
        balance: session.balance,
        amount,
        serial: session.serial,
        terminal_no: session.terminal_no,
    };
    let sesk = session_key(
        &key.key,
        &load_session_input(&session.random, session.serial),
    )
    .map_err(crypto)?;
    let expected = load.mac2(&sesk, settings, &time).map_err(crypto)?;
    check_mac(ctx, &key, &expected, &mac2)?;
    let tac = load.tac(&dtk.key, settings, &time).map_err(crypto)?;
    let balance = session
        .balance
        .checked_add(amount)
        .ok_or(Status::IncorrectDataParameters)?;
    purse.commit_state(
        PURSE_LOAD_COUNTER,
        session.serial,
        balance,
        PURSE_LOAD_PROOF,
        &mac2,
        &tac,
    )?;
    let (index, df) = (&*ctx.index, ctx.selection.df);
    atomically(ctx.storage, |tx| {
        tx.write(key.tries_at, &[key.tries])?;
        purse.save(tx)?;
        append_record(tx, index, df, &session, &time)
    })?;
    Out { out, len: 0 }.put(&tac)?;
    Ok(Answer::Long(tac.len(), Status::Success))
}

/// DEBIT FOR PURCHASE `B0 2C 01 00 0F` terminal serial 4 ‖ time 7 ‖ MAC1 4 → TAC 4 ‖ MAC2 4.
pub(super) fn debit<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    let session = pending(ctx, TYPE_PURCHASE)?;
    expect_p1p2(command, 1, 0)?;
    if command.data.len() != 4 + TIME_LEN + 4 {
        return Err(Status::WrongLength);
    }
    let terminal_serial: [u8; 4] = bytes(command.data, 0)?;
    let time: [u8; TIME_LEN] = bytes(command.data, 4)?;
    let mac1: PurseMac = bytes(command.data, 4 + TIME_LEN)?;
    let mut purse = Purse::open(ctx)?;
    let settings = purse.settings()?;
    let key = purse_key(ctx, session.key_id, Usage::PursePurchase)?;
    let dtk = objects::find_key(ctx.storage, ctx.index, ctx.selection.df, 0, Usage::PurseTac)?;
    let purchase = Purchase {
        amounts: session.amounts,
        terminal_no: session.terminal_no,
        terminal_serial,
        time,
    };
    let sesk = session_key(
        &key.key,
        &purchase_session_input(&session.random, session.serial, &terminal_serial),
    )
    .map_err(crypto)?;
    let expected = purchase.mac1(&sesk, settings).map_err(crypto)?;
    #[cfg(feature = "mutants")]
    let expected = if crate::mutants::active(crate::mutants::Mutant::DebitSkipsMac1) {
        mac1
    } else {
        expected
    };
    // What may refuse the data is checked before the MAC: its check spends a try that only the
    // committing transaction gives back.
    let trade = bcd(time.get(..4).unwrap_or(&[]))?;
    let start = bcd(purse
        .bytes
        .get(PURSE_START_DAY..PURSE_START_DAY + 2)
        .unwrap_or(&[]))?;
    let year = bcd(purse.bytes.get(PURSE_YEAR..PURSE_YEAR + 2).unwrap_or(&[]))?;
    check_mac(ctx, &key, &expected, &mac1)?;
    // The year rule: within a year of the payment year's start the totals grow, else they
    // start again with this purchase in the payment year of the trade date.
    let self_pay = u32::from_be_bytes(bytes(&session.amounts, 4)?);
    let pooled = u32::from_be_bytes(bytes(&session.amounts, 8)?);
    let (spip, spfp) = if i64::from(trade) - i64::from(year * 10000 + start) < 10000 {
        let add = |at, n| {
            purse
                .u32(at)?
                .checked_add(n)
                .ok_or(Status::IncorrectDataParameters)
        };
        (add(PURSE_SPIP, self_pay)?, add(PURSE_SPFP, pooled)?)
    } else {
        let current = trade / 10000 - u32::from(trade % 10000 < start);
        purse.put(PURSE_YEAR, &to_bcd2(current))?;
        (self_pay, pooled)
    };
    purse.put(PURSE_SPIP, &spip.to_be_bytes())?;
    purse.put(PURSE_SPFP, &spfp.to_be_bytes())?;
    let mac2 = purchase.mac2(&sesk, settings).map_err(crypto)?;
    let tac = purchase.tac(&dtk.key, settings).map_err(crypto)?;
    let account = u32::from_be_bytes(bytes(&session.amounts, 0)?);
    let balance = session
        .balance
        .checked_sub(account)
        .ok_or(Status::BALANCE_TOO_LOW)?;
    purse.commit_state(
        PURSE_PURCHASE_COUNTER,
        session.serial,
        balance,
        PURSE_PURCHASE_PROOF,
        &mac2,
        &tac,
    )?;
    let (index, df) = (&*ctx.index, ctx.selection.df);
    atomically(ctx.storage, |tx| {
        tx.write(key.tries_at, &[key.tries])?;
        purse.save(tx)?;
        append_record(tx, index, df, &session, &time)
    })?;
    let mut w = Out { out, len: 0 };
    w.put(&tac)?;
    w.put(&mac2)?;
    Ok(Answer::Long(w.len, Status::Success))
}

/// GET BALANCE `B0 26 00 P2`: `01` the balance (4); `02` SPIP, `03` SPFP (4) ‖ payment year (2).
pub(super) fn get_balance<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    let (at, len) = match (command.p1, command.p2) {
        (0, 1) => (PURSE_BALANCE, 4),
        (0, 2) => (PURSE_SPIP, 4),
        (0, 3) => (PURSE_SPFP, 4),
        _ => return Err(Status::IncorrectP1P2),
    };
    holder_present(ctx)?;
    let purse = Purse::open(ctx)?;
    let mut w = Out { out, len: 0 };
    w.put(purse.bytes.get(at..at + len).unwrap_or(&[]))?;
    if command.p2 != 1 {
        w.put(purse.bytes.get(PURSE_YEAR..PURSE_YEAR + 2).unwrap_or(&[]))?;
    }
    Ok(Answer::Long(w.len, Status::Success))
}

/// GET TRANSACTION PROOF `B0 2E 00 <type> Lc serial` (type `01` load, `02` purchase; serial of 2
/// bytes, or 4 with two leading zero bytes) → MAC 4 ‖ TAC 4 of that transaction when it is the
/// last of its type, else `9406` (it did not happen). No PIN: a terminal asks after a reset.
pub(super) fn get_proof<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    let at = match (command.p1, command.p2) {
        (0, TYPE_LOAD) => PURSE_LOAD_PROOF,
        (0, TYPE_PURCHASE) => PURSE_PURCHASE_PROOF,
        _ => return Err(Status::IncorrectP1P2),
    };
    let serial = match command.data {
        [a, b] | [0, 0, a, b] => [*a, *b],
        [_, _, _, _] => return Err(Status::MAC_NOT_AVAILABLE),
        _ => return Err(Status::WrongLength),
    };
    let purse = Purse::open(ctx)?;
    let proof = purse
        .bytes
        .get(at..at + PURSE_PROOF_SIZE)
        .ok_or(Status::MemoryFailure)?;
    match proof {
        [1, s1, s2, rest @ ..] if [*s1, *s2] == serial => {
            Out { out, len: 0 }.put(rest)?;
            Ok(Answer::Long(rest.len(), Status::Success))
        }
        _ => Err(Status::MAC_NOT_AVAILABLE),
    }
}

/// UPDATE STARTING DAY `B0 56 00 00 02 mmdd` (after EXTERNAL AUTHENTICATE with DSK, key id
/// `STARTING_DAY_KEY_ID`, `6982` otherwise; not a date `6A80`) and GET STARTING DAY
/// `B0 56 01 00 02` → mmdd.
pub(super) fn starting_day<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    let mut purse = Purse::open(ctx)?;
    match (command.p1, command.p2) {
        (1, 0) => {
            let day = purse
                .bytes
                .get(PURSE_START_DAY..PURSE_START_DAY + 2)
                .unwrap_or(&[]);
            Out { out, len: 0 }.put(day)?;
            Ok(Answer::Long(day.len(), Status::Success))
        }
        (0, 0) => {
            let [m, d] = *command.data else {
                return Err(Status::WrongLength);
            };
            let (month, day) = (bcd(&[m])?, bcd(&[d])?);
            if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
                return Err(Status::IncorrectDataParameters);
            }
            if ctx.life_cycle != LIFE_CYCLE_PERSONALISATION
                && !ctx
                    .security
                    .authenticated_keys
                    .contains(STARTING_DAY_KEY_ID)
            {
                return Err(Status::SecurityStatusNotSatisfied);
            }
            purse.put(PURSE_START_DAY, &[m, d])?;
            atomically(ctx.storage, |tx| purse.save(tx))?;
            done()
        }
        _ => Err(Status::IncorrectP1P2),
    }
}

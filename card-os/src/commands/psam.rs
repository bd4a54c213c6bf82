//! The PSAM personality (docs/security.md, "PSAM"): a card whose application holds issuer master
//! keys derives a card's key into RAM (DELIVER KEY) and computes with it (CIPHER DATA), so that a
//! terminal never sees a key.

use super::{atomically, done, expect_p1p2, Answer, Context};
use crate::apdu::Command;
use crate::crypto::diversify::FACTOR_LEN;
use crate::crypto::mac::LINE_MAC_LEN;
use crate::crypto::purse::{
    purchase_session_input, session_key, Purchase, Settings, TERMINAL_NO_LEN, TIME_LEN,
    TYPE_PURCHASE,
};
use crate::crypto::sm::command_mac;
use crate::crypto::{diversify, internal_authenticate, CHALLENGE_LENS, INTERNAL_AUTH_MAX};
use crate::fs::{integrity, Descriptor, FileKind};
use crate::journal::memory_failure;
use crate::security::{objects, Usage};
use crate::storage::Storage;
use crate::sw::Status;
use crate::volatile::PurseSession;

/// CIPHER DATA P1: encrypt (ECB, zero padding).
const CIPHER_ENCRYPT: u8 = 0x00;
/// CIPHER DATA P1: the secure-messaging MAC of a command.
const CIPHER_MAC: u8 = 0x05;

/// DELIVER KEY `80 1A <usage> <key id> Lc factors`: the master key (`id`, `usage`) of the current
/// DF diversified with one 8-byte factor or two (16 bytes: region factor then card factor) is
/// kept in RAM for CIPHER DATA until the next DELIVER KEY or reset. Usage not `01`..`05` or key
/// id `00` `6A86`; factors not 8 or 16 bytes `6700`; no such key `6A88`.
pub(super) fn deliver_key<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    let usage = Usage::from_byte(command.p1).ok_or(Status::IncorrectP1P2)?;
    if command.p2 == 0 {
        return Err(Status::IncorrectP1P2);
    }
    *ctx.derived_key = None;
    let master = objects::find_key(ctx.storage, ctx.index, ctx.selection.df, command.p2, usage)?;
    let crypto = |e: crate::crypto::Error| Status::from_u16(e.status_word());
    let factor = |bytes: &[u8]| -> Result<[u8; FACTOR_LEN], Status> {
        bytes.try_into().map_err(|_| Status::WrongLength)
    };
    let key = match command.data.len() {
        FACTOR_LEN => diversify(&master.key, &factor(command.data)?).map_err(crypto)?,
        16 => {
            let (region, card) = command.data.split_at(FACTOR_LEN);
            let regional = diversify(&master.key, &factor(region)?).map_err(crypto)?;
            diversify(&regional, &factor(card)?).map_err(crypto)?
        }
        _ => return Err(Status::WrongLength),
    };
    *ctx.derived_key = Some(key);
    done()
}

/// CIPHER DATA `80 FA <mode> 00 Lc data`, with the key of the last DELIVER KEY (`6985` if none):
/// mode `00` = `E(key, data zero-padded)` for 1–16 bytes (the EXTERNAL AUTHENTICATE cryptogram
/// of a challenge; the expected INTERNAL AUTHENTICATE answer); mode `05` = the 4-byte
/// secure-messaging MAC, data = challenge length (4 or 8), challenge, CLA INS P1 P2, command data
/// without MAC. Other modes or P2 ≠ `00` `6A86`; lengths `6700`.
pub(super) fn cipher_data<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    if command.p2 != 0 || !matches!(command.p1, CIPHER_ENCRYPT | CIPHER_MAC) {
        return Err(Status::IncorrectP1P2);
    }
    let key = ctx
        .derived_key
        .as_ref()
        .ok_or(Status::ConditionsOfUseNotSatisfied)?;
    let crypto = |e: crate::crypto::Error| Status::from_u16(e.status_word());
    let mac: [u8; LINE_MAC_LEN];
    let cryptogram;
    let answer: &[u8] = if command.p1 == CIPHER_ENCRYPT {
        if command.data.is_empty() || command.data.len() > INTERNAL_AUTH_MAX {
            return Err(Status::WrongLength);
        }
        cryptogram = internal_authenticate(key, command.data).map_err(crypto)?;
        cryptogram.as_bytes()
    } else {
        let (&len, rest) = command.data.split_first().ok_or(Status::WrongLength)?;
        let len = usize::from(len);
        if !CHALLENGE_LENS.contains(&len) || rest.len() < len + 4 {
            return Err(Status::WrongLength);
        }
        let (challenge, rest) = rest.split_at(len);
        let (header, data) = rest.split_at(4);
        let header: [u8; 4] = header.try_into().map_err(|_| Status::WrongLength)?;
        mac = command_mac(key, challenge, header, data).map_err(crypto)?;
        &mac
    };
    out.get_mut(..answer.len())
        .ok_or(Status::NotEnoughMemory)?
        .copy_from_slice(answer);
    Ok(Answer::Long(answer.len(), Status::Success))
}

/// The PSAM's terminal number file (cn6) and terminal serial file (4 bytes, counted by the PSAM;
/// its access rules should forbid updates).
const TERMINAL_NO_FID: u16 = 0x0016;
const TERMINAL_SERIAL_FID: u16 = 0x0019;

/// A transparent EF of the current DF by FID, with its first `N` bytes.
fn psam_file<S: Storage, const N: usize>(
    ctx: &mut Context<'_, S>,
    fid: u16,
) -> Result<(u8, Descriptor, [u8; N]), Status> {
    let index = ctx
        .index
        .child(ctx.selection.df, fid)
        .ok_or(Status::FileNotFound)?;
    let file = Descriptor::read(ctx.storage, index)?;
    if file.kind != FileKind::Transparent || usize::from(file.data_size) < N {
        return Err(Status::IncompatibleFileStructure);
    }
    integrity::verify(ctx.storage, ctx.index, index, &file)?;
    let mut bytes = [0u8; N];
    ctx.storage
        .read(file.data_offset, &mut bytes)
        .map_err(memory_failure)?;
    Ok((index, file, bytes))
}

/// INIT SAM FOR PURCHASE `80 70 01 00 Lc` card random 4 ‖ card serial 2 ‖ account 4 ‖ self-pay 4
/// ‖ pooled 4 ‖ type 1 (`02` or `'2'`) ‖ date 4 ‖ time 3 ‖ DPK version 1 (the DPK master's key
/// id) ‖ algorithm 1 ‖ 1-3 diversification factors of 8 bytes → terminal serial 4 ‖ MAC1 4. The
/// PSAM diversifies its DPK with the factors in order, derives the session key, counts its
/// terminal serial (file `0019`) and keeps the session for CREDIT SAM FOR PURCHASE.
pub(super) fn init_sam_for_purchase<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    expect_p1p2(command, 1, 0)?;
    let data = command.data;
    let factors = data.get(28..).unwrap_or(&[]);
    if data.len() < 28 + FACTOR_LEN
        || factors.len() > 3 * FACTOR_LEN
        || factors.len() % FACTOR_LEN != 0
    {
        return Err(Status::WrongLength);
    }
    let field = |at: usize, len: usize| data.get(at..at + len).ok_or(Status::WrongLength);
    let settings = match field(18, 1)? {
        [TYPE_PURCHASE] => Settings::default(),
        [b'2'] => Settings {
            ascii_type: true,
            ..Settings::default()
        },
        _ => return Err(Status::IncorrectDataParameters),
    };
    let [version, algorithm] = field(26, 2)?.try_into().map_err(|_| Status::WrongLength)?;
    let master = objects::find_key(
        ctx.storage,
        ctx.index,
        ctx.selection.df,
        version,
        Usage::PursePurchase,
    )
    .map_err(|_| Status::KEY_INDEX_NOT_SUPPORTED)?;
    if master.key.algorithm().to_byte() != algorithm {
        return Err(Status::IncorrectDataParameters);
    }
    let crypto = |e: crate::crypto::Error| Status::from_u16(e.status_word());
    let mut key = master.key;
    for factor in factors.chunks_exact(FACTOR_LEN) {
        let factor: [u8; FACTOR_LEN] = factor.try_into().map_err(|_| Status::WrongLength)?;
        key = diversify(&key, &factor).map_err(crypto)?;
    }
    let (_, _, terminal_no) = psam_file::<S, TERMINAL_NO_LEN>(ctx, TERMINAL_NO_FID)?;
    let (index, file, serial) = psam_file::<S, 4>(ctx, TERMINAL_SERIAL_FID)?;
    let next = u32::from_be_bytes(serial)
        .checked_add(1)
        .ok_or(Status::COUNTER_AT_MAXIMUM)?;
    atomically(ctx.storage, |tx| {
        integrity::write(tx, index, &file, 0, &next.to_be_bytes())
    })?;
    let random: [u8; 4] = field(0, 4)?.try_into().map_err(|_| Status::WrongLength)?;
    let card_serial = u16::from_be_bytes(field(4, 2)?.try_into().map_err(|_| Status::WrongLength)?);
    let purchase = Purchase {
        amounts: field(6, 12)?.try_into().map_err(|_| Status::WrongLength)?,
        terminal_no,
        terminal_serial: serial,
        time: field(19, TIME_LEN)?
            .try_into()
            .map_err(|_| Status::WrongLength)?,
    };
    let session = session_key(&key, &purchase_session_input(&random, card_serial, &serial))
        .map_err(crypto)?;
    let mac1 = purchase.mac1(&session, settings).map_err(crypto)?;
    *ctx.derived_key = Some(session);
    *ctx.purse = Some(PurseSession {
        kind: TYPE_PURCHASE,
        key_id: version,
        random,
        serial: card_serial,
        amounts: purchase.amounts,
        terminal_no,
        balance: 0,
    });
    let answer = [serial, mac1].concat_array();
    out.get_mut(..8)
        .ok_or(Status::NotEnoughMemory)?
        .copy_from_slice(&answer);
    Ok(Answer::Long(8, Status::Success))
}

/// CREDIT SAM FOR PURCHASE `80 72 00 00 04` MAC2: `9000` when it is the card's MAC2 for the
/// purchase of the INIT SAM FOR PURCHASE just before, `9302` when it is not (the specification's
/// table; its text says `63CF`), `6901` without that INIT.
pub(super) fn credit_sam_for_purchase<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    let session = ctx
        .pending_purse
        .filter(|s| s.kind == TYPE_PURCHASE)
        .ok_or(Status::WRONG_STATE)?;
    let key = ctx.derived_key.take().ok_or(Status::WRONG_STATE)?;
    expect_p1p2(command, 0, 0)?;
    let received: [u8; 4] = command.data.try_into().map_err(|_| Status::WrongLength)?;
    let expected = crate::crypto::purse::purse_mac(&key, Settings::default(), &[&session.amounts])
        .map_err(|e| Status::from_u16(e.status_word()))?;
    crate::crypto::mac::verify(&expected, &received).map_err(|_| Status::PURSE_MAC_WRONG)?;
    done()
}

trait ConcatArray {
    fn concat_array(self) -> [u8; 8];
}

impl ConcatArray for [[u8; 4]; 2] {
    fn concat_array(self) -> [u8; 8] {
        let [[a, b, c, d], [e, f, g, h]] = self;
        [a, b, c, d, e, f, g, h]
    }
}

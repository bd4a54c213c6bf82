//! Command handlers, one module per family, and what they share.

mod activation;
mod auth;
mod binary;
mod block;
mod data;
mod manage;
mod personalise;
mod pin;
mod psam;
mod record;
pub(crate) mod secure;
mod select;

use crate::access::{self, Operation};
use crate::apdu::Command;
use crate::fs::{Descriptor, FileIndex, LCS_DEACTIVATED, LCS_TERMINATED};
pub(crate) use crate::journal::atomically;
use crate::layout::{
    APPLICATION_BLOCKED_PERMANENTLY, APPLICATION_BLOCKED_TEMPORARILY, LIFE_CYCLE_CARD_BLOCKED,
    LIFE_CYCLE_PERSONALISATION,
};
use crate::security::{objects, random::POOL_LEN, APPLICATION_PERMANENTLY_BLOCKED};
use crate::storage::Storage;
use crate::sw::Status;
use crate::volatile::{Challenge, SecurityStatus, Selection};

/// What a handler works on.
pub(crate) struct Context<'c, S: Storage> {
    pub storage: &'c mut S,
    pub selection: &'c mut Selection,
    pub security: &'c mut SecurityStatus,
    pub index: &'c mut FileIndex,
    /// The card life cycle when the command arrived.
    pub life_cycle: u8,
    /// The challenge of the GET CHALLENGE before this command, taken out of the security status:
    /// whoever uses it takes it, and it is gone after this command either way.
    pub challenge: Option<Challenge>,
    /// Host entropy for GET CHALLENGE.
    pub pool: &'c [u8; POOL_LEN],
    /// PSAM: the key of the last DELIVER KEY.
    pub derived_key: &'c mut Option<crate::crypto::SecretKey>,
}

/// Refuses commands a blocked card or application does not take: card blocked `6A81`, current
/// application permanently blocked `9303`, temporarily blocked `6985` (SELECT and GET DATA always
/// run; a temporarily blocked application also takes GET CHALLENGE, APPLICATION BLOCK and
/// APPLICATION UNBLOCK).
pub(crate) fn admit<S: Storage>(ctx: &Context<'_, S>, ins: u8) -> Result<(), Status> {
    if matches!(ins, 0xA4 | 0xCA) {
        return Ok(());
    }
    if ctx.life_cycle == LIFE_CYCLE_CARD_BLOCKED {
        return Err(Status::FunctionNotSupported);
    }
    match objects::application_state(ctx.storage, ctx.index, ctx.selection.df)? {
        APPLICATION_BLOCKED_PERMANENTLY => Err(APPLICATION_PERMANENTLY_BLOCKED),
        APPLICATION_BLOCKED_TEMPORARILY if !matches!(ins, 0x84 | 0x18 | 0x1E) => {
            Err(Status::ConditionsOfUseNotSatisfied)
        }
        _ => Ok(()),
    }
}

/// A handler's answer; its data is at the start of the `out` buffer it was given.
pub(crate) enum Answer {
    /// Data already sized by the command's own Le rule (READ BINARY, READ RECORD, none).
    Data(usize, Status),
    /// Data that may be longer than Ne: the rest goes out through `61xx` / GET RESPONSE.
    Long(usize, Status),
}

/// Runs the command named by INS.
pub(crate) fn execute<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    activation::check_settlement(ctx, command)?;
    match command.ins {
        0xA4 => select::select(ctx, command, out),
        0xB0 => binary::read(ctx, command, out),
        0xD6 => binary::update(ctx, command),
        0xB2 => record::read(ctx, command, out),
        0xDC => record::update(ctx, command),
        0xE2 => record::append(ctx, command),
        0xCA if u16::from_be_bytes([command.p1, command.p2]) == crate::restriction::STATUS_TAG => {
            activation::get_status(ctx, out)
        }
        0xCA => data::get_data(ctx, command, out),
        0xDA => activation::set_date(ctx, command),
        0x1A => psam::deliver_key(ctx, command),
        0xFA => psam::cipher_data(ctx, command, out),
        0xE0 => manage::create(ctx, command),
        0xE4 => manage::delete(ctx, command),
        0x44 => manage::set_life_cycle(ctx, command, manage::Change::Activate),
        0x04 => manage::set_life_cycle(ctx, command, manage::Change::Deactivate),
        0xE6 => manage::set_life_cycle(ctx, command, manage::Change::TerminateEf),
        0xE8 => manage::set_life_cycle(ctx, command, manage::Change::TerminateDf),
        0xD4 => personalise::write(ctx, command),
        0xF0 => personalise::issue(ctx, command),
        0x20 => pin::verify(ctx, command),
        0x5E => pin::change_pin(ctx, command),
        0x24 if secure::has_mac(command.cla) => pin::unblock(ctx, command),
        0x24 => pin::change_reference_data(ctx, command),
        0x2C => pin::reload(ctx, command),
        0x84 => auth::get_challenge(ctx, command, out),
        0x82 => auth::external(ctx, command),
        0x88 => auth::internal(ctx, command, out),
        0x1E => block::block_application(ctx, command),
        0x18 => block::unblock_application(ctx, command),
        0x16 => block::block_card(ctx, command),
        _ => Err(Status::InstructionNotSupported),
    }
}

/// Done, no data.
fn done() -> Result<Answer, Status> {
    Ok(Answer::Data(0, Status::Success))
}

/// `6A86` unless P1 and P2 are the ones the command takes.
fn expect_p1p2(command: &Command<'_>, p1: u8, p2: u8) -> Result<(), Status> {
    if (command.p1, command.p2) == (p1, p2) {
        Ok(())
    } else {
        Err(Status::IncorrectP1P2)
    }
}

/// The EF a command addresses: the current EF when `sfi` is 0, else the EF with that SFI in the
/// current DF (which then becomes the current EF). `6986` / `6A82` when there is none.
fn target_ef<S: Storage>(ctx: &mut Context<'_, S>, sfi: u8) -> Result<(u8, Descriptor), Status> {
    let index = if sfi == 0 {
        ctx.selection.ef.ok_or(Status::NoCurrentEf)?
    } else {
        let index = ctx
            .index
            .child_by_sfi(ctx.selection.df, sfi)
            .ok_or(Status::FileNotFound)?;
        if ctx.selection.ef != Some(index) {
            ctx.selection.ef = Some(index);
            ctx.selection.record = None;
        }
        index
    };
    Ok((index, ctx.index.descriptor(ctx.storage, index)?))
}

/// `6985` unless the file may be used (not deactivated, not terminated), then the access rule.
fn authorise<S: Storage>(
    ctx: &Context<'_, S>,
    file: &Descriptor,
    operation: Operation,
) -> Result<(), Status> {
    if matches!(file.life_cycle, LCS_DEACTIVATED | LCS_TERMINATED) {
        return Err(Status::ConditionsOfUseNotSatisfied);
    }
    permitted(ctx, &file.access, operation)
}

/// The access rule for `operation`; not enforced while the card is being personalised (a fixed
/// personalisation script cannot answer a random challenge).
fn permitted<S: Storage>(
    ctx: &Context<'_, S>,
    access: &[u8; 8],
    operation: Operation,
) -> Result<(), Status> {
    if ctx.life_cycle == LIFE_CYCLE_PERSONALISATION {
        return Ok(());
    }
    access::check(access, operation, ctx.security)
}

/// `6985` unless the card is still being personalised.
fn personalisation_only<S: Storage>(ctx: &Context<'_, S>) -> Result<(), Status> {
    if ctx.life_cycle == LIFE_CYCLE_PERSONALISATION {
        Ok(())
    } else {
        Err(Status::ConditionsOfUseNotSatisfied)
    }
}

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
mod purse;
mod record;
pub(crate) mod secure;
mod select;

use crate::access::{self, Operation};
use crate::apdu::{Command, SecureMessaging};
use crate::fs::{Descriptor, FileIndex, LCS_DEACTIVATED, LCS_TERMINATED};
use crate::instructions::{Admission, Handler, Instruction};
pub(crate) use crate::journal::atomically;
use crate::memory_map::{
    APPLICATION_BLOCKED_PERMANENTLY, APPLICATION_BLOCKED_TEMPORARILY, LIFE_CYCLE_CARD_BLOCKED,
    LIFE_CYCLE_PERSONALISATION,
};
use crate::security::{objects, random::POOL_LEN};
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
    /// The secure messaging of the command's class.
    pub secure_messaging: SecureMessaging,
    /// The challenge of the GET CHALLENGE before this command, taken out of the security status:
    /// whoever uses it takes it, and it is gone after this command either way.
    pub challenge: Option<Challenge>,
    /// Host entropy for GET CHALLENGE.
    pub pool: &'c [u8; POOL_LEN],
    /// PSAM: the key of the last DELIVER KEY.
    pub derived_key: &'c mut Option<crate::crypto::SecretKey>,
    /// The medical purse's transaction that the command before this one initialised, taken out
    /// of the volatile state (it holds for the next command only).
    pub pending_purse: Option<crate::volatile::PurseSession>,
    /// Where an INITIALIZE FOR LOAD / PURCHASE leaves its transaction for the next command.
    pub purse: &'c mut Option<crate::volatile::PurseSession>,
}

/// Refuses commands a blocked card or application does not take, as the instruction's
/// [`Admission`] says (an unknown instruction as one that needs an unblocked application): card
/// blocked `6A81`, current application permanently blocked `9303`, temporarily blocked `6985`.
pub(crate) fn admit<S: Storage>(
    ctx: &Context<'_, S>,
    instruction: Option<&Instruction>,
) -> Result<(), Status> {
    let admission = instruction.map_or(Admission::Unblocked, |i| i.admission);
    if admission == Admission::Always {
        return Ok(());
    }
    if ctx.life_cycle == LIFE_CYCLE_CARD_BLOCKED {
        return Err(Status::FunctionNotSupported);
    }
    match objects::application_state(ctx.storage, ctx.index, ctx.selection.df)? {
        APPLICATION_BLOCKED_PERMANENTLY => Err(Status::APPLICATION_PERMANENTLY_BLOCKED),
        APPLICATION_BLOCKED_TEMPORARILY if admission != Admission::WhileTemporarilyBlocked => {
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

/// Runs the instruction (`6D00` when the card has none for the command), after the six-month
/// rule for a settlement-type one.
// Not inlined into the APDU loop: inlined, the handlers grow the chip image by kilobytes.
#[inline(never)]
pub(crate) fn execute<S: Storage>(
    ctx: &mut Context<'_, S>,
    instruction: Option<&Instruction>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    let instruction = instruction.ok_or(Status::InstructionNotSupported)?;
    if instruction.settlement {
        activation::check_settlement(ctx)?;
    }
    match instruction.handler {
        Handler::Select => select::select(ctx, command, out),
        Handler::ReadBinary => binary::read(ctx, command, out),
        Handler::UpdateBinary => binary::update(ctx, command),
        Handler::ReadRecord => record::read(ctx, command, out),
        Handler::UpdateRecord => record::update(ctx, command),
        Handler::AppendRecord => record::append(ctx, command),
        // The transmission layer serves GET RESPONSE; it cannot be a link of a chain.
        Handler::GetResponse => Err(Status::InstructionNotSupported),
        Handler::GetData
            if u16::from_be_bytes([command.p1, command.p2]) == crate::data_tags::MEDICAL_STATUS =>
        {
            activation::get_status(ctx, out)
        }
        Handler::GetData => data::get_data(ctx, command, out),
        Handler::SetDate => activation::set_date(ctx, command),
        Handler::DeliverKey => psam::deliver_key(ctx, command),
        Handler::CipherData => psam::cipher_data(ctx, command, out),
        Handler::CreateFile => manage::create(ctx, command),
        Handler::DeleteFile => manage::delete(ctx, command),
        Handler::ActivateFile => manage::set_life_cycle(ctx, command, manage::Change::Activate),
        Handler::DeactivateFile => manage::set_life_cycle(ctx, command, manage::Change::Deactivate),
        Handler::TerminateEf => manage::set_life_cycle(ctx, command, manage::Change::TerminateEf),
        Handler::TerminateDf => manage::set_life_cycle(ctx, command, manage::Change::TerminateDf),
        Handler::WriteKey => personalise::write(ctx, command),
        Handler::IssueCard => personalise::issue(ctx, command),
        Handler::Verify => pin::verify(ctx, command),
        Handler::ChangePin => pin::change_pin(ctx, command),
        Handler::PinUnblock => pin::unblock(ctx, command),
        Handler::ChangeReferenceData => pin::change_reference_data(ctx, command),
        Handler::PinReload => pin::reload(ctx, command),
        Handler::GetChallenge => auth::get_challenge(ctx, command, out),
        Handler::ExternalAuthenticate => auth::external(ctx, command),
        Handler::InternalAuthenticate => auth::internal(ctx, command, out),
        Handler::ApplicationBlock => block::block_application(ctx, command),
        Handler::ApplicationUnblock => block::unblock_application(ctx, command),
        Handler::CardBlock => block::block_card(ctx, command),
        Handler::InitSamForPurchase => psam::init_sam_for_purchase(ctx, command, out),
        Handler::CreditSamForPurchase => psam::credit_sam_for_purchase(ctx, command),
        Handler::InitializePurse => purse::initialize(ctx, command, out),
        Handler::CreditForLoad => purse::credit(ctx, command, out),
        Handler::DebitForPurchase => purse::debit(ctx, command, out),
        Handler::GetBalance => purse::get_balance(ctx, command, out),
        Handler::GetTransactionProof => purse::get_proof(ctx, command, out),
        Handler::StartingDay => purse::starting_day(ctx, command, out),
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

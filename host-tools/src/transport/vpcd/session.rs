//! One insertion: the card in the reader for the life of one connection to vpcd.

use std::net::TcpStream;
use std::time::Instant;

use super::frame::{self, Incoming};
use super::{PowerChange, RemovalCause, ServeEvent, ServeOptions, ServeSummary, VpcdError};
use crate::transport::{CardTransport, ResetKind};

const POWER_OFF: u8 = 0x00;
const POWER_ON: u8 = 0x01;
const RESET: u8 = 0x02;
const GET_ATR: u8 = 0x04;

/// Answers vpcd until the connection ends; returns why, and whether the card is still powered.
pub(crate) fn run(
    card: &mut dyn CardTransport,
    stream: &mut TcpStream,
    options: &ServeOptions,
    pull_at: Option<Instant>,
    pulls_at_insertion: u64,
    summary: &mut ServeSummary,
    on_event: &mut dyn FnMut(ServeEvent),
) -> (RemovalCause, bool) {
    let mut powered = false;
    let mut payload = Vec::with_capacity(frame::MAX_MESSAGE_LEN);
    let mut last_heard = Instant::now();
    loop {
        if options.control.is_stopped() {
            return (RemovalCause::Stopped, powered);
        }
        if options.control.pulled_since(pulls_at_insertion) {
            return (RemovalCause::OnCommand, powered);
        }
        if pull_at.is_some_and(|at| Instant::now() >= at) {
            return (RemovalCause::Timer, powered);
        }
        match frame::read_message(stream, &mut payload, options.io_timeout) {
            Ok(Incoming::Idle) if last_heard.elapsed() >= options.silence_timeout => {
                let silent = VpcdError::Silent(frame::millis(last_heard.elapsed()));
                return (RemovalCause::Failed(silent), powered);
            }
            Ok(Incoming::Idle) => {}
            Ok(Incoming::Closed) => return (RemovalCause::VpcdClosed, powered),
            Ok(Incoming::Message) => {
                last_heard = Instant::now();
                match answer(card, stream, &payload, &mut powered, summary, on_event) {
                    Ok(Answered::Done) => {}
                    Ok(Answered::NoAtr) => return (RemovalCause::NoAtr, powered),
                    Err(e) => return (RemovalCause::Failed(e), powered),
                }
            }
            Err(e) => return (RemovalCause::Failed(e), powered),
        }
    }
}

/// What answering one message leaves behind.
enum Answered {
    Done,
    /// The ATR request was answered with no ATR: vpcd now counts the card as removed and will not
    /// talk to this connection again.
    NoAtr,
}

/// Does what one message asks. Power changes have no reply; the ATR request and C-APDUs do.
fn answer(
    card: &mut dyn CardTransport,
    stream: &mut TcpStream,
    message: &[u8],
    powered: &mut bool,
    summary: &mut ServeSummary,
    on_event: &mut dyn FnMut(ServeEvent),
) -> Result<Answered, VpcdError> {
    match *message {
        [POWER_OFF] => {
            card.power_off().map_err(VpcdError::Card)?;
            *powered = false;
            on_event(ServeEvent::Power(PowerChange::Off));
        }
        [POWER_ON] => {
            card.reset(ResetKind::Cold).map_err(VpcdError::Card)?;
            *powered = true;
            on_event(ServeEvent::Power(PowerChange::On));
        }
        [RESET] => {
            card.reset(ResetKind::Warm).map_err(VpcdError::Card)?;
            *powered = true;
            on_event(ServeEvent::Power(PowerChange::WarmReset));
        }
        [GET_ATR] => {
            let atr = card.atr();
            frame::write_message(stream, &atr)?;
            if atr.is_empty() {
                return Ok(Answered::NoAtr);
            }
        }
        [code] => on_event(ServeEvent::UnknownControl(code)),
        [] => {}
        _ => {
            let response = card.transmit(message).map_err(VpcdError::Card)?;
            summary.apdus += 1;
            frame::write_message(stream, &response)?;
        }
    }
    Ok(Answered::Done)
}

//! The transmission layer, apart from the commands: what the class byte allows, command chaining,
//! the sizing of an answer to Ne and to the response buffer, and GET RESPONSE of the rest.

use crate::apdu::{Cla, Command, SecureMessaging};
use crate::commands::Answer;
use crate::memory_map::CHAIN_MAX;
use crate::sw::Status;
use crate::volatile::IoMode;

/// Answers that may exceed Ne (FCI, GET DATA, ...) are built in a buffer of at least this size.
pub const LONG_MAX: usize = 256;

/// The class of `command`, if the card takes it: `0x`/`8x` (`6E00`), logical channel 0 (`6881`),
/// no ISO secure messaging (`6882`; only the SSC MAC `x4` is supported).
pub(crate) fn class_of(command: &Command<'_>) -> Result<Cla, Status> {
    let cla = Cla::decode(command.cla)?;
    if cla.channel != 0 {
        return Err(Status::LogicalChannelNotSupported);
    }
    match cla.secure_messaging {
        SecureMessaging::None | SecureMessaging::SscMac => Ok(cla),
        SecureMessaging::Iso | SecureMessaging::IsoHeaderAuthenticated => {
            Err(Status::SecureMessagingNotSupported)
        }
    }
}

/// Collects a link of a command chain. `Some(data)`: the whole command data, to run now (from the
/// buffer after a chain, else the APDU's own); `None`: a link was buffered and more are to come.
/// A link of another command `6883`; a chain longer than [`CHAIN_MAX`] `6A84`; one APDU with more
/// data `6700`.
pub(crate) fn collect<'d>(
    pending: IoMode,
    command: &Command<'d>,
    chaining: bool,
    io: &mut IoMode,
    buffer: &'d mut [u8; CHAIN_MAX],
) -> Result<Option<&'d [u8]>, Status> {
    let collected = match pending {
        IoMode::Chain {
            cla, ins, p1, p2, ..
        } if (cla & !0x10, ins, p1, p2)
            != (command.cla & !0x10, command.ins, command.p1, command.p2) =>
        {
            return Err(Status::LastCommandOfChainExpected);
        }
        IoMode::Chain { len, .. } => usize::from(len),
        _ if !chaining && command.data.len() > CHAIN_MAX => return Err(Status::WrongLength),
        _ if !chaining => return Ok(Some(command.data)),
        _ => 0,
    };
    let end = collected + command.data.len();
    match buffer.get_mut(collected..end) {
        Some(dest) => dest.copy_from_slice(command.data),
        None => return Err(Status::NotEnoughMemory),
    }
    if chaining {
        *io = IoMode::Chain {
            cla: command.cla,
            ins: command.ins,
            p1: command.p1,
            p2: command.p2,
            len: end as u16,
        };
        return Ok(None);
    }
    Ok(Some(buffer.get(..end).unwrap_or(&[])))
}

/// The response buffer of one command and where its handler writes: in place when the buffer
/// holds a long answer, else in a local buffer of which what fits is copied.
pub(crate) struct Reply<'r> {
    response: &'r mut [u8],
    local: [u8; LONG_MAX],
}

impl<'r> Reply<'r> {
    /// `response` has room for the status word (checked by `Card::process`).
    pub fn new(response: &'r mut [u8]) -> Self {
        Reply {
            response,
            local: [0; LONG_MAX],
        }
    }

    /// Room for data before the status word.
    fn space(&self) -> usize {
        self.response.len().saturating_sub(2)
    }

    /// Where the handler writes its answer.
    pub fn out(&mut self) -> &mut [u8] {
        let space = self.space();
        if space >= LONG_MAX {
            self.response.get_mut(..space).unwrap_or(&mut [])
        } else {
            &mut self.local
        }
    }

    /// Applies the response rules to a handler's result: data beyond what may be sent now (Ne for
    /// answers that allow it, the response buffer for all) is kept for GET RESPONSE and announced
    /// with `61xx`. Returns the length of the data at the start of the response and the status.
    pub fn settle(
        mut self,
        result: Result<Answer, Status>,
        ne: Option<usize>,
        io: &mut IoMode,
        buffer: &mut [u8; CHAIN_MAX],
    ) -> (usize, Status) {
        let space = self.space();
        let (len, sw, limit) = match result {
            Ok(Answer::Data(len, sw)) => (len, sw, usize::MAX),
            Ok(Answer::Long(len, sw)) => (len, sw, ne.unwrap_or(0)),
            Err(sw) => return (0, sw),
        };
        let sent = len.min(limit).min(space);
        let out = self.out();
        let rest = out.get(sent..len).unwrap_or(&[]);
        let sw = if rest.is_empty() || sw != Status::Success {
            sw
        } else {
            let kept = rest.len().min(CHAIN_MAX);
            if let (Some(dest), Some(src)) = (buffer.get_mut(..kept), rest.get(..kept)) {
                dest.copy_from_slice(src);
            }
            *io = IoMode::Pending {
                start: 0,
                end: kept as u16,
            };
            bytes_remaining(kept)
        };
        if space < LONG_MAX {
            if let (Some(dest), Some(src)) = (self.response.get_mut(..sent), self.local.get(..sent))
            {
                dest.copy_from_slice(src);
            }
        }
        (sent, sw)
    }
}

/// GET RESPONSE `00 C0 00 00 Le`: the next part of a pending answer into `response`. Nothing
/// pending `6985`; P1-P2 not `0000` or data `6A86`, no Le `6700` (the pending answer is kept).
pub(crate) fn get_response(
    command: &Command<'_>,
    pending: IoMode,
    io: &mut IoMode,
    buffer: &[u8; CHAIN_MAX],
    response: &mut [u8],
) -> (usize, Status) {
    let IoMode::Pending { start, end } = pending else {
        return (0, Status::ConditionsOfUseNotSatisfied);
    };
    if (command.p1, command.p2) != (0, 0) || !command.data.is_empty() {
        *io = pending;
        return (0, Status::IncorrectP1P2);
    }
    let Some(ne) = command.ne else {
        *io = pending;
        return (0, Status::WrongLength);
    };
    let (start, end) = (usize::from(start), usize::from(end));
    let sent = (end - start).min(ne).min(response.len().saturating_sub(2));
    let src = buffer.get(start..start + sent).unwrap_or(&[]);
    if let Some(dest) = response.get_mut(..src.len()) {
        dest.copy_from_slice(src);
    }
    let next = start + sent;
    if next < end {
        *io = IoMode::Pending {
            start: next as u16,
            end: end as u16,
        };
        (sent, bytes_remaining(end - next))
    } else {
        (sent, Status::Success)
    }
}

/// `61xx`: xx bytes still available, `00` for 256 or more.
fn bytes_remaining(n: usize) -> Status {
    Status::BytesRemaining(if n >= 256 { 0 } else { n as u8 })
}

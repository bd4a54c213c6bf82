//! Diagnostics with the holder present (`sscard diagnose --pin`): the one mode that sends a
//! command with the PIN. It allows exactly what reading the medical purse needs — SELECT, VERIFY
//! with the holder's PIN, GET BALANCE and READ RECORD of EF08 — on top of the read-only guard's
//! probes, and names "balance too low" when the balance is below the amount asked or the last
//! settlement of the terminal journal was refused for it (`9401`).

use serde::Serialize;

use super::guard::is_read_only;
use super::verdict::{cause_of_refusal, Cause};
use crate::jobs::settlement::{self, records::LOG_SFI, Line, LogRecord, PinEntry, SettleError};
use crate::protocol::client::Client;
use crate::transport::{CardTransport, ResetKind, TransportError};
use file_structures::layout::Layout;

/// Whether the holder-present mode may send `command`: a read-only probe, or VERIFY with data,
/// GET BALANCE (`B0 26 00 01..03`), READ RECORD of EF08 by its SFI.
pub fn is_purse_read(command: &[u8]) -> bool {
    if is_read_only(command) {
        return true;
    }
    match command {
        [0x00, 0x20, 0x00, 0x00, lc, data @ ..] => usize::from(*lc) == data.len() && *lc > 0,
        [0xB0, 0x26, 0x00, 0x01..=0x03, ..] => true,
        [0x00, 0xB2, _, p2, ..] => *p2 == (LOG_SFI << 3) | 0x04,
        _ => false,
    }
}

/// Any transport, limited to [`is_purse_read`].
pub struct HolderPresent<T> {
    inner: T,
    refused: usize,
}

impl<T: CardTransport> HolderPresent<T> {
    pub fn new(inner: T) -> Self {
        HolderPresent { inner, refused: 0 }
    }

    /// Commands refused (always 0 unless the purse reading has a defect).
    pub fn refused(&self) -> usize {
        self.refused
    }
}

impl<T: CardTransport> CardTransport for HolderPresent<T> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn atr(&self) -> Vec<u8> {
        self.inner.atr()
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        if !is_purse_read(command) {
            self.refused += 1;
            return Err(TransportError::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "diagnostics with the holder's PIN send only VERIFY, GET BALANCE and READ RECORD of EF08",
            )));
        }
        self.inner.transmit(command)
    }
    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        self.inner.reset(kind)
    }
    fn power_off(&mut self) -> Result<(), TransportError> {
        self.inner.power_off()
    }
}

/// What the purse says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurseFindings {
    /// In fen; `None` when it could not be read (the sentence says why).
    pub balance: Option<u32>,
    /// The last settlements and loads, newest first (at most [`SHOWN_RECORDS`]).
    pub records: Vec<LogRecord>,
    /// The status word of the journal's last refused settlement, if its last line is one.
    pub last_refusal: Option<String>,
    /// The cause the purse names, if any.
    pub cause: Option<Cause>,
    pub detail: String,
}

/// Records shown.
pub const SHOWN_RECORDS: usize = 5;

/// Reads the balance and the log with the holder's PIN, and weighs them against `amount` (fen)
/// and the journal's last line.
pub fn read<T: CardTransport, E: PinEntry + ?Sized>(
    client: &mut Client<HolderPresent<T>>,
    layout: &Layout,
    pin: &mut E,
    amount: Option<u32>,
    last_line: Option<&Line>,
) -> PurseFindings {
    let last_refusal = last_line
        .filter(|l| l.step == settlement::Step::Refused)
        .and_then(|l| l.sw.clone());
    let refusal_cause = last_refusal
        .as_deref()
        .and_then(|sw| u16::from_str_radix(sw, 16).ok())
        .and_then(cause_of_refusal);
    match settlement::read_purse(client, layout, pin) {
        Ok(state) => {
            let below = amount.is_some_and(|a| state.balance < a);
            let cause = if below {
                Some(Cause::BalanceTooLow)
            } else {
                refusal_cause
            };
            let mut detail = format!("balance {} yuan", settlement::fen_to_yuan(state.balance));
            if let Some(a) = amount {
                detail.push_str(&format!(
                    " ({} the {} yuan asked)",
                    if below { "below" } else { "enough for" },
                    settlement::fen_to_yuan(a)
                ));
            }
            if let Some(sw) = &last_refusal {
                detail.push_str(&format!("; the last settlement was refused with {sw}"));
            }
            detail.push_str(&format!(
                "; {} transaction(s) in the log",
                state.records.len()
            ));
            PurseFindings {
                balance: Some(state.balance),
                records: state.records.into_iter().take(SHOWN_RECORDS).collect(),
                last_refusal,
                cause,
                detail,
            }
        }
        Err(e) => PurseFindings {
            balance: None,
            records: Vec::new(),
            cause: match &e {
                SettleError::PinBlocked => Some(Cause::PinBlocked),
                _ => refusal_cause,
            },
            last_refusal,
            detail: format!("the purse could not be read: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_present_mode_allows_only_the_purse_reads() {
        assert!(is_purse_read(&[
            0x00, 0x20, 0x00, 0x00, 0x03, 0x13, 0x57, 0x90
        ]));
        assert!(is_purse_read(&[0xB0, 0x26, 0x00, 0x01, 0x04]));
        assert!(is_purse_read(&[0x00, 0xB2, 0x01, 0x44, 0x00]));
        assert!(is_purse_read(&[0x00, 0xA4, 0x00, 0x0C, 0x02, 0xDF, 0x04]));
        for writes in [
            &[0xB0, 0x2C, 0x01, 0x00, 0x0F][..],
            &[0xB0, 0x28, 0x01, 0x01, 0x13],
            &[0x80, 0x5E, 0x01, 0x00, 0x07],
            &[0x00, 0xDC, 0x01, 0x44, 0x01, 0x00],
            &[0x00, 0x20, 0x00, 0x00, 0x03, 0x13],
        ] {
            assert!(!is_purse_read(writes), "{writes:02X?}");
        }
    }
}

//! The read-only guard every diagnostic APDU goes through: the instructions card-os's instruction
//! table calls safe to probe (VERIFY only without data, which asks for the tries left), the
//! evidence log (each command, its answer and how long it took), and the retries a terminal makes
//! when an answer is lost.

use std::time::{Duration, Instant};

use card_os::apdu::{Cla, SecureMessaging};
use card_os::instructions::{self, Probe};
use serde::Serialize;

use crate::transport::{CardTransport, ResetKind, TransportError};

/// Attempts per command before it counts as unanswered.
pub const ATTEMPTS: usize = 4;

/// One exchange as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exchange {
    /// The command in hex.
    pub command: String,
    /// The status word in hex, or `None` when the card did not answer.
    pub sw: Option<String>,
    /// The transport's complaint when there was no answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub micros: u64,
}

/// Whether `command` is one the diagnostics may send: an instruction that card-os's instruction
/// table calls safe to probe (SELECT, READ BINARY, READ RECORD, GET RESPONSE, GET DATA), or VERIFY
/// without data (P1 `00`: it asks for the tries left and spends none), in a class without secure
/// messaging. Everything else could change the card or use its keys.
pub fn is_read_only(command: &[u8]) -> bool {
    let [cla, ins, ..] = *command else {
        return false;
    };
    let plain = Cla::decode(cla).is_ok_and(|c| c.secure_messaging == SecureMessaging::None);
    match instructions::of_command(cla, ins).map(|i| i.probe) {
        _ if !plain => false,
        Some(Probe::Safe) => true,
        Some(Probe::SafeWithoutData) => matches!(command, [_, _, 0x00, _] | [_, _, 0x00, _, _]),
        Some(Probe::Unsafe) | None => false,
    }
}

/// Any transport, read-only and recorded.
pub struct ReadOnly<T> {
    inner: T,
    log: Vec<Exchange>,
    unanswered: usize,
    answered: usize,
    refused: usize,
}

impl<T: CardTransport> ReadOnly<T> {
    pub fn new(inner: T) -> Self {
        ReadOnly {
            inner,
            log: Vec::new(),
            unanswered: 0,
            answered: 0,
            refused: 0,
        }
    }

    /// The exchanges since the last call.
    pub fn take_log(&mut self) -> Vec<Exchange> {
        std::mem::take(&mut self.log)
    }

    /// Attempts that got no answer, over the whole session.
    pub fn unanswered(&self) -> usize {
        self.unanswered
    }

    pub fn answered(&self) -> usize {
        self.answered
    }

    /// Commands the guard refused to send.
    pub fn refused(&self) -> usize {
        self.refused
    }

    pub fn into_inner(self) -> T {
        self.inner
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl<T: CardTransport> CardTransport for ReadOnly<T> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn atr(&self) -> Vec<u8> {
        self.inner.atr()
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        if !is_read_only(command) {
            self.refused += 1;
            return Err(TransportError::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "diagnostics never send {}: it could change the card",
                    crate::protocol::hexstr::encode(command.get(..2).unwrap_or(command))
                ),
            )));
        }
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let started = Instant::now();
            let result = self.inner.transmit(command);
            let took = micros(started.elapsed());
            match result {
                Ok(response) => {
                    self.answered += 1;
                    let sw = response
                        .len()
                        .checked_sub(2)
                        .and_then(|at| response.get(at..))
                        .map(crate::protocol::hexstr::encode);
                    self.log.push(Exchange {
                        command: crate::protocol::hexstr::encode(command),
                        sw,
                        error: None,
                        micros: took,
                    });
                    return Ok(response);
                }
                // Lost answers are retried; a card pulled or a reader gone is not.
                // A card that missed the answer deadline (`NoAnswer`) is as unanswered as a lost answer.
                Err(
                    e @ (TransportError::CardUnresponsive
                    | TransportError::ShortResponse(_)
                    | TransportError::NoAnswer(_)),
                ) => {
                    self.unanswered += 1;
                    self.log.push(Exchange {
                        command: crate::protocol::hexstr::encode(command),
                        sw: None,
                        error: Some(e.to_string()),
                        micros: took,
                    });
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(TransportError::CardUnresponsive))
    }

    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        self.inner.reset(kind)
    }

    fn power_off(&mut self) -> Result<(), TransportError> {
        self.inner.power_off()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_card_instruction_has_a_guard_decision_from_the_table() {
        for row in instructions::INSTRUCTIONS {
            let cla = match row.class {
                instructions::ClassRule::Mac => 0x84,
                card_os::instructions::ClassRule::Purse => 0xB0,
                _ => 0x00,
            };
            let bare = [cla, row.ins, 0x00, 0x00];
            let with_data = [cla, row.ins, 0x00, 0x00, 0x01, 0xAA];
            let (bare_passes, data_passes) = match row.probe {
                Probe::Safe => (cla != 0x84, cla != 0x84),
                Probe::SafeWithoutData => (true, false),
                Probe::Unsafe => (false, false),
            };
            assert_eq!(is_read_only(&bare), bare_passes, "{}", row.name());
            assert_eq!(is_read_only(&with_data), data_passes, "{}", row.name());
            // Never with a MAC'd class.
            assert!(
                !is_read_only(&[0x04, row.ins, 0x00, 0x00]),
                "{}",
                row.name()
            );
        }
    }

    #[test]
    fn only_reading_instructions_pass() {
        let pass = [
            "00A4040C0F7378312E73682EC9E7BBE1B1A3D5CF",
            "00B2012C00",
            "00B0870010",
            "00CADF7F00",
            "00C0000010",
            "00200000",
        ];
        let refuse = [
            "00DC0A3003 0A0132",
            "00D6870004 01020304",
            "00E20028 03 010101",
            "0020000003 123456",
            "8424000000",
            "841E000104 11223344",
            "0082000A08 1122334455667788",
            "0084000008",
            "04B2012C00",
            "80D4000000",
        ];
        for hex in pass {
            assert!(
                is_read_only(&crate::protocol::hexstr::parse(hex).unwrap()),
                "{hex}"
            );
        }
        for hex in refuse {
            assert!(
                !is_read_only(&crate::protocol::hexstr::parse(hex).unwrap()),
                "{hex}"
            );
        }
    }
}

//! A minimal card that answers `90 00` to everything: the baseline for the PC/SC stack.

use crate::transport::{CardTransport, ResetKind, TransportError};

/// The echo card's ATR: T=0, no interface bytes, historical bytes "ECHO".
pub const ECHO_ATR: [u8; 6] = [0x3B, 0x04, b'E', b'C', b'H', b'O'];

/// Answers `90 00` to every command; counts them.
#[derive(Debug, Default)]
pub struct EchoCard {
    commands: u64,
}

impl EchoCard {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many command APDUs it has answered.
    pub fn commands(&self) -> u64 {
        self.commands
    }
}

impl CardTransport for EchoCard {
    fn name(&self) -> String {
        "echo card".to_string()
    }

    fn atr(&self) -> Vec<u8> {
        ECHO_ATR.to_vec()
    }

    fn transmit(&mut self, _command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.commands += 1;
        Ok(vec![0x90, 0x00])
    }

    fn reset(&mut self, _kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        Ok(self.atr())
    }

    fn power_off(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
}

//! A transport that plays a script: each expected command and the raw response the "card" gives.
//! For unit tests of the layers above the transport.

use super::{CardTransport, ResetKind, TransportError};
use std::collections::VecDeque;

/// An expected command and what the card does about it.
type Step = (Vec<u8>, Result<Vec<u8>, TransportError>);

pub(crate) struct ScriptedTransport {
    script: VecDeque<Step>,
    pub(crate) sent: Vec<Vec<u8>>,
}

impl ScriptedTransport {
    /// Pairs of (command hex, response hex); a response of "!removed" fails with CardRemoved.
    pub(crate) fn new(script: &[(&str, &str)]) -> Self {
        let script = script
            .iter()
            .map(|(c, r)| {
                let response = match *r {
                    "!removed" => Err(TransportError::CardRemoved),
                    hex => Ok(crate::protocol::hexstr::parse(hex).unwrap()),
                };
                (crate::protocol::hexstr::parse(c).unwrap(), response)
            })
            .collect();
        ScriptedTransport {
            script,
            sent: Vec::new(),
        }
    }

    pub(crate) fn finished(&self) -> bool {
        self.script.is_empty()
    }
}

impl CardTransport for ScriptedTransport {
    fn name(&self) -> String {
        "script".to_string()
    }
    fn atr(&self) -> Vec<u8> {
        vec![0x3B, 0x00]
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.sent.push(command.to_vec());
        let (expected, response) = self.script.pop_front().expect("the script has ended");
        assert_eq!(
            crate::protocol::hexstr::encode(command),
            crate::protocol::hexstr::encode(&expected),
            "command {} differs from the script",
            self.sent.len()
        );
        response
    }
    fn reset(&mut self, _kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        Ok(self.atr())
    }
    fn power_off(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
}

//! The one client layer above every transport: 61xx / GET RESPONSE, 6Cxx, command chaining and
//! extended length are handled here and nowhere else.

use crate::protocol::apdu::{self, ApduError, Command, Response, Status};
use crate::transport::{CardTransport, ResetKind, TransportError};

/// The most data one short command carries; longer data is chained or sent extended.
const SHORT_DATA_MAX: usize = 255;
/// GET RESPONSE rounds before the client gives up on a card that keeps answering 61xx (256 rounds
/// of up to 256 bytes is more than any SSC answer).
pub const DEFAULT_GET_RESPONSE_LIMIT: usize = 256;

/// How a command with more than 255 data bytes is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LongCommands {
    /// One extended-length APDU (needs a reader and protocol that carry it).
    #[default]
    Extended,
    /// ISO 7816-4 command chaining: links of 255 bytes with CLA bit 10, the last one without.
    Chaining,
}

/// Why an exchange failed below the level of status words.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Apdu(#[from] ApduError),
    #[error("the card kept answering 61xx after {0} GET RESPONSE commands")]
    GetResponseLimit(usize),
}

/// A card behind a transport, spoken to in commands and responses.
pub struct Client<T: CardTransport> {
    transport: T,
    long_commands: LongCommands,
    get_response_limit: usize,
}

impl<T: CardTransport> Client<T> {
    pub fn new(transport: T) -> Self {
        Client {
            transport,
            long_commands: LongCommands::default(),
            get_response_limit: DEFAULT_GET_RESPONSE_LIMIT,
        }
    }

    /// Chooses how commands with more than 255 data bytes are sent.
    pub fn with_long_commands(mut self, long_commands: LongCommands) -> Self {
        self.long_commands = long_commands;
        self
    }

    /// Bounds the GET RESPONSE loop.
    pub fn with_get_response_limit(mut self, limit: usize) -> Self {
        self.get_response_limit = limit;
        self
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    pub fn into_transport(self) -> T {
        self.transport
    }

    /// The card's ATR as of the last power-on or reset.
    pub fn atr(&self) -> Vec<u8> {
        self.transport.atr()
    }

    /// Resets the card; selected files and security state are lost.
    pub fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, ClientError> {
        Ok(self.transport.reset(kind)?)
    }

    /// One exchange exactly as given: no GET RESPONSE, no Le correction, no chaining.
    pub fn transmit_raw(&mut self, command: &[u8]) -> Result<Response, ClientError> {
        let bytes = self.transport.transmit(command)?;
        let len = bytes.len();
        Ok(Response::from_bytes(bytes).ok_or(TransportError::ShortResponse(len))?)
    }

    /// Sends a built command (see [`apdu::build`]) as [`Client::transmit`] does.
    pub fn send(&mut self, command: &apdu::CommandApdu) -> Result<Response, ClientError> {
        self.transmit(&command.command())
    }

    /// Sends a command and returns the complete answer: all 61xx data collected, a 6Cxx answered
    /// with the right Le, long data chained or extended. The status word is the card's last one;
    /// a refusal is a response, not an error.
    pub fn transmit(&mut self, command: &Command<'_>) -> Result<Response, ClientError> {
        let chain = self.long_commands == LongCommands::Chaining
            && !command.extended
            && command.data.len() > SHORT_DATA_MAX;
        if !chain {
            return self.exchange(command);
        }
        let mut links = command.data.chunks(SHORT_DATA_MAX).peekable();
        while let Some(data) = links.next() {
            if links.peek().is_none() {
                return self.exchange(&Command { data, ..*command });
            }
            let link = Command {
                cla: command.cla | 0x10,
                data,
                ne: None,
                ..*command
            };
            let answer = self.transmit_raw(&apdu::encode(&link)?)?;
            if answer.sw != Status::Success {
                // The card refused a link: that is the command's answer.
                return Ok(answer);
            }
        }
        // chunks() of non-empty data yields at least one link, so the loop returned.
        Ok(Response {
            data: Vec::new(),
            sw: Status::Success,
        })
    }

    /// One command (no chaining), with its 6Cxx resend and 61xx collection.
    fn exchange(&mut self, command: &Command<'_>) -> Result<Response, ClientError> {
        let answer = self.send_with_exact_le(command)?;
        self.collect_remaining(answer, command.cla)
    }

    /// One command as given; a 6Cxx answer is resent with the Le it names.
    fn send_with_exact_le(&mut self, command: &Command<'_>) -> Result<Response, ClientError> {
        let answer = self.transmit_raw(&apdu::encode(command)?)?;
        let Status::WrongLe(available) = answer.sw else {
            return Ok(answer);
        };
        // Once only: a card that answers 6Cxx to the Le it named is answered as it is.
        let resend = Command {
            ne: Some(ne_of(available)),
            ..*command
        };
        self.transmit_raw(&apdu::encode(&resend)?)
    }

    /// Follows 61xx with GET RESPONSE until the card has no more, appending the data.
    fn collect_remaining(
        &mut self,
        mut answer: Response,
        cla: u8,
    ) -> Result<Response, ClientError> {
        let mut rounds = 0;
        while let Status::BytesRemaining(available) = answer.sw {
            if rounds == self.get_response_limit {
                return Err(ClientError::GetResponseLimit(rounds));
            }
            rounds += 1;
            // GET RESPONSE is interindustry: keep only the logical channel of the command's class.
            let get_response = Command {
                ne: Some(ne_of(available)),
                ..apdu::command(cla & 0x03, 0xC0, 0x00, 0x00)
            };
            let more = self.send_with_exact_le(&get_response)?;
            answer.data.extend_from_slice(&more.data);
            answer.sw = more.sw;
        }
        Ok(answer)
    }
}

/// Ne for a length byte of 61xx / 6Cxx, where 00 means 256.
fn ne_of(byte: u8) -> usize {
    if byte == 0 {
        256
    } else {
        usize::from(byte)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::scripted::ScriptedTransport;

    fn client(script: &[(&str, &str)]) -> Client<ScriptedTransport> {
        Client::new(ScriptedTransport::new(script))
    }

    /// UPDATE BINARY at offset 0 with `data`.
    fn update_binary(data: &[u8]) -> Command<'_> {
        Command {
            data,
            ..apdu::command(0, 0xD6, 0, 0)
        }
    }

    fn select_ssse() -> Command<'static> {
        Command {
            data: b"sx1.sh.",
            ne: Some(256),
            ..apdu::command(0x00, 0xA4, 0x04, 0x00)
        }
    }

    #[test]
    fn a_plain_answer_passes_through() {
        let mut c = client(&[("00B0000004", "0102030490 00")]);
        let r = c
            .transmit(&Command {
                ne: Some(4),
                ..apdu::command(0, 0xB0, 0, 0)
            })
            .unwrap();
        assert_eq!((r.data, r.sw), (vec![1, 2, 3, 4], Status::Success));
        assert!(c.transport().finished());
    }

    #[test]
    fn get_response_collects_every_61xx_part() {
        let mut c = client(&[
            ("00A4040007 7378312E73682E 00", "6F02 6110"),
            ("00C0000010", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA 6100"),
            ("00C0000000", "BB 9000"),
        ]);
        let r = c.transmit(&select_ssse()).unwrap();
        assert_eq!(r.sw, Status::Success);
        assert_eq!(r.data.len(), 2 + 16 + 1);
        assert_eq!(r.data[..2], [0x6F, 0x02]);
        assert_eq!(*r.data.last().unwrap(), 0xBB);
        assert!(c.transport().finished());
    }

    #[test]
    fn get_response_keeps_the_logical_channel_only() {
        let mut c = client(&[("805E0100 02 1234", "6102"), ("00C0000002", "AABB9000")]);
        let r = c
            .transmit(&Command {
                data: &[0x12, 0x34],
                ..apdu::command(0x80, 0x5E, 0x01, 0x00)
            })
            .unwrap();
        assert_eq!(r.data, [0xAA, 0xBB]);
    }

    #[test]
    fn get_response_is_bounded() {
        let mut c = client(&[
            ("00CA005A00", "6101"),
            ("00C0000001", "016101"),
            ("00C0000001", "026101"),
        ])
        .with_get_response_limit(2);
        let e = c
            .transmit(&Command {
                ne: Some(256),
                ..apdu::command(0, 0xCA, 0x00, 0x5A)
            })
            .unwrap_err();
        assert!(matches!(e, ClientError::GetResponseLimit(2)), "{e:?}");
    }

    #[test]
    fn wrong_le_is_resent_once_with_the_exact_length() {
        let mut c = client(&[
            ("00B2012C05", "6C12"),
            ("00B2012C12", "01103303 00D156000005 0100 5794E4B2CBAC 9000"),
        ]);
        let r = c
            .transmit(&Command {
                ne: Some(5),
                ..apdu::command(0, 0xB2, 0x01, 0x2C)
            })
            .unwrap();
        assert_eq!(r.sw, Status::Success);
        assert_eq!(r.data.len(), 0x12);

        // A card that keeps saying 6Cxx gets no second resend.
        let mut c = client(&[("00B2012C05", "6C12"), ("00B2012C12", "6C13")]);
        let r = c
            .transmit(&Command {
                ne: Some(5),
                ..apdu::command(0, 0xB2, 0x01, 0x2C)
            })
            .unwrap();
        assert_eq!(r.sw, Status::WrongLe(0x13));
        assert!(c.transport().finished());
    }

    #[test]
    fn wrong_le_on_get_response_is_corrected() {
        let mut c = client(&[
            ("0088000004 01020304 00", "6108"),
            ("00C0000008", "6C04"),
            ("00C0000004", "A1A2A3A4 9000"),
        ]);
        let r = c
            .transmit(&Command {
                data: &[1, 2, 3, 4],
                ne: Some(256),
                ..apdu::command(0, 0x88, 0, 0)
            })
            .unwrap();
        assert_eq!(r.data, [0xA1, 0xA2, 0xA3, 0xA4]);
    }

    #[test]
    fn long_data_is_chained_when_asked() {
        let data: Vec<u8> = (0..600).map(|i| i as u8).collect();
        let hex = |r: std::ops::Range<usize>| crate::protocol::hexstr::encode(&data[r]);
        let first = format!("10D60000FF{}", hex(0..255));
        let second = format!("10D60000FF{}", hex(255..510));
        let last = format!("00D600005A{}", hex(510..600));
        let mut c = Client::new(ScriptedTransport::new(&[
            (&first, "9000"),
            (&second, "9000"),
            (&last, "9000"),
        ]))
        .with_long_commands(LongCommands::Chaining);
        let r = c.transmit(&update_binary(&data)).unwrap();
        assert_eq!(r.sw, Status::Success);
        assert!(c.transport().finished());
    }

    #[test]
    fn a_refused_link_ends_the_chain() {
        let data = vec![0xEE; 300];
        let first = format!("10D60000FF{}", "EE".repeat(255));
        let mut c = Client::new(ScriptedTransport::new(&[(&first, "6A84")]))
            .with_long_commands(LongCommands::Chaining);
        let r = c.transmit(&update_binary(&data)).unwrap();
        assert_eq!(r.sw, Status::NotEnoughMemory);
        assert!(c.transport().finished());
    }

    #[test]
    fn long_data_goes_extended_by_default() {
        let data = vec![0x11; 300];
        let cmd = format!("00D60000 00012C {}", "11".repeat(300));
        let mut c = client(&[(&cmd, "9000")]);
        let r = c.transmit(&update_binary(&data)).unwrap();
        assert_eq!(r.sw, Status::Success);
    }

    #[test]
    fn large_ne_goes_extended() {
        let mut c = client(&[("00B00000 000400", "9000")]);
        c.transmit(&Command {
            ne: Some(1024),
            ..apdu::command(0, 0xB0, 0, 0)
        })
        .unwrap();
        assert!(c.transport().finished());
    }

    #[test]
    fn a_response_without_a_status_word_is_an_error() {
        for short in ["", "90"] {
            let mut c = client(&[("00A40000", short)]);
            let e = c.transmit(&apdu::command(0, 0xA4, 0, 0)).unwrap_err();
            assert!(
                matches!(e, ClientError::Transport(TransportError::ShortResponse(n)) if n == short.len() / 2),
                "{e:?}"
            );
        }
    }

    #[test]
    fn transport_failures_keep_their_cause() {
        let mut c = client(&[("00A40000", "!removed")]);
        let e = c.transmit(&apdu::command(0, 0xA4, 0, 0)).unwrap_err();
        assert!(matches!(
            e,
            ClientError::Transport(TransportError::CardRemoved)
        ));
    }

    #[test]
    fn raw_transmit_does_no_protocol_work() {
        let mut c = client(&[("00A40000", "6110")]);
        let r = c.transmit_raw(&[0, 0xA4, 0, 0]).unwrap();
        assert_eq!(r.sw, Status::BytesRemaining(0x10));
        assert!(c.transport().finished());
    }
}

//! Command and response APDUs on the host side. The command type, its parser and its encoder are
//! card-os's (one implementation of ISO 7816-4 lengths for card and host); this module adds owned
//! encoding, words for people and the response type.

pub use card_os::apdu::Command;
use card_os::instructions::{self, Instruction, INSTRUCTIONS};
pub use card_os::sw::Status;
/// The one builder of the commands the host sends (file-structures', shared with personalisation).
pub use file_structures::apdu as build;
pub use file_structures::apdu::{CommandApdu, SelectReply};

/// Why bytes or fields are not a command APDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    #[error("a command APDU has at least 4 bytes (CLA INS P1 P2), this one has {0}")]
    TooShort(usize),
    #[error("the length bytes of this {0}-byte APDU do not match its data (check Lc and Le)")]
    BadLength(usize),
    #[error(
        "this command cannot be encoded: {nc} data bytes (at most 65535) or Ne {ne:?} (1 to 65536)"
    )]
    Unencodable { nc: usize, ne: Option<usize> },
}

/// A case 1 command: header only. Set `data`, `ne` or `extended` on the result as needed.
pub fn command(cla: u8, ins: u8, p1: u8, p2: u8) -> Command<'static> {
    Command::header(cla, ins, p1, p2)
}

/// The command as bytes, short form unless its lengths (or `extended`) need the extended form.
pub fn encode(command: &Command<'_>) -> Result<Vec<u8>, ApduError> {
    let mut out = vec![0; command.encoded_len()];
    command
        .encode(&mut out)
        .map_err(|_| ApduError::Unencodable {
            nc: command.data.len(),
            ne: command.ne,
        })?;
    Ok(out)
}

/// Reads a command from bytes (every case, 1 to 4E); lengths must match the body exactly.
pub fn parse(bytes: &[u8]) -> Result<Command<'_>, ApduError> {
    if bytes.len() < 4 {
        return Err(ApduError::TooShort(bytes.len()));
    }
    Command::parse(bytes).map_err(|_| ApduError::BadLength(bytes.len()))
}

/// The card's instruction a command runs (card-os's one instruction table): the row for its CLA
/// and INS; for a class the card does not take, the first row with that INS (so that a trace
/// still names and redacts it).
pub fn instruction(cla: u8, ins: u8) -> Option<&'static Instruction> {
    instructions::of_command(cla, ins).or_else(|| INSTRUCTIONS.iter().find(|i| i.ins == ins))
}

/// The instruction's name for traces and people; None for instructions this card does not know.
pub fn ins_name(cla: u8, ins: u8) -> Option<&'static str> {
    instruction(cla, ins).map(Instruction::name)
}

/// A response APDU: data and the status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: Status,
}

impl Response {
    /// Splits raw response bytes; None when there are fewer than 2 (no status word).
    pub fn from_bytes(mut bytes: Vec<u8>) -> Option<Self> {
        let n = bytes.len().checked_sub(2)?;
        let sw = Status::from_u16(u16::from_be_bytes([bytes[n], bytes[n + 1]]));
        bytes.truncate(n);
        Some(Response { data: bytes, sw })
    }

    /// Data followed by SW1 SW2.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        out.extend_from_slice(&self.sw.to_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_card_instruction_has_its_name_and_the_two_0x24_are_told_apart() {
        for row in INSTRUCTIONS {
            let cla = match row.class {
                instructions::ClassRule::Mac => 0x84,
                card_os::instructions::ClassRule::Purse => 0xB0,
                _ => 0x00,
            };
            assert_eq!(ins_name(cla, row.ins), Some(row.name()));
        }
        assert_eq!(ins_name(0x84, 0x24), Some("PIN UNBLOCK"));
        assert_eq!(ins_name(0x00, 0x24), Some("CHANGE REFERENCE DATA"));
        for ins in [0x1A, 0xDA, 0xFA] {
            assert!(ins_name(0x80, ins).is_some(), "{ins:02X}");
        }
        assert_eq!(ins_name(0x00, 0x00), None);
    }

    #[test]
    fn encodes_short_and_extended() {
        let select = Command {
            data: &[0x3F, 0x00],
            ..command(0x00, 0xA4, 0x00, 0x0C)
        };
        assert_eq!(
            encode(&select).unwrap(),
            [0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00]
        );
        let read = Command {
            ne: Some(300),
            ..command(0x00, 0xB0, 0, 0)
        };
        assert_eq!(encode(&read).unwrap(), [0x00, 0xB0, 0, 0, 0x00, 0x01, 0x2C]);
        let zero = Command {
            ne: Some(0),
            ..command(0x00, 0xB0, 0, 0)
        };
        assert_eq!(
            encode(&zero).unwrap_err(),
            ApduError::Unencodable { nc: 0, ne: Some(0) }
        );
    }

    #[test]
    fn parse_explains_what_is_wrong() {
        assert_eq!(parse(&[0, 0xA4, 0]).unwrap_err(), ApduError::TooShort(3));
        assert_eq!(
            parse(&[0, 0xA4, 0, 0, 3, 0x3F]).unwrap_err(),
            ApduError::BadLength(6)
        );
        assert_eq!(parse(&[0, 0xB0, 0, 0, 0x10]).unwrap().ne, Some(16));
    }

    #[test]
    fn responses_need_a_status_word() {
        assert_eq!(Response::from_bytes(vec![]), None);
        assert_eq!(Response::from_bytes(vec![0x90]), None);
        let r = Response::from_bytes(vec![0x01, 0x02, 0x6A, 0x82]).unwrap();
        assert_eq!(r.data, [1, 2]);
        assert_eq!(r.sw, Status::FileNotFound);
        assert_eq!(r.to_bytes(), [1, 2, 0x6A, 0x82]);
    }

    proptest! {
        #[test]
        fn response_bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 2..300)) {
            let r = Response::from_bytes(bytes.clone()).unwrap();
            prop_assert_eq!(r.to_bytes(), bytes);
        }
    }
}

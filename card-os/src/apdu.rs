//! Command APDUs: a zero-copy view over the bytes (every ISO 7816-4 case), CLA decoding and an
//! encoder into a caller's buffer.

use crate::sw::Status;

/// The largest Ne a short APDU can ask for (`Le = 00`).
pub const SHORT_NE_MAX: usize = 256;
/// The largest Ne an extended APDU can ask for (`Le = 0000`).
pub const EXTENDED_NE_MAX: usize = 65536;

/// A parsed command APDU borrowing its data from the input bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command<'a> {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    /// The command data (Nc = `data.len()`), empty in cases 1 and 2.
    pub data: &'a [u8],
    /// Ne: `None` when Le is absent (cases 1 and 3); `Some(256)` for a short `Le = 00`,
    /// `Some(65536)` for an extended `Le = 0000`.
    pub ne: Option<usize>,
    /// Whether the APDU was (or is to be) encoded with extended lengths.
    pub extended: bool,
}

impl Command<'static> {
    /// A case 1 command: header only, no data, no Le, short form. Set `data`, `ne` or
    /// `extended` on the result as needed.
    pub const fn header(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: &[],
            ne: None,
            extended: false,
        }
    }
}

impl<'a> Command<'a> {
    /// Parses any of the cases 1, 2S, 3S, 4S, 2E, 3E, 4E. Lengths that do not match the body are
    /// `6700`; CLA is not judged here (see [`Cla::decode`]).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Status> {
        let (header, body) = bytes.split_first_chunk::<4>().ok_or(Status::WrongLength)?;
        let [cla, ins, p1, p2] = *header;
        let mut command: Command<'a> = Command::header(cla, ins, p1, p2);
        match body {
            // Case 1.
            [] => {}
            // Case 2S.
            [le] => command.ne = Some(short_ne(*le)),
            // Extended cases start with a zero byte followed by at least two more bytes.
            [0, rest @ ..] if rest.len() >= 2 => {
                command.extended = true;
                let (lc_or_le, rest) = rest.split_first_chunk::<2>().ok_or(Status::WrongLength)?;
                let first = usize::from(u16::from_be_bytes(*lc_or_le));
                if rest.is_empty() {
                    // Case 2E.
                    command.ne = Some(extended_ne(first));
                } else {
                    if first == 0 {
                        return Err(Status::WrongLength);
                    }
                    let data = rest.get(..first).ok_or(Status::WrongLength)?;
                    command.data = data;
                    match rest.get(first..) {
                        // Case 3E.
                        Some([]) => {}
                        // Case 4E.
                        Some([le1, le2]) => {
                            command.ne =
                                Some(extended_ne(usize::from(u16::from_be_bytes([*le1, *le2]))))
                        }
                        _ => return Err(Status::WrongLength),
                    }
                }
            }
            [lc, rest @ ..] => {
                let nc = usize::from(*lc);
                if nc == 0 {
                    // A zero byte followed by fewer than two bytes: truncated extended header.
                    return Err(Status::WrongLength);
                }
                command.data = rest.get(..nc).ok_or(Status::WrongLength)?;
                match rest.get(nc..) {
                    // Case 3S.
                    Some([]) => {}
                    // Case 4S.
                    Some([le]) => command.ne = Some(short_ne(*le)),
                    _ => return Err(Status::WrongLength),
                }
            }
        }
        Ok(command)
    }

    /// The number of bytes [`Command::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        let nc = self.data.len();
        let extended = self.needs_extended();
        let lc = match (nc, extended) {
            (0, _) => 0,
            (_, false) => 1,
            (_, true) => 3,
        };
        let le = match (self.ne, extended, nc) {
            (None, _, _) => 0,
            (Some(_), false, _) => 1,
            (Some(_), true, 0) => 3,
            (Some(_), true, _) => 2,
        };
        4 + lc + nc + le
    }

    /// Whether the encoding must use extended lengths (asked for, or Nc/Ne too large for short).
    pub fn needs_extended(&self) -> bool {
        self.extended || self.data.len() > 255 || self.ne.is_some_and(|ne| ne > SHORT_NE_MAX)
    }

    /// Encodes the command into `out`, returning the length. `6700` when Nc or Ne cannot be encoded
    /// (Nc > 65535, Ne = 0 or Ne > 65536) or `out` is too small.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Status> {
        let nc = self.data.len();
        if nc > 65535
            || matches!(self.ne, Some(0))
            || self.ne.is_some_and(|ne| ne > EXTENDED_NE_MAX)
        {
            return Err(Status::WrongLength);
        }
        let total = self.encoded_len();
        let out = out.get_mut(..total).ok_or(Status::WrongLength)?;
        let mut writer = crate::response::Writer::new(out);
        writer.extend(&[self.cla, self.ins, self.p1, self.p2])?;
        let extended = self.needs_extended();
        if nc > 0 {
            if extended {
                writer.push(0)?;
                writer.extend(&(nc as u16).to_be_bytes())?;
            } else {
                writer.push(nc as u8)?;
            }
            writer.extend(self.data)?;
        }
        if let Some(ne) = self.ne {
            // Ne = 256 / 65536 encode as zero; the casts keep the low bytes on purpose.
            if extended {
                if nc == 0 {
                    writer.push(0)?;
                }
                writer.extend(&((ne % EXTENDED_NE_MAX) as u16).to_be_bytes())?;
            } else {
                writer.push((ne % SHORT_NE_MAX) as u8)?;
            }
        }
        Ok(writer.len())
    }
}

fn short_ne(le: u8) -> usize {
    if le == 0 {
        SHORT_NE_MAX
    } else {
        usize::from(le)
    }
}

fn extended_ne(le: usize) -> usize {
    if le == 0 {
        EXTENDED_NE_MAX
    } else {
        le
    }
}

/// The secure-messaging indication of a class byte (bits 4-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecureMessaging {
    /// `00`: none.
    None = 0,
    /// `01` (CLA `x4`): proprietary, the SSC's 4-byte MAC at the end of the command data.
    SscMac = 1,
    /// `10` (CLA `x8`): ISO secure messaging, header not processed (the card has none: `6882`).
    Iso = 2,
    /// `11` (CLA `xC`): ISO secure messaging, header authenticated (`6882`).
    IsoHeaderAuthenticated = 3,
}

impl SecureMessaging {
    const fn from_bits(bits: u8) -> Self {
        match bits & 0x03 {
            0 => SecureMessaging::None,
            1 => SecureMessaging::SscMac,
            2 => SecureMessaging::Iso,
            _ => SecureMessaging::IsoHeaderAuthenticated,
        }
    }
}

/// What the class byte says (first interindustry and proprietary `0x`/`8x` classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cla {
    /// `8x`: a proprietary class (the SSC uses it for its own commands).
    pub proprietary: bool,
    /// Bit 5: more links of a chain follow.
    pub chaining: bool,
    /// Bits 4-3.
    pub secure_messaging: SecureMessaging,
    /// Bits 2-1: logical channel 0-3.
    pub channel: u8,
    /// `B0`: the medical purse's class (docs/settlement.md), no chaining, no secure messaging.
    pub purse: bool,
}

/// The class byte of the medical purse's commands.
pub const PURSE_CLA: u8 = 0xB0;

impl Cla {
    /// Decodes a CLA; `FF` and anything other than `0x`/`8x` is `6E00`.
    pub fn decode(cla: u8) -> Result<Self, Status> {
        if cla == PURSE_CLA {
            return Ok(Cla {
                proprietary: true,
                chaining: false,
                secure_messaging: SecureMessaging::None,
                channel: 0,
                purse: true,
            });
        }
        if cla & 0x60 != 0 {
            return Err(Status::ClassNotSupported);
        }
        Ok(Cla {
            proprietary: cla & 0x80 != 0,
            chaining: cla & 0x10 != 0,
            secure_messaging: SecureMessaging::from_bits(cla >> 2),
            channel: cla & 0x03,
            purse: false,
        })
    }

    /// The class byte for these fields.
    pub fn encode(self) -> u8 {
        if self.purse {
            return PURSE_CLA;
        }
        (if self.proprietary { 0x80 } else { 0 })
            | (if self.chaining { 0x10 } else { 0 })
            | ((self.secure_messaging as u8) << 2)
            | (self.channel & 0x03)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_case_parses() {
        let c1 = Command::parse(&[0, 0xA4, 0, 0]).unwrap();
        assert_eq!((c1.data.len(), c1.ne), (0, None));
        let c2 = Command::parse(&[0, 0xB0, 0, 0, 0]).unwrap();
        assert_eq!(c2.ne, Some(256));
        let c3 = Command::parse(&[0, 0xA4, 0, 0, 2, 0x3F, 0]).unwrap();
        assert_eq!((c3.data, c3.ne), (&[0x3F, 0][..], None));
        let c4 = Command::parse(&[0, 0xA4, 0, 0, 2, 0x3F, 0, 0x10]).unwrap();
        assert_eq!(c4.ne, Some(16));
        let c2e = Command::parse(&[0, 0xB0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!((c2e.ne, c2e.extended), (Some(65536), true));
        let c3e = Command::parse(&[0, 0xD6, 0, 0, 0, 0, 1, 0xAA]).unwrap();
        assert_eq!((c3e.data, c3e.ne), (&[0xAA][..], None));
        let c4e = Command::parse(&[0, 0xD6, 0, 0, 0, 0, 1, 0xAA, 0x01, 0x00]).unwrap();
        assert_eq!(c4e.ne, Some(256));
    }

    #[test]
    fn inconsistent_lengths_are_6700() {
        for bad in [
            &[0u8, 0xA4, 0][..],
            &[0, 0xA4, 0, 0, 0, 1],
            &[0, 0xA4, 0, 0, 3, 1, 2],
            &[0, 0xA4, 0, 0, 1, 1, 2, 3],
            &[0, 0xA4, 0, 0, 0, 0, 2, 1],
            &[0, 0xA4, 0, 0, 0, 0, 1, 1, 2],
            &[0, 0xA4, 0, 0, 0, 0, 0, 1],
        ] {
            assert_eq!(Command::parse(bad), Err(Status::WrongLength), "{bad:02X?}");
        }
    }

    #[test]
    fn cla_decoding() {
        let cla = Cla::decode(0x94).unwrap();
        assert!(cla.proprietary && cla.chaining);
        assert_eq!(
            (cla.secure_messaging, cla.channel),
            (SecureMessaging::SscMac, 0)
        );
        assert_eq!(Cla::decode(0xFF), Err(Status::ClassNotSupported));
        assert_eq!(Cla::decode(0x40), Err(Status::ClassNotSupported));
        assert_eq!(Cla::decode(0x03).unwrap().channel, 3);
    }

    proptest! {
        #[test]
        fn encode_then_parse_round_trips(
            header in any::<[u8; 4]>(),
            data in proptest::collection::vec(any::<u8>(), 0..600),
            ne in proptest::option::of(1usize..=65536),
            extended in any::<bool>(),
        ) {
            let command = Command { cla: header[0], ins: header[1], p1: header[2], p2: header[3], data: &data, ne, extended };
            let mut buf = [0u8; 700];
            let n = command.encode(&mut buf).unwrap();
            prop_assert_eq!(n, command.encoded_len());
            let parsed = Command::parse(&buf[..n]).unwrap();
            prop_assert_eq!(parsed.data, &data[..]);
            prop_assert_eq!(parsed.ne, ne);
            prop_assert_eq!(parsed.extended, command.needs_extended() && (ne.is_some() || !data.is_empty()));
            prop_assert_eq!((parsed.cla, parsed.ins, parsed.p1, parsed.p2), (header[0], header[1], header[2], header[3]));
        }

        #[test]
        fn parse_never_panics_and_data_lies_within(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(command) = Command::parse(&bytes) {
                prop_assert!(command.data.len() + 4 <= bytes.len());
            }
        }

        #[test]
        fn cla_round_trips(cla in any::<u8>()) {
            if let Ok(decoded) = Cla::decode(cla) {
                prop_assert_eq!(decoded.encode(), cla);
            }
        }
    }
}

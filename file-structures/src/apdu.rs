//! The one builder of command APDUs on the host side. Personalisation, the simulated PSAM, the
//! terminal jobs of `sscard` and the tests build the commands they send here, so no caller types a
//! length byte: the lengths of a command are card-os's encoder's (short form, extended when the
//! data or Ne need it) and the data objects of a CREATE FILE template are card-os's TLV writer's
//! (`81 xx` / `82 xx xx` from 128 bytes on).
//!
//! Commands whose bytes are docs/card-os.md's and docs/security.md's: SELECT, READ / UPDATE /
//! APPEND RECORD, READ BINARY, GET DATA, GET CHALLENGE, EXTERNAL AUTHENTICATE, VERIFY, CREATE
//! FILE, WRITE KEY, WRITE PIN and ISSUE CARD.

use std::fmt;

use card_os::apdu::Command;
use card_os::crypto::Pin;
use card_os::fs::fcp::FCP_TAG;
use card_os::memory_map::LIFE_CYCLE_ISSUED;
use card_os::response::Writer;
use zeroize::Zeroizing;

/// A command APDU that owns its data. The data is wiped when the command is dropped (a WRITE KEY
/// or a VERIFY carries a key or a PIN), and `Debug` shows its length only.
#[derive(Clone, PartialEq, Eq)]
pub struct CommandApdu {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    data: Zeroizing<Vec<u8>>,
    /// The answer bytes asked for (Le), `None` for none.
    pub ne: Option<usize>,
}

/// A command too long for one APDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{len} bytes do not fit in one command APDU (at most 65535 data bytes, Ne 1 to 65536)")]
pub struct TooLong {
    pub len: usize,
}

impl CommandApdu {
    /// A command without data or Le (case 1).
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        CommandApdu {
            cla,
            ins,
            p1,
            p2,
            data: Zeroizing::new(Vec::new()),
            ne: None,
        }
    }

    /// With `data` as its command data.
    pub fn with_data(mut self, data: Vec<u8>) -> Self {
        self.data = Zeroizing::new(data);
        self
    }

    /// Asking for `ne` answer bytes (256: a short Le of `00`).
    pub fn with_ne(mut self, ne: usize) -> Self {
        self.ne = Some(ne);
        self
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The command as card-os's type, for the host's client (which sends and chains it).
    pub fn command(&self) -> Command<'_> {
        Command {
            data: &self.data,
            ne: self.ne,
            ..Command::header(self.cla, self.ins, self.p1, self.p2)
        }
    }

    /// The command's bytes: short form unless its lengths need the extended form.
    pub fn to_bytes(&self) -> Result<Vec<u8>, TooLong> {
        let command = self.command();
        let mut out = vec![0; command.encoded_len()];
        command.encode(&mut out).map_err(|_| TooLong {
            len: self.data.len(),
        })?;
        Ok(out)
    }
}

impl fmt::Debug for CommandApdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CommandApdu({:02X} {:02X} {:02X} {:02X}, {} data byte(s), Ne {:?})",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.ne
        )
    }
}

/// What a SELECT asks the card to answer with (P2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectReply {
    /// The file control information, P2 `00` (a PSAM answers its application's FCI).
    Fci,
    /// The file control parameters (`62`), P2 `04`.
    Fcp,
    /// Nothing: only the selection, P2 `0C`.
    Nothing,
}

fn select(p1: u8, data: Vec<u8>, reply: SelectReply) -> CommandApdu {
    let p2 = match reply {
        SelectReply::Fci => 0x00,
        SelectReply::Fcp => 0x04,
        SelectReply::Nothing => 0x0C,
    };
    let command = CommandApdu::new(0x00, 0xA4, p1, p2).with_data(data);
    match reply {
        SelectReply::Fci | SelectReply::Fcp => command.with_ne(256),
        SelectReply::Nothing => command,
    }
}

/// SELECT of the MF by its FID (P1 `00`).
pub fn select_mf() -> CommandApdu {
    select(0x00, vec![0x3F, 0x00], SelectReply::Nothing)
}

/// SELECT by path from the MF (P1 `08`): `path` are the FIDs below the MF; an empty path is the
/// MF's own FID.
pub fn select_path(path: &[u16], reply: SelectReply) -> CommandApdu {
    let data = if path.is_empty() {
        vec![0x3F, 0x00]
    } else {
        path.iter().flat_map(|fid| fid.to_be_bytes()).collect()
    };
    select(0x08, data, reply)
}

/// SELECT of an EF under the current DF (P1 `02`).
pub fn select_ef(fid: u16, reply: SelectReply) -> CommandApdu {
    select(0x02, fid.to_be_bytes().to_vec(), reply)
}

/// SELECT by DF name (application identifier, P1 `04`).
pub fn select_name(name: &[u8], reply: SelectReply) -> CommandApdu {
    select(0x04, name.to_vec(), reply)
}

/// READ RECORD `number` of the current EF (P2 `04`), asking for up to 256 bytes.
pub fn read_record(number: u8) -> CommandApdu {
    CommandApdu::new(0x00, 0xB2, number, 0x04).with_ne(256)
}

/// READ BINARY of `ne` bytes from `offset` (15 bits) of the current EF.
pub fn read_binary(offset: u16, ne: usize) -> CommandApdu {
    let [hi, lo] = offset.to_be_bytes();
    CommandApdu::new(0x00, 0xB0, hi & 0x7F, lo).with_ne(ne)
}

/// UPDATE BINARY of `data` at `offset` (15 bits) of the current EF.
pub fn update_binary(offset: u16, data: &[u8]) -> CommandApdu {
    let [hi, lo] = offset.to_be_bytes();
    CommandApdu::new(0x00, 0xD6, hi & 0x7F, lo).with_data(data.to_vec())
}

/// UPDATE RECORD: the record `tag` of the EF with short identifier `sfi` (P2 `sfi << 3`, the
/// record found by its first byte), rewritten as `record`.
pub fn update_record_by_tag(sfi: u8, tag: u8, record: Vec<u8>) -> CommandApdu {
    CommandApdu::new(0x00, 0xDC, tag, sfi << 3).with_data(record)
}

/// GET DATA of the object `tag`, asking for up to `ne` bytes.
pub fn get_data(tag: u16, ne: usize) -> CommandApdu {
    let [p1, p2] = tag.to_be_bytes();
    CommandApdu::new(0x00, 0xCA, p1, p2).with_ne(ne)
}

/// GET CHALLENGE of `len` bytes.
pub fn get_challenge(len: usize) -> CommandApdu {
    CommandApdu::new(0x00, 0x84, 0x00, 0x00).with_ne(len)
}

/// EXTERNAL AUTHENTICATE with key `key_id` and the cryptogram of the last challenge.
pub fn external_authenticate(key_id: u8, cryptogram: &[u8]) -> CommandApdu {
    CommandApdu::new(0x00, 0x82, 0x00, key_id).with_data(cryptogram.to_vec())
}

/// VERIFY of the PIN (as packed BCD).
pub fn verify(pin: &Pin) -> CommandApdu {
    CommandApdu::new(0x00, 0x20, 0x00, 0x00).with_data(pin.as_bcd().to_vec())
}

/// CHANGE PIN (SSC, P1 `01`): the old PIN, `FF`, the new PIN, each as packed BCD.
pub fn change_pin(old: &Pin, new: &Pin) -> CommandApdu {
    let mut data = Vec::with_capacity(old.as_bcd().len() + 1 + new.as_bcd().len());
    data.extend_from_slice(old.as_bcd());
    data.push(0xFF);
    data.extend_from_slice(new.as_bcd());
    CommandApdu::new(0x80, 0x5E, 0x01, 0x00).with_data(data)
}

/// INTERNAL AUTHENTICATE with key `key_id`: the card encrypts `data` (the terminal's random).
pub fn internal_authenticate(key_id: u8, data: &[u8]) -> CommandApdu {
    CommandApdu::new(0x00, 0x88, 0x00, key_id)
        .with_data(data.to_vec())
        .with_ne(256)
}

/// SET DATE (SSC): today's date as the card's 4-byte BCD date.
pub fn set_date(date_bcd: &[u8]) -> CommandApdu {
    CommandApdu::new(0x80, 0xDA, 0x00, 0x00).with_data(date_bcd.to_vec())
}

/// DELIVER KEY (PSAM): derive the card key `key_id` of `usage` for the card's diversification
/// factor.
pub fn deliver_key(usage: u8, key_id: u8, factor: &[u8]) -> CommandApdu {
    CommandApdu::new(0x80, 0x1A, usage, key_id).with_data(factor.to_vec())
}

/// CIPHER DATA (PSAM) with the delivered key: P1 `00` encrypts, `05` computes a MAC.
pub fn cipher_data(p1: u8, data: &[u8]) -> CommandApdu {
    CommandApdu::new(0x80, 0xFA, p1, 0x00)
        .with_data(data.to_vec())
        .with_ne(256)
}

/// APPLICATION BLOCK (SSC, with its MAC: CLA `84`) of the current application; `permanent` gives
/// P2 `01`, else `00` (temporary).
pub fn application_block(permanent: bool, mac: &[u8]) -> CommandApdu {
    CommandApdu::new(0x84, 0x1E, 0x00, u8::from(permanent)).with_data(mac.to_vec())
}

/// GET BALANCE (medical purse, CLA `B0`): P2 `01` the balance (Le 4), `02` SPIP, `03` SPFP
/// (Le 6).
pub fn get_balance(p2: u8) -> CommandApdu {
    CommandApdu::new(0xB0, 0x26, 0x00, p2).with_ne(if p2 == 0x01 { 4 } else { 6 })
}

/// INITIALIZE FOR PURCHASE: key index ‖ account ‖ self-pay ‖ pooled ‖ terminal no.; the answer
/// is 20 bytes plus the serial's length on the wire.
pub fn init_for_purchase(
    key_index: u8,
    amounts: &[u8; 12],
    terminal_no: &[u8; 6],
    serial_len: usize,
) -> CommandApdu {
    let mut data = Vec::with_capacity(19);
    data.push(key_index);
    data.extend_from_slice(amounts);
    data.extend_from_slice(terminal_no);
    CommandApdu::new(0xB0, 0x28, 0x01, 0x01)
        .with_data(data)
        .with_ne(20 + serial_len)
}

/// DEBIT FOR PURCHASE: terminal serial ‖ time ‖ MAC1; the answer is TAC ‖ MAC2.
pub fn debit_for_purchase(
    terminal_serial: &[u8; 4],
    time: &[u8; 7],
    mac1: &[u8; 4],
) -> CommandApdu {
    let mut data = Vec::with_capacity(15);
    data.extend_from_slice(terminal_serial);
    data.extend_from_slice(time);
    data.extend_from_slice(mac1);
    CommandApdu::new(0xB0, 0x2C, 0x01, 0x00)
        .with_data(data)
        .with_ne(8)
}

/// GET TRANSACTION PROOF of transaction `kind` (`01` load, `02` purchase) with its serial as the
/// wire carries it (2 or 4 bytes); the answer is MAC ‖ TAC.
pub fn get_transaction_proof(kind: u8, serial: &[u8]) -> CommandApdu {
    CommandApdu::new(0xB0, 0x2E, 0x00, kind)
        .with_data(serial.to_vec())
        .with_ne(8)
}

/// INITIALIZE FOR LOAD: key index ‖ amount ‖ terminal no.
pub fn init_for_load(key_index: u8, amount: u32, terminal_no: &[u8; 6]) -> CommandApdu {
    let mut data = Vec::with_capacity(11);
    data.push(key_index);
    data.extend_from_slice(&amount.to_be_bytes());
    data.extend_from_slice(terminal_no);
    CommandApdu::new(0xB0, 0x28, 0x00, 0x01)
        .with_data(data)
        .with_ne(16)
}

/// CREDIT FOR LOAD: host time ‖ MAC2; the answer is the TAC.
pub fn credit_for_load(time: &[u8; 7], mac2: &[u8; 4]) -> CommandApdu {
    let mut data = Vec::with_capacity(11);
    data.extend_from_slice(time);
    data.extend_from_slice(mac2);
    CommandApdu::new(0xB0, 0x2A, 0x00, 0x00)
        .with_data(data)
        .with_ne(4)
}

/// READ RECORD `number` of the EF with short identifier `sfi` (P2 `sfi << 3 | 04`).
pub fn read_record_sfi(number: u8, sfi: u8) -> CommandApdu {
    CommandApdu::new(0x00, 0xB2, number, (sfi << 3) | 0x04).with_ne(256)
}

/// INIT SAM FOR PURCHASE (PSAM): its input as docs/settlement.md gives it; the answer is terminal
/// serial ‖ MAC1.
pub fn init_sam_for_purchase(input: &[u8]) -> CommandApdu {
    CommandApdu::new(0x80, 0x70, 0x01, 0x00)
        .with_data(input.to_vec())
        .with_ne(8)
}

/// CREDIT SAM FOR PURCHASE (PSAM): the card's MAC2 to check.
pub fn credit_sam_for_purchase(mac2: &[u8; 4]) -> CommandApdu {
    CommandApdu::new(0x80, 0x72, 0x00, 0x00).with_data(mac2.to_vec())
}

/// VERIFY without data: the tries left, none spent.
pub fn verify_tries_left() -> CommandApdu {
    CommandApdu::new(0x00, 0x20, 0x00, 0x00)
}

/// CREATE FILE with the FCP template (`62`) of `objects`, each `(tag, value)`, in order.
pub fn create_file(objects: &[(u16, Vec<u8>)]) -> Result<CommandApdu, TooLong> {
    let body = tlv_all(objects)?;
    let template = tlv_all(&[(FCP_TAG, body)])?;
    Ok(CommandApdu::new(0x00, 0xE0, 0x00, 0x00).with_data(template))
}

/// Data objects in a row, with card-os's TLV writer.
fn tlv_all(objects: &[(u16, Vec<u8>)]) -> Result<Vec<u8>, TooLong> {
    // Tag (2) and length (3) at the most per object, and the values.
    let capacity = objects.iter().map(|(_, v)| 5 + v.len()).sum();
    let mut out = vec![0; capacity];
    let mut writer = Writer::new(&mut out);
    for (tag, value) in objects {
        card_os::tlv::write(&mut writer, *tag, value).map_err(|_| TooLong { len: value.len() })?;
    }
    let len = writer.len();
    out.truncate(len);
    Ok(out)
}

/// WRITE KEY into the current DF: the key's id, usage, algorithm, error limit, then the key.
pub fn write_key(
    id: u8,
    usage: u8,
    algorithm: u8,
    error_limit: u8,
    key: &[u8; card_os::crypto::KEY_LEN],
) -> CommandApdu {
    let mut data = Vec::with_capacity(4 + key.len());
    data.extend_from_slice(&[id, usage, algorithm, error_limit]);
    data.extend_from_slice(key);
    CommandApdu::new(0x80, 0xD4, 0x00, 0x00).with_data(data)
}

/// WRITE PIN into the current DF: the try limit, then the PIN as packed BCD padded with `F`.
pub fn write_pin(tries: u8, pin: &Pin) -> CommandApdu {
    let mut data = Vec::with_capacity(1 + pin.as_bcd().len());
    data.push(tries);
    data.extend_from_slice(pin.as_bcd());
    CommandApdu::new(0x80, 0xD4, 0x01, 0x00).with_data(data)
}

/// ISSUE CARD: the card's life cycle becomes "issued" (P1 `02`).
pub fn issue_card() -> CommandApdu {
    CommandApdu::new(0x80, 0xF0, LIFE_CYCLE_ISSUED, 0x00)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fixed_commands_have_the_bytes_of_the_card_os_documentation() {
        let odd = Pin::from_ascii(b"12345").unwrap();
        let cases: [(&str, CommandApdu, &[u8]); 9] = [
            (
                "verify, odd length",
                verify(&odd),
                &[0x00, 0x20, 0x00, 0x00, 0x03, 0x12, 0x34, 0x5F],
            ),
            (
                "select MF",
                select_mf(),
                &[0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00],
            ),
            (
                "select path, FCP",
                select_path(&[0xDF01], SelectReply::Fcp),
                &[0x00, 0xA4, 0x08, 0x04, 0x02, 0xDF, 0x01, 0x00],
            ),
            (
                "read record",
                read_record(3),
                &[0x00, 0xB2, 0x03, 0x04, 0x00],
            ),
            (
                "read binary",
                read_binary(0x8101, 16),
                &[0x00, 0xB0, 0x01, 0x01, 0x10],
            ),
            (
                "get data",
                get_data(0x9F70, 1),
                &[0x00, 0xCA, 0x9F, 0x70, 0x01],
            ),
            ("tries left", verify_tries_left(), &[0x00, 0x20, 0x00, 0x00]),
            (
                "write PIN",
                write_pin(6, &Pin::from_ascii(b"123456").unwrap()),
                &[0x80, 0xD4, 0x01, 0x00, 0x04, 0x06, 0x12, 0x34, 0x56],
            ),
            ("issue card", issue_card(), &[0x80, 0xF0, 0x02, 0x00]),
        ];
        for (label, command, bytes) in cases {
            assert_eq!(command.to_bytes().unwrap(), bytes, "{label}");
        }
    }

    #[test]
    fn a_key_never_shows_in_debug() {
        let command = write_key(1, 2, 3, 15, &[0xAB; card_os::crypto::KEY_LEN]);
        let shown = format!("{command:?}");
        assert!(!shown.contains("AB") && !shown.contains("171"), "{shown}");
        assert_eq!(command.to_bytes().unwrap()[4], 20);
    }

    #[test]
    fn a_long_fcp_value_gets_a_long_form_length() {
        let name = vec![0x41; 200];
        let command = create_file(&[(0x84, name.clone())]).unwrap();
        // 62 81 CB | 84 81 C8 | 200 bytes
        assert_eq!(&command.data()[..6], &[0x62, 0x81, 0xCB, 0x84, 0x81, 0xC8]);
        assert_eq!(command.data().len(), 6 + 200);
        let bytes = command.to_bytes().unwrap();
        assert_eq!(bytes[4], 206, "short Lc for 206 data bytes");
    }

    proptest! {
        /// Whatever its objects, CREATE FILE's template reads back as the same objects with
        /// card-os's TLV reader, and the APDU parses as a command carrying the template.
        #[test]
        fn create_file_templates_read_back(
            objects in proptest::collection::vec((0x80u16..0x9F, proptest::collection::vec(any::<u8>(), 0..300)), 0..4)
        ) {
            let command = create_file(&objects).unwrap();
            let bytes = command.to_bytes().unwrap();
            let parsed = Command::parse(&bytes).unwrap();
            prop_assert_eq!(parsed.data, command.data());
            let template = card_os::tlv::single(parsed.data).unwrap();
            prop_assert_eq!(template.tag, 0x62);
            let read: Vec<(u16, Vec<u8>)> = card_os::tlv::Reader::new(template.value)
                .map(|t| t.map(|t| (t.tag, t.value.to_vec())))
                .collect::<Result<_, _>>()
                .unwrap();
            prop_assert_eq!(read, objects);
        }
    }
}

//! Card-state faults: a healthy personalised card, then broken as the fault says, through the
//! card's own commands where a card can be brought there (wrong VERIFYs, APPLICATION BLOCK and
//! record rewrites with the TEST issuer keys, personalisation with altered holder data), and by
//! changing its memory behind its back where only worn memory gets there.

use card_os::crypto::Pin;
use card_os::fs::{Descriptor, FileKind};
use card_os::memory_map::MAX_FILES;
use card_os::Storage as _;
use file_structures::layout::Layout;
use file_structures::personalise::{CardRecord, IssuerKeys, KeyError, PersoError};

use super::{FaultKind, FaultyTransport, TransportFaults};
use crate::card::auth::{self, AuthError};
use crate::card::files::{self, Answer};
use crate::protocol::apdu::{build, Status};
use crate::protocol::client::{Client, ClientError};
use crate::transport::sim::{MemoryStorage, SimTransport};
use crate::transport::simcard::{personalised_card, sample_holder};
use crate::transport::{CardTransport, ResetKind, TransportError};

/// The day the fault catalogue is diagnosed on (`--today`): the healthy card is valid then.
pub const MATRIX_TODAY: &str = "20250601";
/// The DF and EF the memory faults damage and the data faults rewrite.
const DF: &str = "SSSE";
const EF05: u16 = 0xEF05;

/// Why a faulty card could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("the card could not be personalised")]
    Personalise(#[source] PersoError),
    #[error("the simulated card does not work")]
    Transport(#[source] TransportError),
    #[error("an exchange with the simulated card failed")]
    Client(#[source] ClientError),
    #[error("external authentication with the TEST keys failed")]
    Auth(#[source] AuthError),
    #[error("the TEST keys give no card key")]
    Key(#[source] KeyError),
    #[error("the MAC could not be computed ({0:?})")]
    Crypto(card_os::crypto::Error),
    #[error("the card refused {step}: {}", crate::protocol::sw::explain(*.sw))]
    Refused { step: &'static str, sw: Status },
    #[error("the layout lacks {0}, which the fault needs")]
    Layout(String),
}

impl From<ClientError> for FaultError {
    fn from(e: ClientError) -> Self {
        FaultError::Client(e)
    }
}

/// The sample holder as a card that passes every check on [`MATRIX_TODAY`]: activated soon
/// after issue.
pub fn healthy_record() -> CardRecord {
    let mut record = sample_holder();
    record.label = "healthy sample card".into();
    record.values.insert("activation_state".into(), "1".into());
    record
        .values
        .insert("activation_date".into(), "20240115".into());
    record
}

/// A personalised card (the sample holder, `keys`) with `faults`, in memory, behind the fault
/// wrapper.
pub fn faulty_card(
    layout: &Layout,
    keys: &IssuerKeys,
    faults: &[FaultKind],
) -> Result<FaultyTransport<SimTransport>, FaultError> {
    let has = |k| faults.contains(&k);
    let mut record = healthy_record();
    if has(FaultKind::Expired) {
        record
            .values
            .insert("expiry_date".into(), "20250101".into());
    }
    if has(FaultKind::NotActivated) {
        record.values.insert("activation_state".into(), "0".into());
        record.values.remove("activation_date");
    }
    let card_id_code = card_id_code(&record)?;
    let (storage, _) = personalised_card(layout, &record, keys).map_err(FaultError::Personalise)?;
    let mut client = Client::new(SimTransport::in_memory(storage).map_err(FaultError::Transport)?);
    if has(FaultKind::Inconsistent) {
        // Region 11 → 31 in the card identification code; the ATR keeps the old one.
        let mut code = card_id_code;
        code[0] = 0x31;
        let mut data = vec![0x01, 16];
        data.extend_from_slice(&code);
        rewrite_ef05(&mut client, layout, keys, &card_id_code, 0x01, &data)?;
    }
    if has(FaultKind::BadCheckDigit) {
        let number = record
            .values
            .get("card_number")
            .ok_or_else(|| FaultError::Layout("a card number in the record".into()))?;
        let mut data = vec![0x07, 9];
        data.extend_from_slice(&wrong_check_char(number));
        rewrite_ef05(&mut client, layout, keys, &card_id_code, 0x07, &data)?;
    }
    if has(FaultKind::PinBlocked) {
        block_pin(&mut client, layout)?;
    }
    if has(FaultKind::AppBlocked) {
        block_application(&mut client, layout, keys, &card_id_code)?;
    }
    let mut memory = client.into_transport().storage().clone();
    if has(FaultKind::Corrupted) || has(FaultKind::Torn) {
        let file = ef05_descriptor(&memory, layout)?;
        if has(FaultKind::Corrupted) {
            flip_bit(&mut memory, file.data_offset + 5)?;
        }
        if has(FaultKind::Torn) {
            // Record 7 (the card number) half rewritten and the rest left erased, as a write
            // interrupted outside the journal leaves it.
            let slot = file.data_offset + 6 * file.slot_size();
            let half = vec![0xFF; (file.slot_size() / 2) as usize];
            memory
                .write(slot + 1, &half)
                .map_err(|_| FaultError::Layout("room for the torn record".into()))?;
        }
    }
    memory.mark_saved();
    let mut sim = SimTransport::in_memory(memory).map_err(FaultError::Transport)?;
    sim.reset(ResetKind::Cold).map_err(FaultError::Transport)?;
    Ok(FaultyTransport::new(
        sim,
        TransportFaults::from_kinds(faults),
    ))
}

fn card_id_code(record: &CardRecord) -> Result<[u8; 16], FaultError> {
    record
        .values
        .get("card_id_code")
        .and_then(|hex| hex::decode(hex).ok())
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| FaultError::Layout("a card identification code in the record".into()))
}

/// The card number with its check character replaced by another one (bytes, not validated).
fn wrong_check_char(number: &str) -> Vec<u8> {
    let mut bytes = number.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last = if *last == b'0' { b'1' } else { b'0' };
    }
    bytes
}

fn checked(step: &'static str, sw: Status) -> Result<(), FaultError> {
    if sw == Status::Success {
        Ok(())
    } else {
        Err(FaultError::Refused { step, sw })
    }
}

fn select_ssse<T: CardTransport>(
    client: &mut Client<T>,
    layout: &Layout,
) -> Result<(), FaultError> {
    let df = layout
        .df(DF)
        .ok_or_else(|| FaultError::Layout(format!("the DF {DF}")))?;
    let path = layout.df_path(df);
    let answer = files::select_df(client, &path, Answer::Nothing)?;
    checked("SELECT SSSE", answer.sw)
}

/// UPDATE RECORD of SSSE EF05 by tag, after EXTERNAL AUTHENTICATE with the file's update key.
fn rewrite_ef05<T: CardTransport>(
    client: &mut Client<T>,
    layout: &Layout,
    keys: &IssuerKeys,
    card_id_code: &[u8; 16],
    tag: u8,
    record: &[u8],
) -> Result<(), FaultError> {
    let (_, ef) = layout
        .ef("SSSE/EF05")
        .ok_or_else(|| FaultError::Layout("SSSE/EF05".into()))?;
    let sfi = ef.sfi.unwrap_or(0);
    select_ssse(client, layout)?;
    if let Some(id) = ef.access.update.key() {
        auth::external_authenticate(client, layout, keys, DF, id, card_id_code)
            .map_err(FaultError::Auth)?;
    }
    let answer = client.send(&build::update_record_by_tag(sfi, tag, record.to_vec()))?;
    checked("UPDATE RECORD", answer.sw)
}

/// Wrong VERIFYs until the card says the PIN is blocked.
fn block_pin<T: CardTransport>(client: &mut Client<T>, layout: &Layout) -> Result<(), FaultError> {
    select_ssse(client, layout)?;
    // A PIN that is not the sample holder's.
    let wrong = build::verify(&Pin::from_ascii(b"999998").map_err(FaultError::Crypto)?);
    for _ in 0..=u8::MAX {
        let answer = client.send(&wrong)?;
        match answer.sw {
            Status::Counter(_) => continue,
            Status::AuthenticationMethodBlocked => return Ok(()),
            sw => return Err(FaultError::Refused { step: "VERIFY", sw }),
        }
    }
    Err(FaultError::Refused {
        step: "VERIFY",
        sw: Status::Success,
    })
}

/// APPLICATION BLOCK (permanent) of SSSE with a MAC by its MAC key.
fn block_application<T: CardTransport>(
    client: &mut Client<T>,
    layout: &Layout,
    keys: &IssuerKeys,
    card_id_code: &[u8; 16],
) -> Result<(), FaultError> {
    let spec = layout
        .df(DF)
        .and_then(|df| {
            df.keys
                .iter()
                .find(|k| k.usage == file_structures::layout::KeyUsage::Mac)
        })
        .ok_or_else(|| FaultError::Layout(format!("a MAC key in {DF}")))?;
    let card_key = keys
        .card_key(DF, spec.id, spec.algorithm, card_id_code)
        .map_err(FaultError::Key)?;
    select_ssse(client, layout)?;
    let challenge = client.send(&build::get_challenge(8))?;
    checked("GET CHALLENGE", challenge.sw)?;
    let block = build::application_block(true, &[]);
    let header = [block.cla, block.ins, block.p1, block.p2];
    let mac = card_os::crypto::sm::command_mac(&card_key, &challenge.data, header, &[])
        .map_err(FaultError::Crypto)?;
    let answer = client.send(&build::application_block(true, &mac))?;
    checked("APPLICATION BLOCK", answer.sw)
}

/// The descriptor of SSSE EF05 in the card's memory.
fn ef05_descriptor(memory: &MemoryStorage, layout: &Layout) -> Result<Descriptor, FaultError> {
    let ssse_fid = layout
        .df(DF)
        .map(|df| df.fid)
        .ok_or_else(|| FaultError::Layout(format!("the DF {DF}")))?;
    let files: Vec<(u8, Descriptor)> = (0..MAX_FILES as u8)
        .filter_map(|i| Descriptor::read(memory, i).ok().map(|d| (i, d)))
        .collect();
    let ssse = files
        .iter()
        .find(|(_, d)| d.kind == FileKind::Df && d.fid == ssse_fid)
        .map(|(i, _)| *i);
    files
        .into_iter()
        .find(|(_, d)| Some(d.parent) == ssse && d.fid == EF05)
        .map(|(_, d)| d)
        .ok_or_else(|| FaultError::Layout("SSSE/EF05 on the card".into()))
}

fn flip_bit(memory: &mut MemoryStorage, at: u32) -> Result<(), FaultError> {
    let mut byte = [0u8];
    let bad = |_| FaultError::Layout("the damaged byte in memory".into());
    memory.read(at, &mut byte).map_err(bad)?;
    memory.write(at, &[byte[0] ^ 0x10]).map_err(bad)
}

//! The personalisation commands of docs/card-os.md and docs/security.md: the layout's DFs and EFs
//! as CREATE FILE templates. The commands themselves are built by [`crate::apdu`].

use card_os::crypto::Pin;

use crate::apdu::{self, SelectReply, TooLong};
use crate::layout::{AccessRules, Df, Ef, Structure};

/// File life cycle "activated" (FCP tag 8A).
const LCS_ACTIVATED: u8 = 0x05;

/// Why the layout's values cannot make one of its personalisation commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    TooLong(#[from] TooLong),
    #[error("the layout's initial PIN is not 4 to 16 digits")]
    InitialPin,
}

/// A step's bytes, or why the layout's values cannot be one command.
pub(super) type Bytes = Result<Vec<u8>, StepError>;

pub(super) fn select_mf() -> Bytes {
    Ok(apdu::select_mf().to_bytes()?)
}

/// SELECT by path from the MF (P1 08), no answer data.
pub(super) fn select_path(path: &[u16]) -> Bytes {
    Ok(apdu::select_path(path, SelectReply::Nothing).to_bytes()?)
}

/// One data object of an FCP template, in the order given.
fn tlv(out: &mut Vec<(u16, Vec<u8>)>, tag: u16, value: &[u8]) {
    out.push((tag, value.to_vec()));
}

fn create(fcp_body: &[(u16, Vec<u8>)]) -> Bytes {
    Ok(apdu::create_file(fcp_body)?.to_bytes()?)
}

fn common(body: &mut Vec<(u16, Vec<u8>)>, access: &AccessRules) {
    tlv(body, 0x8A, &[LCS_ACTIVATED]);
    tlv(body, 0x86, &access.to_bytes());
}

pub(super) fn create_df(df: &Df) -> Bytes {
    let mut body = Vec::with_capacity(6);
    tlv(&mut body, 0x82, &[0x38]);
    tlv(&mut body, 0x83, &df.fid.to_be_bytes());
    tlv(&mut body, 0x84, &df.df_name);
    common(&mut body, &df.access);
    if df.announce_algorithm {
        tlv(
            &mut body,
            0xA5,
            &[0x9F, 0x0C, 0x03, 0x86, 0x01, df.algorithm.to_byte()],
        );
    }
    create(&body)
}

pub(super) fn create_ef(ef: &Ef) -> Bytes {
    let mut body = Vec::with_capacity(6);
    match ef.structure {
        Structure::Transparent { size } => {
            tlv(&mut body, 0x82, &[0x01]);
            tlv(&mut body, 0x83, &ef.fid.to_be_bytes());
            tlv(&mut body, 0x80, &size.to_be_bytes());
        }
        Structure::LinearVariable { records, max_len } => {
            tlv(&mut body, 0x82, &[0x04, 0x21, 0x00, max_len, records]);
            tlv(&mut body, 0x83, &ef.fid.to_be_bytes());
        }
        Structure::Cyclic {
            records,
            record_len,
        } => {
            tlv(&mut body, 0x82, &[0x06, 0x21, 0x00, record_len, records]);
            tlv(&mut body, 0x83, &ef.fid.to_be_bytes());
        }
    }
    if let Some(sfi) = ef.sfi {
        tlv(&mut body, 0x88, &[sfi << 3]);
    }
    common(&mut body, &ef.access);
    create(&body)
}

/// WRITE PIN into the current DF: try limit, then the PIN as packed BCD padded with F.
pub(super) fn write_pin(tries: u8, digits: &str) -> Bytes {
    let pin = Pin::from_ascii(digits.as_bytes()).map_err(|_| StepError::InitialPin)?;
    Ok(apdu::write_pin(tries, &pin).to_bytes()?)
}

pub(super) fn issue_card() -> Bytes {
    Ok(apdu::issue_card().to_bytes()?)
}

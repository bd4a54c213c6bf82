//! The personalisation commands of docs/card-os.md and docs/security.md: the layout's DFs and EFs
//! as CREATE FILE templates. The commands themselves are built by [`crate::apdu`].

use card_os::crypto::Pin;
use card_os::fs::fcp::{
    TAG_ACCESS, TAG_DESCRIPTOR, TAG_DF_NAME, TAG_FID, TAG_LIFE_CYCLE, TAG_PROPRIETARY, TAG_SFI,
    TAG_SIZE,
};
use card_os::fs::LCS_ACTIVATED;

use crate::apdu::{self, SelectReply, TooLong};
use crate::layout::{AccessRules, Df, Ef, Structure};

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
    tlv(body, TAG_LIFE_CYCLE, &[LCS_ACTIVATED]);
    tlv(body, TAG_ACCESS, &access.to_bytes());
}

pub(super) fn create_df(df: &Df) -> Bytes {
    let mut body = Vec::with_capacity(6);
    tlv(&mut body, TAG_DESCRIPTOR, &[0x38]);
    tlv(&mut body, TAG_FID, &df.fid.to_be_bytes());
    tlv(&mut body, TAG_DF_NAME, &df.df_name);
    common(&mut body, &df.access);
    if df.announce_algorithm {
        tlv(
            &mut body,
            TAG_PROPRIETARY,
            &[0x9F, 0x0C, 0x03, 0x86, 0x01, df.algorithm.to_byte()],
        );
    }
    create(&body)
}

pub(super) fn create_ef(ef: &Ef) -> Bytes {
    let mut body = Vec::with_capacity(6);
    match ef.structure {
        Structure::Transparent { size } => {
            tlv(&mut body, TAG_DESCRIPTOR, &[0x01]);
            tlv(&mut body, TAG_FID, &ef.fid.to_be_bytes());
            tlv(&mut body, TAG_SIZE, &size.to_be_bytes());
        }
        Structure::LinearVariable { records, max_len } => {
            tlv(
                &mut body,
                TAG_DESCRIPTOR,
                &[0x04, 0x21, 0x00, max_len, records],
            );
            tlv(&mut body, TAG_FID, &ef.fid.to_be_bytes());
        }
        Structure::Cyclic {
            records,
            record_len,
        } => {
            tlv(
                &mut body,
                TAG_DESCRIPTOR,
                &[0x06, 0x21, 0x00, record_len, records],
            );
            tlv(&mut body, TAG_FID, &ef.fid.to_be_bytes());
        }
    }
    if let Some(sfi) = ef.sfi {
        tlv(&mut body, TAG_SFI, &[sfi << 3]);
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

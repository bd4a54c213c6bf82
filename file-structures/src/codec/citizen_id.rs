//! The 18-character citizen ID number of GB 11643-1999: region (6), birth date (8), sequence (3),
//! check character computed with ISO 7064 MOD 11-2 (weights 2^(17-i) mod 11; values 10 → X).

use super::{codes, date, CodecError};

/// The check character of the first 17 digits, or `None` when they are not 17 digits.
pub fn citizen_id_check_char(first17: &str) -> Option<char> {
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // ISO 7064 MOD 11-2: weight of position i (from the left, 0-based) is 2^(17-i) mod 11.
    let sum: u32 = first17
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * ((1u32 << (17 - i)) % 11))
        .sum();
    let check = (12 - sum % 11) % 11;
    Some(if check == 10 {
        'X'
    } else {
        char::from(b'0' + check as u8)
    })
}

pub(super) fn check(value: &str) -> Result<(), CodecError> {
    let form_error = || CodecError::CitizenIdForm {
        value: value.to_owned(),
    };
    let first17 = value.get(..17).ok_or_else(form_error)?;
    let found = value
        .get(17..)
        .and_then(|s| s.chars().next())
        .filter(|_| value.len() == 18)
        .ok_or_else(form_error)?;
    let expected = citizen_id_check_char(first17).ok_or_else(form_error)?;
    if !(found.is_ascii_digit() || found == 'X') {
        return Err(form_error());
    }
    if found != expected {
        return Err(CodecError::CitizenIdCheck {
            value: value.to_owned(),
            found,
            expected,
        });
    }
    codes::check_region(&first17[..6])?;
    date::check(&first17[6..14])
}

//! The 9-character card number: 8 digits or upper-case letters and a check character.
//!
//! The check character follows GB 11714-1997 (organisation code): characters are valued
//! 0-9 and A=10 .. Z=35, weighted 3 7 9 10 5 8 4 2; C = 11 - (sum mod 11); C = 10 is written X
//! and C = 11 is written 0. It reproduces the example card number X00000019 of the design note
//! (X=33: 33*3 + 1*2 = 101, 101 mod 11 = 2, 11 - 2 = 9).

use super::CodecError;

const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// The check character of the first 8 characters, or `None` when they are not 8 digits or
/// upper-case letters.
pub fn card_number_check_char(first8: &str) -> Option<char> {
    if first8.len() != 8 {
        return None;
    }
    let mut sum = 0;
    for (c, weight) in first8.chars().zip(WEIGHTS) {
        let value = match c {
            '0'..='9' | 'A'..='Z' => c.to_digit(36)?,
            _ => return None,
        };
        sum += value * weight;
    }
    Some(match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        c => char::from(b'0' + c as u8),
    })
}

pub(super) fn check(value: &str) -> Result<(), CodecError> {
    let form_error = || CodecError::CardNumberForm {
        value: value.to_owned(),
    };
    if value.len() != 9 || !value.is_ascii() {
        return Err(form_error());
    }
    let expected = card_number_check_char(&value[..8]).ok_or_else(form_error)?;
    let found = char::from(value.as_bytes()[8]);
    if found != expected {
        return Err(CodecError::CardNumberCheck {
            value: value.to_owned(),
            found,
            expected,
        });
    }
    Ok(())
}

//! Dates YYYYMMDD (stored as `cn` 4), checked against the Gregorian calendar.

use super::CodecError;

/// Whether `value` is YYYYMMDD naming a real day between 1900-01-01 and 2099-12-31.
pub fn is_valid_date(value: &str) -> bool {
    if value.len() != 8 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let number = |range: std::ops::Range<usize>| {
        value
            .get(range)
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let (year, month, day) = (number(0..4), number(4..6), number(6..8));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1900..=2099).contains(&year) && (1..=days_in_month).contains(&day)
}

pub(super) fn check(value: &str) -> Result<(), CodecError> {
    if is_valid_date(value) {
        Ok(())
    } else {
        Err(CodecError::BadDate {
            value: value.to_owned(),
        })
    }
}

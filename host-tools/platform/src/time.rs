//! Dates and timestamps in UTC, as the registry stores them (text, so both databases compare
//! them the same way): dates `YYYYMMDD`, months `YYYYMM`, timestamps RFC 3339.

use std::time::{SystemTime, UNIX_EPOCH};

/// (year, month, day) of a day count since 1970-01-01 (the proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Now, e.g. `2026-12-01T16:58:47Z`.
pub fn now_rfc3339() -> String {
    let secs = now_secs();
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Today, `YYYYMMDD`.
pub fn today() -> String {
    let (y, m, d) = civil_from_days(now_secs().div_euclid(86_400));
    format!("{y:04}{m:02}{d:02}")
}

/// `YYYYMMDD` with a real month and day (1–31), or `None`.
pub fn check_date(text: &str) -> Option<&str> {
    let valid = text.len() == 8
        && text.bytes().all(|b| b.is_ascii_digit())
        && matches!(text[4..6].parse::<u8>(), Ok(1..=12))
        && matches!(text[6..8].parse::<u8>(), Ok(1..=31));
    valid.then_some(text)
}

/// `YYYYMM` with a real month, or `None`.
pub fn check_month(text: &str) -> Option<&str> {
    let valid = text.len() == 6
        && text.bytes().all(|b| b.is_ascii_digit())
        && matches!(text[4..6].parse::<u8>(), Ok(1..=12));
    valid.then_some(text)
}

/// The card's packed BCD form of a checked `YYYYMMDD` date.
pub fn card_date(text: &str) -> Option<card_os::restriction::CardDate> {
    let bytes = hex::decode(check_date(text)?).ok()?;
    card_os::restriction::CardDate::from_bcd(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_map_to_the_calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn dates_and_months_are_checked() {
        assert!(check_date("20240229").is_some());
        assert!(check_date("20241301").is_none());
        assert!(check_date("2024010").is_none());
        assert!(check_date("2024-1-1").is_none());
        assert!(check_month("202412").is_some());
        assert!(check_month("202400").is_none());
    }
}

//! Dates YYYYMMDD (stored as `cn` 4), checked against the Gregorian calendar, and the calendar
//! arithmetic the six-month activation window needs ([`Day`]).

use std::time::{SystemTime, UNIX_EPOCH};

use super::CodecError;

/// Whether `value` is YYYYMMDD naming a real day between 1900-01-01 and 2099-12-31.
pub fn is_valid_date(value: &str) -> bool {
    Day::parse(value).is_some()
}

/// Days in `month` (1–12) of `year`, Gregorian leap years.
fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    pub year: u32,
    pub month: u32,
    pub day: u32,
}

impl Day {
    /// `20250601` → 2025-06-01; `None` unless it is 8 digits of a real day between 1900-01-01
    /// and 2099-12-31.
    pub fn parse(text: &str) -> Option<Day> {
        if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n = |r: std::ops::Range<usize>| text.get(r)?.parse::<u32>().ok();
        let (year, month, day) = (n(0..4)?, n(4..6)?, n(6..8)?);
        let real = (1900..=2099).contains(&year)
            && (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day);
        real.then_some(Day { year, month, day })
    }

    /// Today in UTC.
    pub fn today() -> Day {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Day::from_days_since_epoch(i64::try_from(secs / 86_400).unwrap_or(0))
    }

    /// The civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
    fn from_days_since_epoch(days: i64) -> Day {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Day {
            year: u32::try_from(year).unwrap_or(0),
            month: u32::try_from(month).unwrap_or(1),
            day: u32::try_from(day).unwrap_or(1),
        }
    }

    /// The same day `months` later (the last day of the month when it has fewer days).
    pub fn plus_months(self, months: u32) -> Day {
        let index = self.month - 1 + months;
        let (year, month) = (self.year + index / 12, index % 12 + 1);
        Day {
            year,
            month,
            day: self.day.min(days_in_month(year, month)),
        }
    }

    /// The day after.
    pub fn next_day(self) -> Day {
        if self.day < days_in_month(self.year, self.month) {
            Day {
                day: self.day + 1,
                ..self
            }
        } else if self.month < 12 {
            Day {
                month: self.month + 1,
                day: 1,
                ..self
            }
        } else {
            Day {
                year: self.year + 1,
                month: 1,
                day: 1,
            }
        }
    }

    /// `YYYYMMDD`, the digits a date field holds; the card's bytes are
    /// `codec::encode(Encoding::Date, 4, &day.digits())`.
    pub fn digits(self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{encode, Encoding};

    #[test]
    fn days_parse_and_six_months_clamp_to_the_month_end() {
        let d = Day::parse("20240831").unwrap();
        assert_eq!(d.plus_months(6), Day::parse("20250228").unwrap());
        assert_eq!(
            Day::parse("20231231").unwrap().plus_months(2),
            Day::parse("20240229").unwrap()
        );
        assert_eq!(Day::parse("20230231"), None);
        assert_eq!(
            Day::from_days_since_epoch(0),
            Day::parse("19700101").unwrap()
        );
        assert_eq!(
            Day::from_days_since_epoch(20_240),
            Day::parse("20250601").unwrap()
        );
    }

    #[test]
    fn the_next_day_carries_months_years_and_leap_days() {
        let next = |t: &str| Day::parse(t).unwrap().next_day().to_string();
        assert_eq!(next("20240228"), "2024-02-29");
        assert_eq!(next("20240229"), "2024-03-01");
        assert_eq!(next("20230228"), "2023-03-01");
        assert_eq!(next("20241231"), "2025-01-01");
        assert_eq!(next("20240630"), "2024-07-01");
        assert_eq!(
            encode(Encoding::Date, 4, &Day::parse("20240701").unwrap().digits()).unwrap(),
            [0x20, 0x24, 0x07, 0x01]
        );
    }
}

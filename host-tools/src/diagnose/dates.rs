//! Calendar dates as the card stores them (YYYYMMDD): today, and the six-month activation window.

use std::time::{SystemTime, UNIX_EPOCH};

/// A calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    pub year: u32,
    pub month: u32,
    pub day: u32,
}

impl Day {
    /// `20250601` → 2025-06-01; `None` unless it is 8 digits of a real day.
    pub fn parse(text: &str) -> Option<Day> {
        if !file_structures::codec::is_valid_date(text) {
            return None;
        }
        let n = |r: std::ops::Range<usize>| text.get(r)?.parse::<u32>().ok();
        Some(Day {
            year: n(0..4)?,
            month: n(4..6)?,
            day: n(6..8)?,
        })
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
        let last = match month {
            2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        Day {
            year,
            month,
            day: self.day.min(last),
        }
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

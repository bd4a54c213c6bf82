//! The six-month rule (docs/card-os.md, "Activation and the six-month rule"): a card that was not
//! activated within six months of issue has its medical insurance application restricted.
//!
//! The card has no clock: the terminal supplies today's date with SET DATE (`80 DA 00 00 04
//! YYYYMMDD` packed BCD), held in RAM until the next reset. The card reads its issue date and its
//! activation state from its own files, at the places the national layout gives them (the layout
//! host tests check that it still does: `activation_rule.rs`): the issue date is record tag [`ISSUE_DATE_TAG`] of
//! EF SFI [`ISSUE_DATE_SFI`] in the holder PIN's DF (SSSE EF05), the activation state record tag
//! [`ACTIVATION_STATE_TAG`] of EF SFI [`ACTIVATION_SFI`] there (SSSE EF15), whose value
//! [`ACTIVATED`] means activated. The restricted application is the DF with FID
//! [`RESTRICTED_DF_FID`] under the MF (DF04, medical insurance).

/// SSSE EF05 (card issuer data), SFI.
pub const ISSUE_DATE_SFI: u8 = 5;
/// The issue date's record tag in SSSE EF05.
pub const ISSUE_DATE_TAG: u8 = 0x05;
/// SSSE EF15 (this project's activation file), SFI.
pub const ACTIVATION_SFI: u8 = 21;
/// The activation state's record tag in SSSE EF15.
pub const ACTIVATION_STATE_TAG: u8 = 0xF8;
/// The activation state value of an activated card (ASCII `1`).
pub const ACTIVATED: u8 = b'1';
/// The medical insurance application's FID.
pub const RESTRICTED_DF_FID: u16 = 0xDF04;
/// How long after issue a card may be used unactivated.
pub const GRACE_MONTHS: u8 = 6;

/// The answer of GET DATA `00 CA DF 41` (`data_tags::MEDICAL_STATUS`) in any DF, one byte, the
/// medical insurance function's status: `00`, the card is activated (or has no activation
/// file): no restriction.
pub const STATUS_NORMAL: u8 = 0x00;
/// Not activated, and the terminal's date is within six months of issue.
pub const STATUS_GRACE: u8 = 0x01;
/// Not activated, and no date was supplied since the last reset or it is past issue + 6 months:
/// settlement-type operations are refused.
pub const STATUS_RESTRICTED: u8 = 0x02;

/// A calendar date as the card stores it: 4 bytes packed BCD `YYYYMMDD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CardDate {
    year: u16,
    month: u8,
    day: u8,
}

fn bcd(byte: u8) -> Option<u8> {
    let (hi, lo) = (byte >> 4, byte & 0x0F);
    (hi <= 9 && lo <= 9).then_some(hi * 10 + lo)
}

impl CardDate {
    /// Parses packed BCD `YYYYMMDD`; `None` unless it is 4 bytes, BCD, month 1–12, day 1–31.
    pub fn from_bcd(bytes: &[u8]) -> Option<Self> {
        let [c, y, m, d] = <[u8; 4]>::try_from(bytes).ok()?;
        let year = u16::from(bcd(c)?) * 100 + u16::from(bcd(y)?);
        let (month, day) = (bcd(m)?, bcd(d)?);
        ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some(CardDate {
            year,
            month,
            day,
        })
    }

    /// The last day of the grace period, as a (possibly non-calendar) date that compares right:
    /// 2024-08-31 + 6 months = "2025-02-31", so 2025-03-01 is the first day after it.
    pub fn plus_months(self, months: u8) -> Self {
        let zero_based = u16::from(self.month) - 1 + u16::from(months);
        CardDate {
            year: self.year + zero_based / 12,
            month: (zero_based % 12) as u8 + 1,
            day: self.day,
        }
    }
}

/// The medical insurance status: `activated` (or no activation file) → normal; otherwise grace
/// while `today` is known and not after issue + 6 months, else restricted. A card without an
/// issue date is restricted until activated.
pub fn status(activated: bool, issue: Option<CardDate>, today: Option<CardDate>) -> u8 {
    if activated {
        return STATUS_NORMAL;
    }
    match (issue, today) {
        (Some(issue), Some(today)) if today <= grace_end(issue) => STATUS_GRACE,
        _ => STATUS_RESTRICTED,
    }
}

/// The last day of grace (compared as a possibly non-calendar date, see
/// [`CardDate::plus_months`]).
fn grace_end(issue: CardDate) -> CardDate {
    #[allow(unused_mut)]
    let mut end = issue.plus_months(GRACE_MONTHS);
    #[cfg(feature = "mutants")]
    if crate::mutants::active(crate::mutants::Mutant::GraceOneDayLonger) {
        end.day += 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> CardDate {
        let digits: std::vec::Vec<u8> = text.bytes().map(|b| b - b'0').collect();
        let bytes: std::vec::Vec<u8> = digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect();
        CardDate::from_bcd(&bytes).unwrap()
    }

    #[test]
    fn six_months_after_issue_is_the_last_day_of_grace() {
        let issue = Some(date("20240315"));
        assert_eq!(status(false, issue, Some(date("20240915"))), STATUS_GRACE);
        assert_eq!(
            status(false, issue, Some(date("20240916"))),
            STATUS_RESTRICTED
        );
        assert_eq!(status(true, issue, Some(date("20300101"))), STATUS_NORMAL);
        assert_eq!(status(false, issue, None), STATUS_RESTRICTED);
        assert_eq!(
            status(false, None, Some(date("20240316"))),
            STATUS_RESTRICTED
        );
    }

    #[test]
    fn month_ends_and_year_ends_carry() {
        let issue = Some(date("20240831"));
        assert_eq!(status(false, issue, Some(date("20250228"))), STATUS_GRACE);
        assert_eq!(
            status(false, issue, Some(date("20250301"))),
            STATUS_RESTRICTED
        );
        let issue = Some(date("20241231"));
        assert_eq!(status(false, issue, Some(date("20250630"))), STATUS_GRACE);
        assert_eq!(
            status(false, issue, Some(date("20250701"))),
            STATUS_RESTRICTED
        );
        assert_eq!(date("20240715").plus_months(6), date("20250115"));
    }

    #[test]
    fn malformed_dates_are_refused() {
        for bad in [
            &[0x20, 0x24, 0x13, 0x01][..],
            &[0x20, 0x24, 0x01, 0x00],
            &[0x20, 0x2A, 0x01, 0x01],
            &[0x20, 0x24, 0x01],
        ] {
            assert_eq!(CardDate::from_bcd(bad), None, "{bad:02X?}");
        }
    }
}

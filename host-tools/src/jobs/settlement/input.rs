//! The operator's input to a settlement or a load, checked before the card is touched: amounts
//! in yuan (two decimal places at most, never negative, within the card's 4-byte fen fields) and
//! the trade time.

/// The most fen one amount field of the card carries (4 bytes, unsigned).
pub const MAX_FEN: u64 = u32::MAX as u64;
/// The longest amount text accepted (a typo, not an amount, beyond this).
const MAX_AMOUNT_TEXT: usize = 16;

/// Why an amount or a time is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("the {what} {text:?} is negative: an amount is never below zero")]
    Negative { what: &'static str, text: String },
    #[error("the {what} {text:?} is not an amount in yuan (digits, at most two decimals: 12.50)")]
    NotAmount { what: &'static str, text: String },
    #[error(
        "the {what} {text:?} is too large: the card holds at most 42949672.95 yuan in one amount"
    )]
    Overflow { what: &'static str, text: String },
    #[error("the amounts together are too large for the card ({0} fen)")]
    SumOverflow(u64),
    #[error("nothing to settle: every amount is zero")]
    Zero,
    #[error("{0:?} is not a trade time YYYYMMDDhhmmss")]
    Time(String),
}

/// An amount given in yuan (`12`, `12.5`, `12.50`), in fen.
pub fn yuan_to_fen(what: &'static str, text: &str) -> Result<u32, AmountError> {
    let text = text.trim();
    let shown = || text.chars().take(MAX_AMOUNT_TEXT + 4).collect::<String>();
    if text.starts_with('-') {
        return Err(AmountError::Negative {
            what,
            text: shown(),
        });
    }
    let bad = || AmountError::NotAmount {
        what,
        text: shown(),
    };
    if text.is_empty() || text.len() > MAX_AMOUNT_TEXT {
        return Err(
            if text.len() > MAX_AMOUNT_TEXT && text.bytes().all(|b| b.is_ascii_digit()) {
                AmountError::Overflow {
                    what,
                    text: shown(),
                }
            } else {
                bad()
            },
        );
    }
    let (whole, cents) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty()
        || cents.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !cents.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let cents: u64 = format!("{cents:0<2}").parse().map_err(|_| bad())?;
    let fen = whole
        .checked_mul(100)
        .and_then(|f| f.checked_add(cents))
        .filter(|&f| f <= MAX_FEN)
        .ok_or_else(|| AmountError::Overflow {
            what,
            text: shown(),
        })?;
    u32::try_from(fen).map_err(|_| AmountError::Overflow {
        what,
        text: shown(),
    })
}

/// Fen as yuan with two decimals, for receipts.
pub fn fen_to_yuan(fen: u32) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// The three amounts of a settlement, in fen: the account amount paid from the card's purse, and
/// the self-pay and pooled-fund amounts the card adds to its yearly totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Amounts {
    pub account: u32,
    pub self_pay: u32,
    pub pooled: u32,
}

impl Amounts {
    /// Checks the amounts together: not all zero, and their sum (the bill) within 4 bytes.
    pub fn new(account: u32, self_pay: u32, pooled: u32) -> Result<Amounts, AmountError> {
        let total = u64::from(account) + u64::from(self_pay) + u64::from(pooled);
        if total == 0 {
            return Err(AmountError::Zero);
        }
        if total > MAX_FEN {
            return Err(AmountError::SumOverflow(total));
        }
        Ok(Amounts {
            account,
            self_pay,
            pooled,
        })
    }

    /// account 4 ‖ self-pay 4 ‖ pooled 4, as MAC1, MAC2 and TAC take them.
    pub fn to_bytes(self) -> [u8; 12] {
        let mut out = [0; 12];
        out[..4].copy_from_slice(&self.account.to_be_bytes());
        out[4..8].copy_from_slice(&self.self_pay.to_be_bytes());
        out[8..].copy_from_slice(&self.pooled.to_be_bytes());
        out
    }

    /// The bill: account + self-pay + pooled (checked in [`Amounts::new`]).
    pub fn total(self) -> u64 {
        u64::from(self.account) + u64::from(self.self_pay) + u64::from(self.pooled)
    }
}

/// A trade time `YYYYMMDDhhmmss` (the card has no clock: the terminal gives it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeTime([u8; 7]);

impl TradeTime {
    pub fn parse(text: &str) -> Result<TradeTime, AmountError> {
        let text = text.trim();
        let bad = || AmountError::Time(text.chars().take(20).collect());
        if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n = |r: std::ops::Range<usize>| text.get(r).and_then(|t| t.parse::<u32>().ok());
        let (month, day, hour, minute, second) = (n(4..6), n(6..8), n(8..10), n(10..12), n(12..14));
        let ok = matches!(month, Some(1..=12))
            && matches!(day, Some(1..=31))
            && matches!(hour, Some(0..=23))
            && matches!(minute, Some(0..=59))
            && matches!(second, Some(0..=59));
        if !ok {
            return Err(bad());
        }
        let bytes = hex::decode(text).map_err(|_| bad())?;
        bytes.try_into().map(TradeTime).map_err(|_| bad())
    }

    /// The system clock's time (UTC), for a terminal that gives no time.
    pub fn now_utc() -> TradeTime {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let days = (secs / 86_400) as i64;
        let rest = secs % 86_400;
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let text = format!(
            "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
            rest / 3600,
            rest / 60 % 60,
            rest % 60
        );
        TradeTime::parse(&text).unwrap_or(TradeTime([0x20, 0x24, 0x01, 0x01, 0, 0, 0]))
    }

    pub fn bytes(&self) -> [u8; 7] {
        self.0
    }

    /// `YYYYMMDD`.
    pub fn date(&self) -> String {
        hex::encode(&self.0[..4])
    }

    /// `YYYYMMDDhhmmss`.
    pub fn text(&self) -> String {
        hex::encode(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_in_yuan_become_fen_and_bad_ones_are_named() {
        assert_eq!(yuan_to_fen("amount", "12"), Ok(1200));
        assert_eq!(yuan_to_fen("amount", "12.5"), Ok(1250));
        assert_eq!(yuan_to_fen("amount", "0.07"), Ok(7));
        assert_eq!(yuan_to_fen("amount", "42949672.95"), Ok(u32::MAX));
        assert!(matches!(
            yuan_to_fen("amount", "-1"),
            Err(AmountError::Negative { .. })
        ));
        assert!(matches!(
            yuan_to_fen("amount", "42949672.96"),
            Err(AmountError::Overflow { .. })
        ));
        assert!(matches!(
            yuan_to_fen("amount", "99999999999999999999"),
            Err(AmountError::Overflow { .. })
        ));
        for bad in ["", "1.234", "1e3", ".5", "1,5", "１２", "12.", "0x10"] {
            let result = yuan_to_fen("amount", bad);
            if bad == "12." {
                assert_eq!(result, Ok(1200));
            } else {
                assert!(
                    matches!(result, Err(AmountError::NotAmount { .. })),
                    "{bad:?}"
                );
            }
        }
        assert_eq!(Amounts::new(0, 0, 0), Err(AmountError::Zero));
        assert!(matches!(
            Amounts::new(u32::MAX, 1, 0),
            Err(AmountError::SumOverflow(_))
        ));
    }

    #[test]
    fn trade_times_are_checked() {
        assert_eq!(
            TradeTime::parse("20260315103000").unwrap().bytes(),
            [0x20, 0x26, 0x03, 0x15, 0x10, 0x30, 0x00]
        );
        for bad in [
            "2026031510300",
            "20261315103000",
            "20260315243000",
            "2026031510300a",
        ] {
            assert!(TradeTime::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(TradeTime::now_utc().text().len(), 14);
    }

    proptest! {
        #[test]
        fn fen_round_trips_through_yuan(fen in any::<u32>()) {
            prop_assert_eq!(yuan_to_fen("amount", &fen_to_yuan(fen)), Ok(fen));
        }
    }
}

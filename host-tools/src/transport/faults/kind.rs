//! The fault catalogue: one name per fault, as `--fault` takes it.

use std::fmt;
use std::str::FromStr;

/// Every fault the simulator can be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(into = "String")]
pub enum FaultKind {
    /// Inserted, but no ATR: a dead chip.
    Mute,
    /// An ATR that is not one (bad TS).
    GarbageAtr,
    /// An ATR announcing T=1 with a wrong TCK.
    BadTck,
    /// ATR fine, every command answers `6F00`.
    NoDiagnosis,
    /// `6581` (memory failure) on reads of SSSE EF05.
    MemoryFailure,
    /// A bit of SSSE EF05 flipped in memory, behind the card's back: its CRC no longer matches.
    Corrupted,
    /// SSSE EF05 half overwritten by a write that bypassed the journal (a torn write).
    Torn,
    /// A share of APDUs unanswered (seeded, so runs repeat).
    Loss,
    /// Every APDU answered late.
    Slow,
    /// The PIN blocked by wrong VERIFYs.
    PinBlocked,
    /// SSSE permanently blocked by APPLICATION BLOCK (the TEST issuer keys).
    AppBlocked,
    /// Expiry date before today.
    Expired,
    /// Never activated, issued more than six months ago.
    NotActivated,
    /// The card identification code's region differs from the ATR's.
    Inconsistent,
    /// The card number's check character is wrong.
    BadCheckDigit,
}

impl FaultKind {
    /// The whole catalogue, in order.
    pub const ALL: [FaultKind; 15] = [
        FaultKind::Mute,
        FaultKind::GarbageAtr,
        FaultKind::BadTck,
        FaultKind::NoDiagnosis,
        FaultKind::MemoryFailure,
        FaultKind::Corrupted,
        FaultKind::Torn,
        FaultKind::Loss,
        FaultKind::Slow,
        FaultKind::PinBlocked,
        FaultKind::AppBlocked,
        FaultKind::Expired,
        FaultKind::NotActivated,
        FaultKind::Inconsistent,
        FaultKind::BadCheckDigit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Mute => "mute",
            FaultKind::GarbageAtr => "garbage-atr",
            FaultKind::BadTck => "bad-tck",
            FaultKind::NoDiagnosis => "6f00",
            FaultKind::MemoryFailure => "6581",
            FaultKind::Corrupted => "corrupted",
            FaultKind::Torn => "torn",
            FaultKind::Loss => "loss",
            FaultKind::Slow => "slow",
            FaultKind::PinBlocked => "pin-blocked",
            FaultKind::AppBlocked => "app-blocked",
            FaultKind::Expired => "expired",
            FaultKind::NotActivated => "not-activated",
            FaultKind::Inconsistent => "inconsistent",
            FaultKind::BadCheckDigit => "bad-check-digit",
        }
    }

    /// Whether the fault lives in the reader's view (the wrapper transport) rather than in the
    /// card's memory.
    pub fn is_transport(self) -> bool {
        matches!(
            self,
            FaultKind::Mute
                | FaultKind::GarbageAtr
                | FaultKind::BadTck
                | FaultKind::NoDiagnosis
                | FaultKind::MemoryFailure
                | FaultKind::Loss
                | FaultKind::Slow
        )
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<FaultKind> for String {
    fn from(kind: FaultKind) -> String {
        kind.name().to_owned()
    }
}

/// A name that is no fault of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault {name:?}: use one of {}", FaultKind::ALL.map(FaultKind::name).join(", "))]
pub struct UnknownFault {
    pub name: String,
}

impl FromStr for FaultKind {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == wanted)
            .ok_or(UnknownFault { name: s.to_owned() })
    }
}

/// `mute,slow` → the faults, in the order given, without repeats.
pub fn parse_list(list: &str) -> Result<Vec<FaultKind>, UnknownFault> {
    let mut out = Vec::new();
    for name in list.split(',').filter(|n| !n.trim().is_empty()) {
        let kind: FaultKind = name.parse()?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_and_lists_split_on_commas() {
        for kind in FaultKind::ALL {
            assert_eq!(kind.name().parse::<FaultKind>(), Ok(kind));
        }
        assert_eq!(
            parse_list("mute, SLOW,mute"),
            Ok(vec![FaultKind::Mute, FaultKind::Slow])
        );
        let e = parse_list("mute,demagnetised").unwrap_err();
        assert_eq!(e.name, "demagnetised");
        assert!(e.to_string().contains("bad-check-digit"));
    }
}

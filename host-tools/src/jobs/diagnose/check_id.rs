//! The checks of the battery by name: their order, their titles, and what a failure makes pointless.

use serde::Serialize;

/// One check of the battery. The declaration order is the battery's order (a clerk's order: the
/// reader before the card, the card's answer before its files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckId {
    Reader,
    Card,
    Atr,
    Profile,
    Select,
    Read,
    Integrity,
    Data,
    Dates,
    Activation,
    Pin,
    Stability,
    /// Not in the battery ([`CheckId::ALL`]): added by `diagnose --pin` / `--journal` with the
    /// holder present (the medical purse, docs/diagnostics.md).
    Purse,
}

impl CheckId {
    /// Every check, in the battery's order.
    pub const ALL: [CheckId; 12] = [
        CheckId::Reader,
        CheckId::Card,
        CheckId::Atr,
        CheckId::Profile,
        CheckId::Select,
        CheckId::Read,
        CheckId::Integrity,
        CheckId::Data,
        CheckId::Dates,
        CheckId::Activation,
        CheckId::Pin,
        CheckId::Stability,
    ];

    /// The stable id of `--json` (`"reader"`, `"card"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            CheckId::Reader => "reader",
            CheckId::Card => "card",
            CheckId::Atr => "atr",
            CheckId::Profile => "profile",
            CheckId::Select => "select",
            CheckId::Read => "read",
            CheckId::Integrity => "integrity",
            CheckId::Data => "data",
            CheckId::Dates => "dates",
            CheckId::Activation => "activation",
            CheckId::Pin => "pin",
            CheckId::Stability => "stability",
            CheckId::Purse => "purse",
        }
    }

    /// The title a person reads.
    pub fn title(self) -> &'static str {
        match self {
            CheckId::Reader => "reader present",
            CheckId::Card => "card present",
            CheckId::Atr => "ATR received and valid",
            CheckId::Profile => "social security card ATR profile",
            CheckId::Select => "SELECT SSSE",
            CheckId::Read => "read every free file",
            CheckId::Integrity => "integrity of the files",
            CheckId::Data => "data valid and consistent",
            CheckId::Dates => "issue and expiry dates",
            CheckId::Activation => "life cycle and activation",
            CheckId::Pin => "PIN tries left",
            CheckId::Stability => "stability and timing",
            CheckId::Purse => "medical purse (holder present)",
        }
    }

    /// Its place in the battery, from 0.
    pub fn order(self) -> usize {
        self as usize
    }

    /// This check and every one after it.
    pub fn and_later(self) -> &'static [CheckId] {
        Self::ALL.get(self.order()..).unwrap_or(&[])
    }

    /// The checks a failure of this one makes pointless. Without a reader, a card or a usable ATR
    /// nothing further can be asked; the card's own checks each report what they can, so a failed
    /// one skips nothing.
    pub fn skips(self) -> &'static [CheckId] {
        match self {
            CheckId::Reader | CheckId::Card | CheckId::Atr => {
                Self::ALL.get(self.order() + 1..).unwrap_or(&[])
            }
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_battery_order_is_the_declaration_order_and_names_are_the_json_ids() {
        for (i, id) in CheckId::ALL.iter().enumerate() {
            assert_eq!(id.order(), i);
            assert_eq!(serde_json::to_value(id).unwrap(), id.name());
        }
    }

    #[test]
    fn only_the_reader_the_card_and_the_atr_stop_the_battery() {
        assert_eq!(CheckId::Reader.skips().len(), 11);
        assert_eq!(CheckId::Atr.skips().first(), Some(&CheckId::Profile));
        assert!(CheckId::Select.skips().is_empty());
        assert_eq!(CheckId::Select.and_later().len(), 8);
        assert!(CheckId::Stability.skips().is_empty());
    }
}

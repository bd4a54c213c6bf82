//! Access rules as a person writes them ("free", "pin", "key:04", "pin|key:04", "pin&key:04",
//! "never", each optionally with "+sm") and their compiled form, the `86` access-condition
//! bytes of docs/card-os.md.

use std::fmt;
use std::str::FromStr;

/// Who may use a file for one kind of access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Condition {
    Free,
    Never,
    Pin,
    Key(u8),
    PinOrKey(u8),
    PinAndKey(u8),
}

/// One access rule: a condition and whether the command must carry a MAC (secure messaging).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccessRule {
    pub condition: Condition,
    pub secure_messaging: bool,
}

/// The four rules of a file, in the order of the `86` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccessRules {
    pub read: AccessRule,
    pub update: AccessRule,
    pub append: AccessRule,
    /// Delete, activate, deactivate, terminate.
    pub admin: AccessRule,
}

/// Why a rule string is not a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessRuleError {
    #[error("{0:?} is not an access rule: write free, never, pin, key:NN, pin|key:NN or pin&key:NN, optionally followed by +sm")]
    Unknown(String),
    #[error("{0:?} names no key: a key id is two hex digits, e.g. key:04")]
    BadKeyId(String),
    #[error("{0:?} asks for secure messaging without a key: secure messaging needs a key, e.g. key:04+sm")]
    SmWithoutKey(String),
}

const PIN: u8 = 0x01;
const KEY: u8 = 0x02;
const EITHER: u8 = 0x04;
const SM: u8 = 0x10;

impl AccessRule {
    pub const FREE: AccessRule = AccessRule {
        condition: Condition::Free,
        secure_messaging: false,
    };
    pub const NEVER: AccessRule = AccessRule {
        condition: Condition::Never,
        secure_messaging: false,
    };

    /// The key this rule needs, if any.
    pub fn key(self) -> Option<u8> {
        match self.condition {
            Condition::Key(k) | Condition::PinOrKey(k) | Condition::PinAndKey(k) => Some(k),
            Condition::Free | Condition::Never | Condition::Pin => None,
        }
    }

    /// The (condition, key id) byte pair of docs/card-os.md.
    pub fn to_bytes(self) -> [u8; 2] {
        let (condition, key) = match self.condition {
            Condition::Free => (0x00, 0),
            Condition::Never => return [0xFF, 0x00],
            Condition::Pin => (PIN, 0),
            Condition::Key(k) => (KEY, k),
            Condition::PinOrKey(k) => (PIN | KEY | EITHER, k),
            Condition::PinAndKey(k) => (PIN | KEY, k),
        };
        [condition | if self.secure_messaging { SM } else { 0 }, key]
    }

    /// The rule a (condition, key id) byte pair stands for (the inverse of [`Self::to_bytes`]);
    /// `None` for a condition byte with bits the card does not define (it denies such rules).
    pub fn from_bytes([condition, key]: [u8; 2]) -> Option<AccessRule> {
        if condition == 0xFF {
            return Some(AccessRule::NEVER);
        }
        let secure_messaging = condition & SM != 0;
        let condition = match condition & !SM {
            0x00 if !secure_messaging => Condition::Free,
            c if c == PIN => Condition::Pin,
            c if c == KEY => Condition::Key(key),
            c if c == PIN | KEY | EITHER => Condition::PinOrKey(key),
            c if c == PIN | KEY => Condition::PinAndKey(key),
            _ => return None,
        };
        Some(AccessRule {
            condition,
            secure_messaging,
        })
    }
}

impl AccessRules {
    /// The four rules of FCP tag `86` bytes; `None` where a pair is not a rule.
    pub fn from_bytes(bytes: &[u8; 8]) -> [Option<AccessRule>; 4] {
        let pair = |i: usize| AccessRule::from_bytes([bytes[2 * i], bytes[2 * i + 1]]);
        [pair(0), pair(1), pair(2), pair(3)]
    }
}

impl AccessRules {
    /// The 8 bytes of FCP tag `86`: read, update, append, admin.
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut out = [0; 8];
        for (chunk, rule) in
            out.chunks_exact_mut(2)
                .zip([self.read, self.update, self.append, self.admin])
        {
            chunk.copy_from_slice(&rule.to_bytes());
        }
        out
    }

    /// Each rule with the name of the access it governs.
    pub fn named(&self) -> [(&'static str, AccessRule); 4] {
        [
            ("read", self.read),
            ("update", self.update),
            ("append", self.append),
            ("admin", self.admin),
        ]
    }
}

fn key_id(text: &str, whole: &str) -> Result<u8, AccessRuleError> {
    if text.len() != 2 {
        return Err(AccessRuleError::BadKeyId(whole.to_owned()));
    }
    u8::from_str_radix(text, 16).map_err(|_| AccessRuleError::BadKeyId(whole.to_owned()))
}

impl FromStr for AccessRule {
    type Err = AccessRuleError;

    fn from_str(whole: &str) -> Result<Self, Self::Err> {
        let text = whole.trim();
        let (body, secure_messaging) = match text.strip_suffix("+sm") {
            Some(body) => (body, true),
            None => (text, false),
        };
        let condition = match body {
            "free" => Condition::Free,
            "never" => Condition::Never,
            "pin" => Condition::Pin,
            _ => {
                if let Some(k) = body.strip_prefix("key:") {
                    Condition::Key(key_id(k, whole)?)
                } else if let Some(k) = body.strip_prefix("pin|key:") {
                    Condition::PinOrKey(key_id(k, whole)?)
                } else if let Some(k) = body.strip_prefix("pin&key:") {
                    Condition::PinAndKey(key_id(k, whole)?)
                } else {
                    return Err(AccessRuleError::Unknown(whole.to_owned()));
                }
            }
        };
        let rule = AccessRule {
            condition,
            secure_messaging,
        };
        if secure_messaging && rule.key().is_none() {
            return Err(AccessRuleError::SmWithoutKey(whole.to_owned()));
        }
        Ok(rule)
    }
}

impl fmt::Display for AccessRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.condition {
            Condition::Free => f.write_str("free")?,
            Condition::Never => f.write_str("never")?,
            Condition::Pin => f.write_str("pin")?,
            Condition::Key(k) => write!(f, "key:{k:02X}")?,
            Condition::PinOrKey(k) => write!(f, "pin|key:{k:02X}")?,
            Condition::PinAndKey(k) => write!(f, "pin&key:{k:02X}")?,
        }
        if self.secure_messaging {
            f.write_str("+sm")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_reads_back_from_its_bytes() {
        for text in [
            "free",
            "never",
            "pin",
            "key:0A",
            "pin|key:04",
            "pin&key:0A",
            "key:05+sm",
            "pin&key:04+sm",
        ] {
            let rule: AccessRule = text.parse().unwrap();
            assert_eq!(
                AccessRule::from_bytes(rule.to_bytes()),
                Some(rule),
                "{text}"
            );
        }
        assert_eq!(AccessRule::from_bytes([0x40, 0x00]), None);
    }
}

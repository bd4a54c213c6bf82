//! The operator's and the holder's input, checked before the card is touched: the identity
//! document, the new PIN, the terminal's date, the lost/cancelled list.

use std::collections::BTreeSet;
use std::path::Path;

use card_os::crypto::Pin;
use file_structures::codec::{self, CodecError, Encoding};
use zeroize::Zeroizing;

/// Why an input is refused.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("the ID number on the document is not valid: {0}")]
    IdNumber(#[source] CodecError),
    #[error("the name on the document is empty")]
    EmptyName,
    #[error("the two PIN entries differ")]
    PinsDiffer,
    #[error("a PIN is 4 to 16 digits")]
    PinForm,
    #[error("the new PIN may not be the initial PIN")]
    PinInitial,
    #[error("the new PIN is too easy to guess ({0}); choose another")]
    PinTrivial(&'static str),
    #[error("the {0} cannot be written on the card: {1}")]
    Field(String, #[source] CodecError),
    #[error("{0:?} is not a date (YYYYMMDD)")]
    Date(String),
    #[error("could not read the lost-card list {path}")]
    LostList {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The identity document as the operator reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The 18-character ID number (check character validated).
    pub id_number: String,
    pub name: String,
}

impl Identity {
    /// Validates the ID number's form and GB 11643 check character (lower-case `x` accepted).
    pub fn new(id_number: &str, name: &str) -> Result<Identity, InputError> {
        let id_number = id_number.trim().to_ascii_uppercase();
        codec::encode(Encoding::CitizenId, 18, &id_number).map_err(InputError::IdNumber)?;
        let name = name.trim();
        if name.is_empty() {
            return Err(InputError::EmptyName);
        }
        Ok(Identity {
            id_number,
            name: name.to_owned(),
        })
    }
}

/// Checks the holder's two entries of the new PIN and returns it. Refused: entries that differ,
/// not 4–16 digits, the initial PIN, one digit repeated, an ascending or descending run.
pub fn new_pin(first: &str, second: &str, initial: &str) -> Result<Pin, InputError> {
    let (first, second) = (Zeroizing::new(first.trim().to_owned()), second.trim());
    if first.as_str() != second {
        return Err(InputError::PinsDiffer);
    }
    let digits = first.as_bytes();
    if !(4..=16).contains(&digits.len()) || !digits.iter().all(u8::is_ascii_digit) {
        return Err(InputError::PinForm);
    }
    if first.as_str() == initial {
        return Err(InputError::PinInitial);
    }
    let steps: Vec<i16> = digits
        .windows(2)
        .map(|w| i16::from(w[1]) - i16::from(w[0]))
        .collect();
    if steps.iter().all(|&s| s == 0) {
        return Err(InputError::PinTrivial("one digit repeated"));
    }
    if steps.iter().all(|&s| s == 1) {
        return Err(InputError::PinTrivial("an ascending run"));
    }
    if steps.iter().all(|&s| s == -1) {
        return Err(InputError::PinTrivial("a descending run"));
    }
    Pin::from_ascii(digits).map_err(|_| InputError::PinForm)
}

/// A terminal date `YYYYMMDD` (a real calendar day).
pub fn date(value: &str) -> Result<String, InputError> {
    let value = value.trim().replace('-', "");
    if codec::encode(Encoding::Date, 4, &value).is_err() {
        return Err(InputError::Date(value));
    }
    Ok(value)
}

/// The lost/cancelled list: card numbers, one a line; `#` starts a comment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LostList(BTreeSet<String>);

impl LostList {
    pub fn parse(text: &str) -> LostList {
        LostList(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .filter(|l| !l.is_empty())
                .map(str::to_ascii_uppercase)
                .collect(),
        )
    }

    pub fn load(path: &Path) -> Result<LostList, InputError> {
        std::fs::read_to_string(path)
            .map(|t| LostList::parse(&t))
            .map_err(|source| InputError::LostList {
                path: path.display().to_string(),
                source,
            })
    }

    pub fn contains(&self, card_number: &str) -> bool {
        self.0.contains(&card_number.to_ascii_uppercase())
    }

    /// This list and more card numbers (the back office's blacklist beside the terminal's file).
    pub fn with(mut self, numbers: impl IntoIterator<Item = String>) -> LostList {
        self.0
            .extend(numbers.into_iter().map(|n| n.to_ascii_uppercase()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trivial_and_initial_pins_are_refused() {
        for (pin, why) in [
            ("123456", "initial"),
            ("111111", "repeated"),
            ("234567", "ascending"),
            ("987654", "descending"),
            ("12a456", "form"),
            ("123", "form"),
        ] {
            assert!(new_pin(pin, pin, "123456").is_err(), "{pin} ({why})");
        }
        assert!(matches!(
            new_pin("135790", "135791", "123456"),
            Err(InputError::PinsDiffer)
        ));
        assert_eq!(
            new_pin("135790", "135790", "123456").unwrap(),
            Pin::from_ascii(b"135790").unwrap()
        );
    }

    #[test]
    fn id_numbers_need_their_check_character() {
        assert!(Identity::new("11010519491231002x", "张三").is_ok());
        assert!(matches!(
            Identity::new("110105194912310021", "张三"),
            Err(InputError::IdNumber(_))
        ));
        assert!(matches!(
            Identity::new("11010519491231002X", " "),
            Err(InputError::EmptyName)
        ));
    }

    #[test]
    fn the_lost_list_ignores_comments_and_case() {
        let list = LostList::parse("# reported 2024-03-01\nt0000001x  # lost\n\nA00000019\n");
        assert!(list.contains("T0000001X"));
        assert!(list.contains("a00000019"));
        assert!(!list.contains("T0000002X"));
    }

    #[test]
    fn dates_must_be_calendar_days() {
        assert_eq!(date("2024-04-01").unwrap(), "20240401");
        assert!(date("20230231").is_err());
    }
}

//! Status words in words. The names come from card-os's `Status` (the one table of status words);
//! this module only turns a name into a phrase for people.

use crate::protocol::apdu::Status;

/// Acronyms kept upper-case when a variant name becomes words.
const ACRONYMS: &[(&str, &str)] = &[
    ("cla", "CLA"),
    ("df", "DF"),
    ("ef", "EF"),
    ("fci", "FCI"),
    ("nc", "Nc"),
    ("nvm", "NVM"),
    ("p1", "P1"),
    ("p2", "P2"),
    ("sm", "SM"),
];

/// `SecurityStatusNotSatisfied` → "security status not satisfied".
fn words_of(name: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in name.chars() {
        // A new word starts at an upper-case letter, and at a letter after digits ("P1P2").
        let boundary = c.is_ascii_uppercase()
            || (c.is_ascii_alphabetic() && current.ends_with(|d: char| d.is_ascii_digit()));
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
        .iter()
        .map(|w| {
            ACRONYMS
                .iter()
                .find(|(lower, _)| lower == w)
                .map_or(w.clone(), |(_, upper)| upper.to_string())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a status word means, as a phrase (no hex).
pub fn meaning(sw: Status) -> String {
    match sw {
        Status::Success => "success".to_string(),
        Status::BytesRemaining(0) => "256 or more bytes still available (GET RESPONSE)".to_string(),
        Status::BytesRemaining(n) => format!("{n} bytes still available (GET RESPONSE)"),
        Status::WrongLe(n) => format!("wrong Le: {n} bytes available"),
        Status::Counter(n) => format!("counter {n} (for a PIN: {n} tries left)"),
        // The social security card's one proprietary word (status-words.md).
        Status::Other(0x9303) => "application permanently locked".to_string(),
        Status::Other(_) => "proprietary status word".to_string(),
        named => words_of(&format!("{named:?}")),
    }
}

/// "6A82 file not found".
pub fn explain(sw: Status) -> String {
    format!("{sw} {}", meaning(sw))
}

/// True when the card did what was asked: 9000, or a 62xx warning that still returned the data
/// (end of file reached, ...). Everything else, including 63Cx (wrong PIN), is a refusal.
pub fn is_done(sw: Status) -> bool {
    sw == Status::Success || sw.to_bytes()[0] == 0x62
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_words_read_as_english() {
        assert_eq!(explain(Status::from_u16(0x6A82)), "6A82 file not found");
        assert_eq!(
            meaning(Status::from_u16(0x6982)),
            "security status not satisfied"
        );
        assert_eq!(meaning(Status::from_u16(0x6A86)), "incorrect P1 P2");
        assert_eq!(
            meaning(Status::from_u16(0x6A00)),
            "wrong P1 P2 no information"
        );
        assert_eq!(meaning(Status::from_u16(0x6987)), "SM data objects missing");
        assert_eq!(meaning(Status::from_u16(0x6986)), "no current EF");
    }

    #[test]
    fn parametrised_and_proprietary_words() {
        assert_eq!(
            meaning(Status::from_u16(0x63C2)),
            "counter 2 (for a PIN: 2 tries left)"
        );
        assert_eq!(
            meaning(Status::from_u16(0x6C10)),
            "wrong Le: 16 bytes available"
        );
        assert_eq!(
            explain(Status::from_u16(0x9303)),
            "9303 application permanently locked"
        );
        assert_eq!(meaning(Status::from_u16(0x9F00)), "proprietary status word");
    }

    #[test]
    fn every_status_word_has_a_phrase() {
        for sw in 0..=u16::MAX {
            let phrase = meaning(Status::from_u16(sw));
            // No Rust variant syntax leaks through ("Other(37635)", "BytesRemaining(3)").
            assert!(!phrase.is_empty(), "{sw:04X}");
            assert!(
                !phrase.chars().any(|c| c.is_ascii_digit()) || phrase.contains(' '),
                "{sw:04X}: {phrase}"
            );
            assert!(
                !phrase.contains("Other") && !phrase.contains("Remaining"),
                "{sw:04X}: {phrase}"
            );
        }
    }

    #[test]
    fn done_means_success_or_a_data_warning() {
        assert!(is_done(Status::Success));
        assert!(is_done(Status::from_u16(0x6282)));
        assert!(!is_done(Status::from_u16(0x63C1)));
        assert!(!is_done(Status::from_u16(0x6A82)));
    }
}

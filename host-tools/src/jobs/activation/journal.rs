//! The terminal's activation journal: one file per terminal, JSON lines, append-only, each line
//! synced to disk before the activation goes on (the file mechanics are [`crate::jobs::journal`]'s).
//! After a power cut it tells, with the card's own state, where an activation stopped.

use serde::{Deserialize, Serialize};

use crate::jobs::journal::JsonLines;

/// The steps an activation records, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Started,
    Resumed,
    IdentityChecked,
    Authenticated,
    PinChanged,
    Activated,
    Failed,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The card number.
    pub card: String,
    /// `<card number>-<n>`: the n-th activation attempt of this card on this terminal.
    pub attempt: String,
    pub step: Step,
    /// The date the terminal worked with (`YYYYMMDD`).
    pub date: String,
    /// Why it failed (for `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

pub use crate::jobs::journal::JournalError;

/// The activation journal: one JSON line per step ([`crate::jobs::journal::JsonLines`]).
pub type Journal = JsonLines<Entry>;

/// Where the last attempt for a card stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAttempt {
    pub attempt: String,
    /// The steps it recorded.
    pub steps: Vec<Step>,
}

impl JsonLines<Entry> {
    /// The last attempt for `card` if it neither finished nor failed.
    pub fn open_attempt(&self, card: &str) -> Option<OpenAttempt> {
        let last = self.entries().iter().rev().find(|e| e.card == card)?;
        let steps: Vec<Step> = self
            .entries()
            .iter()
            .filter(|e| e.attempt == last.attempt)
            .map(|e| e.step)
            .collect();
        if steps.contains(&Step::Activated) || steps.contains(&Step::Failed) {
            return None;
        }
        Some(OpenAttempt {
            attempt: last.attempt.clone(),
            steps,
        })
    }

    /// A new attempt id for `card`: one more than the attempts the journal knows.
    pub fn new_attempt(&self, card: &str) -> String {
        let mut seen: Vec<&str> = self
            .entries()
            .iter()
            .filter(|e| e.card == card)
            .map(|e| e.attempt.as_str())
            .collect();
        seen.dedup();
        seen.sort_unstable();
        seen.dedup();
        format!("{card}-{}", seen.len() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::io::Write;

    fn entry(attempt: &str, step: Step) -> Entry {
        Entry {
            card: "T0000001X".into(),
            attempt: attempt.into(),
            step,
            date: "20240401".into(),
            reason: None,
        }
    }

    #[test]
    fn lines_are_appended_and_read_back_and_a_torn_last_line_is_ignored() {
        let dir = crate::testdir::TestDir::new("journal");
        let path = dir.path().join("terminal.jsonl");
        let mut journal = Journal::open(&path).unwrap();
        journal.record(entry("T0000001X-1", Step::Started)).unwrap();
        journal
            .record(entry("T0000001X-1", Step::PinChanged))
            .unwrap();
        // A power cut in the middle of a line.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"card\":\"T00").unwrap();
        let mut journal = Journal::open(&path).unwrap();
        assert_eq!(journal.entries().len(), 2);
        let open = journal.open_attempt("T0000001X").unwrap();
        assert_eq!(open.steps, [Step::Started, Step::PinChanged]);
        journal
            .record(entry("T0000001X-1", Step::Activated))
            .unwrap();
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.entries().len(), 3);
        assert_eq!(journal.open_attempt("T0000001X"), None);
        assert_eq!(journal.new_attempt("T0000001X"), "T0000001X-2");
        assert_eq!(journal.new_attempt("T0000002X"), "T0000002X-1");
    }

    #[test]
    fn the_observer_is_told_each_step_once_its_line_is_on_disk() {
        let dir = crate::testdir::TestDir::new("journal-observer");
        let path = dir.path().join("terminal.jsonl");
        let mut journal = Journal::open(&path).unwrap();
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let (log, file) = (seen.clone(), path.clone());
        journal.on_record(move |entry| {
            let on_disk = Journal::open(&file).unwrap().entries().last().cloned();
            log.borrow_mut().push((entry.step, on_disk.map(|e| e.step)));
        });
        journal.record(entry("T0000001X-1", Step::Started)).unwrap();
        journal
            .record(entry("T0000001X-1", Step::PinChanged))
            .unwrap();
        assert_eq!(
            *seen.borrow(),
            [
                (Step::Started, Some(Step::Started)),
                (Step::PinChanged, Some(Step::PinChanged))
            ]
        );
    }

    #[test]
    fn a_bad_line_in_the_middle_is_reported() {
        let dir = crate::testdir::TestDir::new("journal-bad");
        let path = dir.path().join("terminal.jsonl");
        std::fs::write(&path, "not json\n{}\n").unwrap();
        assert!(matches!(
            Journal::open(&path),
            Err(JournalError::Corrupt { line: 1, .. })
        ));
    }
}

//! The terminal's activation journal: one file per terminal, JSON lines, append-only, each line
//! synced to disk before the activation goes on. After a power cut it tells, with the card's own
//! state, where an activation stopped.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("could not open the activation journal {path}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write the activation journal {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the activation journal {path} line {line} is not a journal entry")]
    Corrupt {
        path: String,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
}

/// The journal file.
pub struct Journal {
    path: PathBuf,
    entries: Vec<Entry>,
    /// Where a torn last line starts, to be cut off before the next line.
    torn: Option<u64>,
    /// Told of each line once it is on disk (see [`Journal::on_record`]).
    observer: Option<Observer>,
}

/// What [`Journal::on_record`] calls with each line.
type Observer = Box<dyn FnMut(&Entry)>;

/// Where the last attempt for a card stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAttempt {
    pub attempt: String,
    /// The steps it recorded.
    pub steps: Vec<Step>,
}

impl Journal {
    /// Opens (or creates) the journal and reads what it holds. A last line cut by a power failure
    /// (no newline at the end, not JSON) is ignored; any other bad line is an error.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let shown = path.display().to_string();
        let mut entries = Vec::new();
        let mut torn = None;
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(JournalError::Open {
                    path: shown,
                    source,
                })
            }
        };
        let mut offset = 0;
        let count = text.split_inclusive('\n').count();
        for (i, line) in text.split_inclusive('\n').enumerate() {
            let start = offset;
            offset += line.len();
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Entry>(line) {
                Ok(entry) => entries.push(entry),
                // The last line, cut by a power failure: cut off before the next line is written.
                Err(_) if i + 1 == count => torn = Some(start as u64),
                Err(source) => {
                    return Err(JournalError::Corrupt {
                        path: shown,
                        line: i + 1,
                        source,
                    })
                }
            }
        }
        Ok(Journal {
            path: path.to_path_buf(),
            entries,
            torn,
            observer: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Appends one line and syncs it to disk before returning.
    pub fn record(&mut self, entry: Entry) -> Result<(), JournalError> {
        let fail = |source| JournalError::Write {
            path: self.path.display().to_string(),
            source,
        };
        let mut line = serde_json::to_string(&entry).map_err(|e| fail(e.into()))?;
        line.push('\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(fail)?;
        if let Some(len) = self.torn {
            file.set_len(len).map_err(fail)?;
            self.torn = None;
        }
        file.write_all(line.as_bytes()).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        if let Some(observer) = self.observer.as_mut() {
            observer(&entry);
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Calls `observer` with each line once it is on disk: the activation's progress, step by
    /// step, under the journal's own step names (a terminal's display; the tests that pull the
    /// card right after a step).
    pub fn on_record(&mut self, observer: impl FnMut(&Entry) + 'static) {
        self.observer = Some(Box::new(observer));
    }

    /// The last attempt for `card` if it neither finished nor failed.
    pub fn open_attempt(&self, card: &str) -> Option<OpenAttempt> {
        let last = self.entries.iter().rev().find(|e| e.card == card)?;
        let steps: Vec<Step> = self
            .entries
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
            .entries
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

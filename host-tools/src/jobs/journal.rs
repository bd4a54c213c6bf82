//! A terminal's journal file: JSON lines, append-only, each line synced to disk before the job
//! goes on. One mechanism for every terminal job that must survive a pulled card or a power cut
//! (activation, settlement); each job names its own line type.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("could not open the journal {path}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write the journal {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the journal {path} line {line} is not a journal entry")]
    Corrupt {
        path: String,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
}

/// The journal file.
pub struct JsonLines<E> {
    path: PathBuf,
    entries: Vec<E>,
    /// Where a torn last line starts, to be cut off before the next line.
    torn: Option<u64>,
    /// The file, open for appending from the first line written on.
    file: Option<std::fs::File>,
    /// Told of each line once it is on disk (see [`Journal::on_record`]).
    observer: Option<Observer<E>>,
}

/// What [`Journal::on_record`] calls with each line.
type Observer<E> = Box<dyn FnMut(&E)>;

impl<E: Serialize + DeserializeOwned> JsonLines<E> {
    /// Opens (or creates) the journal and reads what it holds. A last line cut by a power failure
    /// (no newline at the end, not JSON) is ignored; any other bad line is an error.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
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
            match serde_json::from_str::<E>(line) {
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
        Ok(JsonLines {
            path: path.to_path_buf(),
            entries,
            torn,
            file: None,
            observer: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn entries(&self) -> &[E] {
        &self.entries
    }

    /// Appends one line and syncs it to disk before returning.
    pub fn record(&mut self, entry: E) -> Result<(), JournalError> {
        let fail = |source| JournalError::Write {
            path: self.path.display().to_string(),
            source,
        };
        let mut line = serde_json::to_string(&entry).map_err(|e| fail(e.into()))?;
        line.push('\n');
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .map_err(fail)?;
                if let Some(len) = self.torn {
                    file.set_len(len).map_err(fail)?;
                    self.torn = None;
                }
                self.file.insert(file)
            }
        };
        file.write_all(line.as_bytes()).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        if let Some(observer) = self.observer.as_mut() {
            observer(&entry);
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Calls `observer` with each line once it is on disk: a job's progress, step by step, under
    /// the journal's own step names (a terminal's display; the tests that pull the card right
    /// after a step).
    pub fn on_record(&mut self, observer: impl FnMut(&E) + 'static) {
        self.observer = Some(Box::new(observer));
    }
}

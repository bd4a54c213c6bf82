//! The suite: the vector files under suite/ (embedded in the binary, so `sscard conformance`
//! works from any directory), the crypto known answers under suite/crypto/, and the access-rule
//! vectors generated from the national layouts.

use std::path::{Path, PathBuf};

use crate::format::{parse_file, FormatError, Vector, VectorFile};
use crate::kat::{parse_kat_file, run_kats, KatFile};
use crate::limits::{MAX_SUITE_FILES, MAX_VECTOR_FILE_BYTES};
use crate::report::Report;
use crate::runner::{run_vectors, Filter, VectorResult};
use crate::target::Target;

/// The suite's files, by name. A test checks this list against the suite/ directory.
pub const VECTOR_FILES: &[(&str, &str)] = &[
    ("atr.toml", include_str!("../suite/atr.toml")),
    ("apdu.toml", include_str!("../suite/apdu.toml")),
    ("select.toml", include_str!("../suite/select.toml")),
    ("binary.toml", include_str!("../suite/binary.toml")),
    ("record.toml", include_str!("../suite/record.toml")),
    ("response.toml", include_str!("../suite/response.toml")),
    ("data.toml", include_str!("../suite/data.toml")),
    ("manage.toml", include_str!("../suite/manage.toml")),
    (
        "personalise.toml",
        include_str!("../suite/personalise.toml"),
    ),
    (
        "reader-sequences.toml",
        include_str!("../suite/reader-sequences.toml"),
    ),
    ("pin.toml", include_str!("../suite/pin.toml")),
    ("auth.toml", include_str!("../suite/auth.toml")),
    (
        "secure-messaging.toml",
        include_str!("../suite/secure-messaging.toml"),
    ),
    ("blocking.toml", include_str!("../suite/blocking.toml")),
    (
        "medical-restriction.toml",
        include_str!("../suite/medical-restriction.toml"),
    ),
    ("purse.toml", include_str!("../suite/purse.toml")),
];

/// The known-answer files.
pub const KAT_FILES: &[(&str, &str)] = &[
    (
        "crypto/aes-cmac.toml",
        include_str!("../suite/crypto/aes-cmac.toml"),
    ),
    ("crypto/sm4.toml", include_str!("../suite/crypto/sm4.toml")),
    (
        "crypto/sha256.toml",
        include_str!("../suite/crypto/sha256.toml"),
    ),
    (
        "crypto/3des-mac.toml",
        include_str!("../suite/crypto/3des-mac.toml"),
    ),
    (
        "crypto/ssc-keys.toml",
        include_str!("../suite/crypto/ssc-keys.toml"),
    ),
];

/// Why a suite could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("could not read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("vector id {id} appears in both {first} and {second}")]
    DuplicateId {
        id: String,
        first: String,
        second: String,
    },
    #[error("the access vectors could not be generated: {0}")]
    Generate(String),
    /// A file past its size limit, or not UTF-8.
    #[error(transparent)]
    Input(#[from] file_structures::input::InputError),
    #[error("{dir} holds more than {limit} vector files, the limit")]
    TooManyFiles { dir: String, limit: usize },
}

/// Vector files and known-answer files.
#[derive(Debug, Clone)]
pub struct Suite {
    pub files: Vec<VectorFile>,
    pub kats: Vec<KatFile>,
}

impl Suite {
    /// The shipped suite, with the generated access vectors.
    pub fn builtin() -> Result<Suite, SuiteError> {
        let mut files = VECTOR_FILES
            .iter()
            .map(|(name, text)| parse_file(name, text))
            .collect::<Result<Vec<_>, _>>()?;
        files.push(crate::expand::access_vectors().map_err(SuiteError::Generate)?);
        let kats = KAT_FILES
            .iter()
            .map(|(name, text)| parse_kat_file(name, text))
            .collect::<Result<Vec<_>, _>>()?;
        Suite::checked(files, kats)
    }

    /// Every `*.toml` of `dir` (vector files) and of `dir/crypto` (known answers), by name.
    pub fn load_dir(dir: &Path) -> Result<Suite, SuiteError> {
        let read = |path: &PathBuf| {
            file_structures::input::read_text_bounded(path, MAX_VECTOR_FILE_BYTES, "a vector file")
        };
        let mut files = Vec::new();
        for path in toml_files(dir)? {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            files.push(parse_file(&name.unwrap_or_default(), &read(&path)?)?);
        }
        let mut kats = Vec::new();
        let crypto = dir.join("crypto");
        if crypto.is_dir() {
            for path in toml_files(&crypto)? {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                kats.push(parse_kat_file(
                    &format!("crypto/{}", name.unwrap_or_default()),
                    &read(&path)?,
                )?);
            }
        }
        Suite::checked(files, kats)
    }

    fn checked(files: Vec<VectorFile>, kats: Vec<KatFile>) -> Result<Suite, SuiteError> {
        let mut seen: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
        let ids = files
            .iter()
            .flat_map(|f| {
                f.vectors
                    .iter()
                    .map(move |v| (v.id.as_str(), f.name.as_str()))
            })
            .chain(
                kats.iter()
                    .flat_map(|f| f.kats.iter().map(move |k| (k.id.as_str(), f.name.as_str()))),
            );
        for (id, file) in ids {
            if let Some(first) = seen.insert(id, file) {
                return Err(SuiteError::DuplicateId {
                    id: id.into(),
                    first: first.into(),
                    second: file.into(),
                });
            }
        }
        Ok(Suite { files, kats })
    }

    pub fn vectors(&self) -> impl Iterator<Item = &Vector> {
        self.files.iter().flat_map(|f| f.vectors.iter())
    }

    /// How many vectors and known answers `filter` selects (for a progress bar).
    pub fn count(&self, filter: &Filter) -> usize {
        self.vectors().filter(|v| filter.matches(v)).count()
            + self
                .kats
                .iter()
                .flat_map(|f| f.kats.iter().map(move |k| (f, k)))
                .filter(|(f, k)| filter.matches_id(&k.id, &f.name))
                .count()
    }

    /// Runs the known answers, then every selected vector against `target`.
    pub fn run(
        &self,
        target: &mut dyn Target,
        filter: &Filter,
        progress: &mut dyn FnMut(&VectorResult),
    ) -> Report {
        let mut results = run_kats(&self.kats, filter);
        results.iter().for_each(&mut *progress);
        results.extend(run_vectors(self.vectors(), target, filter, progress));
        Report::new(target.name(), results)
    }
}

fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, SuiteError> {
    let entries = std::fs::read_dir(dir).map_err(|source| SuiteError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .take(MAX_SUITE_FILES + 1)
        .collect();
    if paths.len() > MAX_SUITE_FILES {
        return Err(SuiteError::TooManyFiles {
            dir: dir.display().to_string(),
            limit: MAX_SUITE_FILES,
        });
    }
    paths.sort();
    Ok(paths)
}

//! Layouts as data: the national layout (embedded) and local extensions, loaded from TOML,
//! validated with every problem named by file and line.

mod access;
mod build;
mod diff;
mod model;
mod render;
mod source;

pub use access::{AccessRule, AccessRuleError, AccessRules, Condition};
pub use build::{MAX_FIELD_LEN, MAX_TRANSPARENT_SIZE};
pub use diff::{diff, diff_text, Change};
pub use model::{
    algorithm_name, ef_path, Clash, Df, Ef, Field, FieldRef, KeySpec, KeyUsage, Layer, Layout,
    Origin, PinPolicy, PurseSpec, ReadMode, ReadPlan, Structure, PURSE_BALANCE_FIELD,
};
pub use render::render_tree;
pub use source::{
    Problem, Source, MAX_LAYOUT_BYTES, MAX_LAYOUT_DFS, MAX_LAYOUT_EFS, MAX_LAYOUT_FIELDS_PER_EF,
    MAX_LAYOUT_KEYS,
};

use std::path::{Path, PathBuf};

/// The national layout file, as shipped.
pub const NATIONAL_TOML: &str = include_str!("../../layouts/national.toml");
/// The name problems in the national layout are reported under.
pub const NATIONAL_FILE: &str = "layouts/national.toml";
/// The national versions the embedded layout defines.
pub const NATIONAL_VERSIONS: [&str; 2] = ["2.0", "3.0"];

/// Why a layout could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("cannot read the layout file: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: crate::input::InputError,
    },
    #[error("{} has {} problem(s); the first: {}", .file, .problems.len(), .problems.first().map(|p| p.to_string()).unwrap_or_default())]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
}

impl LayoutError {
    /// Every problem found (empty for a read error).
    pub fn problems(&self) -> &[Problem] {
        match self {
            LayoutError::Invalid { problems, .. } => problems,
            LayoutError::Read { .. } => &[],
        }
    }
}

fn national_source() -> Source {
    Source::new(NATIONAL_FILE, NATIONAL_TOML)
}

/// The national layout of `version` ("2.0" or "3.0").
pub fn national(version: &str) -> Result<Layout, LayoutError> {
    build::assemble(&national_source(), None, Some(version)).map_err(|problems| {
        LayoutError::Invalid {
            file: NATIONAL_FILE.into(),
            problems,
        }
    })
}

/// The national layout extended by the extension in `text` (shown in problems as `name`).
pub fn extended(name: &str, text: &str) -> Result<Layout, LayoutError> {
    let extension = Source::new(name, text);
    build::assemble(&national_source(), Some(&extension), None).map_err(|problems| {
        LayoutError::Invalid {
            file: name.into(),
            problems,
        }
    })
}

/// A layout file from disk: an extension, or (kind = "national") a national layout of `version`.
pub fn load(path: &Path, version: Option<&str>) -> Result<Layout, LayoutError> {
    let text = crate::input::read_text_bounded(path, MAX_LAYOUT_BYTES, "a layout file").map_err(
        |source| LayoutError::Read {
            path: path.to_owned(),
            source,
        },
    )?;
    load_str(&path.display().to_string(), &text, version)
}

/// As [`load`], from text.
pub fn load_str(name: &str, text: &str, version: Option<&str>) -> Result<Layout, LayoutError> {
    let source = Source::new(name, text);
    let is_national = source
        .parse()
        .is_ok_and(|raw| raw.layout.kind.get_ref() == "national");
    let result = if is_national {
        build::assemble(&source, None, version.or(Some("3.0")))
    } else {
        build::assemble(&national_source(), Some(&source), version)
    };
    result.map_err(|problems| LayoutError::Invalid {
        file: name.into(),
        problems,
    })
}

/// Every problem of a layout file's text: empty when it is valid.
pub fn validate_str(name: &str, text: &str, version: Option<&str>) -> Vec<Problem> {
    match load_str(name, text, version) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems().to_vec(),
    }
}

//! `sscard layout validate|show|diff`: thin wrappers over file-structures' layout functions.

use std::path::PathBuf;

use serde_json::json;

use file_structures::layout::{self, diff, diff_text, render_tree, validate_str, Layout};
use host_tools::screen::escape;

use super::inputs::read_text;
use super::{CliError, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum LayoutCommand {
    /// Check layout files: every problem of every file, as FILE:LINE: rule.
    Validate {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Show a layout as a tree (default: the national layout).
    Show {
        file: Option<PathBuf>,
        /// The national version.
        #[arg(long, value_parser = layout::NATIONAL_VERSIONS)]
        version: Option<String>,
    },
    /// What differs between two layouts. Each is a file, or national:2.0 / national:3.0.
    Diff {
        #[arg(value_name = "A")]
        from: String,
        #[arg(value_name = "B")]
        to: String,
    },
}

/// "national:2.0" names the embedded national layout; anything else is a file.
fn load_named(name: &str) -> Result<Layout, CliError> {
    match name.strip_prefix("national:") {
        Some(version) if layout::NATIONAL_VERSIONS.contains(&version) => {
            Ok(layout::national(version)?)
        }
        Some(version) => Err(CliError::Usage(format!(
            "national:{version}: the national versions are {}",
            layout::NATIONAL_VERSIONS.join(" and ")
        ))),
        None => Ok(layout::load(name.as_ref(), None)?),
    }
}

pub fn run(command: &LayoutCommand) -> Result<Outcome, CliError> {
    match command {
        LayoutCommand::Validate { files } => validate(files),
        LayoutCommand::Show { file, version } => {
            let layout = match file {
                Some(path) => layout::load(path, version.as_deref())?,
                None => layout::national(version.as_deref().unwrap_or("3.0"))?,
            };
            Ok(Outcome::new(
                render_tree(&layout),
                json!({ "name": layout.name, "version": layout.version, "read_plan": layout.read_plan() }),
            ))
        }
        LayoutCommand::Diff { from, to } => {
            let (a, b) = (load_named(from)?, load_named(to)?);
            Ok(Outcome::new(
                diff_text(&a, &b),
                json!({ "from": a.name, "to": b.name, "changes": diff(&a, &b) }),
            ))
        }
    }
}

fn validate(files: &[PathBuf]) -> Result<Outcome, CliError> {
    let mut text = String::new();
    let mut results = Vec::new();
    let mut invalid = 0;
    for path in files {
        let name = path.display().to_string();
        let problems = validate_str(&name, &read_text(path)?, None);
        if problems.is_empty() {
            text.push_str(&format!("{}: valid\n", escape(&name)));
        } else {
            invalid += 1;
            for p in &problems {
                text.push_str(&format!("{}\n", escape(&p.to_string())));
            }
        }
        results.push(json!({ "file": name, "valid": problems.is_empty(), "problems": problems }));
    }
    let mut outcome = Outcome::new(text, json!({ "files": results }));
    if invalid > 0 {
        outcome.failure = Some(CliError::LayoutsInvalid {
            invalid,
            total: files.len(),
        });
    }
    Ok(outcome)
}

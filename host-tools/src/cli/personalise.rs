//! `sscard personalise`: a batch of cardholder records into card images and/or APDU scripts,
//! all or nothing unless --allow-partial. The whole batch is checked, and every file it would
//! write is checked to be new (unless --force), before the first card is written.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use file_structures::codec::Encoding;
use file_structures::layout::Layout;
use file_structures::personalise::{
    check_batch, format_params, make_batch, run_script, BatchError, CardOutput, CardRecord,
    CardStorage, Output, Progress,
};
use host_tools::screen::escape;
use host_tools::transport::image;

use super::inputs::{keys_label, read_batch, EncodingArg, KeyArgs, LayoutArgs};
use super::{progress, CliError, Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct PersonaliseArgs {
    #[command(flatten)]
    pub layout: LayoutArgs,
    /// Cardholder records: .csv (header row of field ids), .jsonl or .json.
    #[arg(long, value_name = "FILE")]
    pub records: PathBuf,
    /// The directory the cards are written to (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Make the good records' cards even when some records are bad.
    #[arg(long)]
    pub allow_partial: bool,
    /// Write each card's plain-text APDU script (NAME.apdu) instead of its card image.
    #[arg(long)]
    pub script: bool,
    /// With --script: write the card images (NAME.card) too.
    #[arg(long, requires = "script")]
    pub image: bool,
    /// Replace card files that exist already in the output directory (default: refuse the batch).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub encoding: EncodingArg,
}

impl PersonaliseArgs {
    /// Every file the card of `record` is written to.
    fn paths(&self, layout: &Layout, record: &CardRecord) -> Vec<PathBuf> {
        let stem = card_stem(layout, record);
        let card = self.out.join(format!("{stem}.card"));
        match (self.script, self.image) {
            (false, _) => vec![card],
            (true, false) => vec![self.out.join(format!("{stem}.apdu"))],
            (true, true) => vec![self.out.join(format!("{stem}.apdu")), card],
        }
    }
}

/// Refuses a batch that would write a file twice, or (without `force`) over one that exists.
fn check_outputs(
    args: &PersonaliseArgs,
    layout: &Layout,
    records: &[CardRecord],
) -> Result<(), CliError> {
    let mut planned = std::collections::HashSet::new();
    let mut existing = Vec::new();
    for record in records {
        for path in args.paths(layout, record) {
            if !planned.insert(path.clone()) {
                // Two records with one file name: the duplicate check covers card numbers, so
                // this is a record without one whose label sanitises like another's.
                return Err(CliError::Usage(format!(
                    "two records would both be written to {}",
                    path.display()
                )));
            }
            if !args.force && path.symlink_metadata().is_ok() {
                existing.push(path.display().to_string());
            }
        }
    }
    if existing.is_empty() {
        Ok(())
    } else {
        Err(CliError::OutputExists { paths: existing })
    }
}

/// The file name stem of a card: its card number, else its record label.
fn card_stem(layout: &Layout, record: &CardRecord) -> String {
    let number = layout
        .fields()
        .find(|f| f.field.encoding == Encoding::CardNumber)
        .and_then(|f| record.values.get(&f.field.id));
    let stem = number.cloned().unwrap_or_else(|| record.label.clone());
    stem.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes a script readable by its owner only: it holds the card's keys. Without `force` the file
/// must be new: created exclusively, so one that appeared since the check is not replaced.
fn write_private(path: &Path, text: &str, force: bool) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    if force {
        options.write(true).create(true).truncate(true);
    } else {
        options.write(true).create_new(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// A card file that appeared after the batch was checked is not replaced without --force.
fn refuse_if_new_file_appeared(args: &PersonaliseArgs, path: &Path) -> std::io::Result<()> {
    if !args.force && path.symlink_metadata().is_ok() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!(
                "{} appeared during the batch and --force was not given",
                path.display()
            ),
        ));
    }
    Ok(())
}

fn to_io(e: host_tools::transport::TransportError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

pub fn run(global: &Global, args: &PersonaliseArgs) -> Result<Outcome, CliError> {
    let layout = args.layout.load(None)?;
    let keys = args
        .keys
        .load(true)?
        .ok_or_else(|| CliError::Usage("no issuer keys".into()))?;
    let read = read_batch(&args.records, args.encoding.encoding)?;
    let records = read.records;
    let total = records.len();
    let output = if args.script {
        Output::Script
    } else {
        Output::Image
    };
    let bar = progress::bar(total, "checking", global.json);
    let mut written: Vec<serde_json::Value> = Vec::new();
    let mut on_progress = |p| match p {
        Progress::Checked { done, .. } => bar.set_position(done as u64),
        Progress::Made { done, total } => {
            if done == 1 {
                bar.set_message("personalising");
                bar.set_length(total as u64);
            }
            bar.set_position(done as u64);
        }
    };
    let checked = check_batch(&layout, records, args.allow_partial, &mut on_progress);
    if let Ok(batch) = &checked {
        if let Err(e) = check_outputs(args, &layout, batch.records()) {
            bar.finish_and_clear();
            return Err(e);
        }
    }
    let result = checked.and_then(|batch| {
        make_batch(
            &layout,
            batch,
            &keys.keys,
            output,
            &mut on_progress,
            &mut |record, output| {
                // Created only when a card is made: a refused batch leaves nothing behind.
                fs::create_dir_all(&args.out)?;
                let stem = card_stem(&layout, record);
                let mut files = Vec::new();
                match output {
                    CardOutput::Image(card) => {
                        let path = args.out.join(format!("{stem}.card"));
                        refuse_if_new_file_appeared(args, &path)?;
                        image::save(&path, &card.bytes).map_err(to_io)?;
                        files.push(path);
                    }
                    CardOutput::Script(script) => {
                        let path = args.out.join(format!("{stem}.apdu"));
                        write_private(&path, &script.to_text(), args.force)?;
                        files.push(path);
                        if args.image {
                            let mut storage = Box::new(CardStorage::new());
                            let params = format_params(&layout, &script.card_id_code);
                            run_script(&mut *storage, &params, &script)
                                .map_err(|e| std::io::Error::other(e.to_string()))?;
                            let path = args.out.join(format!("{stem}.card"));
                            refuse_if_new_file_appeared(args, &path)?;
                            image::save(&path, storage.as_bytes()).map_err(to_io)?;
                            files.push(path);
                        }
                    }
                }
                written.push(json!({
                    "record": record.label,
                    "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
                }));
                Ok(())
            },
        )
    });
    bar.finish_and_clear();
    let (report, failure) = match result {
        Ok(report) => (report.failed, None),
        Err(BatchError::Rejected {
            total,
            bad_records,
            failed,
        }) => {
            let listed = failed.clone();
            (
                listed,
                Some(CliError::Batch(BatchError::Rejected {
                    total,
                    bad_records,
                    failed,
                })),
            )
        }
        Err(e) => return Err(e.into()),
    };
    let mut text = read
        .note
        .as_ref()
        .map(|note| format!("note: {}\n", escape(note)))
        .unwrap_or_default();
    text += &format!(
        "{} card(s) written to {} from {total} record(s) ({})\n",
        written.len(),
        escape(&args.out.display().to_string()),
        keys_label(&keys)
    );
    for card in &written {
        let files = card["files"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter_map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        text.push_str(&format!(
            "  {}: {}\n",
            escape(card["record"].as_str().unwrap_or_default()),
            escape(&files)
        ));
    }
    if !report.is_empty() {
        text.push_str(&format!("{} problem(s) in the records:\n", report.len()));
        for e in &report {
            let field = e
                .field
                .as_ref()
                .map(|f| format!(":{f}"))
                .unwrap_or_default();
            text.push_str(&format!(
                "  {}: {}\n",
                escape(&format!("{}{field}", e.record)),
                escape(&e.rule)
            ));
        }
    }
    let mut outcome = Outcome::new(
        text,
        json!({
            "written": written,
            "rejected": report,
            "records": total,
            "encoding": read.encoding.name(),
            "test_keys": keys.test_only,
        }),
    );
    outcome.failure = failure;
    Ok(outcome)
}

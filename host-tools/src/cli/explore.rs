//! `sscard explore [PATH]`: the layout's files on the card, with FCP facts and decoded records.

use std::fmt::Write;

use serde_json::json;

use host_tools::card::explore::{explore, DfReport, EfReport};
use host_tools::card::info::version_from_atr;
use host_tools::protocol::fcp::FileFacts;
use host_tools::screen::escape;

use super::inputs::LayoutArgs;
use super::{connect, CliError, Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct ExploreArgs {
    /// Only this DF ("SSSE") or EF ("SSSE/EF06").
    pub path: Option<String>,
    #[command(flatten)]
    pub layout: LayoutArgs,
}

fn facts_line(facts: &FileFacts) -> String {
    let mut parts = Vec::new();
    if let Some(fid) = &facts.fid {
        parts.push(format!("FID {fid}"));
    }
    parts.push(facts.structure.clone());
    if let Some(sfi) = facts.sfi {
        parts.push(format!("SFI {sfi}"));
    }
    match (facts.record_slots, facts.max_record_len, facts.size) {
        (Some(n), Some(len), _) => parts.push(format!("{n} records of up to {len} bytes")),
        (_, _, Some(size)) => parts.push(format!("{size} bytes")),
        _ => {}
    }
    if let Some(name) = &facts.df_name {
        parts.push(format!("name {name}"));
    }
    if let Some(state) = &facts.life_cycle {
        parts.push(state.clone());
    }
    escape(&parts.join(", ")).into_owned()
}

fn access_line(facts: &FileFacts) -> Option<String> {
    let access = facts.access.as_ref()?;
    let words = access
        .iter()
        .map(|a| format!("{} {}", a.operation, a.words))
        .collect::<Vec<_>>()
        .join("; ");
    Some(escape(&words).into_owned())
}

fn ef_text(ef: &EfReport, out: &mut String) {
    let _ = writeln!(
        out,
        "  EF {} {} {}",
        escape(&ef.path),
        escape(&ef.zh),
        escape(&ef.en)
    );
    if let Some(facts) = &ef.facts {
        let _ = writeln!(out, "     {}", facts_line(facts));
        if let Some(access) = access_line(facts) {
            let _ = writeln!(out, "     access: {access}");
        }
    }
    let rows: Vec<Vec<String>> = ef
        .records
        .iter()
        .map(|r| {
            let value = match (&r.value, &r.problem) {
                (Some(v), _) => v.clone(),
                (None, Some(p)) => format!("({p})"),
                (None, None) => "(empty)".into(),
            };
            vec![
                format!("rec {}", r.number),
                format!("tag {}", r.tag.as_deref().unwrap_or("--")),
                r.zh.clone().unwrap_or_default(),
                r.en.clone().unwrap_or_default(),
                value,
                hex_preview(&r.raw),
            ]
        })
        .collect();
    out.push_str(&super::table::render(&rows, "     "));
    if let Some(data) = &ef.data {
        let zero = data.bytes().all(|b| b == b'0');
        let preview: String = escape(data).chars().take(32).collect();
        let _ = writeln!(
            out,
            "     {} bytes read{}: {preview}{}",
            data.len() / 2,
            if zero { ", all zero" } else { "" },
            if data.len() > 32 { "…" } else { "" }
        );
    }
    if let Some(why) = &ef.unread {
        let _ = writeln!(out, "     not read: {}", escape(why));
    }
}

pub fn text(reports: &[DfReport]) -> String {
    let mut out = String::new();
    for df in reports {
        let _ = writeln!(
            out,
            "DF {} {} {}",
            escape(&df.name),
            escape(&df.zh),
            escape(&df.en)
        );
        match &df.facts {
            Some(facts) => {
                let _ = writeln!(out, "   {}", facts_line(facts));
                if let Some(access) = access_line(facts) {
                    let _ = writeln!(out, "   access: {access}");
                }
            }
            None => {
                let _ = writeln!(out, "   not selected: {}", escape(&df.select));
            }
        }
        for ef in &df.efs {
            ef_text(ef, &mut out);
        }
    }
    out
}

pub fn run(global: &Global, args: &ExploreArgs) -> Result<Outcome, CliError> {
    let mut client = connect::open(global)?;
    let layout = args.layout.load(version_from_atr(&client.atr()))?;
    let reports = explore(&mut client, &layout, args.path.as_deref())?;
    Ok(Outcome::new(
        format!(
            "{} — {}\n{}",
            escape(&layout.name),
            escape(&client.transport().name()),
            text(&reports)
        ),
        json!({ "layout": layout.name, "reader": client.transport().name(), "dfs": reports }),
    ))
}

/// The most record bytes shown in hex on a line; `--json` has them all.
const RAW_PREVIEW_BYTES: usize = 64;

/// A record's hex, cut to [`RAW_PREVIEW_BYTES`] with its length after: a card answering 64 KiB to
/// every READ RECORD must not print megabytes.
fn hex_preview(raw: &str) -> String {
    match raw.get(..RAW_PREVIEW_BYTES * 2) {
        Some(shown) if raw.len() > shown.len() => {
            format!("{shown}… ({} bytes)", raw.len() / 2)
        }
        _ => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_records_are_cut_in_text_with_their_length() {
        assert_eq!(hex_preview("0102"), "0102");
        let exact = "AB".repeat(RAW_PREVIEW_BYTES);
        assert_eq!(hex_preview(&exact), exact);
        let long = "CD".repeat(65_533);
        let shown = hex_preview(&long);
        assert!(shown.starts_with(&"CD".repeat(RAW_PREVIEW_BYTES)));
        assert!(shown.ends_with("… (65533 bytes)"), "{shown}");
        assert!(shown.len() < 200);
    }
}

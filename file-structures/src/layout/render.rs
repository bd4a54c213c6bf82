//! A layout as a tree of text, for a person reviewing it (`sscard layout show`).

use std::fmt::Write;

use super::model::{algorithm_name, Df, Layout, Structure};

/// The whole layout: DFs with their keys, EFs with access rules and fields.
pub fn render_tree(layout: &Layout) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} ({})", layout.name, layout.description);
    let _ = writeln!(
        out,
        "PIN in {}: {} tries, initial PIN of {} digits",
        layout.pin.df,
        layout.pin.tries,
        layout.pin.initial.len()
    );
    let _ = writeln!(out, "MF 3F00");
    render_children(layout, None, "", &mut out);
    out
}

fn render_children(layout: &Layout, parent: Option<&str>, indent: &str, out: &mut String) {
    let children: Vec<&Df> = layout
        .dfs
        .iter()
        .filter(|d| d.parent.as_deref() == parent)
        .collect();
    for (i, df) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let (branch, next) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        let inner = format!("{indent}{next}");
        let name = match std::str::from_utf8(&df.df_name) {
            Ok(text) if text.bytes().all(|b| b.is_ascii_graphic()) => format!("\"{text}\""),
            _ => match encoding_rs::GBK
                .decode_without_bom_handling_and_without_replacement(&df.df_name)
            {
                Some(text) if df.df_name.iter().take(3).all(|b| b.is_ascii_graphic()) => {
                    format!("\"{text}\"")
                }
                _ => hex::encode_upper(&df.df_name),
            },
        };
        let _ = writeln!(
            out,
            "{indent}{branch}DF {} FID {:04X} name {name} {} {} [{}] ({})",
            df.name,
            df.fid,
            df.zh,
            df.en,
            algorithm_name(df.algorithm),
            df.origin
        );
        for key in &df.keys {
            let _ = writeln!(
                out,
                "{inner}key {:02X} {} {} limit {}: {}",
                key.id,
                key.usage.name(),
                algorithm_name(key.algorithm),
                key.error_limit,
                key.purpose
            );
        }
        for ef in &df.efs {
            let shape = match ef.structure {
                Structure::Transparent { size } => format!("transparent {size} bytes"),
                Structure::LinearVariable { records, max_len } => {
                    format!("linear-variable {records} records of up to {max_len} bytes")
                }
                Structure::Cyclic {
                    records,
                    record_len,
                } => format!("cyclic {records} records of {record_len} bytes"),
            };
            let sfi = ef.sfi.map_or("no SFI".to_owned(), |s| format!("SFI {s}"));
            let rules: Vec<String> = ef
                .access
                .named()
                .iter()
                .map(|(n, r)| format!("{n} {r}"))
                .collect();
            let _ = writeln!(
                out,
                "{inner}EF {:04X} {sfi} {shape} {} {} ({})",
                ef.fid, ef.zh, ef.en, ef.origin
            );
            let _ = writeln!(
                out,
                "{inner}   access: {} = 86 {}",
                rules.join(", "),
                hex::encode_upper(ef.access.to_bytes())
            );
            for f in &ef.fields {
                let presence = if f.mandatory { "mandatory" } else { "optional" };
                let default = f
                    .default
                    .as_ref()
                    .map(|d| format!(" default {d:?}"))
                    .unwrap_or_default();
                let _ = writeln!(out, "{inner}   rec {:>2} tag {:02X} {:<24} {:<12} {:>3} {presence:<9} {} {}{default}", f.rec, f.tag, f.id, f.encoding.name(), f.len, f.zh, f.en);
            }
            if let (Some(first), Some(last)) = (ef.reserved_tags.first(), ef.reserved_tags.last()) {
                let _ = writeln!(out, "{inner}   tags {first:02X}..{last:02X} reserved (field definitions not public)");
            }
        }
        render_children(layout, Some(&df.name), &inner, out);
    }
}

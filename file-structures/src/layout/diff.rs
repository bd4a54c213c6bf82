//! What differs between two layouts (`sscard layout diff`), e.g. 2.0 and 3.0, or national and
//! a region's extension.

use std::fmt;

use super::model::{algorithm_name, ef_path, Layout};

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum Change {
    Added {
        what: String,
    },
    Removed {
        what: String,
    },
    Changed {
        what: String,
        from: String,
        to: String,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Added { what } => write!(f, "+ {what}"),
            Change::Removed { what } => write!(f, "- {what}"),
            Change::Changed { what, from, to } => write!(f, "~ {what}: {from} -> {to}"),
        }
    }
}

/// Every item of a layout as (key, description), in a stable order.
fn items(layout: &Layout) -> Vec<(String, String)> {
    let mut items = vec![(
        "PIN".to_owned(),
        format!("in {}, {} tries", layout.pin.df, layout.pin.tries),
    )];
    for df in &layout.dfs {
        let name = format!("DF {}", df.name);
        items.push((
            name.clone(),
            format!(
                "FID {:04X} name {} parent {}",
                df.fid,
                hex::encode_upper(&df.df_name),
                df.parent.as_deref().unwrap_or("MF")
            ),
        ));
        items.push((format!("{name} access"), access_text(&df.access)));
        for k in &df.keys {
            items.push((
                format!("{name} key {:02X}", k.id),
                format!(
                    "{} {} limit {}",
                    k.usage.name(),
                    algorithm_name(k.algorithm),
                    k.error_limit
                ),
            ));
        }
        for ef in &df.efs {
            let path = format!("EF {}", ef_path(df, ef));
            items.push((
                path.clone(),
                format!("{} SFI {:?} {:?}", ef.zh, ef.sfi, ef.structure),
            ));
            items.push((format!("{path} access"), access_text(&ef.access)));
            for fd in &ef.fields {
                let desc = format!(
                    "rec {} {} {} {} {}{}",
                    fd.rec,
                    fd.id,
                    fd.encoding,
                    fd.len,
                    if fd.mandatory {
                        "mandatory"
                    } else {
                        "optional"
                    },
                    fd.default
                        .as_ref()
                        .map(|d| format!(" default {d:?}"))
                        .unwrap_or_default()
                );
                items.push((format!("{path} tag {:02X}", fd.tag), desc));
            }
        }
    }
    items
}

fn access_text(access: &super::AccessRules) -> String {
    access
        .named()
        .iter()
        .map(|(n, r)| format!("{n} {r}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The differences from `old` to `new`.
pub fn diff(old: &Layout, new: &Layout) -> Vec<Change> {
    let old_items = items(old);
    let new_items = items(new);
    let mut changes = Vec::new();
    for (key, desc) in &old_items {
        match new_items.iter().find(|(k, _)| k == key) {
            None => changes.push(Change::Removed {
                what: format!("{key} ({desc})"),
            }),
            Some((_, d)) if d != desc => changes.push(Change::Changed {
                what: key.clone(),
                from: desc.clone(),
                to: d.clone(),
            }),
            Some(_) => {}
        }
    }
    for (key, desc) in &new_items {
        if !old_items.iter().any(|(k, _)| k == key) {
            changes.push(Change::Added {
                what: format!("{key} ({desc})"),
            });
        }
    }
    changes
}

/// The differences as text, one per line, headed by the two layouts' names.
pub fn diff_text(old: &Layout, new: &Layout) -> String {
    let mut text = format!("--- {}\n+++ {}\n", old.name, new.name);
    for change in diff(old, new) {
        text.push_str(&change.to_string());
        text.push('\n');
    }
    text
}

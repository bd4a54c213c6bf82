//! National versions: which one a build is of, and the defaults and access rules it changes.

use super::Builder;
use crate::codec;
use crate::layout::model::ef_path;
use crate::layout::source::{Problem, RawFile, RawVersion, Source};

impl Builder<'_> {
    pub(super) fn version_overrides(&mut self, src: &Source, version: &RawVersion) {
        for (id, value) in &version.defaults {
            let found = self
                .dfs
                .iter_mut()
                .flat_map(|d| d.efs.iter_mut())
                .flat_map(|e| e.fields.iter_mut())
                .find(|f| f.id == *id);
            let Some(field) = found else {
                self.report(
                    src,
                    value.span(),
                    format!(
                        "version {} sets a default for {id:?}, which is no field",
                        self.version
                    ),
                );
                continue;
            };
            match codec::encode(field.encoding, usize::from(field.len), value.get_ref()) {
                Ok(_) => field.default = Some(value.get_ref().clone()),
                Err(e) => {
                    let message = format!(
                        "default {:?} for {id} is not a valid {} of {} bytes: {e}",
                        value.get_ref(),
                        field.encoding,
                        field.len
                    );
                    self.report(src, value.span(), message);
                }
            }
        }
        for o in &version.access {
            let o = o.get_ref();
            let path = o.file.get_ref();
            let target = self.dfs.iter().enumerate().find_map(|(d, df)| {
                df.efs
                    .iter()
                    .position(|ef| ef_path(df, ef) == *path)
                    .map(|e| (d, e))
            });
            let Some((d, e)) = target else {
                self.report(
                    src,
                    o.file.span(),
                    format!(
                        "version {} changes the access of {path:?}, which is no EF",
                        self.version
                    ),
                );
                continue;
            };
            let current = self.dfs[d].efs[e].access;
            let update_given = o.update.is_some();
            if let Some(mut rules) = self.rules(
                src,
                o.read.as_ref(),
                o.update.as_ref(),
                o.append.as_ref(),
                o.admin.as_ref(),
                current,
            ) {
                if o.append.is_none() && !update_given {
                    rules.append = current.append;
                }
                self.dfs[d].efs[e].access = rules;
            }
        }
    }
}

/// The version a build is of (the extension's `version`, else the one asked for) and the national
/// file's definition of it; else the one problem that stops the build.
pub(super) fn choose<'n>(
    national: &Source,
    nat: &'n RawFile,
    extension: Option<&Source>,
    ext: Option<&RawFile>,
    asked: Option<&str>,
) -> Result<(String, &'n RawVersion), Problem> {
    let named = ext.and_then(|e| e.layout.version.as_ref());
    let version = match (named, asked) {
        (Some(v), _) => v.get_ref().clone(),
        (None, Some(v)) => v.to_owned(),
        (None, None) => {
            let src = extension.unwrap_or(national);
            return Err(src.problem(0..0, "the layout names no national version: add version = \"3.0\" (or \"2.0\") to [layout]"));
        }
    };
    if let Some(raw) = nat
        .version
        .iter()
        .find(|v| *v.get_ref().name.get_ref() == version)
    {
        return Ok((version, raw.get_ref()));
    }
    let known: Vec<_> = nat
        .version
        .iter()
        .map(|v| v.get_ref().name.get_ref().as_str())
        .collect();
    let (src, span) = match named {
        Some(v) => (extension.unwrap_or(national), v.span()),
        None => (national, 0..0),
    };
    Err(src.problem(
        span,
        format!(
            "version {version:?} is not a national version (known: {})",
            known.join(", ")
        ),
    ))
}

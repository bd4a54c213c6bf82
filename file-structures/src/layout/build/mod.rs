//! From layout files to a [`Layout`]: every value is checked and every broken rule becomes a
//! [`Problem`] naming file and line; all problems are collected, none stops the others.
//!
//! What a local extension may do (the national layout decides, there being no official reserved
//! range): add DFs, add EFs to national DFs or its own, add keys with free ids, and change the
//! settings the national file declares. It may not redefine a national DF, EF or key, reuse a
//! national FID, SFI or DF name in the same scope, or use a tag the national layout claims anywhere.

//!
//! The work is split by concern: [`values`] reads single values (hex, numbers, names, access
//! rules), [`tree`] places DFs and EFs and reports clashes, [`records`] reads an EF's contents,
//! [`keys`] the keys and the PIN, [`purse`] the medical purse, [`versions`] picks the national version and applies its changes.

mod keys;
mod purse;
mod records;
mod tree;
mod values;
mod versions;

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use card_os::crypto::Algorithm;

use super::model::{Clash, Df, Layer, Layout, Origin};
use super::source::{Problem, RawFile, Source};

/// Largest field value: a record is `tag len value` and must fit a short READ RECORD answer.
pub const MAX_FIELD_LEN: i64 = 253;
/// Largest transparent file: READ BINARY offsets are 15 bits.
pub const MAX_TRANSPARENT_SIZE: i64 = 0x7FFF;
/// FIDs an application file may not take.
const RESERVED_FIDS: [u16; 3] = [0x3F00, 0x3FFF, 0xFFFF];

/// A setting's value and where it was written.
struct Setting {
    value: toml::Value,
    origin: Origin,
}

struct Builder<'a> {
    problems: Vec<Problem>,
    settings: BTreeMap<String, Setting>,
    algorithm: Algorithm,
    version: String,
    national: &'a Source,
    dfs: Vec<Df>,
    field_ids: HashMap<String, Origin>,
    /// Tags the national layout claims, with the field (or EF) that claims them and where.
    national_tags: HashMap<u8, (String, Origin)>,
}

/// Builds the layout of `version` from the national file and an optional extension.
pub(crate) fn assemble(
    national: &Source,
    extension: Option<&Source>,
    version: Option<&str>,
) -> Result<Layout, Vec<Problem>> {
    let nat = national.parse().map_err(|p| vec![p])?;
    let ext = match extension.map(|s| s.parse()) {
        Some(Ok(raw)) => Some(raw),
        Some(Err(p)) => return Err(vec![p]),
        None => None,
    };
    let mut problems = Vec::new();
    check_header(national, &nat, "national", &mut problems);
    if let (Some(src), Some(raw)) = (extension, &ext) {
        check_header(src, raw, "extension", &mut problems);
    }
    let (version, raw_version) =
        match versions::choose(national, &nat, extension, ext.as_ref(), version) {
            Ok(chosen) => chosen,
            Err(problem) => {
                problems.push(problem);
                return Err(problems);
            }
        };

    let mut b = Builder {
        problems,
        settings: BTreeMap::new(),
        algorithm: Algorithm::Des3,
        version: version.clone(),
        national,
        dfs: Vec::new(),
        field_ids: HashMap::new(),
        national_tags: HashMap::new(),
    };
    if let Some(alg) = b.algorithm(national, &raw_version.algorithm) {
        b.algorithm = alg;
    }
    b.settings(national, &nat, false);
    if let (Some(src), Some(raw)) = (extension, &ext) {
        b.settings(src, raw, true);
        b.extension_may_not_define(src, raw);
    }

    // National items first, so that an extension's clash is reported against the national one.
    let mut sources: Vec<(&Source, &RawFile)> = vec![(national, &nat)];
    if let (Some(src), Some(raw)) = (extension, &ext) {
        sources.push((src, raw));
    }
    for &(src, raw) in &sources {
        for df in &raw.df {
            b.df(src, df.get_ref());
        }
        for key in &raw.key {
            b.key(src, key.get_ref());
        }
        for ef in &raw.ef {
            b.ef(src, ef.get_ref());
        }
        if std::ptr::eq(src, national) {
            b.claim_national_tags();
        }
    }
    b.version_overrides(national, raw_version);
    b.check_key_references();
    let pin = b.pin(national, &nat);
    let purse = b.purse(national, &nat);

    let name = match (&ext, extension) {
        (Some(e), Some(_)) => format!("national {version} + {}", e.layout.name.get_ref()),
        _ => format!("national {version}"),
    };
    let description = ext
        .as_ref()
        .map_or(&nat.layout.description, |e| &e.layout.description)
        .clone();
    match (b.problems.is_empty(), pin) {
        (true, Some(pin)) => Ok(Layout {
            name,
            version,
            description,
            pin,
            dfs: b.dfs,
            purse,
        }),
        _ => Err(b.problems),
    }
}

fn check_header(src: &Source, raw: &RawFile, expected: &str, problems: &mut Vec<Problem>) {
    let kind = &raw.layout.kind;
    if kind.get_ref() != expected {
        problems.push(src.problem(
            kind.span(),
            format!(
                "kind is {:?} but this file is used as the {expected} layout",
                kind.get_ref()
            ),
        ));
    }
    if expected == "extension" {
        match &raw.layout.extends {
            Some(e) if e.get_ref() == "national" => {}
            Some(e) => problems.push(src.problem(
                e.span(),
                format!(
                    "extends = {:?}: an extension extends \"national\"",
                    e.get_ref()
                ),
            )),
            None => problems.push(src.problem(
                raw.layout.name.span(),
                "an extension must say extends = \"national\"",
            )),
        }
    }
}

impl Builder<'_> {
    /// The layer `src` is: the national file is the one this build was given as national.
    fn layer(&self, src: &Source) -> Layer {
        if std::ptr::eq(src, self.national) {
            Layer::National
        } else {
            Layer::Extension
        }
    }

    fn origin(&self, src: &Source, span: Range<usize>) -> Origin {
        Origin {
            file: src.name.clone(),
            line: src.line_of(span.start),
            layer: self.layer(src),
        }
    }

    fn report(&mut self, src: &Source, span: Range<usize>, message: impl Into<String>) {
        self.problems.push(src.problem(span, message));
    }

    /// A problem with an item that is already defined: `clash` names it and where it was written.
    fn report_clash(
        &mut self,
        src: &Source,
        span: Range<usize>,
        message: impl Into<String>,
        clash: Clash,
    ) {
        self.problems
            .push(src.problem(span, message).clashing_with(clash));
    }

    /// A problem at an item already read (a setting, a field, a file), by its origin.
    fn report_at(&mut self, at: &Origin, message: impl Into<String>) {
        self.problems.push(Problem::at(at, message));
    }

    /// Whether an item of `src` collides with one the national layout defined at `existing`:
    /// then the rule is "an extension may not redefine it", not "defined twice".
    fn overrides_national(&self, src: &Source, existing: &Origin) -> bool {
        existing.layer == Layer::National && self.layer(src) == Layer::Extension
    }

    fn settings(&mut self, src: &Source, raw: &RawFile, extension: bool) {
        for (name, value) in &raw.settings {
            let entry = Setting {
                value: value.get_ref().clone(),
                origin: self.origin(src, value.span()),
            };
            match self.settings.get(name) {
                None if extension => {
                    let known: Vec<_> = self.settings.keys().cloned().collect();
                    self.report(
                        src,
                        value.span(),
                        format!(
                            "{name} is not a national setting (settings: {})",
                            known.join(", ")
                        ),
                    );
                }
                Some(old) if old.value.type_str() != entry.value.type_str() => {
                    let message = format!(
                        "setting {name} must be a {} like the national one",
                        old.value.type_str()
                    );
                    self.report(src, value.span(), message);
                }
                _ => {
                    self.settings.insert(name.clone(), entry);
                }
            }
        }
    }

    fn extension_may_not_define(&mut self, src: &Source, raw: &RawFile) {
        if let Some(pin) = &raw.pin {
            self.report(src, pin.span(), "an extension may not define the PIN: change the national setting pin_tries in [settings]");
        }
        if let Some(v) = raw.version.first() {
            self.report(
                src,
                v.span(),
                "an extension may not define versions: name one with version = \"...\" in [layout]",
            );
        }
    }
}

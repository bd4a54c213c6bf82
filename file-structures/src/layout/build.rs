//! From layout files to a [`Layout`]: every value is checked and every broken rule becomes a
//! [`Problem`] naming file and line; all problems are collected, none stops the others.
//!
//! What a local extension may do (the national layout decides, there being no official reserved
//! range): add DFs, add EFs to national DFs or its own, add keys with free ids, and change the
//! settings the national file declares. It may not redefine a national DF, EF or key, reuse a
//! national FID, SFI or DF name in the same scope, or use a tag the national layout claims anywhere.

use std::collections::{BTreeMap, HashMap, HashSet};

use card_os::crypto::Algorithm;

use super::access::{AccessRule, AccessRules};
use super::model::{
    ef_path, Df, Ef, Field, KeySpec, KeyUsage, Layout, Origin, PinPolicy, PurseSpec, Structure,
};
use super::source::{Problem, RawDf, RawEf, RawField, RawFile, RawKey, Source, S};
use crate::codec::{self, Encoding};

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
    /// Tags the national layout claims, with the field (or EF) that claims them.
    national_tags: HashMap<u8, String>,
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
    let version = match (
        ext.as_ref().and_then(|e| e.layout.version.as_ref()),
        version,
    ) {
        (Some(v), _) => v.get_ref().clone(),
        (None, Some(v)) => v.to_owned(),
        (None, None) => {
            let src = extension.unwrap_or(national);
            problems.push(src.problem(0..0, "the layout names no national version: add version = \"3.0\" (or \"2.0\") to [layout]"));
            return Err(problems);
        }
    };
    let Some(raw_version) = nat
        .version
        .iter()
        .find(|v| *v.get_ref().name.get_ref() == version)
    else {
        let known: Vec<_> = nat
            .version
            .iter()
            .map(|v| v.get_ref().name.get_ref().as_str())
            .collect();
        let (src, span) = match ext.as_ref().and_then(|e| e.layout.version.as_ref()) {
            Some(v) => (extension.unwrap_or(national), v.span()),
            None => (national, 0..0),
        };
        problems.push(src.problem(
            span,
            format!(
                "version {version:?} is not a national version (known: {})",
                known.join(", ")
            ),
        ));
        return Err(problems);
    };
    let raw_version = raw_version.get_ref();

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

fn origin(src: &Source, span: std::ops::Range<usize>) -> Origin {
    Origin {
        file: src.name.clone(),
        line: src.line_of(span.start),
    }
}

impl Builder<'_> {
    fn report(&mut self, src: &Source, span: std::ops::Range<usize>, message: impl Into<String>) {
        self.problems.push(src.problem(span, message));
    }

    /// A problem at an item already read (a setting, a field, a file), by its origin.
    fn report_at(&mut self, at: &Origin, message: impl Into<String>) {
        self.problems.push(Problem {
            file: at.file.clone(),
            line: at.line,
            message: message.into(),
        });
    }

    /// The value of `table` named by `value`, or a problem naming every name of `table`.
    fn named<T: Copy>(
        &mut self,
        src: &Source,
        value: &S<String>,
        table: &[(&str, T)],
        what: &str,
    ) -> Option<T> {
        let found = table
            .iter()
            .find(|(name, _)| name == value.get_ref())
            .map(|(_, v)| *v);
        if found.is_none() {
            let names: Vec<_> = table.iter().map(|(n, _)| *n).collect();
            self.report(
                src,
                value.span(),
                format!(
                    "unknown {what} {:?}: use one of {}",
                    value.get_ref(),
                    names.join(", ")
                ),
            );
        }
        found
    }

    /// Reports a FID the card keeps for itself; true when `fid` is one.
    fn reserved_fid(&mut self, src: &Source, raw: &S<String>, fid: u16) -> bool {
        let reserved = RESERVED_FIDS.contains(&fid);
        if reserved {
            self.report(
                src,
                raw.span(),
                format!("FID {fid:04X} is reserved (3F00 MF, 3FFF, FFFF)"),
            );
        }
        reserved
    }

    fn is_national(&self, origin: &Origin) -> bool {
        origin.file == self.national.name
    }

    fn hex(&mut self, src: &Source, value: &S<String>, digits: usize, what: &str) -> Option<u32> {
        let text = value.get_ref();
        if text.len() == digits && text.bytes().all(|c| c.is_ascii_hexdigit()) {
            u32::from_str_radix(text, 16).ok()
        } else {
            self.report(
                src,
                value.span(),
                format!("{what} {text:?} must be {digits} hex digits"),
            );
            None
        }
    }

    fn int(
        &mut self,
        src: &Source,
        value: &S<i64>,
        range: std::ops::RangeInclusive<i64>,
        what: &str,
    ) -> Option<i64> {
        let v = *value.get_ref();
        if range.contains(&v) {
            Some(v)
        } else {
            self.report(
                src,
                value.span(),
                format!(
                    "{what} {v} is out of range: it must be {} to {}",
                    range.start(),
                    range.end()
                ),
            );
            None
        }
    }

    fn algorithm(&mut self, src: &Source, value: &S<String>) -> Option<Algorithm> {
        match value.get_ref().as_str() {
            "3des" => Some(Algorithm::Des3),
            "sm4" => Some(Algorithm::Sm4),
            "aes128" => Some(Algorithm::Aes128),
            "ssf33" => {
                self.report(
                    src,
                    value.span(),
                    "algorithm ssf33 is not supported by the card: use 3des, sm4 or aes128",
                );
                None
            }
            other => {
                self.report(
                    src,
                    value.span(),
                    format!("unknown algorithm {other:?}: use 3des, sm4 or aes128"),
                );
                None
            }
        }
    }

    fn settings(&mut self, src: &Source, raw: &RawFile, extension: bool) {
        for (name, value) in &raw.settings {
            let entry = Setting {
                value: value.get_ref().clone(),
                origin: origin(src, value.span()),
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

    /// An access rule, resolving "setting:NAME" to the setting's rule.
    fn rule(&mut self, src: &Source, value: &S<String>) -> Option<AccessRule> {
        let text = value.get_ref();
        if let Some(name) = text.strip_prefix("setting:") {
            let Some(setting) = self.settings.get(name) else {
                self.report(
                    src,
                    value.span(),
                    format!("{text:?} names no setting of [settings]"),
                );
                return None;
            };
            let origin = setting.origin.clone();
            let parsed = match setting.value.as_str() {
                Some(rule) => rule.parse::<AccessRule>().map_err(|e| e.to_string()),
                None => Err(format!("setting {name} must be an access rule string")),
            };
            return parsed
                .map_err(|message| self.report_at(&origin, message))
                .ok();
        }
        text.parse::<AccessRule>()
            .map_err(|e| self.report(src, value.span(), e.to_string()))
            .ok()
    }

    fn rules(
        &mut self,
        src: &Source,
        read: Option<&S<String>>,
        update: Option<&S<String>>,
        append: Option<&S<String>>,
        admin: Option<&S<String>>,
        defaults: AccessRules,
    ) -> Option<AccessRules> {
        let one = |b: &mut Self, v: Option<&S<String>>, default: AccessRule| match v {
            Some(v) => b.rule(src, v),
            None => Some(default),
        };
        let read = one(self, read, defaults.read);
        let update = one(self, update, defaults.update);
        // Appending is writing: unless told otherwise it follows the update rule.
        let append = one(self, append, update.unwrap_or(defaults.append));
        let admin = one(self, admin, defaults.admin);
        Some(AccessRules {
            read: read?,
            update: update?,
            append: append?,
            admin: admin?,
        })
    }

    fn df(&mut self, src: &Source, raw: &RawDf) {
        let at = origin(src, raw.name.span());
        let name = raw.name.get_ref().clone();
        if let Some(old) = self.dfs.iter().find(|d| d.name == name) {
            let message = if self.is_national(&old.origin) && !self.is_national(&at) {
                format!(
                    "DF {name} is a national DF ({}): an extension may not redefine it",
                    old.origin
                )
            } else {
                format!("DF {name} is defined twice (first at {})", old.origin)
            };
            self.report(src, raw.name.span(), message);
            return;
        }
        let parent = match raw.parent.get_ref().as_str() {
            "MF" => None,
            p if self.dfs.iter().any(|d| d.name == p) => Some(p.to_owned()),
            p => {
                self.report(
                    src,
                    raw.parent.span(),
                    format!("parent {p:?} is neither MF nor a DF defined before this one"),
                );
                return;
            }
        };
        let fid = self.hex(src, &raw.fid, 4, "FID").map(|f| f as u16);
        let df_name = match (&raw.df_name, &raw.aid) {
            (Some(text), None) => match codec::encode(Encoding::Gbk, 16, text.get_ref()) {
                Ok(_) => Some(encoding_rs::GBK.encode(text.get_ref()).0.into_owned()),
                Err(e) => {
                    self.report(
                        src,
                        text.span(),
                        format!(
                            "df_name {:?}: {e} (a DF name is 1 to 16 GBK bytes)",
                            text.get_ref()
                        ),
                    );
                    None
                }
            },
            (None, Some(aid)) => match hex::decode(aid.get_ref()) {
                Ok(bytes) if (5..=16).contains(&bytes.len()) => Some(bytes),
                _ => {
                    self.report(
                        src,
                        aid.span(),
                        format!("aid {:?} must be 5 to 16 bytes of hex", aid.get_ref()),
                    );
                    None
                }
            },
            _ => {
                self.report(
                    src,
                    raw.name.span(),
                    format!("DF {name} needs exactly one of df_name (text) or aid (hex)"),
                );
                None
            }
        };
        let defaults = AccessRules {
            read: AccessRule::FREE,
            update: AccessRule::FREE,
            append: AccessRule::FREE,
            admin: AccessRule::NEVER,
        };
        let access = self.rules(
            src,
            raw.read.as_ref(),
            raw.update.as_ref(),
            raw.append.as_ref(),
            raw.admin.as_ref(),
            defaults,
        );
        let (Some(fid), Some(df_name), Some(access)) = (fid, df_name, access) else {
            return;
        };
        if self.reserved_fid(src, &raw.fid, fid) {
            return;
        }
        if let Some(clash) = self.fid_user(parent.as_deref(), fid) {
            self.report(src, raw.fid.span(), format!("FID {fid:04X} is already {clash} in the same DF: FIDs must be free in their DF"));
            return;
        }
        if let Some(other) = self.dfs.iter().find(|d| d.df_name == df_name) {
            let message = format!(
                "DF name {} is already DF {} ({}): DF names must be unique on the card",
                hex::encode_upper(&df_name),
                other.name,
                other.origin
            );
            self.report(src, raw.name.span(), message);
            return;
        }
        self.dfs.push(Df {
            name,
            parent,
            fid,
            df_name,
            zh: raw.zh.clone(),
            en: raw.en.clone(),
            algorithm: self.algorithm,
            announce_algorithm: raw.announce_algorithm,
            access,
            keys: Vec::new(),
            efs: Vec::new(),
            origin: at,
        });
    }

    /// What already uses `fid` directly under the DF `parent` (None = MF).
    fn fid_user(&self, parent: Option<&str>, fid: u16) -> Option<String> {
        let child_df = self
            .dfs
            .iter()
            .find(|d| d.parent.as_deref() == parent && d.fid == fid);
        if let Some(d) = child_df {
            return Some(format!("DF {} ({})", d.name, d.origin));
        }
        let df = self.dfs.iter().find(|d| Some(d.name.as_str()) == parent)?;
        df.efs
            .iter()
            .find(|e| e.fid == fid)
            .map(|e| format!("EF {} ({})", ef_path(df, e), e.origin))
    }

    fn df_index(&mut self, src: &Source, name: &S<String>) -> Option<usize> {
        let index = self.dfs.iter().position(|d| d.name == *name.get_ref());
        if index.is_none() {
            self.report(
                src,
                name.span(),
                format!("df {:?} is not a DF of the layout", name.get_ref()),
            );
        }
        index
    }

    fn key(&mut self, src: &Source, raw: &RawKey) {
        if let Some(only) = &raw.only_in {
            if *only.get_ref() != self.version {
                return;
            }
        }
        let at = origin(src, raw.id.span());
        let df = self.df_index(src, &raw.df);
        let id = self.hex(src, &raw.id, 2, "key id").map(|i| i as u8);
        let usage = self.named(src, &raw.usage, &KeyUsage::ALL, "key usage");
        let algorithm = match &raw.algorithm {
            Some(a) => self.algorithm(src, a),
            None => Some(self.algorithm),
        };
        let error_limit = match &raw.error_limit {
            Some(l) => self.int(src, l, 1..=15, "error_limit").map(|l| l as u8),
            None => Some(15),
        };
        let (Some(df), Some(id), Some(usage), Some(algorithm), Some(error_limit)) =
            (df, id, usage, algorithm, error_limit)
        else {
            return;
        };
        if let Some(old) = self.dfs[df].keys.iter().find(|k| k.id == id) {
            let message = if self.is_national(&old.origin) && !self.is_national(&at) {
                format!(
                    "key {id:02X} of {} is a national key ({}): an extension may not redefine it",
                    self.dfs[df].name, old.origin
                )
            } else {
                format!(
                    "key {id:02X} is already defined in {} ({}): key ids must be free in their DF",
                    self.dfs[df].name, old.origin
                )
            };
            self.report(src, raw.id.span(), message);
            return;
        }
        if self.dfs[df].keys.len() >= 8 {
            self.report(
                src,
                raw.id.span(),
                format!(
                    "{} already has 8 keys, all the slots a DF has",
                    self.dfs[df].name
                ),
            );
            return;
        }
        self.dfs[df].keys.push(KeySpec {
            id,
            usage,
            algorithm,
            error_limit,
            purpose: raw.purpose.clone(),
            origin: at,
        });
    }

    fn ef(&mut self, src: &Source, raw: &RawEf) {
        let at = origin(src, raw.fid.span());
        let df = self.df_index(src, &raw.df);
        let fid = self.hex(src, &raw.fid, 4, "FID").map(|f| f as u16);
        let sfi = match &raw.sfi {
            Some(s) => self.int(src, s, 1..=30, "SFI").map(|s| Some(s as u8)),
            None => Some(None),
        };
        let defaults = AccessRules {
            read: AccessRule::NEVER,
            update: AccessRule::NEVER,
            append: AccessRule::NEVER,
            admin: AccessRule::NEVER,
        };
        let access = self.rules(
            src,
            Some(&raw.read),
            Some(&raw.update),
            raw.append.as_ref(),
            raw.admin.as_ref(),
            defaults,
        );
        let fields = self.fields(src, raw);
        let reserved_tags = self.reserved_tags(src, raw);
        let structure = self.structure(src, raw, fields.as_deref());
        let (
            Some(df),
            Some(fid),
            Some(sfi),
            Some(access),
            Some(fields),
            Some(reserved_tags),
            Some(structure),
        ) = (df, fid, sfi, access, fields, reserved_tags, structure)
        else {
            return;
        };
        let df_name = self.dfs[df].name.clone();
        if self.reserved_fid(src, &raw.fid, fid) {
            return;
        }
        // Every clash is reported before the EF is dropped, so that one run shows them all.
        let mut clashes = false;
        if let Some(clash) = self.fid_user(Some(&df_name), fid) {
            let national_clash = clash.contains(&format!("({}:", self.national.name))
                && src.name != self.national.name;
            let rule = if national_clash {
                "an extension may not redefine or shadow a national file"
            } else {
                "FIDs must be free in their DF"
            };
            self.report(
                src,
                raw.fid.span(),
                format!("FID {fid:04X} in {df_name} is already {clash}: {rule}"),
            );
            clashes = true;
        }
        if let Some(sfi) = sfi {
            if let Some(other) = self.dfs[df].efs.iter().find(|e| e.sfi == Some(sfi)) {
                let rule = if self.is_national(&other.origin) && src.name != self.national.name {
                    "an extension may not reuse a national SFI"
                } else {
                    "SFIs must be free in their DF"
                };
                let message = format!(
                    "SFI {sfi} in {df_name} is already {} ({}): {rule}",
                    ef_path(&self.dfs[df], other),
                    other.origin
                );
                self.report(
                    src,
                    raw.sfi.as_ref().map_or(raw.fid.span(), |s| s.span()),
                    message,
                );
                clashes = true;
            }
        }
        if src.name != self.national.name {
            for (field, raw_field) in fields.iter().zip(&raw.field) {
                if let Some(owner) = self.national_tags.get(&field.tag) {
                    let message = format!(
                        "tag {:02X} is claimed by the national layout ({owner}): extension fields must use tags the national layout does not use",
                        field.tag
                    );
                    self.report(src, raw_field.get_ref().tag.span(), message);
                    clashes = true;
                }
            }
            for &tag in &reserved_tags {
                if let Some(owner) = self.national_tags.get(&tag) {
                    let message = format!(
                        "reserved tag {tag:02X} is claimed by the national layout ({owner})"
                    );
                    self.report(
                        src,
                        raw.reserved_tags
                            .as_ref()
                            .map_or(raw.fid.span(), |r| r.span()),
                        message,
                    );
                    clashes = true;
                }
            }
        }
        for (field, raw_field) in fields.iter().zip(&raw.field) {
            if let Some(first) = self.field_ids.get(&field.id) {
                let message = format!("field id {:?} is already used at {first}: field ids name record columns and must be unique", field.id);
                self.report(src, raw_field.get_ref().id.span(), message);
                clashes = true;
            } else {
                self.field_ids
                    .insert(field.id.clone(), field.origin.clone());
            }
        }
        if clashes {
            return;
        }
        self.dfs[df].efs.push(Ef {
            fid,
            sfi,
            zh: raw.zh.clone(),
            en: raw.en.clone(),
            structure,
            access,
            fields,
            reserved_tags,
            origin: at,
        });
    }

    fn reserved_tags(&mut self, src: &Source, raw: &RawEf) -> Option<Vec<u8>> {
        let Some(text) = &raw.reserved_tags else {
            return Some(Vec::new());
        };
        let bounds: Option<Vec<u8>> = text
            .get_ref()
            .split('-')
            .map(|t| u8::from_str_radix(t.trim(), 16).ok())
            .collect();
        match bounds.as_deref() {
            Some([one]) => Some(vec![*one]),
            Some([low, high]) if low <= high => Some((*low..=*high).collect()),
            _ => {
                self.report(
                    src,
                    text.span(),
                    format!(
                        "reserved_tags {:?} must be a tag or a range like \"7D-8F\"",
                        text.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn fields(&mut self, src: &Source, raw: &RawEf) -> Option<Vec<Field>> {
        let mut fields = Vec::new();
        let mut ok = true;
        for f in &raw.field {
            match self.field(src, f.get_ref()) {
                Some(field) => fields.push(field),
                None => ok = false,
            }
        }
        // Record numbers are the order on the card: 1, 2, 3, ... with no gap.
        fields.sort_by_key(|f| f.rec);
        let mut tags: HashMap<u8, &Field> = HashMap::new();
        for (i, f) in fields.iter().enumerate() {
            let expected = i + 1;
            if usize::from(f.rec) != expected {
                self.report_at(&f.origin, format!("field {} has record number {} but records must be numbered 1, 2, 3, ... without gaps or repeats (expected {expected})", f.id, f.rec));
                ok = false;
            }
            if let Some(first) = tags.insert(f.tag, f) {
                self.report_at(&f.origin, format!("duplicate tag {:02X}: field {} already uses it ({}); tags must be unique in their EF", f.tag, first.id, first.origin));
                ok = false;
            }
        }
        ok.then_some(fields)
    }

    fn field(&mut self, src: &Source, raw: &RawField) -> Option<Field> {
        let at = origin(src, raw.tag.span());
        let rec = self
            .int(src, &raw.rec, 1..=254, "record number")
            .map(|r| r as u8);
        let tag = self.hex(src, &raw.tag, 2, "tag").map(|t| t as u8);
        let id = raw.id.get_ref();
        let id_ok = !id.is_empty()
            && id
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
        if !id_ok {
            self.report(src, raw.id.span(), format!("field id {id:?} must be lower-case letters, digits and _ (it is a record column name)"));
        }
        let len = self
            .int(src, &raw.len, 1..=MAX_FIELD_LEN, "len")
            .map(|l| l as u8);
        let encoding = self.named(src, &raw.encoding, &Encoding::ALL, "encoding");
        let (Some(rec), Some(tag), Some(len), Some(encoding)) = (rec, tag, len, encoding) else {
            return None;
        };
        if !id_ok {
            return None;
        }
        if tag == 0x00 || tag == 0xFF {
            self.report(
                src,
                raw.tag.span(),
                format!("tag {tag:02X} cannot identify a record (00 and FF are not tags)"),
            );
            return None;
        }
        if let Some(required) = encoding.required_len() {
            if usize::from(len) != required {
                self.report(src, raw.len.span(), format!("len {len} does not fit encoding {encoding}, which is always {required} bytes"));
                return None;
            }
        }
        let default = raw.default.as_ref().map(|d| d.get_ref().clone());
        if let (Some(d), Some(value)) = (&raw.default, &default) {
            if let Err(e) = codec::encode(encoding, usize::from(len), value) {
                self.report(
                    src,
                    d.span(),
                    format!("default {value:?} is not a valid {encoding} of {len} bytes: {e}"),
                );
                return None;
            }
        }
        Some(Field {
            rec,
            tag,
            id: id.clone(),
            zh: raw.zh.clone(),
            en: raw.en.clone(),
            len,
            encoding,
            mandatory: raw.mandatory,
            default,
            origin: at,
        })
    }

    fn structure(
        &mut self,
        src: &Source,
        raw: &RawEf,
        fields: Option<&[Field]>,
    ) -> Option<Structure> {
        let span = raw.structure.span();
        let no = |b: &mut Self, what: Option<&S<i64>>, name: &str, structure: &str| {
            if let Some(v) = what {
                b.report(
                    src,
                    v.span(),
                    format!("{name} has no meaning for a {structure} file"),
                );
            }
        };
        match raw.structure.get_ref().as_str() {
            "transparent" => {
                no(self, raw.records.as_ref(), "records", "transparent");
                no(self, raw.record_len.as_ref(), "record_len", "transparent");
                if !raw.field.is_empty() {
                    self.report(
                        src,
                        span.clone(),
                        "a transparent file has no record fields: use linear-variable",
                    );
                }
                let Some(size) = &raw.size else {
                    self.report(src, span, "a transparent file needs size = <bytes>");
                    return None;
                };
                self.int(src, size, 1..=MAX_TRANSPARENT_SIZE, "size")
                    .map(|s| Structure::Transparent { size: s as u16 })
            }
            "linear-variable" => {
                no(self, raw.size.as_ref(), "size", "linear-variable");
                let fields = fields?;
                let longest = fields.iter().map(|f| f.len).max().unwrap_or(0);
                let (mut records, mut max_len) = (fields.len() as i64, i64::from(longest) + 2);
                if let Some(r) = &raw.records {
                    records = self.int(src, r, fields.len().max(1) as i64..=254, "records")?;
                }
                if let Some(l) = &raw.record_len {
                    max_len =
                        self.int(src, l, (i64::from(longest) + 2).max(3)..=255, "record_len")?;
                }
                if records == 0 {
                    self.report(src, span, "a record file needs fields or records = <count>");
                    return None;
                }
                Some(Structure::LinearVariable {
                    records: records as u8,
                    max_len: max_len as u8,
                })
            }
            "cyclic" => {
                no(self, raw.size.as_ref(), "size", "cyclic");
                if !raw.field.is_empty() {
                    self.report(
                        src,
                        span.clone(),
                        "a cyclic file (a journal) has no personalised fields",
                    );
                }
                match (&raw.records, &raw.record_len) {
                    (Some(r), Some(l)) => {
                        let records = self.int(src, r, 1..=254, "records");
                        let len = self.int(src, l, 1..=255, "record_len");
                        Some(Structure::Cyclic {
                            records: records? as u8,
                            record_len: len? as u8,
                        })
                    }
                    _ => {
                        self.report(
                            src,
                            span,
                            "a cyclic file needs records = <count> and record_len = <bytes>",
                        );
                        None
                    }
                }
            }
            other => {
                self.report(
                    src,
                    span,
                    format!(
                        "unknown structure {other:?}: use transparent, linear-variable or cyclic"
                    ),
                );
                None
            }
        }
    }

    fn claim_national_tags(&mut self) {
        for df in &self.dfs {
            for ef in &df.efs {
                for f in &ef.fields {
                    self.national_tags
                        .entry(f.tag)
                        .or_insert_with(|| format!("{} {}", ef_path(df, ef), f.id));
                }
                for &t in &ef.reserved_tags {
                    self.national_tags
                        .entry(t)
                        .or_insert_with(|| format!("{} reserved", ef_path(df, ef)));
                }
            }
        }
    }

    fn version_overrides(&mut self, src: &Source, version: &super::source::RawVersion) {
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

    fn check_key_references(&mut self) {
        let mut found = Vec::new();
        for df in &self.dfs {
            let keys: HashSet<(u8, KeyUsage)> = df.keys.iter().map(|k| (k.id, k.usage)).collect();
            let has_mac = df.keys.iter().any(|k| k.usage == KeyUsage::Mac);
            let files = std::iter::once((df.name.clone(), df.access, df.origin.clone())).chain(
                df.efs
                    .iter()
                    .map(|ef| (ef_path(df, ef), ef.access, ef.origin.clone())),
            );
            for (path, access, origin) in files {
                // One problem per missing key of a file, naming every rule that needs it.
                let mut missing: BTreeMap<u8, Vec<&str>> = BTreeMap::new();
                let mut needs_mac = Vec::new();
                for (what, rule) in access.named() {
                    if let Some(id) = rule
                        .key()
                        .filter(|id| !keys.contains(&(*id, KeyUsage::ExternalAuth)))
                    {
                        missing.entry(id).or_default().push(what);
                    }
                    if rule.secure_messaging && !has_mac {
                        needs_mac.push(what);
                    }
                }
                for (id, rules) in missing {
                    found.push((origin.clone(), format!(
                        "{path} {} rule needs key {id:02X}, but {} has no external-auth key {id:02X} in version {}",
                        rules.join(" and "), df.name, self.version
                    )));
                }
                if !needs_mac.is_empty() {
                    found.push((
                        origin.clone(),
                        format!(
                            "{path} {} rule needs secure messaging, but {} has no mac key",
                            needs_mac.join(" and "),
                            df.name
                        ),
                    ));
                }
            }
        }
        for (origin, message) in found {
            self.report_at(&origin, message);
        }
    }

    fn pin(&mut self, src: &Source, raw: &RawFile) -> Option<PinPolicy> {
        let Some(pin) = &raw.pin else {
            self.report(src, 0..0, "the national layout needs a [pin] table");
            return None;
        };
        let pin = pin.get_ref();
        let df = self.df_index(src, &pin.df)?;
        let initial = pin.initial.get_ref();
        if !(4..=16).contains(&initial.len()) || !initial.bytes().all(|c| c.is_ascii_digit()) {
            self.report(
                src,
                pin.initial.span(),
                "the initial PIN must be 4 to 16 digits",
            );
            return None;
        }
        let tries = match self.settings.get("pin_tries") {
            Some(Setting {
                value: toml::Value::Integer(t),
                ..
            }) if (1..=15).contains(t) => *t as u8,
            Some(Setting { origin, .. }) => {
                let origin = origin.clone();
                self.report_at(&origin, "pin_tries must be 1 to 15");
                return None;
            }
            None => {
                self.report(src, 0..0, "[settings] needs pin_tries");
                return None;
            }
        };
        Some(PinPolicy {
            df: self.dfs[df].name.clone(),
            tries,
            initial: initial.clone(),
            origin: origin(src, pin.initial.span()),
        })
    }

    /// `[purse]` and the `purse_*` settings (docs/settlement.md, "Open points"): the DF must
    /// exist and hold the purse keys; every setting has a default.
    fn purse(&mut self, src: &Source, raw: &RawFile) -> Option<PurseSpec> {
        let purse = raw.purse.as_ref()?;
        let span = purse.span();
        let purse = purse.get_ref();
        let df = self.df_index(src, &purse.df)?;
        let day = purse.start_day.get_ref();
        let start_day = match codec::encode(Encoding::Cn, 2, day) {
            Ok(bytes) if day.len() == 4 => {
                let (m, d) = (&day[..2], &day[2..]);
                let ok =
                    matches!(m.parse::<u8>(), Ok(1..=12)) && matches!(d.parse::<u8>(), Ok(1..=31));
                ok.then(|| [bytes[0], bytes[1]])
            }
            _ => None,
        };
        let Some(start_day) = start_day else {
            self.report(
                src,
                purse.start_day.span(),
                "start_day is mmdd, e.g. \"0101\"",
            );
            return None;
        };
        let mut choice = |name: &str, default: &str, other: &str| -> Option<bool> {
            let Some(setting) = self.settings.get(name) else {
                return Some(false);
            };
            let origin = setting.origin.clone();
            match setting.value.as_str() {
                Some(v) if v == default => Some(false),
                Some(v) if v == other => Some(true),
                _ => {
                    self.report_at(&origin, format!("{name} is \"{default}\" or \"{other}\""));
                    None
                }
            }
        };
        let ascii_type = choice("purse_type_byte", "binary", "ascii")?;
        let sm4_left_bytes = choice("purse_sm4_mac", "xor", "left")?;
        let load_tac_balance_after = choice("purse_load_tac_balance", "before", "after")?;
        let integer = |b: &mut Self, name: &str, default: i64, ok: &dyn Fn(i64) -> bool| match b
            .settings
            .get(name)
        {
            None => Some(default),
            Some(Setting {
                value: toml::Value::Integer(n),
                ..
            }) if ok(*n) => Some(*n),
            Some(Setting { origin, .. }) => {
                let origin = origin.clone();
                b.report_at(&origin, format!("{name} is out of range"));
                None
            }
        };
        let four_byte_serial = integer(self, "purse_serial_len", 2, &|n| n == 2 || n == 4)? == 4;
        let starting_balance = integer(self, "purse_starting_balance", 0, &|n| {
            (0..=i64::from(u32::MAX)).contains(&n)
        })?;
        let dfs = &self.dfs[df];
        for usage in [
            KeyUsage::PurseLoad,
            KeyUsage::PursePurchase,
            KeyUsage::PurseTac,
        ] {
            if !dfs.keys.iter().any(|k| k.usage == usage) {
                let message = format!("the purse's DF {} has no {} key", dfs.name, usage.name());
                self.report(src, span.clone(), message);
                return None;
            }
        }
        Some(PurseSpec {
            df: dfs.name.clone(),
            settings: card_os::crypto::purse::Settings {
                ascii_type,
                sm4_left_bytes,
                load_tac_balance_after,
                four_byte_serial,
            },
            start_day,
            starting_balance: starting_balance as u32,
            origin: origin(src, span),
        })
    }
}

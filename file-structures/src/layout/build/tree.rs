//! The file tree: DFs and EFs placed in their parents, and every clash of name, FID, SFI, DF
//! name, tag or field id reported against the item it collides with (and that item's layer).

use super::{Builder, RESERVED_FIDS};
use crate::codec::{self, Encoding};
use crate::layout::access::{AccessRule, AccessRules};
use crate::layout::model::{ef_path, Clash, Df, Ef, Layer};
use crate::layout::source::{RawDf, RawEf, Source, S};

impl Builder<'_> {
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

    pub(super) fn df(&mut self, src: &Source, raw: &RawDf) {
        let at = self.origin(src, raw.name.span());
        let name = raw.name.get_ref().clone();
        if let Some(old) = self.dfs.iter().find(|d| d.name == name) {
            let message = if self.overrides_national(src, &old.origin) {
                format!(
                    "DF {name} is a national DF ({}): an extension may not redefine it",
                    old.origin
                )
            } else {
                format!("DF {name} is defined twice (first at {})", old.origin)
            };
            let clash = Clash {
                item: format!("DF {name}"),
                origin: old.origin.clone(),
            };
            self.report_clash(src, raw.name.span(), message, clash);
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
        if let Some(user) = self.fid_user(parent.as_deref(), fid) {
            let message = format!(
                "FID {fid:04X} is already {} ({}) in the same DF: FIDs must be free in their DF",
                user.item, user.origin
            );
            self.report_clash(src, raw.fid.span(), message, user);
            return;
        }
        if let Some(other) = self.dfs.iter().find(|d| d.df_name == df_name) {
            let message = format!(
                "DF name {} is already DF {} ({}): DF names must be unique on the card",
                hex::encode_upper(&df_name),
                other.name,
                other.origin
            );
            let clash = Clash {
                item: format!("DF {}", other.name),
                origin: other.origin.clone(),
            };
            self.report_clash(src, raw.name.span(), message, clash);
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

    /// What already uses `fid` directly under the DF `parent` (None = MF), and where.
    fn fid_user(&self, parent: Option<&str>, fid: u16) -> Option<Clash> {
        let child_df = self
            .dfs
            .iter()
            .find(|d| d.parent.as_deref() == parent && d.fid == fid);
        if let Some(d) = child_df {
            return Some(Clash {
                item: format!("DF {}", d.name),
                origin: d.origin.clone(),
            });
        }
        let df = self.dfs.iter().find(|d| Some(d.name.as_str()) == parent)?;
        df.efs.iter().find(|e| e.fid == fid).map(|e| Clash {
            item: format!("EF {}", ef_path(df, e)),
            origin: e.origin.clone(),
        })
    }

    pub(super) fn df_index(&mut self, src: &Source, name: &S<String>) -> Option<usize> {
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

    pub(super) fn ef(&mut self, src: &Source, raw: &RawEf) {
        let at = self.origin(src, raw.fid.span());
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
        if let Some(user) = self.fid_user(Some(&df_name), fid) {
            let rule = if self.overrides_national(src, &user.origin) {
                "an extension may not redefine or shadow a national file"
            } else {
                "FIDs must be free in their DF"
            };
            let message = format!(
                "FID {fid:04X} in {df_name} is already {} ({}): {rule}",
                user.item, user.origin
            );
            self.report_clash(src, raw.fid.span(), message, user);
            clashes = true;
        }
        if let Some(sfi) = sfi {
            if let Some(other) = self.dfs[df].efs.iter().find(|e| e.sfi == Some(sfi)) {
                let rule = if self.overrides_national(src, &other.origin) {
                    "an extension may not reuse a national SFI"
                } else {
                    "SFIs must be free in their DF"
                };
                let clash = Clash {
                    item: format!("EF {}", ef_path(&self.dfs[df], other)),
                    origin: other.origin.clone(),
                };
                let message = format!(
                    "SFI {sfi} in {df_name} is already {} ({}): {rule}",
                    clash.item, clash.origin
                );
                let span = raw.sfi.as_ref().map_or(raw.fid.span(), |s| s.span());
                self.report_clash(src, span, message, clash);
                clashes = true;
            }
        }
        if self.layer(src) == Layer::Extension {
            for (field, raw_field) in fields.iter().zip(&raw.field) {
                if let Some((owner, origin)) = self.national_tags.get(&field.tag) {
                    let message = format!(
                        "tag {:02X} is claimed by the national layout ({owner}): extension fields must use tags the national layout does not use",
                        field.tag
                    );
                    let clash = Clash {
                        item: owner.clone(),
                        origin: origin.clone(),
                    };
                    self.report_clash(src, raw_field.get_ref().tag.span(), message, clash);
                    clashes = true;
                }
            }
            for &tag in &reserved_tags {
                if let Some((owner, origin)) = self.national_tags.get(&tag) {
                    let message = format!(
                        "reserved tag {tag:02X} is claimed by the national layout ({owner})"
                    );
                    let clash = Clash {
                        item: owner.clone(),
                        origin: origin.clone(),
                    };
                    let span = raw
                        .reserved_tags
                        .as_ref()
                        .map_or(raw.fid.span(), |r| r.span());
                    self.report_clash(src, span, message, clash);
                    clashes = true;
                }
            }
        }
        for (field, raw_field) in fields.iter().zip(&raw.field) {
            if let Some(first) = self.field_ids.get(&field.id) {
                let message = format!("field id {:?} is already used at {first}: field ids name record columns and must be unique", field.id);
                let clash = Clash {
                    item: format!("field {}", field.id),
                    origin: first.clone(),
                };
                self.report_clash(src, raw_field.get_ref().id.span(), message, clash);
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

    pub(super) fn claim_national_tags(&mut self) {
        for df in &self.dfs {
            for ef in &df.efs {
                for f in &ef.fields {
                    self.national_tags.entry(f.tag).or_insert_with(|| {
                        (format!("{} {}", ef_path(df, ef), f.id), f.origin.clone())
                    });
                }
                for &t in &ef.reserved_tags {
                    self.national_tags.entry(t).or_insert_with(|| {
                        (format!("{} reserved", ef_path(df, ef)), ef.origin.clone())
                    });
                }
            }
        }
    }
}

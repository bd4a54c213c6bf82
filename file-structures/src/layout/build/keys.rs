//! Keys (per DF, at most eight, ids free in their DF), the check that every access rule's key
//! and secure-messaging MAC key exist, and the PIN policy.

use std::collections::{BTreeMap, HashSet};

use super::{Builder, Setting};
use crate::layout::model::{ef_path, Clash, KeySpec, KeyUsage, PinPolicy};
use crate::layout::source::{RawFile, RawKey, Source};

impl Builder<'_> {
    pub(super) fn key(&mut self, src: &Source, raw: &RawKey) {
        if let Some(only) = &raw.only_in {
            if *only.get_ref() != self.version {
                return;
            }
        }
        let at = self.origin(src, raw.id.span());
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
            let message = if self.overrides_national(src, &old.origin) {
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
            let clash = Clash {
                item: format!("key {id:02X} of {}", self.dfs[df].name),
                origin: old.origin.clone(),
            };
            self.report_clash(src, raw.id.span(), message, clash);
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

    pub(super) fn check_key_references(&mut self) {
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

    pub(super) fn pin(&mut self, src: &Source, raw: &RawFile) -> Option<PinPolicy> {
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
            origin: self.origin(src, pin.initial.span()),
        })
    }
}

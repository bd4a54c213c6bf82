//! Single values of a layout file: hex numbers, integers in a range, names from a table, the
//! algorithm and access rules (with `setting:NAME` resolved).

use card_os::crypto::Algorithm;

use super::Builder;
use crate::layout::access::{AccessRule, AccessRules};
use crate::layout::source::{Source, S};

impl Builder<'_> {
    /// The value of `table` named by `value`, or a problem naming every name of `table`.
    pub(super) fn named<T: Copy>(
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

    pub(super) fn hex(
        &mut self,
        src: &Source,
        value: &S<String>,
        digits: usize,
        what: &str,
    ) -> Option<u32> {
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

    pub(super) fn int(
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

    pub(super) fn algorithm(&mut self, src: &Source, value: &S<String>) -> Option<Algorithm> {
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

    /// An access rule, resolving "setting:NAME" to the setting's rule.
    pub(super) fn rule(&mut self, src: &Source, value: &S<String>) -> Option<AccessRule> {
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

    pub(super) fn rules(
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
}

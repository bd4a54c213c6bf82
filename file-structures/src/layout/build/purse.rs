//! The medical purse: `[purse]` (its DF, which must hold the purse keys) and the `purse_*`
//! settings, each with a default (docs/settlement.md).

use super::{Builder, Setting};
use crate::codec::{self, Encoding};
use crate::layout::model::{KeyUsage, PurseSpec};
use crate::layout::source::{RawFile, Source};

impl Builder<'_> {
    /// `[purse]` and the `purse_*` settings (docs/settlement.md, "Open points"): the DF must
    /// exist and hold the purse keys; every setting has a default.
    pub(super) fn purse(&mut self, src: &Source, raw: &RawFile) -> Option<PurseSpec> {
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
        let origin = self.origin(src, span.clone());
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
            origin,
        })
    }
}

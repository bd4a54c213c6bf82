//! A validated layout: the card's applications, keys, files and fields, ready to personalise
//! and decode. Every item remembers the file and line it came from.

use card_os::crypto::Algorithm;

use super::access::AccessRules;
use crate::codec::Encoding;

/// Which of a layout's two files an item comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// The national layout (embedded, or a national file given in its place).
    National,
    /// The local extension.
    Extension,
}

/// Where an item of a layout was written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Origin {
    pub file: String,
    pub line: usize,
    pub layer: Layer,
}

/// The item a new one collides with (same name, FID, SFI, DF name, key id, tag or field id).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Clash {
    /// What it is, e.g. "DF SSSE", "EF SSSE/EF05", "key 04 of SSSE", "field card_number".
    pub item: String,
    /// Where it was written, and in which layer.
    pub origin: Origin,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A whole card layout: the national layout of one version, plus at most one local extension.
#[derive(Debug, Clone)]
pub struct Layout {
    /// e.g. "national 3.0" or "national 3.0 + example-region-a".
    pub name: String,
    /// The national version: "2.0" or "3.0".
    pub version: String,
    pub description: String,
    pub pin: PinPolicy,
    /// DFs in creation order: every parent before its children.
    pub dfs: Vec<Df>,
    /// The medical purse, when the layout's cards carry one (docs/settlement.md).
    pub purse: Option<PurseSpec>,
}

/// The medical purse of a layout: the DF holding it, its answers to the specification's open
/// points, and what personalisation puts in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurseSpec {
    pub df: String,
    pub settings: card_os::crypto::purse::Settings,
    /// First day of the payment year, `mmdd` packed BCD.
    pub start_day: [u8; 2],
    /// The balance a card starts with, in fen, unless its holder record gives
    /// [`PURSE_BALANCE_FIELD`].
    pub starting_balance: u32,
    pub origin: Origin,
}

/// The holder-record key of a card's starting purse balance (decimal fen).
pub const PURSE_BALANCE_FIELD: &str = "purse_balance";

/// The PIN of the social security application.
#[derive(Clone)]
pub struct PinPolicy {
    /// The DF whose security area holds the PIN.
    pub df: String,
    pub tries: u8,
    /// The initial PIN every card gets (digits); the card refuses transactions until it is changed.
    pub initial: String,
    pub origin: Origin,
}

impl std::fmt::Debug for PinPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinPolicy")
            .field("df", &self.df)
            .field("tries", &self.tries)
            .field("initial", &"<redacted>")
            .finish()
    }
}

/// A dedicated file (an application).
#[derive(Debug, Clone)]
pub struct Df {
    /// The name files refer to it by: "SSSE", "DF01", ...
    pub name: String,
    /// `None` for a DF directly under the MF.
    pub parent: Option<String>,
    pub fid: u16,
    /// The DF name (AID) bytes of FCP tag 84.
    pub df_name: Vec<u8>,
    pub zh: String,
    pub en: String,
    /// Algorithm of this DF's keys, announced in the FCI (9F0C) when `announce_algorithm`.
    pub algorithm: Algorithm,
    pub announce_algorithm: bool,
    pub access: AccessRules,
    pub keys: Vec<KeySpec>,
    pub efs: Vec<Ef>,
    pub origin: Origin,
}

/// The usages of docs/security.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyUsage {
    ExternalAuth,
    InternalAuth,
    PinUnblock,
    PinReload,
    Mac,
    PurseLoad,
    PursePurchase,
    PurseTac,
}

impl KeyUsage {
    pub const ALL: [(&'static str, KeyUsage); 8] = [
        ("external-auth", KeyUsage::ExternalAuth),
        ("internal-auth", KeyUsage::InternalAuth),
        ("pin-unblock", KeyUsage::PinUnblock),
        ("pin-reload", KeyUsage::PinReload),
        ("mac", KeyUsage::Mac),
        ("purse-load", KeyUsage::PurseLoad),
        ("purse-purchase", KeyUsage::PursePurchase),
        ("purse-tac", KeyUsage::PurseTac),
    ];

    pub fn from_name(name: &str) -> Option<KeyUsage> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, u)| *u)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, u)| *u == self)
            .map_or("?", |(n, _)| n)
    }

    /// The usage byte of WRITE KEY.
    pub fn to_byte(self) -> u8 {
        match self {
            KeyUsage::ExternalAuth => 0x01,
            KeyUsage::InternalAuth => 0x02,
            KeyUsage::PinUnblock => 0x03,
            KeyUsage::PinReload => 0x04,
            KeyUsage::Mac => 0x05,
            KeyUsage::PurseLoad => 0x06,
            KeyUsage::PursePurchase => 0x07,
            KeyUsage::PurseTac => 0x08,
        }
    }
}

/// A key a DF holds: its identity and use, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub id: u8,
    pub usage: KeyUsage,
    pub algorithm: Algorithm,
    pub error_limit: u8,
    pub purpose: String,
    pub origin: Origin,
}

/// The name a layout file uses for an algorithm.
pub fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Des3 => "3des",
        Algorithm::Sm4 => "sm4",
        Algorithm::Aes128 => "aes128",
    }
}

/// How an EF stores its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    Transparent {
        size: u16,
    },
    /// Records are fields `tag len value`; `max_len` counts tag and length bytes.
    LinearVariable {
        records: u8,
        max_len: u8,
    },
    Cyclic {
        records: u8,
        record_len: u8,
    },
}

impl Structure {
    pub fn name(self) -> &'static str {
        match self {
            Structure::Transparent { .. } => "transparent",
            Structure::LinearVariable { .. } => "linear-variable",
            Structure::Cyclic { .. } => "cyclic",
        }
    }
}

/// An elementary file.
#[derive(Debug, Clone)]
pub struct Ef {
    pub fid: u16,
    pub sfi: Option<u8>,
    pub zh: String,
    pub en: String,
    pub structure: Structure,
    pub access: AccessRules,
    /// Record fields in record-number order (record n is `fields[n - 1]`).
    pub fields: Vec<Field>,
    /// Tags the layout claims without defining their fields.
    pub reserved_tags: Vec<u8>,
    pub origin: Origin,
}

/// One field: one record of a record EF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub rec: u8,
    pub tag: u8,
    /// The key of this field in a cardholder record (JSON / CSV column).
    pub id: String,
    pub zh: String,
    pub en: String,
    pub len: u8,
    pub encoding: Encoding,
    pub mandatory: bool,
    pub default: Option<String>,
    pub origin: Origin,
}

/// A field with the files it lives in.
#[derive(Debug, Clone, Copy)]
pub struct FieldRef<'a> {
    pub df: &'a Df,
    pub ef: &'a Ef,
    pub field: &'a Field,
}

/// How the host reads one EF (for `sscard info` and decoding).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReadPlan {
    /// "SSSE/EF05".
    pub path: String,
    /// FIDs from the MF to the DF holding the EF (MF excluded).
    pub df_path: Vec<u16>,
    pub df_name: String,
    pub ef_fid: u16,
    pub sfi: Option<u8>,
    pub mode: ReadMode,
    /// Whether the layout lets anyone read it without PIN or key.
    pub free: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadMode {
    /// READ RECORD 1..=records by number.
    Records { records: u8 },
    /// READ BINARY of `size` bytes.
    Binary { size: u16 },
}

impl Layout {
    pub fn df(&self, name: &str) -> Option<&Df> {
        self.dfs.iter().find(|d| d.name == name)
    }

    /// An EF by path "DF/EFxx".
    pub fn ef(&self, path: &str) -> Option<(&Df, &Ef)> {
        let (df, fid) = path.split_once('/')?;
        let fid = u16::from_str_radix(fid, 16).ok()?;
        let df = self.df(df)?;
        df.efs.iter().find(|e| e.fid == fid).map(|e| (df, e))
    }

    /// FIDs from the MF (excluded) to `df`.
    pub fn df_path(&self, df: &Df) -> Vec<u16> {
        let mut path = vec![df.fid];
        let mut parent = df.parent.as_deref();
        while let Some(p) = parent.and_then(|name| self.df(name)) {
            path.insert(0, p.fid);
            parent = p.parent.as_deref();
        }
        path
    }

    /// Every field, DF by DF, EF by EF, record by record.
    pub fn fields(&self) -> impl Iterator<Item = FieldRef<'_>> {
        self.dfs.iter().flat_map(|df| {
            df.efs.iter().flat_map(move |ef| {
                ef.fields
                    .iter()
                    .map(move |field| FieldRef { df, ef, field })
            })
        })
    }

    pub fn field(&self, id: &str) -> Option<FieldRef<'_>> {
        self.fields().find(|f| f.field.id == id)
    }

    /// What to read to show a card's data: every EF, with its SFI and read mode. Cyclic journals
    /// are left out (they are transaction logs, not card data).
    pub fn read_plan(&self) -> Vec<ReadPlan> {
        let mut plan = Vec::new();
        for df in &self.dfs {
            for ef in &df.efs {
                let mode = match ef.structure {
                    Structure::Transparent { size } => ReadMode::Binary { size },
                    Structure::LinearVariable { .. } if ef.fields.is_empty() => continue,
                    Structure::LinearVariable { .. } => ReadMode::Records {
                        records: ef.fields.len() as u8,
                    },
                    Structure::Cyclic { .. } => continue,
                };
                plan.push(ReadPlan {
                    path: ef_path(df, ef),
                    df_path: self.df_path(df),
                    df_name: df.name.clone(),
                    ef_fid: ef.fid,
                    sfi: ef.sfi,
                    mode,
                    free: ef.access.read == super::AccessRule::FREE,
                });
            }
        }
        plan
    }
}

/// "SSSE/EF05".
pub fn ef_path(df: &Df, ef: &Ef) -> String {
    format!("{}/{:04X}", df.name, ef.fid)
}

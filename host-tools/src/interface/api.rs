//! The Rust-level interface that the C functions and the web bridge both call: the 23 functions
//! by name with their parameters as text, one [`Driver`] per process behind a mutex (calls from
//! several threads are serialised; a panicking call does not poison the next one).

use std::sync::{Mutex, MutexGuard};

use crate::interface::codes::{self, Failure, Outcome};
use crate::interface::config::{Config, ConfigFile};
use crate::interface::ops;
use crate::interface::pin::PinPad;
use crate::interface::readers::Readers;
use crate::interface::session::CardSession;

/// A parameter of a national function, in the order of its C signature (pOutInfo excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// `int iType`: 1 contact, 2 contactless, 3 / 4 auto.
    IType,
    /// `int iAuthType`: 1 PIN, 2 key.
    IAuthType,
    /// `char* pCardInfo`: `card identification code|card number|`.
    CardInfo,
    /// `char* pFileAddr`: `<DF><EF>|<item>|...|$...`.
    FileAddr,
    /// `char* pWriteData`.
    WriteData,
    /// `char* pPayInfo`: `total|account+pooled|YYYYMMDDHHMMSS|`.
    PayInfo,
    /// `char* pKey`: the HSM's answer to a Step.
    Key,
}

impl Param {
    /// The C parameter's name.
    pub fn name(self) -> &'static str {
        match self {
            Param::IType => "iType",
            Param::IAuthType => "iAuthType",
            Param::CardInfo => "pCardInfo",
            Param::FileAddr => "pFileAddr",
            Param::WriteData => "pWriteData",
            Param::PayInfo => "pPayInfo",
            Param::Key => "pKey",
        }
    }

    pub fn is_int(self) -> bool {
        matches!(self, Param::IType | Param::IAuthType)
    }
}

/// One function of the interface: its name, parameters, and the size of the pOutInfo buffer the
/// spec promises its callers (NUL included): the driver never writes more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    pub name: &'static str,
    pub params: &'static [Param],
    pub out_capacity: usize,
}

/// pOutInfo sizes of the spec.
pub const BAS_OUT: usize = 1024;
pub const READ_OUT: usize = 20 * 1024;
pub const PIN_OUT: usize = 512;
pub const DEBIT_RECORD_OUT: usize = 2048;

use Param::*;

/// All 23 functions. Public loaders resolve every one and refuse a library that lacks one.
pub const FUNCTIONS: [Signature; 23] = [
    sig("iReadCardBas", &[IType], BAS_OUT),
    sig(
        "iReadCard",
        &[IType, IAuthType, CardInfo, FileAddr],
        READ_OUT,
    ),
    sig(
        "iWriteCard",
        &[IType, CardInfo, FileAddr, WriteData],
        PIN_OUT,
    ),
    sig("iVerifyPIN", &[IType], PIN_OUT),
    sig("iChangePIN", &[IType], PIN_OUT),
    sig("iReloadPIN", &[IType, CardInfo], PIN_OUT),
    sig("iUnblockPIN", &[IType, CardInfo], PIN_OUT),
    sig("iDoDebit", &[IType, CardInfo, PayInfo], PIN_OUT),
    sig("iReadDebitRecord", &[IType], DEBIT_RECORD_OUT),
    sig("iReadCardBas_HSM_Step1", &[IType], BAS_OUT),
    sig("iReadCardBas_HSM_Step2", &[Key], BAS_OUT),
    sig("iReadCard_HSM_Step1", &[IType, CardInfo, FileAddr], BAS_OUT),
    sig("iReadCard_HSM_Step2", &[Key], BAS_OUT),
    sig(
        "iWriteCard_HSM_Step1",
        &[IType, CardInfo, FileAddr],
        BAS_OUT,
    ),
    sig("iWriteCard_HSM_Step2", &[Key, WriteData], BAS_OUT),
    sig("iReloadPIN_HSM_Step1", &[IType, CardInfo], BAS_OUT),
    sig("iReloadPIN_HSM_Step2", &[Key], BAS_OUT),
    sig("iReloadPIN_HSM_Step3", &[Key], BAS_OUT),
    sig("iUnblockPIN_HSM_Step1", &[IType, CardInfo], BAS_OUT),
    sig("iUnblockPIN_HSM_Step2", &[Key], BAS_OUT),
    sig("iUnblockPIN_HSM_Step3", &[Key], BAS_OUT),
    sig("iDoDebit_HSM_Step1", &[IType, CardInfo, PayInfo], BAS_OUT),
    sig("iDoDebit_HSM_Step2", &[Key], BAS_OUT),
];

const fn sig(name: &'static str, params: &'static [Param], out_capacity: usize) -> Signature {
    Signature {
        name,
        params,
        out_capacity,
    }
}

/// The signature of a function by its exact name.
pub fn signature(name: &str) -> Option<&'static Signature> {
    FUNCTIONS.iter().find(|s| s.name == name)
}

/// What a function returned: its code (0 or negative) and pOutInfo's text (before GBK and the
/// cut to the buffer size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: i64,
    pub out: String,
}

impl From<Outcome> for Reply {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Ok(out) => Reply {
                code: codes::OK,
                out,
            },
            Err(f) => Reply {
                code: f.code,
                out: f.message,
            },
        }
    }
}

/// An argument as given: a C int, or a string (None: a null pointer / a missing JSON field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg<'a> {
    Int(i32),
    Text(Option<&'a str>),
}

/// Which HSM exchange is open: Step1 keeps the card powered and what Step2 must check.
pub(crate) enum Pending {
    ReadCardBas(ops::bas::BasPending),
    ReadCard(ops::hsm_files::FilesPending),
    WriteCard(ops::hsm_files::FilesPending),
    ReloadPin(ops::hsm_pin::PinPending),
    UnblockPin(ops::hsm_pin::PinPending),
    Debit(ops::debit::DebitPending),
}

impl Pending {
    pub(crate) fn into_session(self) -> CardSession {
        match self {
            Pending::ReadCardBas(p) => p.session,
            Pending::ReadCard(p) | Pending::WriteCard(p) => p.session,
            Pending::ReloadPin(p) | Pending::UnblockPin(p) => p.session,
            Pending::Debit(p) => p.session,
        }
    }
}

/// The process's driver state: the configuration in force, the PIN pad, an open HSM exchange,
/// the readers kept between calls.
pub struct Driver {
    fixed_config: Option<Config>,
    config_file: ConfigFile,
    pad: Option<PinPad>,
    pub(crate) pending: Option<Pending>,
    /// Made at the first call (a `const` driver cannot hold them yet).
    readers: Option<Readers>,
}

impl Default for Driver {
    fn default() -> Self {
        Self::new()
    }
}

impl Driver {
    /// A driver that reads its configuration file at each call (`$SSCARD_DRIVER_CONFIG`, else
    /// beside the library), so an edited file takes effect without reloading the library (it is
    /// parsed again only when its text changed).
    pub const fn new() -> Self {
        Driver {
            fixed_config: None,
            config_file: ConfigFile::new(),
            pad: None,
            pending: None,
            readers: None,
        }
    }

    /// A driver with a configuration given by the program (the web bridge, tests).
    pub fn with_config(config: Config) -> Self {
        Driver {
            fixed_config: Some(config),
            ..Driver::new()
        }
    }

    /// Replaces the configuration (None: back to the file); an open HSM exchange is dropped, and
    /// the readers kept for the old one are closed.
    pub fn set_config(&mut self, config: Option<Config>) {
        self.drop_pending();
        self.pad = None;
        self.readers = None;
        self.fixed_config = config;
    }

    /// The readers kept between calls (see [`Readers`]); clones share them.
    pub(crate) fn readers(&mut self) -> Readers {
        self.readers.get_or_insert_with(Readers::default).clone()
    }

    pub(crate) fn config(&mut self) -> Result<Config, Failure> {
        let config = match &self.fixed_config {
            Some(c) => c.clone(),
            None => self.config_file.current()?,
        };
        if self.pad.as_ref().map(|p| p.spec()) != Some(&config.pin_source) {
            self.pad = Some(PinPad::new(config.pin_source.clone(), config.pin_timeout));
        }
        Ok(config)
    }

    pub(crate) fn pad(&mut self) -> Result<&mut PinPad, Failure> {
        self.pad
            .as_mut()
            .ok_or_else(|| Failure::new(codes::CANNOT_LOAD, "no PIN source is configured"))
    }

    /// Ends an open HSM exchange (powering its card down).
    pub(crate) fn drop_pending(&mut self) {
        if let Some(p) = self.pending.take() {
            p.into_session().close();
        }
    }

    /// Calls a function by name with its parameters in C order (pOutInfo excluded).
    pub fn call(&mut self, name: &str, args: &[Arg<'_>]) -> Reply {
        let Some(signature) = signature(name) else {
            return Reply {
                code: codes::NOT_SUPPORTED,
                out: format!("no function named {name:?} in the national interface"),
            };
        };
        if args.len() != signature.params.len() {
            return Reply {
                code: codes::BAD_PARAMETER,
                out: format!(
                    "{name} takes {} parameters ({}), not {}",
                    signature.params.len(),
                    signature
                        .params
                        .iter()
                        .map(|p| p.name())
                        .collect::<Vec<_>>()
                        .join(", "),
                    args.len()
                ),
            };
        }
        ops::dispatch(self, signature, args).into()
    }

    /// As [`Driver::call`], every parameter as text (ints in decimal), as the web bridge's
    /// `{"func": ..., "in": [...]}` shape carries them.
    pub fn call_text(&mut self, name: &str, args: &[Option<&str>]) -> Reply {
        let Some(signature) = signature(name) else {
            return self.call(name, &[]);
        };
        let mut typed = Vec::with_capacity(args.len());
        for (param, arg) in signature.params.iter().zip(args) {
            if param.is_int() {
                match arg.and_then(|a| a.trim().parse::<i32>().ok()) {
                    Some(n) => typed.push(Arg::Int(n)),
                    None => {
                        return Reply {
                            code: codes::BAD_PARAMETER,
                            out: format!("{} must be a number", param.name()),
                        }
                    }
                }
            } else {
                typed.push(Arg::Text(*arg));
            }
        }
        if args.len() != signature.params.len() {
            typed.clear();
            typed.extend(args.iter().map(|a| Arg::Text(*a)));
        }
        self.call(name, &typed)
    }
}

static DRIVER: Mutex<Driver> = Mutex::new(Driver::new());

/// The process's driver, locked for one call. A call that panicked left it usable: its open HSM
/// exchange (if any) is dropped.
pub fn driver() -> MutexGuard<'static, Driver> {
    match DRIVER.lock() {
        Ok(guard) => guard,
        Err(poisoned) => {
            DRIVER.clear_poison();
            let mut guard = poisoned.into_inner();
            guard.drop_pending();
            guard
        }
    }
}

/// Calls a function of the process's driver (what the C functions do).
pub fn call(name: &str, args: &[Arg<'_>]) -> Reply {
    driver().call(name, args)
}

/// As [`call`], with every parameter as text.
pub fn call_text(name: &str, args: &[Option<&str>]) -> Reply {
    driver().call_text(name, args)
}

/// Fixes the process driver's configuration (None: read the file at each call again).
pub fn configure(config: Option<Config>) {
    driver().set_config(config);
}

//! The driver's configuration (a TOML file, as vendor drivers keep an INI beside the library):
//! which reader holds the card and which the PSAM, the terminal's numbers, the PIN source, the
//! layout, and the settings for the points where sources disagree.
//!
//! Found at `$SSCARD_DRIVER_CONFIG`, else `SSCardDriver.toml` in the directory of the loaded
//! library. Missing or wrong: every function answers −5 ([`crate::interface::codes::CANNOT_LOAD`]) with the
//! reason in pOutInfo.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::transport::pcsc::ReaderChoice;
use serde::Deserialize;

use crate::interface::codes::{Failure, CANNOT_LOAD};
use crate::interface::pin::PinSourceSpec;

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "SSCARD_DRIVER_CONFIG";
/// The file looked for beside the library.
pub const CONFIG_FILE: &str = "SSCardDriver.toml";
/// Bytes of the largest configuration file read.
const CONFIG_MAX: u64 = 64 * 1024;

/// Where a card (or the PSAM) is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// A PC/SC reader by name (exact, or the one name containing it) or index.
    Reader(ReaderChoice),
    /// A card image run by the simulator in this process.
    Image(PathBuf),
}

/// How a wrong or blocked PIN is reported (sources disagree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinCodes {
    /// −51 with the tries left in pOutInfo, −52 blocked (the default).
    Short,
    /// The card's status word: 63Cx → −2553x, 6983 → −27011.
    StatusWord,
}

/// The configuration in force.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (relative paths in it are relative to its directory).
    pub source: PathBuf,
    pub card: Slot,
    /// How long a call waits for a card to be inserted (default 0: "no card" at once).
    pub card_wait: Duration,
    pub psam: Option<Slot>,
    /// The terminal number a PSAM without one reports (12 digits).
    pub psam_terminal_number: Option<String>,
    /// Whether a PSAM in a PC/SC reader stays connected (powered, held, its application
    /// selected) between calls (`[psam] keep_connected`, default true); false: each call opens
    /// and closes it.
    pub psam_keep_connected: bool,
    /// Item 11 of iReadCardBas (may be empty).
    pub terminal_device_number: String,
    pub pin_source: PinSourceSpec,
    pub pin_timeout: Duration,
    /// A layout extension file; None: the national layout.
    pub layout_file: Option<PathBuf>,
    /// The generation assumed when the ATR does not say ("2.0" or "3.0").
    pub default_version: String,
    pub pin_codes: PinCodes,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    card: RawSlot,
    psam: Option<RawSlot>,
    #[serde(default)]
    terminal: RawTerminal,
    #[serde(default)]
    pin: RawPin,
    #[serde(default)]
    layout: RawLayout,
    #[serde(default)]
    codes: RawCodes,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlot {
    reader: Option<String>,
    image: Option<String>,
    #[serde(default)]
    wait_ms: u64,
    terminal_number: Option<String>,
    keep_connected: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTerminal {
    #[serde(default)]
    device_number: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPin {
    #[serde(default = "default_pin_source")]
    source: String,
    #[serde(default = "default_pin_timeout")]
    timeout_ms: u64,
}

impl Default for RawPin {
    fn default() -> Self {
        RawPin {
            source: default_pin_source(),
            timeout_ms: default_pin_timeout(),
        }
    }
}

fn default_pin_source() -> String {
    "tty".into()
}

fn default_pin_timeout() -> u64 {
    60_000
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayout {
    file: Option<String>,
    #[serde(default = "default_version")]
    default_version: String,
}

impl Default for RawLayout {
    fn default() -> Self {
        RawLayout {
            file: None,
            default_version: default_version(),
        }
    }
}

fn default_version() -> String {
    "3.0".into()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCodes {
    wrong_pin: Option<String>,
}

fn bad(source: &Path, reason: impl std::fmt::Display) -> Failure {
    Failure::new(
        CANNOT_LOAD,
        format!(
            "the driver configuration {} is not usable: {reason}",
            source.display()
        ),
    )
}

impl Config {
    /// The configuration from a file's text; `source` names it and anchors relative paths.
    pub fn parse(source: &Path, text: &str) -> Result<Config, Failure> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| bad(source, e.message()))?;
        let base = source.parent().unwrap_or(Path::new("."));
        let slot = |raw: &RawSlot, what: &str| -> Result<Slot, Failure> {
            match (&raw.reader, &raw.image) {
                (Some(reader), None) if !reader.is_empty() => Ok(Slot::Reader(
                    reader
                        .parse::<ReaderChoice>()
                        .unwrap_or_else(|e| match e {}),
                )),
                (None, Some(image)) if !image.is_empty() => Ok(Slot::Image(base.join(image))),
                _ => Err(bad(
                    source,
                    format!("[{what}] needs exactly one of reader = \"NAME or INDEX\" or image = \"PATH\""),
                )),
            }
        };
        let card = slot(&raw.card, "card")?;
        if raw.card.keep_connected.is_some() {
            return Err(bad(
                source,
                "keep_connected belongs to [psam]: the card is powered down at the end of every call",
            ));
        }
        let psam = raw.psam.as_ref().map(|p| slot(p, "psam")).transpose()?;
        let psam_terminal_number = raw.psam.as_ref().and_then(|p| p.terminal_number.clone());
        if let Some(number) = &psam_terminal_number {
            if number.len() != 12 || !number.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(source, "[psam] terminal_number is 12 digits"));
            }
        }
        if raw.terminal.device_number.contains('|') || raw.terminal.device_number.len() > 64 {
            return Err(bad(
                source,
                "[terminal] device_number is at most 64 characters without '|'",
            ));
        }
        let pin_source =
            PinSourceSpec::parse(&raw.pin.source).map_err(|reason| bad(source, reason))?;
        if !matches!(raw.layout.default_version.as_str(), "2.0" | "3.0") {
            return Err(bad(
                source,
                "[layout] default_version is \"2.0\" or \"3.0\"",
            ));
        }
        let pin_codes = match raw.codes.wrong_pin.as_deref() {
            None | Some("short") => PinCodes::Short,
            Some("status-word") => PinCodes::StatusWord,
            Some(other) => {
                return Err(bad(
                    source,
                    format!("[codes] wrong_pin is \"short\" or \"status-word\", not {other:?}"),
                ))
            }
        };
        Ok(Config {
            source: source.to_owned(),
            card,
            card_wait: Duration::from_millis(raw.card.wait_ms.min(600_000)),
            psam,
            psam_terminal_number,
            psam_keep_connected: raw
                .psam
                .as_ref()
                .and_then(|p| p.keep_connected)
                .unwrap_or(true),
            terminal_device_number: raw.terminal.device_number,
            pin_source,
            pin_timeout: Duration::from_millis(raw.pin.timeout_ms.clamp(1, 600_000)),
            layout_file: raw.layout.file.map(|f| base.join(f)),
            default_version: raw.layout.default_version,
            pin_codes,
        })
    }

    /// The text of the file at `path` (at most 64 KiB).
    pub fn read_text(path: &Path) -> Result<String, Failure> {
        use std::io::Read;
        let file = std::fs::File::open(path).map_err(|e| bad(path, e))?;
        let mut text = String::new();
        file.take(CONFIG_MAX + 1)
            .read_to_string(&mut text)
            .map_err(|e| bad(path, e))?;
        if text.len() as u64 > CONFIG_MAX {
            return Err(bad(path, format!("larger than {CONFIG_MAX} bytes")));
        }
        Ok(text)
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Config, Failure> {
        Config::parse(path, &Config::read_text(path)?)
    }

    /// The file this process's configuration is in: `$SSCARD_DRIVER_CONFIG`, else the file beside
    /// the library.
    pub fn path() -> Result<PathBuf, Failure> {
        if let Some(path) = std::env::var_os(CONFIG_ENV) {
            return Ok(PathBuf::from(path));
        }
        match library_dir() {
            Some(dir) => Ok(dir.join(CONFIG_FILE)),
            None => Err(Failure::new(
                CANNOT_LOAD,
                format!("no driver configuration: set {CONFIG_ENV} or put {CONFIG_FILE} beside the library"),
            )),
        }
    }

    /// The configuration this process uses (see [`Config::path`]).
    pub fn locate() -> Result<Config, Failure> {
        Config::load(&Config::path()?)
    }
}

/// The configuration file as last read: parsed again only when its text changes, so a call pays
/// for reading a small file, not for parsing it (an edited file still takes effect at the next
/// call).
#[derive(Default)]
pub struct ConfigFile {
    last: Option<(PathBuf, String, Config)>,
}

impl ConfigFile {
    /// Nothing read yet.
    pub const fn new() -> Self {
        ConfigFile { last: None }
    }

    /// The configuration in the file now (see [`Config::path`]).
    pub fn current(&mut self) -> Result<Config, Failure> {
        self.read(&Config::path()?)
    }

    /// The configuration in the file at `path` now.
    pub fn read(&mut self, path: &Path) -> Result<Config, Failure> {
        let text = match Config::read_text(path) {
            Ok(text) => text,
            Err(e) => {
                self.last = None;
                return Err(e);
            }
        };
        if let Some((last_path, last_text, config)) = &self.last {
            if last_path == path && *last_text == text {
                return Ok(config.clone());
            }
        }
        let config = Config::parse(path, &text)?;
        self.last = Some((path.to_owned(), text, config.clone()));
        Ok(config)
    }
}

/// The directory of the shared object (or executable) this code was loaded from.
fn library_dir() -> Option<PathBuf> {
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    let here = library_dir as *const libc::c_void;
    // SAFETY: dladdr only reads the address and fills the struct it is given.
    let found = unsafe { libc::dladdr(here, info.as_mut_ptr()) };
    if found == 0 {
        return None;
    }
    // SAFETY: dladdr returned non-zero, so the struct is filled; dli_fname is checked for null.
    let info = unsafe { info.assume_init() };
    if info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated path owned by the dynamic loader.
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let path = PathBuf::from(
        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name.to_bytes()),
    );
    path.parent().map(Path::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Failure> {
        Config::parse(Path::new("/etc/sscard/SSCardDriver.toml"), text)
    }

    #[test]
    fn a_reader_by_name_or_index_or_an_image() {
        let c = parse("[card]\nreader = \"Virtual PCD 00 00\"\n").unwrap();
        assert_eq!(
            c.card,
            Slot::Reader(ReaderChoice::Name("Virtual PCD 00 00".into()))
        );
        assert!(c.psam.is_none());
        let c = parse("[card]\nreader = \"1\"\n[psam]\nimage = \"psam.card\"\n").unwrap();
        assert_eq!(c.card, Slot::Reader(ReaderChoice::Index(1)));
        assert_eq!(
            c.psam,
            Some(Slot::Image(PathBuf::from("/etc/sscard/psam.card")))
        );
    }

    #[test]
    fn a_bad_configuration_is_cannot_load_with_the_reason() {
        for text in [
            "",
            "[card]\n",
            "[card]\nreader = \"a\"\nimage = \"b\"\n",
            "[card]\nreader = \"a\"\n[pin]\nsource = \"keyboard\"\n",
            "[card]\nreader = \"a\"\ncolour = 1\n",
            "[card]\nreader = \"a\"\n[psam]\nreader = \"b\"\nterminal_number = \"12\"\n",
            "[card]\nreader = \"a\"\n[codes]\nwrong_pin = \"loud\"\n",
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.code, CANNOT_LOAD, "{text:?}");
            assert!(e.message.contains("SSCardDriver.toml"), "{}", e.message);
        }
    }

    #[test]
    fn the_psam_stays_connected_unless_the_file_says_not() {
        let c = parse("[card]\nreader = \"a\"\n[psam]\nreader = \"b\"\n").unwrap();
        assert!(c.psam_keep_connected);
        let c = parse("[card]\nreader = \"a\"\n[psam]\nreader = \"b\"\nkeep_connected = false\n")
            .unwrap();
        assert!(!c.psam_keep_connected);
        let e = parse("[card]\nreader = \"a\"\nkeep_connected = true\n").unwrap_err();
        assert_eq!(e.code, CANNOT_LOAD);
        assert!(e.message.contains("[psam]"), "{}", e.message);
    }

    #[test]
    fn an_edited_file_takes_effect_at_the_next_read() {
        let dir = crate::testdir::TestDir::new("driver-config-edit");
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(&path, "[card]\nreader = \"a\"\n").unwrap();
        let mut file = ConfigFile::default();
        let first = file.read(&path).unwrap();
        assert_eq!(first.card, Slot::Reader(ReaderChoice::Name("a".into())));
        // Same length, written at once: a change a modification time could miss.
        std::fs::write(&path, "[card]\nreader = \"b\"\n").unwrap();
        let second = file.read(&path).unwrap();
        assert_eq!(second.card, Slot::Reader(ReaderChoice::Name("b".into())));
        std::fs::write(&path, "[card]\n").unwrap();
        assert_eq!(file.read(&path).unwrap_err().code, CANNOT_LOAD);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(file.read(&path).unwrap_err().code, CANNOT_LOAD);
    }

    #[test]
    fn a_missing_file_is_cannot_load() {
        let e = Config::load(Path::new("/nonexistent/SSCardDriver.toml")).unwrap_err();
        assert_eq!(e.code, CANNOT_LOAD);
    }
}

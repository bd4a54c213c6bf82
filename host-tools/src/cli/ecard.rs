//! `sscard ecard`: the electronic card (docs/electronic-card.md, "The command line"). A holder
//! applies, sees the card face and shows QR codes; a hospital or pharmacy terminal verifies a
//! code online with the back office, or offline with the published keys and a cached blacklist.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use host_tools::screen::escape;
use serde_json::{json, Value};
use sscard_ecard::render::{self, TerminalColours};
use sscard_ecard::{Blacklist, PlatformPublicKey, PublicKeySet, Purpose, UnixTime};
use sscard_platform::client::{EcardApplicationRequest, EcardSession};
use sscard_platform::ecard::api::CodeAnswer;
use sscard_platform::ecard::online::OnlineVerification;
use sscard_platform::ecard::{EcardView, Level, PRIVACY_TERMS_VERSION};
use sscard_platform::{Client, ClientError};

use super::ecard_holder::{HolderArgs, HolderPlatform, PasswordArgs};
use super::ecard_seen::SeenFile;
use super::inputs::PlatformArgs;
use super::{CliError, Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct EcardArgs {
    #[command(subcommand)]
    pub command: EcardCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum EcardCommand {
    /// Apply for the e-card of an activated card: name, social security number, consent to the
    /// privacy terms, and a 6-digit e-card password (asked twice, hidden).
    Apply(ApplyArgs),
    /// Log in and show the card face: name, number (masked), card, region, validity, level, channels.
    Show(HolderArgs),
    /// Log in and show a fresh QR code: in the terminal, as SVG or PNG; --watch refreshes it.
    Qr(QrArgs),
    /// Verify a QR code: online with the back office (a hospital terminal), or offline with the
    /// platform's keys and a cached blacklist.
    Verify(VerifyArgs),
    /// The holder's family account: add, remove and list members (up to the back office's limit).
    #[command(subcommand)]
    Family(super::ecard_family::FamilyCommand),
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub platform: HolderPlatform,
    /// The holder's name, as in the registry.
    #[arg(long)]
    pub name: String,
    /// The holder's social security number.
    #[arg(long)]
    pub ssn: String,
    /// The holder consents to the privacy terms (required: without it nothing is applied for).
    #[arg(long)]
    pub consent: bool,
    /// The app applied through; it becomes the e-card's first channel.
    #[arg(long, value_name = "NAME", default_value = "sscard-cli")]
    pub channel: String,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QrFormat {
    /// Unicode blocks in the terminal.
    Terminal,
    Svg,
    Png,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PurposeArg {
    /// Identification and queries.
    Identity,
    /// Also payment (a level 2 e-card).
    Payment,
}

#[derive(Debug, clap::Args)]
pub struct QrArgs {
    #[command(flatten)]
    pub holder: HolderArgs,
    /// How the code is drawn.
    #[arg(long, value_enum, default_value = "terminal")]
    pub format: QrFormat,
    /// Write the SVG or PNG to FILE (replaced whole at each refresh). PNG needs it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// What the code is for.
    #[arg(long, value_enum, default_value = "identity")]
    pub purpose: PurposeArg,
    /// Pixels (SVG: user units) per QR module.
    #[arg(long, value_name = "PX", default_value_t = 8,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(render::MAX_PNG_MODULE_PX)))]
    pub module_px: u32,
    /// Show a new code each time the last one expires, with a countdown, until Ctrl-C, --count
    /// codes, or the end of the login session (30 minutes).
    #[arg(long)]
    pub watch: bool,
    /// With --watch: stop after N codes.
    #[arg(long, value_name = "N", requires = "watch",
        value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub count: Option<u32>,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The code as scanned (`SSC1:...`); `-` reads it from standard input. May be left out
    /// with --sync-blacklist.
    #[arg(value_name = "CODE", required_unless_present = "sync_blacklist")]
    pub code: Option<String>,
    /// Online: the back office verifies the code (this terminal's credential, a hospital's).
    #[command(flatten)]
    pub platform: PlatformArgs,
    /// Verify offline, with --keys and --blacklist, without asking the back office.
    #[arg(long)]
    pub offline: bool,
    /// The platform's published keys: the JSON list of `GET /api/v1/ecard/keys`, or one public
    /// key (PEM or SEC1 hex). Written by the first --sync-blacklist when it does not exist.
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,
    /// The cached e-card blacklist (JSON), as --sync-blacklist writes it.
    #[arg(long, value_name = "FILE")]
    pub blacklist: Option<PathBuf>,
    /// Offline: remember the codes accepted in FILE (JSON, locked while used), so a code shown
    /// to this terminal twice is refused as replayed.
    #[arg(long, value_name = "FILE")]
    pub seen: Option<PathBuf>,
    /// Fetch the back office's e-card blacklist into --blacklist (and the keys into --keys when
    /// that file does not exist yet); then verify CODE, if given, offline.
    #[arg(long, requires_all = ["platform", "blacklist"])]
    pub sync_blacklist: bool,
}

pub fn run(global: &Global, args: &EcardArgs) -> Result<Outcome, CliError> {
    match &args.command {
        EcardCommand::Apply(args) => apply(global, args),
        EcardCommand::Show(args) => show(global, args),
        EcardCommand::Qr(args) => qr(global, args),
        EcardCommand::Verify(args) => verify(global, args),
        EcardCommand::Family(command) => super::ecard_family::run(global, command),
    }
}

/// A social security number for the screen: its first and last four characters.
pub fn mask_ssn(ssn: &str) -> String {
    let chars: Vec<char> = ssn.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < 4 || i >= chars.len() - 4 {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

fn level_text(level: Level) -> &'static str {
    match level {
        Level::Identity => "1 (identification and queries)",
        Level::Payment => "2 (identification, queries and payment)",
    }
}

/// The card face for `--json`: the service's view with the number masked.
fn face_json(view: &EcardView) -> Value {
    let mut value = json!(view);
    value["ssn"] = json!(mask_ssn(&view.ssn));
    value
}

fn face_text(view: &EcardView) -> String {
    let works = match &view.refusal {
        None => "yes".to_owned(),
        Some(r) => format!("no: {}", escape(&r.reason)),
    };
    format!(
        "e-card {}\n  name          {}\n  ssn           {}\n  card number   {}\n  region        {}\n  valid until   {}\n  card state    {}\n  level         {}\n  channels      {}\n  works         {works}\n",
        escape(&view.id),
        escape(&view.name),
        escape(&mask_ssn(&view.ssn)),
        escape(&view.card_number),
        escape(&view.region),
        escape(&view.card_expiry_date),
        view.card_state.as_str(),
        level_text(view.level),
        escape(&view.channels.join(", ")),
    )
}

fn apply(global: &Global, args: &ApplyArgs) -> Result<Outcome, CliError> {
    // Refused before anything is asked or sent.
    if !args.consent {
        return Err(CliError::ConsentRequired(PRIVACY_TERMS_VERSION));
    }
    let password = args.password.new_password()?;
    let client = Client::anonymous(&args.platform.platform, global.answer_timeout);
    let view = client.apply_ecard(&EcardApplicationRequest {
        ssn: &args.ssn,
        name: &args.name,
        consent_privacy_terms: true,
        channel: &args.channel,
        password: &password,
    })?;
    drop(password);
    let text = format!(
        "e-card issued: {}\n  level         {}\n  card number   {}\n  privacy terms {PRIVACY_TERMS_VERSION} consented to\n",
        escape(&view.id),
        level_text(view.level),
        escape(&view.card_number),
    );
    Ok(Outcome::new(text, face_json(&view)))
}

fn show(global: &Global, args: &HolderArgs) -> Result<Outcome, CliError> {
    let session = args.session(global)?;
    let view = session.client.ecard(&session.ecard.id)?;
    Ok(Outcome::new(face_text(&view), face_json(&view)))
}

/// A time of day in UTC, `HH:MM:SS`.
fn clock(secs: u64) -> String {
    let day = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        day / 3600,
        day % 3600 / 60,
        day % 60
    )
}

/// Writes `bytes` to `path` whole: a temporary file beside it, renamed over it, so a viewer
/// never reads half a picture.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    replace_file(path, bytes).map_err(|source| CliError::CreateFile {
        path: path.display().to_string(),
        source,
    })
}

/// [`write_whole`]'s work, for the files this command keeps (a picture, a cache).
pub(super) fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Draws one code as the options say: the text to show (the terminal drawing, or the SVG when
/// no file is named) and the file written.
fn draw(args: &QrArgs, code: &CodeAnswer) -> Result<(String, Option<String>), CliError> {
    let drawn = match args.format {
        QrFormat::Terminal => render::to_terminal(&code.code, TerminalColours::LightOnDark)?,
        QrFormat::Svg => render::to_svg(&code.code, args.module_px)?,
        QrFormat::Png => String::new(),
    };
    let Some(out) = &args.out else {
        return Ok((drawn, None));
    };
    let bytes = match args.format {
        QrFormat::Png => render::to_png(&code.code, args.module_px)?,
        _ => drawn.into_bytes(),
    };
    write_whole(out, &bytes)?;
    Ok((String::new(), Some(out.display().to_string())))
}

fn code_json(code: &CodeAnswer, purpose: Purpose, out: Option<&str>) -> Value {
    json!({
        "code": code.code,
        "purpose": purpose,
        "issued_at": code.issued_at,
        "expires_at": code.expires_at,
        "validity_secs": code.validity_secs,
        "out": out,
    })
}

fn code_text(drawn: &str, code: &CodeAnswer, out: Option<&str>) -> String {
    let mut text = drawn.to_owned();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    if let Some(out) = out {
        text.push_str(&format!("wrote {}\n", escape(out)));
    }
    text.push_str(&format!(
        "{}\nvalid until {} ({} s)\n",
        code.code,
        clock(code.expires_at),
        code.validity_secs
    ));
    text
}

/// A fresh code from the back office, refused unless it is QR alphanumeric text (as every
/// code is): nothing else is drawn or printed raw.
fn fetch_code(client: &Client, ecard: &str, purpose: Purpose) -> Result<CodeAnswer, CliError> {
    let code = client.ecard_code(ecard, purpose)?;
    let alphanumeric =
        |c: char| c.is_ascii_digit() || c.is_ascii_uppercase() || " $%*+-./:".contains(c);
    if code.code.is_empty() || !code.code.chars().all(alphanumeric) {
        return Err(ClientError::BadAnswer("the code is not QR alphanumeric text".into()).into());
    }
    Ok(code)
}

fn qr(global: &Global, args: &QrArgs) -> Result<Outcome, CliError> {
    if args.format == QrFormat::Png && args.out.is_none() {
        return Err(CliError::Usage(
            "a PNG is written to a file: give --out FILE".into(),
        ));
    }
    if args.format == QrFormat::Terminal && args.out.is_some() {
        return Err(CliError::Usage("--out is for --format svg or png".into()));
    }
    let purpose = match args.purpose {
        PurposeArg::Identity => Purpose::Identity,
        PurposeArg::Payment => Purpose::Payment,
    };
    let session = args.holder.session(global)?;
    if !args.watch {
        let code = fetch_code(&session.client, &session.ecard.id, purpose)?;
        let (drawn, out) = draw(args, &code)?;
        return Ok(Outcome::new(
            code_text(&drawn, &code, out.as_deref()),
            code_json(&code, purpose, out.as_deref()),
        ));
    }
    watch(global, args, &session, purpose)
}

/// `qr --watch`: a code, a countdown to its expiry, the next code; each wait bounded by the
/// code's validity, the whole by --count or the login session.
fn watch(
    global: &Global,
    args: &QrArgs,
    session: &EcardSession,
    purpose: Purpose,
) -> Result<Outcome, CliError> {
    let tty = std::io::stdout().is_terminal() && !global.json;
    let mut shown = 0u32;
    loop {
        let code = fetch_code(&session.client, &session.ecard.id, purpose)?;
        let (drawn, out) = draw(args, &code)?;
        let mut stdout = std::io::stdout().lock();
        let written = if global.json {
            // One JSON document a line, as each code comes.
            writeln!(stdout, "{}", code_json(&code, purpose, out.as_deref()))
        } else {
            // Our own text: the drawing, the code (QR alphanumerics) and the time.
            let clear = if tty { "\x1b[2J\x1b[H" } else { "" };
            write!(
                stdout,
                "{clear}{}",
                code_text(&drawn, &code, out.as_deref())
            )
        };
        written
            .and_then(|()| stdout.flush())
            .map_err(CliError::Output)?;
        drop(stdout);
        shown += 1;
        if args.count.is_some_and(|n| shown >= n) {
            break;
        }
        countdown(&code, tty)?;
    }
    let text = if global.json {
        String::new()
    } else {
        format!("{shown} code(s) shown\n")
    };
    Ok(Outcome::new(text, Value::Null))
}

/// Waits until the code expires (at most its validity), counting down on a terminal.
fn countdown(code: &CodeAnswer, tty: bool) -> Result<(), CliError> {
    let bound = u64::from(code.validity_secs);
    let mut left = code
        .expires_at
        .saturating_sub(UnixTime::now().secs())
        .min(bound);
    while left > 0 {
        if tty {
            let mut stdout = std::io::stdout().lock();
            write!(stdout, "\rnext code in {left:>3} s (Ctrl-C stops) ")
                .and_then(|()| stdout.flush())
                .map_err(CliError::Output)?;
        }
        std::thread::sleep(Duration::from_secs(1));
        left = left
            .saturating_sub(1)
            .min(code.expires_at.saturating_sub(UnixTime::now().secs()));
    }
    Ok(())
}

/// The largest cached blacklist read (a snapshot of every blocked e-card of a city).
const MAX_BLACKLIST_FILE_BYTES: usize = 256 * 1024 * 1024;
/// The largest key file read.
const MAX_KEYS_FILE_BYTES: usize = 1024 * 1024;
/// The longest code read from standard input (a code is under 200 characters).
const MAX_CODE_BYTES: u64 = 4096;

fn read_file(path: &Path, limit: usize, what: &'static str) -> Result<Vec<u8>, CliError> {
    Ok(file_structures::input::read_bounded(path, limit, what)?)
}

/// The published keys: a JSON list, or one key file (PEM or SEC1 hex).
fn load_keys(path: &Path) -> Result<PublicKeySet, CliError> {
    let bytes = read_file(path, MAX_KEYS_FILE_BYTES, "the platform's keys")?;
    let text = String::from_utf8_lossy(&bytes);
    if text.trim_start().starts_with('[') {
        serde_json::from_str(&text).map_err(|e| CliError::EcardFile {
            path: path.display().to_string(),
            what: "a list of the platform's keys",
            source: e,
        })
    } else {
        let mut set = PublicKeySet::new();
        set.insert(PlatformPublicKey::load(path)?)?;
        Ok(set)
    }
}

fn load_blacklist(path: &Path) -> Result<Blacklist, CliError> {
    let bytes = read_file(path, MAX_BLACKLIST_FILE_BYTES, "the e-card blacklist")?;
    serde_json::from_slice(&bytes).map_err(|e| CliError::EcardFile {
        path: path.display().to_string(),
        what: "an e-card blacklist",
        source: e,
    })
}

fn save_json(path: &Path, value: &impl serde::Serialize) -> Result<(), CliError> {
    let bytes = serde_json::to_vec(value).map_err(|e| CliError::Output(e.into()))?;
    write_whole(path, &bytes)
}

/// The code: the argument, or one line of standard input for `-`.
fn code_argument(code: &str) -> Result<String, CliError> {
    if code != "-" {
        return Ok(code.trim().to_owned());
    }
    let mut text = String::new();
    std::io::stdin()
        .lock()
        .take(MAX_CODE_BYTES)
        .read_to_string(&mut text)
        .map_err(CliError::Output)?;
    Ok(text.lines().next().unwrap_or_default().trim().to_owned())
}

fn verify(global: &Global, args: &VerifyArgs) -> Result<Outcome, CliError> {
    let mut synced = None;
    if args.sync_blacklist {
        synced = Some(sync(global, args)?);
    }
    let Some(code) = &args.code else {
        let (text, json) = synced.unwrap_or_default();
        return Ok(Outcome::new(text, json));
    };
    let code = code_argument(code)?;
    let mut outcome = if args.offline || args.sync_blacklist {
        verify_offline(args, &code)?
    } else {
        let client = args.platform.client(global.answer_timeout)?.ok_or_else(|| {
            CliError::Usage(
                "verify online with --platform URL (and this terminal's credential), or offline with --offline --keys FILE --blacklist FILE"
                    .into(),
            )
        })?;
        verify_online(&client, &code)?
    };
    if let Some((text, json)) = synced {
        outcome.text = format!("{text}{}", outcome.text);
        outcome.json["synced"] = json;
    }
    Ok(outcome)
}

/// `--sync-blacklist`: the blacklist (and, the first time, the keys) from the back office.
fn sync(global: &Global, args: &VerifyArgs) -> Result<(String, Value), CliError> {
    let client = args
        .platform
        .client(global.answer_timeout)?
        .ok_or_else(|| CliError::Usage("--sync-blacklist needs --platform URL".into()))?;
    let path = args
        .blacklist
        .as_deref()
        .ok_or_else(|| CliError::Usage("--sync-blacklist needs --blacklist FILE".into()))?;
    let blacklist = client.ecard_blacklist()?;
    save_json(path, &blacklist)?;
    let mut text = format!(
        "blacklist synced: version {}, {} blocked\n",
        blacklist.version(),
        blacklist.len()
    );
    let mut keys_written = false;
    if let Some(keys) = args.keys.as_deref().filter(|k| !k.exists()) {
        let published = client.ecard_keys()?;
        save_json(keys, &published)?;
        text.push_str(&format!(
            "the platform's {} key(s) written to {}\n",
            published.len(),
            escape(&keys.display().to_string())
        ));
        keys_written = true;
    }
    Ok((
        text,
        json!({"blacklist_version": blacklist.version(), "blocked": blacklist.len(),
            "keys_written": keys_written}),
    ))
}

fn refused(mode: &str, reason: &str, failure: CliError) -> Outcome {
    let json = json!({
        "valid": false,
        "mode": mode,
        "reason": reason,
        "message": failure.to_string(),
    });
    let mut outcome = Outcome::new(String::new(), json);
    outcome.failure = Some(failure);
    outcome
}

fn verify_online(client: &Client, code: &str) -> Result<Outcome, CliError> {
    Ok(match client.verify_ecard_code(code) {
        Ok(v) => Outcome::new(online_text(&v), online_json(&v)),
        Err(ClientError::Refused {
            status,
            code,
            reason,
        }) if CodeRefusal::of_code(&code).is_some() => {
            let refusal = code.clone();
            let failure = CliError::EcardCodeRefusedOnline {
                reason: reason.clone(),
                source: ClientError::Refused {
                    status,
                    code,
                    reason,
                },
            };
            refused("online", &refusal, failure)
        }
        Err(e) => return Err(e.into()),
    })
}

fn online_json(v: &OnlineVerification) -> Value {
    json!({
        "valid": true,
        "mode": "online",
        "reason": null,
        "holder": {
            "ecard": v.ecard,
            "name": v.name,
            "ssn": v.ssn,
            "card_number": v.card_number,
            "shown_by": v.shown_by,
        },
        "purpose": v.purpose,
        "expires_at": v.expires_at,
        "settlement_token": v.settlement_token,
        "settlement_token_expires_at": v.settlement_token_expires_at,
    })
}

fn online_text(v: &OnlineVerification) -> String {
    let mut text = format!(
        "valid ({} code, verified online)\n  name          {}\n  ssn           {}\n  card number   {}\n  e-card        {}\n",
        v.purpose,
        escape(&v.name),
        escape(&mask_ssn(&v.ssn)),
        escape(&v.card_number),
        escape(&v.ecard),
    );
    if let Some(by) = &v.shown_by {
        text.push_str(&format!("  shown by      {}\n", escape(by)));
    }
    if let (Some(token), Some(until)) = (&v.settlement_token, v.settlement_token_expires_at) {
        text.push_str(&format!(
            "  settlement token {} (once, until {})\n",
            escape(token),
            clock(until)
        ));
    }
    text
}

fn verify_offline(args: &VerifyArgs, code: &str) -> Result<Outcome, CliError> {
    let keys_path = args
        .keys
        .as_deref()
        .ok_or_else(|| CliError::Usage("offline verification needs --keys FILE".into()))?;
    let blacklist_path = args.blacklist.as_deref().ok_or_else(|| {
        CliError::Usage(
            "offline verification needs --blacklist FILE (fill it with --sync-blacklist)".into(),
        )
    })?;
    let keys = load_keys(keys_path)?;
    let blacklist = load_blacklist(blacklist_path)?;
    Ok(
        match check_offline(code, &keys, &blacklist, args.seen.as_deref()) {
            Ok(v) => {
                let json = json!({
                    "valid": true,
                    "mode": "offline",
                    "reason": null,
                    "holder": { "ecard": v.claims.ecard.to_string(),
                        "member": v.claims.member.map(|m| m.to_string()) },
                    "purpose": v.purpose(),
                    "expires_at": v.expires_at.secs(),
                    "key_id": v.key_id.to_string(),
                    "blacklist_version": blacklist.version(),
                });
                let mut text = format!(
                    "valid ({} code, verified offline: signature, validity, blacklist version {})\n  e-card        {}\n",
                    v.purpose(),
                    blacklist.version(),
                    v.claims.ecard
                );
                if let Some(member) = v.claims.member {
                    text.push_str(&format!("  member        {member}\n"));
                }
                Outcome::new(text, json)
            }
            Err(refusal) => {
                let reason = refusal.code();
                refused("offline", reason, CliError::EcardCodeRefused(refusal))
            }
        },
    )
}

/// The library's offline checks, and the replay check when the terminal keeps a seen-codes file.
fn check_offline(
    code: &str,
    keys: &PublicKeySet,
    blacklist: &Blacklist,
    seen: Option<&Path>,
) -> Result<sscard_ecard::VerifiedCode, sscard_ecard::Refusal> {
    let now = UnixTime::now();
    match seen {
        Some(path) => sscard_ecard::verify_and_admit(
            code,
            keys,
            now,
            blacklist,
            &SeenFile::new(path),
            &sscard_ecard::VerifyPolicy::default(),
        ),
        None => sscard_ecard::verify_offline(code, keys, now, blacklist),
    }
}

/// Why a code is refused, as far as the exit code tells (docs/electronic-card.md): online
/// and offline refusals of one kind share a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Outside its validity: expired, not valid yet, or claiming too long a validity.
    Expired,
    /// Used before (or the use could not be checked).
    Replayed,
    /// Not a code the platform signed as it stands: malformed, altered, signed by another key.
    Tampered,
    /// The card is reported lost, cancelled, sealed, expired, not activated.
    CardBlocked,
    /// The code names a key or an e-card nobody here knows.
    Unknown,
    /// The code may not be used for this (an identity code or a level 1 e-card paying).
    NotForThisUse,
}

impl CodeRefusal {
    /// The class of a refusal's stable code (the library's and the back office's alike).
    pub fn of_code(code: &str) -> Option<CodeRefusal> {
        Some(match code {
            "expired" | "not-yet-valid" | "validity-too-long" => CodeRefusal::Expired,
            "replayed" | "replay-check-failed" => CodeRefusal::Replayed,
            "malformed" | "bad-signature" => CodeRefusal::Tampered,
            "card-blocked"
            | "card-lost"
            | "card-temporarily-lost"
            | "card-cancelled"
            | "card-sealed"
            | "card-expired"
            | "card-not-activated" => CodeRefusal::CardBlocked,
            "unknown-key" | "unknown-ecard" => CodeRefusal::Unknown,
            "wrong-purpose" | "level-1" => CodeRefusal::NotForThisUse,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_social_security_number_shows_its_ends_only() {
        assert_eq!(mask_ssn("110105198512310029"), "1101**********0029");
        assert_eq!(mask_ssn("12345678"), "********");
        assert_eq!(mask_ssn(""), "");
    }

    #[test]
    fn every_refusal_of_the_library_has_a_class() {
        use sscard_ecard::Refusal as R;
        let refusals = [
            R::Malformed(sscard_ecard::Malformed::Prefix),
            R::UnknownKey(sscard_ecard::KeyId(1)),
            R::BadSignature,
            R::ValidityTooLong {
                validity_secs: 1,
                max_secs: 0,
            },
            R::NotYetValid {
                issued_at: UnixTime::now(),
                now: UnixTime::now(),
            },
            R::Expired {
                expires_at: UnixTime::now(),
                now: UnixTime::now(),
            },
            R::Replayed,
            R::WrongPurpose {
                needed: Purpose::Payment,
                shown: Purpose::Identity,
            },
        ];
        for r in &refusals {
            assert!(CodeRefusal::of_code(r.code()).is_some(), "{}", r.code());
        }
    }
}

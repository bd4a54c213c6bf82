//! Shared by the cli_* tests: running the binary and making card images.
// Each test file uses part of this module.
#![allow(dead_code, unused_imports)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use host_tools::transport::sim::{MemoryStorage, SimTransport};
use sscard_platform::ecard::{EcardApplication, EcardPassword, EcardView};
use sscard_platform::model::{ActivationRequest, CardRegistration};
use sscard_platform::registry::Actor;
use sscard_platform::Store;

pub use host_tools::testdir::TestDir;

/// Exit codes from docs/host-tools.md.
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_SERVICE: i32 = 3;
pub const EXIT_REFUSED: i32 = 9;
pub const EXIT_BAD_INPUT: i32 = 10;
pub const EXIT_IMAGE_DAMAGED: i32 = 11;
pub const EXIT_IO: i32 = 12;
pub const EXIT_INVALID_LAYOUT: i32 = 13;
pub const EXIT_BAD_RECORDS: i32 = 14;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    /// Asserts the exit code, showing both output streams when it is another.
    #[track_caller]
    pub fn assert_exit(&self, code: i32) {
        assert_eq!(self.code, code, "{}\n{}", self.stdout, self.stderr);
    }

    /// Asserts the exit code and that the error output contains `part`.
    #[track_caller]
    pub fn assert_error_contains(&self, code: i32, part: &str) {
        assert_eq!(self.code, code, "{}", self.stderr);
        assert!(
            self.stderr.contains(part),
            "{part:?} not in:\n{}",
            self.stderr
        );
    }

    /// Asserts the exit code and that the error output starts with `start`.
    #[track_caller]
    pub fn assert_error_starts_with(&self, code: i32, start: &str) {
        assert_eq!(self.code, code, "{}", self.stderr);
        assert!(
            self.stderr.starts_with(start),
            "{start:?} does not start:\n{}",
            self.stderr
        );
    }
}

fn finish(output: Output) -> Run {
    Run {
        // A signal (no code) would be a crash: -1 fails every assertion on codes.
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs sscard with these arguments.
pub fn sscard(args: &[&str]) -> Run {
    finish(
        Command::new(env!("CARGO_BIN_EXE_sscard"))
            .args(args)
            .output()
            .expect("sscard runs"),
    )
}

/// Runs sscard with `stdin` on its standard input. A run that ends before reading it (a usage
/// error refused at once) closes the pipe: that is its answer, not the test's failure.
pub fn sscard_stdin(args: &[&str], stdin: &str) -> Run {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sscard"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sscard runs");
    if let Some(mut input) = child.stdin.take() {
        match input.write_all(stdin.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.expect("sscard's standard input is written"),
        }
    }
    finish(child.wait_with_output().expect("sscard ends"))
}

/// Runs sscard with extra environment variables.
pub fn sscard_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sscard"));
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    finish(command.output().expect("sscard runs"))
}

/// A card image holding card-os's demo card (SSSE with EF05/EF06, DF01, DF04).
pub fn demo_image(dir: &Path) -> PathBuf {
    let mut storage = MemoryStorage::erased(64 * 1024);
    card_os::testing::demo_card(&mut storage).expect("the demo card personalises");
    let path = dir.join("demo.card");
    SimTransport::create_image(&path, &storage).expect("the image is written");
    path
}

/// SELECT SSSE by DF name, no answer data.
pub const SELECT_SSSE: &str = "00A4040C0F 7378312E73682EC9E7BBE1B1A3D5CF";

/// The sample cardholder record the CLI embeds, as the tests read it.
pub fn sample_holder() -> serde_json::Value {
    serde_json::from_str(file_structures::samples::HOLDER_JSON).expect("the sample holder is JSON")
}

/// The workspace's file-structures directory (shipped layouts, samples, keys).
pub fn file_structures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../file-structures")
}

/// A personalised card image of the sample holder made by `sscard sim new`.
pub fn sample_card(dir: &Path, version: &str) -> PathBuf {
    let path = dir.join(format!("sample-{version}.card"));
    let run = sscard(&[
        "sim",
        "new",
        "--out",
        path.to_str().unwrap(),
        "--version",
        version,
    ]);
    assert_eq!(run.code, 0, "sim new: {}", run.stderr);
    path
}

/// The holder's own PIN that [`paying_card_and_psam`] sets.
pub const PAYING_PIN: &str = "135790";
/// The till's clock: within six months of the sample card's issue (20240101), so the card may
/// pay before activation.
pub const TILL_TIME: &str = "20240315103000";

/// A card that can pay at a till, made by [`paying_card_and_psam`].
pub struct PayingCard {
    /// The holder record the card was made from.
    pub holder: serde_json::Value,
    /// The card image's path.
    pub card: String,
    /// The PSAM image's path.
    pub psam: String,
}

/// In `dir`: a 2.0 card image of the sample holder with 100.00 yuan in the purse and the
/// holder's own PIN 135790 (the initial PIN cannot pay), and a PSAM image.
pub fn paying_card_and_psam(dir: &Path) -> PayingCard {
    let mut holder = sample_holder();
    holder["purse_balance"] = "10000".into();
    let record = dir.join("holder.json");
    std::fs::write(&record, holder.to_string()).unwrap();
    let card = dir.join("card.img").display().to_string();
    let psam = dir.join("psam.img").display().to_string();
    let made = sscard(&[
        "sim",
        "new",
        "--version",
        "2.0",
        "--record",
        record.to_str().unwrap(),
        "--out",
        &card,
    ]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let made = sscard(&["sim", "new", "--version", "2.0", "--psam", "--out", &psam]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let changed = sscard(&["--card", &card, "apdu", "805E010007123456FF135790"]);
    assert_eq!(changed.code, 0, "{}", changed.stderr);
    PayingCard { holder, card, psam }
}

/// The arguments of `sscard [--json] --card CARD settle` with the PSAM image, the journal and
/// the till's clock; a test adds the amount and the rest.
pub fn settle_args<'a>(
    json: bool,
    card: &'a str,
    psam: &'a str,
    journal: &'a str,
    time: &'a str,
) -> Vec<&'a str> {
    let mut args = if json { vec!["--json"] } else { vec![] };
    args.extend_from_slice(&[
        "--card",
        card,
        "settle",
        "--psam",
        psam,
        "--journal",
        journal,
        "--time",
        time,
    ]);
    args
}

/// Balance (fen) and number of log records, as the card image `card` holds them.
pub fn card_purse(card: &str, pin: &str) -> (u64, usize) {
    let run = sscard(&["--json", "--card", card, "records", "--unsafe-pin", pin]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.json();
    (
        out["balance"].as_u64().unwrap(),
        out["records"].as_array().unwrap().len(),
    )
}

/// A running `sscard platform serve` (killed when dropped).
pub struct Service {
    pub child: Child,
    pub base: String,
}

impl Service {
    /// Starts `sscard platform serve` on a free loopback port and waits (bounded) for its line.
    pub fn start(db: &str) -> Service {
        Service::start_with(db, &[])
    }

    /// With extra environment variables (e.g. the HSM's token).
    pub fn start_with(db: &str, env: &[(&str, &str)]) -> Service {
        Service::start_full(db, &[], env)
    }

    /// With extra `platform serve` options (e.g. `--qr-validity 5`) and environment variables.
    pub fn start_full(db: &str, options: &[&str], env: &[(&str, &str)]) -> Service {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sscard"))
            .args([
                "--json",
                "platform",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--db",
                db,
            ])
            .args(options)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sscard runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the service says where it listens within 60 s");
        let ready: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        let base = ready["listening"].as_str().expect("listening").to_owned();
        Service { child, base }
    }

    pub fn kill_9(mut self) {
        // Child::kill is SIGKILL on Unix: no shutdown, no flush, no goodbye.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Back-office card `i`: its own holder, national 3.0, issued 2024-01-01, offline account.
pub fn registry_card(i: u32) -> CardRegistration {
    CardRegistration {
        card_number: format!("T{i:08}"),
        card_id_code: format!("110100D15600000554455354{i:08X}"),
        ssn: format!("11010519900101{:04}", i % 10_000),
        name: format!("测试{i}"),
        issue_date: "20240101".into(),
        expiry_date: "20340101".into(),
        version: "3.0".into(),
        online_mode: false,
        supersedes: None,
    }
}

/// The activation the tests record: 2024-03-15 at outlet BANK-0001's terminal T-42.
pub fn test_activation() -> ActivationRequest {
    ActivationRequest {
        date: "20240315".into(),
        outlet: "BANK-0001".into(),
        terminal: "T-42".into(),
        card_id_code: None,
        ssn: None,
    }
}

/// `c` registered in `store` and its card activated.
pub async fn register_activated(store: &Store, c: &CardRegistration, actor: &Actor) {
    store
        .register_cards(std::slice::from_ref(c), actor)
        .await
        .unwrap();
    store
        .record_activation(&c.card_number, &test_activation(), actor, None)
        .await
        .unwrap();
}

/// The e-card `c`'s holder applies for through the city app with `password`.
pub async fn apply_ecard(
    store: &Store,
    c: &CardRegistration,
    password: &str,
    actor: &Actor,
) -> EcardView {
    store
        .apply_ecard(
            &EcardApplication {
                ssn: c.ssn.clone(),
                name: c.name.clone(),
                consent_privacy_terms: true,
                channel: "city-app".into(),
                password: EcardPassword::new(password).unwrap(),
            },
            actor,
        )
        .await
        .unwrap()
}

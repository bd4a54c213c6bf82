//! Shared by the cli_* tests: running the binary and making card images.
// Each test file uses part of this module.
#![allow(dead_code, unused_imports)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use host_tools::transport::sim::{MemoryStorage, SimTransport};

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

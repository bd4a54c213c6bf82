//! The hostile-card matrix (docs/reliability.md): every sscard command that talks to a card, run
//! through pcscd against each mode of the rogue card served in vsmartcard's virtual reader.
//!
//! Each run must end by itself within its bound (no hang: an outer deadline kills it and fails the
//! test), without a panic, with one sentence on stderr when it fails, with the exit code of its
//! class, and without a control byte from the card in its output.

mod pcsc_support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use host_tools::transport::faults::{RogueCard, RogueMode};
use host_tools::transport::sim::SimTransport;
use host_tools::transport::simcard::{personalised_card, sample_holder};
use host_tools::transport::vpcd::{ServeOptions, FIRST_SLOT_PORT};
use host_tools::transport::CardTransport;
use pcsc_support::*;

/// The deadline sscard is given for each exchange: short, so that the silent modes stay quick.
const ANSWER_TIMEOUT: &str = "700ms";
const ANSWER_TIMEOUT_MS: u64 = 700;
/// The outer bound on one command: past it, the command hung.
const OUTER_BOUND: Duration = Duration::from_secs(30);
/// The most output one command may print for a card, however much the card sends; `apdu` shows
/// each answer whole (at most 65,535 bytes from vpcd, three times in the test).
const MAX_OUTPUT: usize = 256 * 1024;
const MAX_APDU_OUTPUT: usize = 1024 * 1024;

/// Exit codes (docs/host-tools.md).
const EXIT_CARD_UNRESPONSIVE: i32 = 7;
const EXIT_REFUSED: i32 = 9;
const EXIT_NOT_CHECKED: i32 = 20;
/// What a Rust panic exits with.
const EXIT_PANIC: i32 = 101;

/// The commands that talk to a card, as `sscard --reader READER ...` takes them.
fn commands(holder: &str, journal: &str) -> Vec<(&'static str, Vec<String>)> {
    let owned = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    vec![
        ("readers", owned(&["readers"])),
        ("atr", owned(&["atr"])),
        (
            "apdu",
            owned(&["apdu", "00A4040000", "00B2010400", "0084000008"]),
        ),
        ("info", owned(&["info"])),
        ("explore", owned(&["explore"])),
        ("diagnose", owned(&["diagnose"])),
        (
            "conformance run",
            owned(&["conformance", "run", "--holder", holder]),
        ),
        (
            "activate",
            owned(&[
                "activate",
                "--test-keys",
                "--outlet",
                "B1",
                "--terminal",
                "T1",
                "--journal",
                journal,
                "--date",
                "20240401",
                "--id-number",
                "110105199001010010",
                "--name",
                "张测试",
                "--pin-from-stdin",
            ]),
        ),
    ]
}

/// Whether a command sends APDUs (`readers` and `atr` only look at the reader).
fn transmits(command: &str) -> bool {
    !matches!(command, "readers" | "atr")
}

/// The sample card (national layout 3.0, TEST keys) behind the rogue.
fn sample_card() -> SimTransport {
    let layout = file_structures::layout::national("3.0").expect("the national layout");
    let keys = file_structures::personalise::IssuerKeys::test_keys().expect("the TEST keys");
    let (storage, _) = personalised_card(&layout, &sample_holder(), &keys).expect("personalised");
    SimTransport::in_memory(storage).expect("the sample card powers on")
}

fn serve_rogue(mode: RogueMode) -> ServedCard {
    let options = ServeOptions::new(FIRST_SLOT_PORT);
    let stop: Arc<AtomicBool> = options.control.stop_flag();
    let card: Box<dyn CardTransport + Send> = Box::new(RogueCard::new(sample_card(), mode, stop));
    let served = ServedCard::start_with(card, options);
    wait_for_card(&context(), READER, true);
    served
}

struct Ran {
    code: Option<i32>,
    elapsed: Duration,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs sscard on the virtual reader, killing it at the outer bound.
fn sscard(args: &[String]) -> Ran {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sscard"))
        .args(["--reader", READER, "--timeout-ms", "3000"])
        .args(["--answer-timeout", ANSWER_TIMEOUT])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sscard starts");
    // activate reads the holder's new PIN twice; the others ignore stdin.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"246813\n246813\n");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let begun = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for sscard") {
            break Some(status);
        }
        if begun.elapsed() > OUTER_BOUND {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ran {
        code: status.and_then(|s| s.code()),
        elapsed: begun.elapsed(),
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// A byte a terminal would act on: C0 controls but tab and newline, DEL, and C1 controls (as
/// UTF-8, `C2 80`..`C2 9F`, or as raw bytes in output that is not UTF-8).
fn control_bytes(output: &[u8]) -> Vec<u8> {
    let mut found: Vec<u8> = output
        .iter()
        .copied()
        .filter(|&b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7F)
        .collect();
    found.extend(
        output
            .windows(2)
            .filter(|w| w[0] == 0xC2 && (0x80..=0x9F).contains(&w[1]))
            .map(|w| w[1]),
    );
    if std::str::from_utf8(output).is_err() {
        found.extend(output.iter().copied().filter(|b| (0x80..=0x9F).contains(b)));
    }
    found
}

/// The exit code each command must give against each mode (docs/reliability.md, "The
/// hostile-card matrix"). `readers` and `atr` never send an APDU; `diagnose` exits 0 whenever it
/// reaches a verdict; `conformance run` exits 20 when no vector reached the card; `info` and
/// `explore` show what could not be read, field by field, and exit 0.
fn expected_code(mode: RogueMode, command: &str) -> i32 {
    use RogueMode as M;
    match (mode, command) {
        (_, "readers" | "atr" | "diagnose") => 0,
        (M::ChangingAtr, "conformance run") => 0,
        (_, "conformance run") => EXIT_NOT_CHECKED,
        (M::Silence | M::EmptyFrames, _) => EXIT_CARD_UNRESPONSIVE,
        (M::Endless61, _) => EXIT_CARD_UNRESPONSIVE,
        // The test's SELECT has no data: a real card refuses it, a random one answers garbage.
        (_, "apdu") if mode != M::Overlong => EXIT_REFUSED,
        (M::ChangingAtr, "activate") => 0,
        (M::RandomBytes | M::Endless6C | M::EscapeSequences | M::Overlong, "activate") => {
            EXIT_REFUSED
        }
        _ => 0,
    }
}

/// What `diagnose` must name as the likely cause, where the mode decides it.
fn expected_cause(mode: RogueMode) -> Option<&'static str> {
    match mode {
        RogueMode::Silence | RogueMode::EmptyFrames => Some("chip damaged"),
        _ => None,
    }
}

/// What is wrong with one run, if anything.
fn judge(mode: RogueMode, command: &str, ran: &Ran) -> Vec<String> {
    let mut wrong = Vec::new();
    let stderr = String::from_utf8_lossy(&ran.stderr);
    let Some(code) = ran.code else {
        wrong.push(format!("hung or was killed after {:?}", ran.elapsed));
        return wrong;
    };
    if code == EXIT_PANIC || stderr.contains("panicked") {
        wrong.push(format!("panicked: {stderr}"));
    }
    if code != 0 {
        let sentences = stderr.lines().filter(|l| l.starts_with("sscard: ")).count();
        if sentences != 1 || stderr.lines().count() != 1 {
            wrong.push(format!(
                "exit {code} without one sentence on stderr: {stderr:?}"
            ));
        }
    }
    let expected = expected_code(mode, command);
    if code != expected {
        wrong.push(format!("exit {code}, not {expected}: {stderr}"));
    }
    for (stream, bytes) in [("stdout", &ran.stdout), ("stderr", &ran.stderr)] {
        let controls = control_bytes(bytes);
        if !controls.is_empty() {
            wrong.push(format!("control bytes {controls:02X?} on {stream}"));
        }
        let limit = if command == "apdu" {
            MAX_APDU_OUTPUT
        } else {
            MAX_OUTPUT
        };
        if bytes.len() > limit {
            wrong.push(format!("{} bytes on {stream}", bytes.len()));
        }
    }
    let silent = matches!(mode, RogueMode::Silence | RogueMode::EmptyFrames);
    let answer_bound = Duration::from_millis(ANSWER_TIMEOUT_MS) + Duration::from_secs(2);
    if silent && transmits(command) && ran.elapsed > answer_bound {
        wrong.push(format!(
            "took {:?} for a card that never answers",
            ran.elapsed
        ));
    }
    if let (Some(cause), "diagnose") = (expected_cause(mode), command) {
        if !String::from_utf8_lossy(&ran.stdout).contains(cause) {
            wrong.push(format!("the diagnosis does not name {cause:?}"));
        }
    }
    wrong
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn every_command_survives_every_rogue_mode() {
    let _lock = ReaderLock::acquire();
    let dir = host_tools::testdir::TestDir::new("pcsc-hostile");
    let holder = dir.path().join("holder.json");
    std::fs::write(&holder, file_structures::samples::HOLDER_JSON).expect("holder written");
    let journal = dir.path().join("journal");
    let commands = commands(
        holder.to_str().expect("UTF-8 path"),
        journal.to_str().expect("UTF-8 path"),
    );
    let begun = Instant::now();
    let mut failures = Vec::new();
    for mode in RogueMode::ALL {
        // A card that never answers holds the reader until it goes away (vpcd has no deadline of
        // its own): such a card is served afresh for each command, and is gone before the next.
        let fresh_per_command = matches!(mode, RogueMode::Silence | RogueMode::EmptyFrames);
        let mut served = Some(serve_rogue(mode));
        for (i, (name, args)) in commands.iter().enumerate() {
            if fresh_per_command && i > 0 {
                drop(served.take());
                served = Some(serve_rogue(mode));
            }
            let _ = std::fs::remove_file(&journal);
            let ran = sscard(args);
            let stderr = String::from_utf8_lossy(&ran.stderr);
            eprintln!(
                "{mode:>12} | {name:<15} | exit {:>4} | {:>6} ms | {}",
                ran.code.map_or("none".into(), |c| c.to_string()),
                ran.elapsed.as_millis(),
                stderr.lines().last().unwrap_or("").escape_debug()
            );
            for wrong in judge(mode, name, &ran) {
                failures.push(format!("{mode} / {name}: {wrong}"));
            }
        }
        drop(served);
    }
    eprintln!("the hostile-card matrix took {:?}", begun.elapsed());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// After a card that never answered, the reader is free again once that card is gone: the next
/// command on a healthy card works.
#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn the_reader_is_released_after_a_silent_card() {
    let _lock = ReaderLock::acquire();
    let silent = serve_rogue(RogueMode::Silence);
    let ran = sscard(&["apdu".into(), "0084000008".into()]);
    assert_eq!(ran.code, Some(EXIT_CARD_UNRESPONSIVE), "{:?}", ran.stderr);
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(stderr.contains("the card does not answer"), "{stderr}");
    assert!(ran.elapsed < Duration::from_millis(ANSWER_TIMEOUT_MS + 2000));
    drop(silent);

    let healthy: Box<dyn CardTransport + Send> = Box::new(sample_card());
    let _served = ServedCard::start(healthy, FIRST_SLOT_PORT);
    wait_for_card(&context(), READER, true);
    let ran = sscard(&["apdu".into(), "0084000008".into()]);
    assert_eq!(
        ran.code,
        Some(0),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
}

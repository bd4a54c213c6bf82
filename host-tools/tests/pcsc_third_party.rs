//! Programs no one here wrote (opensc-tool, scriptor, pcsc_scan) against the served card: their
//! output is checked, not only their exit code. Ignored by a plain `cargo test`: scripts/pcsc-tests.sh runs it with `--ignored`.

mod pcsc_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use host_tools::transport::vpcd::{EchoCard, ECHO_ATR, FIRST_SLOT_PORT};
use pcsc_support::*;

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn opensc_tool_lists_the_reader_and_prints_the_atr() {
    let _lock = ReaderLock::acquire();
    let _served = ServedCard::start(Box::new(EchoCard::new()), FIRST_SLOT_PORT);
    wait_for_card(&context(), READER, true);
    let reader = opensc_reader_number();
    let output = run("opensc-tool", &["-r", &reader, "-a"]);
    let atr: Vec<String> = ECHO_ATR.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(stdout(&output).trim(), atr.join(":"));
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn opensc_tool_sends_apdus_and_prints_the_status_words() {
    let _lock = ReaderLock::acquire();
    let _served = ServedCard::start(Box::new(EchoCard::new()), FIRST_SLOT_PORT);
    wait_for_card(&context(), READER, true);
    let text = opensc_send(&["00:A4:00:00:02:3F:00", "00:B2:07:28:00"]);
    assert_eq!(text.matches("SW1=0x90, SW2=0x00").count(), 2, "{text}");
    assert!(text.contains("Sending: 00 B2 07 28 00"), "{text}");
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn scriptor_runs_a_script_and_prints_each_response() {
    let _lock = ReaderLock::acquire();
    let _served = ServedCard::start(Box::new(EchoCard::new()), FIRST_SLOT_PORT);
    wait_for_card(&context(), READER, true);
    let script = std::env::temp_dir().join(format!("sscard-scriptor-{}.scr", std::process::id()));
    std::fs::write(&script, "reset\n00 A4 00 00 02 3F 00\n00 B2 01 2C 00\n").unwrap();
    let output = run("scriptor", &["-r", READER, script.to_str().unwrap()]);
    let _ = std::fs::remove_file(&script);
    let text = stdout(&output);
    assert!(
        text.contains(&spaced_hex(&ECHO_ATR)),
        "no ATR after reset:\n{text}"
    );
    assert_eq!(
        scriptor_responses(&text),
        [[0x90, 0x00], [0x90, 0x00]],
        "{text}"
    );
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn pcsc_scan_sees_the_card_removed_and_inserted() {
    let _lock = ReaderLock::acquire();
    let served = ServedCard::start(Box::new(EchoCard::new()), FIRST_SLOT_PORT);
    wait_for_card(&context(), READER, true);
    // Line-buffered so that each event reaches us as it is printed.
    let mut scan = ChildGuard(
        Command::new("stdbuf")
            .args(["-oL", "pcsc_scan", "-n"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run pcsc_scan"),
    );
    let (lines_tx, lines) = mpsc::channel();
    let out = scan.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let atr_line = format!("ATR: {}", spaced_hex(&ECHO_ATR));
    // pcsc_scan prints a block per reader: " Reader 0: Virtual PCD 00 00", then its state lines.
    let mut in_our_reader = false;
    let mut seen = String::new();
    let mut wait_for = |wanted: &str| {
        let deadline = Instant::now() + STACK_TIMEOUT;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = lines.recv_timeout(remaining).unwrap_or_else(|e| {
                panic!("pcsc_scan never printed {wanted:?} for {READER} ({e}); it printed:\n{seen}")
            });
            seen.push_str(&line);
            seen.push('\n');
            if line.trim_start().starts_with("Reader ") {
                in_our_reader = line.ends_with(READER);
            } else if in_our_reader && line.contains(wanted) {
                return;
            }
        }
    };
    wait_for("Card inserted");
    wait_for(&atr_line);
    served.control.remove_card();
    wait_for("Card removed");
    served.control.insert_card();
    wait_for("Card inserted");
    wait_for(&atr_line);
}

//! libSSCardDriver.so through the real PC/SC stack: a C program compiled here against
//! SSCardDriver.h and linked with -lSSCardDriver, and a Python ctypes script, each calling all 23
//! functions against the sample holder's 3.0 card served in "Virtual PCD 00 00" and the terminal's
//! PSAM in "Virtual PCD 00 01" through pcscd; then the error codes a terminal meets (no reader, no
//! card, a card pulled mid-call, wrong and blocked PIN, a fake card).
//!
//! Run under the reader lock: `flock /tmp/sscard-pcsc.lock env SSCARD_PCSC_TESTS=1 cargo test -p
//! sscard-driver --test pcsc_driver -- --ignored` (scripts/pcsc-tests.sh does).

#[path = "../../tests/pcsc_support/mod.rs"]
mod pcsc_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use file_structures::layout::national;
use file_structures::personalise::IssuerKeys;
use host_tools::testdir::TestDir;
use host_tools::transport::sim::SimTransport;
use host_tools::transport::simcard::{personalised_card, sample_holder};
use host_tools::transport::vpcd::{ServeControl, ServeOptions, FIRST_SLOT_PORT, SECOND_SLOT_PORT};
use host_tools::transport::{CardTransport, ResetKind, TransportError};
use pcsc::{Disposition, Protocols, ShareMode};
use pcsc_support::{context, wait_for_card, ReaderLock, ServedCard, READER, SECOND_READER};
use support::programs::{
    build_c_program, config_text, python_program, scenario, Terminal, SCENARIO_BALANCE,
    SCENARIO_PINS,
};
use support::{card_storage, card_storage_with_balance, keys, psam_storage};
use SSCardDriver::api::{Arg, Driver};
use SSCardDriver::hsm::Hsm;
use SSCardDriver::Config;

/// Serves a fresh 3.0 card of the sample holder and the PSAM, runs the scenario in `program`.
fn run_terminal(label: &str, program: impl FnOnce(&Path) -> Command) {
    let _lock = ReaderLock::acquire();
    let dir = TestDir::new(label);
    let config = dir.path().join("SSCardDriver.toml");
    std::fs::write(
        &config,
        config_text("Virtual PCD 00 00", true, SCENARIO_PINS),
    )
    .unwrap();
    let card = ServedCard::start(
        Box::new(
            SimTransport::in_memory(card_storage_with_balance("3.0", SCENARIO_BALANCE)).unwrap(),
        ),
        FIRST_SLOT_PORT,
    );
    let psam = ServedCard::start(
        Box::new(SimTransport::in_memory(psam_storage()).unwrap()),
        SECOND_SLOT_PORT,
    );
    let ctx = context();
    wait_for_card(&ctx, READER, true);
    wait_for_card(&ctx, "Virtual PCD 00 01", true);
    let mut terminal = Terminal::start(program(dir.path()), &config);
    scenario(&mut terminal);
    drop(terminal);
    card.stop();
    psam.stop();
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn a_c_program_linked_with_the_library_calls_all_23_functions_through_pcscd() {
    run_terminal("drv-pcsc-c", |dir| Command::new(build_c_program(dir)));
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn a_python_ctypes_script_calls_all_23_functions_through_pcscd() {
    run_terminal("drv-pcsc-py", |_| python_program());
}

fn driver(card_reader: &str, psam: bool, pins: &str) -> Driver {
    let text = config_text(card_reader, psam, pins).replace("wait_ms = 3000", "wait_ms = 0");
    Driver::with_config(Config::parse(Path::new("/etc/SSCardDriver.toml"), &text).unwrap())
}

/// A card that is pulled from the reader right after it answers its `pull_after`-th command.
struct PulledMidway {
    card: Box<dyn CardTransport + Send>,
    control: ServeControl,
    pull_after: usize,
    answered: usize,
}

impl CardTransport for PulledMidway {
    fn name(&self) -> String {
        self.card.name()
    }
    fn atr(&self) -> Vec<u8> {
        self.card.atr()
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let response = self.card.transmit(command);
        self.answered += 1;
        if self.answered == self.pull_after {
            self.control.remove_card();
        }
        response
    }
    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        self.card.reset(kind)
    }
    fn power_off(&mut self) -> Result<(), TransportError> {
        self.card.power_off()
    }
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn the_error_codes_a_terminal_meets_through_pcscd() {
    let _lock = ReaderLock::acquire();
    let i = [Arg::Int(3)];
    // No such reader, and a reader without a card.
    let r = driver("No Such Reader 99", true, "").call("iReadCardBas", &i);
    assert_eq!(r.code, -11, "{}", r.out);
    let ctx = context();
    wait_for_card(&ctx, READER, false);
    let r = driver("Virtual PCD 00 00", true, "").call("iReadCardBas", &i);
    assert_eq!(r.code, -2, "{}", r.out);
    // A card pulled in the middle of iReadCardBas (after its 4th APDU).
    let options = ServeOptions::new(FIRST_SLOT_PORT);
    let pulled = PulledMidway {
        card: Box::new(SimTransport::in_memory(card_storage("3.0")).unwrap()),
        control: options.control.clone(),
        pull_after: 4,
        answered: 0,
    };
    let card = ServedCard::start_with(Box::new(pulled), options);
    let psam = ServedCard::start(
        Box::new(SimTransport::in_memory(psam_storage()).unwrap()),
        SECOND_SLOT_PORT,
    );
    wait_for_card(&ctx, READER, true);
    wait_for_card(&ctx, "Virtual PCD 00 01", true);
    let r = driver("Virtual PCD 00 00", true, "").call("iReadCardBas", &i);
    assert_eq!(r.code, -2, "{}", r.out);
    card.stop();
    // Wrong PIN with tries left, then blocked.
    let card = ServedCard::start(
        Box::new(SimTransport::in_memory(card_storage("3.0")).unwrap()),
        FIRST_SLOT_PORT,
    );
    wait_for_card(&ctx, READER, true);
    let mut d = driver("Virtual PCD 00 00", true, &["111111"; 7].join(","));
    for left in (1..6).rev() {
        let r = d.call("iVerifyPIN", &i);
        assert_eq!((r.code, r.out), (-51, left.to_string()));
    }
    assert_eq!(d.call("iVerifyPIN", &i).code, -52);
    assert_eq!(d.call("iVerifyPIN", &i).code, -52);
    card.stop();
    // A fake card: personalised with keys that are not the issuer's; the HSM's answer differs.
    let fake = fake_card();
    let card = ServedCard::start(
        Box::new(SimTransport::in_memory(fake).unwrap()),
        FIRST_SLOT_PORT,
    );
    wait_for_card(&ctx, READER, true);
    let mut d = driver("Virtual PCD 00 00", false, "");
    assert_eq!(d.call("iReadCardBas", &i).code, -2201);
    let step1 = d.call("iReadCardBas_HSM_Step1", &i);
    assert_eq!(step1.code, 0, "{}", step1.out);
    let key = Hsm::new(keys()).read_card_bas(&step1.out).unwrap();
    let r = d.call("iReadCardBas_HSM_Step2", &[Arg::Text(Some(&key))]);
    assert_eq!(r.code, -21, "{}", r.out);
    card.stop();
    psam.stop();
}

/// A served card that tells whether it is powered now (up at a reset, down at a power-off).
struct PowerWatched {
    card: Box<dyn CardTransport + Send>,
    powered: Arc<AtomicBool>,
}

impl CardTransport for PowerWatched {
    fn name(&self) -> String {
        self.card.name()
    }
    fn atr(&self) -> Vec<u8> {
        self.card.atr()
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.card.transmit(command)
    }
    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        self.powered.store(true, Ordering::SeqCst);
        self.card.reset(kind)
    }
    fn power_off(&mut self) -> Result<(), TransportError> {
        self.powered.store(false, Ordering::SeqCst);
        self.card.power_off()
    }
}

/// Whether the served card is powered down now or within the stack's timeout: vpcd's power-off
/// message is one-way, so it reaches the served card just after SCardDisconnect returned.
fn powered_down(powered: &AtomicBool) -> bool {
    let deadline = std::time::Instant::now() + pcsc_support::STACK_TIMEOUT;
    while powered.load(Ordering::SeqCst) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    true
}

/// Whether another program could take the card in `reader` exclusively now (it is not held).
fn free(ctx: &pcsc::Context, reader: &str) -> bool {
    let name = std::ffi::CString::new(reader).unwrap();
    match ctx.connect(&name, ShareMode::Exclusive, Protocols::ANY) {
        Ok(card) => {
            card.disconnect(Disposition::UnpowerCard)
                .map_err(|(_, e)| e)
                .unwrap();
            true
        }
        Err(pcsc::Error::SharingViolation) => false,
        Err(e) => panic!("connecting to {reader}: {e}"),
    }
}

/// The sample holder's 3.0 card, watched for power, and the PSAM, each with its control.
fn serve_card_and_psam() -> (ServedCard, ServedCard, Arc<AtomicBool>) {
    let powered = Arc::new(AtomicBool::new(false));
    let card = ServedCard::start(
        Box::new(PowerWatched {
            card: Box::new(SimTransport::in_memory(card_storage("3.0")).unwrap()),
            powered: powered.clone(),
        }),
        FIRST_SLOT_PORT,
    );
    let psam = ServedCard::start(
        Box::new(SimTransport::in_memory(psam_storage()).unwrap()),
        SECOND_SLOT_PORT,
    );
    let ctx = context();
    wait_for_card(&ctx, READER, true);
    wait_for_card(&ctx, SECOND_READER, true);
    (card, psam, powered)
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn readers_kept_between_calls_still_power_the_card_per_call_and_notice_a_card_or_psam_pulled() {
    let _lock = ReaderLock::acquire();
    let (card, psam, powered) = serve_card_and_psam();
    let ctx = context();
    let i = [Arg::Int(3)];
    let mut d = driver(READER, true, "");
    for _ in 0..2 {
        let r = d.call("iReadCardBas", &i);
        assert_eq!(r.code, 0, "{}", r.out);
        // The spec's behaviour for the card: powered down at the end of every call, its reader
        // not held between calls; the PSAM stays held (keep_connected, the default).
        assert!(powered_down(&powered), "the card is still powered");
        assert!(
            free(&ctx, READER),
            "the card's reader is held between calls"
        );
        assert!(!free(&ctx, SECOND_READER), "the PSAM was not kept");
    }
    // The card pulled between calls: no card, as for a driver that kept nothing.
    card.control.remove_card();
    wait_for_card(&ctx, READER, false);
    let r = d.call("iReadCardBas", &i);
    assert_eq!(r.code, -2, "{}", r.out);
    assert_eq!(driver(READER, true, "").call("iReadCardBas", &i).code, -2);
    card.control.insert_card();
    wait_for_card(&ctx, READER, true);
    let r = d.call("iReadCardBas", &i);
    assert_eq!(r.code, 0, "{}", r.out);
    // The PSAM pulled between calls: no PSAM (the HSM path), the same code a fresh driver gives;
    // put back, it is opened again.
    psam.control.remove_card();
    wait_for_card(&ctx, SECOND_READER, false);
    let r = d.call("iReadCardBas", &i);
    assert_eq!(r.code, -2201, "{}", r.out);
    assert_eq!(
        driver(READER, true, "").call("iReadCardBas", &i).code,
        -2201
    );
    psam.control.insert_card();
    wait_for_card(&ctx, SECOND_READER, true);
    let r = d.call("iReadCardBas", &i);
    assert_eq!(r.code, 0, "{}", r.out);
    // Dropping the driver lets the PSAM go.
    drop(d);
    assert!(
        free(&ctx, SECOND_READER),
        "the PSAM is held after the driver ended"
    );
    // keep_connected = false: the PSAM too is opened and closed by each call.
    let text = config_text(READER, true, "")
        .replace("wait_ms = 3000", "wait_ms = 0")
        .replace(
            "[psam]\nreader = \"Virtual PCD 00 01\"\n",
            "[psam]\nreader = \"Virtual PCD 00 01\"\nkeep_connected = false\n",
        );
    let config = Config::parse(Path::new("/etc/SSCardDriver.toml"), &text).unwrap();
    assert!(!config.psam_keep_connected);
    let mut d = Driver::with_config(config);
    let r = d.call("iReadCardBas", &i);
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(
        free(&ctx, SECOND_READER),
        "keep_connected = false kept the PSAM"
    );
    card.stop();
    psam.stop();
}

/// Runs scripts/pcsc-stack.sh with `command` (this crate's tests sit one directory deeper than
/// host-tools', whose pcsc_support::stack finds the script from there).
fn pcsc_stack(command: &str) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pcsc-stack.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg(command)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("cannot run scripts/pcsc-stack.sh");
    assert!(
        output.status.success(),
        "pcsc-stack.sh {command} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn readers_kept_between_calls_recover_after_pcscd_is_stopped_and_started() {
    let _lock = ReaderLock::acquire();
    let (card, psam, _) = serve_card_and_psam();
    let i = [Arg::Int(3)];
    let mut d = driver(READER, true, "");
    let r = d.call("iReadCardBas", &i);
    assert_eq!(r.code, 0, "{}", r.out);
    pcsc_stack("stop");
    // No service: a reader error, as a driver that kept nothing says.
    let r = d.call("iReadCardBas", &i);
    let fresh = driver(READER, true, "").call("iReadCardBas", &i);
    pcsc_stack("start");
    assert_eq!(
        (r.code, fresh.code),
        (-11, -11),
        "{} / {}",
        r.out,
        fresh.out
    );
    // The serve loops reconnect to the new pcscd's vpcd by themselves.
    let ctx = context();
    wait_for_card(&ctx, READER, true);
    wait_for_card(&ctx, SECOND_READER, true);
    let r = d.call("iReadCardBas", &i);
    assert_eq!(r.code, 0, "{}", r.out);
    card.stop();
    psam.stop();
}

/// The sample holder's card made with master keys that are not the issuer's (a forgery).
fn fake_card() -> host_tools::transport::sim::MemoryStorage {
    let text = include_str!("../../../file-structures/keys/test-issuer-keys.toml");
    // Every master key's first hex digit changed: still TEST keys in form, not the issuer's.
    let mut forged = String::new();
    for line in text.lines() {
        match line.split_once("value = \"") {
            Some((head, rest)) => {
                let flipped = if rest.starts_with('0') { '1' } else { '0' };
                forged.push_str(&format!("{head}value = \"{flipped}{}\n", &rest[1..]));
            }
            None => {
                forged.push_str(line);
                forged.push('\n');
            }
        }
    }
    let keys = IssuerKeys::from_toml("forged", &forged).expect("the forged keys parse");
    let layout = national("3.0").unwrap();
    personalised_card(&layout, &sample_holder(), &keys)
        .unwrap()
        .0
}

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

use std::path::Path;
use std::process::Command;

use file_structures::layout::national;
use file_structures::personalise::IssuerKeys;
use host_tools::testdir::TestDir;
use host_tools::transport::sim::SimTransport;
use host_tools::transport::simcard::{personalised_card, sample_holder};
use host_tools::transport::vpcd::{ServeControl, ServeOptions, FIRST_SLOT_PORT, SECOND_SLOT_PORT};
use host_tools::transport::{CardTransport, ResetKind, TransportError};
use pcsc_support::{context, wait_for_card, ReaderLock, ServedCard, READER};
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

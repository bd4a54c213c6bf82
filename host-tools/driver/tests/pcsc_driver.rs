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

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use file_structures::layout::national;
use file_structures::personalise::IssuerKeys;
use host_tools::testdir::TestDir;
use host_tools::transport::sim::SimTransport;
use host_tools::transport::simcard::{personalised_card, sample_holder};
use host_tools::transport::vpcd::{ServeControl, ServeOptions, FIRST_SLOT_PORT, SECOND_SLOT_PORT};
use host_tools::transport::{CardTransport, ResetKind, TransportError};
use pcsc_support::{context, enabled, wait_for_card, ReaderLock, ServedCard, READER};
use support::{card_storage, keys, psam_storage};
use SSCardDriver::api::{Arg, Driver, FUNCTIONS};
use SSCardDriver::hsm::Hsm;
use SSCardDriver::Config;

const CARD_INFO: &str = "110100D156000005544553540000000A|T0000001X|";
/// The sample holder's card in the national format (PSAM without a terminal number file).
const BAS: &str = "110100|110105199001010010|T0000001X|110100D156000005544553540000000A|张测试|0081544C308684110154455354|3.00|20240101|20340101|000000000000|HIS-01|";

fn gbk(text: &str) -> String {
    hex::encode_upper(encoding_rs::GBK.encode(text).0)
}

fn from_gbk_hex(hex_text: &str) -> String {
    let bytes = hex::decode(hex_text).expect("the program answers hex");
    encoding_rs::GBK.decode(&bytes).0.into_owned()
}

/// The directory holding libSSCardDriver.so (the test binary's target directory).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap().to_owned();
    assert!(
        dir.join("libSSCardDriver.so").exists(),
        "no libSSCardDriver.so in {}",
        dir.display()
    );
    dir
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The C terminal program, built against the header and linked with -lSSCardDriver.
fn build_c_program(dir: &Path) -> PathBuf {
    let program = dir.join("driver_calls");
    let status = Command::new("cc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&program)
        .arg(manifest_dir().join("tests/c/driver_calls.c"))
        .arg("-I")
        .arg(manifest_dir().join("include"))
        .arg("-L")
        .arg(lib_dir())
        .arg("-lSSCardDriver")
        .status()
        .expect("cc runs");
    assert!(status.success(), "the C program does not build");
    program
}

/// A terminal program speaking the line protocol of tests/c/driver_calls.c.
struct Terminal {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    called: BTreeSet<String>,
}

enum A<'a> {
    N(i32),
    S(&'a str),
}

impl Terminal {
    fn start(mut command: Command, config: &Path) -> Terminal {
        let mut child = command
            .env("LD_LIBRARY_PATH", lib_dir())
            .env("SSCARD_DRIVER_CONFIG", config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the terminal program starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Terminal {
            child,
            stdin,
            lines,
            called: BTreeSet::new(),
        }
    }

    /// Calls a function; its code and pOutInfo (decoded from GBK).
    fn call(&mut self, name: &str, args: &[A<'_>]) -> (i64, String) {
        let mut line = name.to_owned();
        for a in args {
            line.push('\t');
            match a {
                A::N(n) => line.push_str(&n.to_string()),
                A::S(s) => line.push_str(&gbk(s)),
            }
        }
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let answer = self
            .lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{name}: no answer from the terminal program"));
        let (code, out) = answer.split_once('\t').expect("CODE<TAB>HEX");
        self.called.insert(name.to_owned());
        (code.parse().unwrap(), from_gbk_hex(out))
    }

    fn ok(&mut self, name: &str, args: &[A<'_>]) -> String {
        let (code, out) = self.call(name, args);
        assert_eq!(code, 0, "{name}: {out}");
        out
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn items(text: &str) -> Vec<String> {
    text.strip_suffix('|')
        .unwrap()
        .split('|')
        .map(str::to_owned)
        .collect()
}

/// The PINs the holder types during the scenario, in order.
const SCENARIO_PINS: &str =
    "123456,123456,135790,135790,111111,246802,246802,246802,246802,135791,135791,135791";

fn config_text(card_reader: &str, psam: bool, pins: &str) -> String {
    let mut text = format!("[card]\nreader = \"{card_reader}\"\nwait_ms = 3000\n");
    if psam {
        text.push_str("[psam]\nreader = \"Virtual PCD 00 01\"\n");
    }
    text.push_str(&format!(
        "[terminal]\ndevice_number = \"HIS-01\"\n[pin]\nsource = \"script:{pins}\"\n"
    ));
    text
}

/// All 23 functions, in an order a counter would use them, with their results checked.
fn scenario(t: &mut Terminal) {
    use A::{N, S};
    let h = Hsm::new(keys());
    let info = S(CARD_INFO);
    // Basic information, byte-exact in GBK (the program answers the raw bytes in hex).
    let out = t.ok("iReadCardBas", &[N(3)]);
    assert_eq!(gbk(&out), gbk(BAS));
    assert!(gbk(&out).contains("D5C5B2E2CAD4"), "the name is GBK");
    // Items by tag through the PSAM (3.0: key 0A), a write through the PSAM (key 04), read back.
    let out = t.ok(
        "iReadCard",
        &[N(3), N(2), S(CARD_INFO), S("SSSEEF06|08|09|$SSSEEF05|07|$")],
    );
    assert_eq!(
        out,
        "SSSEEF06|110105199001010010|张测试|$SSSEEF05|T0000001X|$"
    );
    assert_eq!(
        t.ok(
            "iWriteCard",
            &[N(3), S(CARD_INFO), S("SSSEEF06|09|$"), S("李四|$")]
        ),
        ""
    );
    let out = t.ok("iReadCard", &[N(3), N(2), S(CARD_INFO), S("SSSEEF06|09|$")]);
    assert_eq!(out, "SSSEEF06|李四|$");
    // PINs from the pad (the scripted source): initial, change, wrong, unblock, reload.
    assert_eq!(t.call("iVerifyPIN", &[N(3)]).0, -35);
    assert_eq!(t.ok("iChangePIN", &[N(3)]), "");
    assert_eq!(t.call("iVerifyPIN", &[N(3)]), (-51, "5".to_owned()));
    assert_eq!(t.ok("iUnblockPIN", &[N(3), S(CARD_INFO)]), "");
    assert_eq!(t.ok("iReloadPIN", &[N(3), S(CARD_INFO)]), "");
    assert_eq!(t.ok("iVerifyPIN", &[N(3)]), "");
    // Debits: parameters checked, then the missing purse.
    let pay = S("12.50|10.00|20240401093000|");
    assert_eq!(
        t.call("iDoDebit", &[N(3), S(CARD_INFO), S("12.5|1|x|")]).0,
        -42
    );
    assert_eq!(
        t.call(
            "iDoDebit",
            &[N(3), S(CARD_INFO), S("12.50|10.00|20240401093000|")]
        )
        .0,
        -13
    );
    assert_eq!(t.call("iReadDebitRecord", &[N(3)]).0, -13);
    assert_eq!(t.call("iDoDebit_HSM_Step1", &[N(3), info, pay]).0, -13);
    assert_eq!(t.call("iDoDebit_HSM_Step2", &[S("00112233|")]).0, -13);
    // The HSM groups, their pKeys computed by the HSM code with the TEST keys.
    let step1 = t.ok("iReadCardBas_HSM_Step1", &[N(3)]);
    let out = t.ok(
        "iReadCardBas_HSM_Step2",
        &[S(&h.read_card_bas(&step1).unwrap())],
    );
    assert_eq!(items(&out)[4], "李四");
    assert_eq!(items(&out).len(), 11);
    let step1 = t.ok(
        "iReadCard_HSM_Step1",
        &[N(3), S(CARD_INFO), S("DF01EF06|28|$")],
    );
    let out = t.ok("iReadCard_HSM_Step2", &[S(&h.files(&step1).unwrap())]);
    assert_eq!(out, "DF01EF06|01000000000|$");
    let step1 = t.ok(
        "iWriteCard_HSM_Step1",
        &[N(3), S(CARD_INFO), S("DF01EF06|28|$")],
    );
    assert_eq!(
        t.ok(
            "iWriteCard_HSM_Step2",
            &[S(&h.files(&step1).unwrap()), S("02000000000|$")]
        ),
        ""
    );
    let step1 = t.ok("iUnblockPIN_HSM_Step1", &[N(3), S(CARD_INFO)]);
    let alg = items(&step1)[2].clone();
    let step2 = t.ok("iUnblockPIN_HSM_Step2", &[S(&h.pin_step1(&step1).unwrap())]);
    assert_eq!(
        t.ok(
            "iUnblockPIN_HSM_Step3",
            &[S(&h.unblock_step2(&alg, &step2).unwrap())]
        ),
        ""
    );
    let step1 = t.ok("iReloadPIN_HSM_Step1", &[N(3), S(CARD_INFO)]);
    let step2 = t.ok("iReloadPIN_HSM_Step2", &[S(&h.pin_step1(&step1).unwrap())]);
    assert_eq!(
        t.ok(
            "iReloadPIN_HSM_Step3",
            &[S(&h.reload_step2(&alg, &step2).unwrap())]
        ),
        ""
    );
    assert_eq!(t.ok("iVerifyPIN", &[N(3)]), "");
    let all: BTreeSet<String> = FUNCTIONS.iter().map(|f| f.name.to_owned()).collect();
    assert_eq!(t.called, all, "every function was called");
}

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
        Box::new(SimTransport::in_memory(card_storage("3.0")).unwrap()),
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
    if !enabled("a_c_program_linked_with_the_library_calls_all_23_functions_through_pcscd") {
        return;
    }
    run_terminal("drv-pcsc-c", |dir| Command::new(build_c_program(dir)));
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn a_python_ctypes_script_calls_all_23_functions_through_pcscd() {
    if !enabled("a_python_ctypes_script_calls_all_23_functions_through_pcscd") {
        return;
    }
    run_terminal("drv-pcsc-py", |_| {
        let mut c = Command::new("python3");
        c.arg(manifest_dir().join("tests/python/driver_calls.py"))
            .arg(lib_dir().join("libSSCardDriver.so"));
        c
    });
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
    if !enabled("the_error_codes_a_terminal_meets_through_pcscd") {
        return;
    }
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

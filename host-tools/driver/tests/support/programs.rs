//! Terminal programs speaking to the library: the C program of tests/c (built here against
//! SSCardDriver.h, linked with -lSSCardDriver) and the Python ctypes script of tests/python, both
//! driven line by line, and the scenario that calls all 23 functions through them.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use SSCardDriver::api::FUNCTIONS;
use SSCardDriver::hsm::Hsm;

pub use super::hsm_service::HsmService;

use super::keys;

pub const CARD_INFO: &str = "110100D156000005544553540000000A|T0000001X|";
/// The sample holder's card in the national format (PSAM without a terminal number file).
pub const BAS: &str = "110100|110105199001010010|T0000001X|110100D156000005544553540000000A|张测试|0081544C308684110154455354|3.00|20240101|20340101|000000000000|HIS-01|";

pub fn gbk(text: &str) -> String {
    hex::encode_upper(encoding_rs::GBK.encode(text).0)
}

fn from_gbk_hex(hex_text: &str) -> String {
    let bytes = hex::decode(hex_text).expect("the program answers hex");
    encoding_rs::GBK.decode(&bytes).0.into_owned()
}

/// The directory holding libSSCardDriver.so (the test binary's target directory).
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap().to_owned();
    assert!(
        dir.join("libSSCardDriver.so").exists(),
        "no libSSCardDriver.so in {}: build it first with `cargo build -p sscard-driver`",
        dir.display()
    );
    dir
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The C terminal program, built against the header and linked with -lSSCardDriver.
pub fn build_c_program(dir: &Path) -> PathBuf {
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

/// The Python ctypes terminal program.
pub fn python_program() -> Command {
    let mut c = Command::new("python3");
    c.arg(manifest_dir().join("tests/python/driver_calls.py"))
        .arg(lib_dir().join("libSSCardDriver.so"));
    c
}

/// A terminal program speaking the line protocol of tests/c/driver_calls.c.
pub struct Terminal {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    pub called: BTreeSet<String>,
}

pub enum A<'a> {
    N(i32),
    S(&'a str),
}

impl Terminal {
    pub fn start(mut command: Command, config: &Path) -> Terminal {
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
    pub fn call(&mut self, name: &str, args: &[A<'_>]) -> (i64, String) {
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

    pub fn ok(&mut self, name: &str, args: &[A<'_>]) -> String {
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

pub fn items(text: &str) -> Vec<String> {
    text.strip_suffix('|')
        .unwrap()
        .split('|')
        .map(str::to_owned)
        .collect()
}

/// The PINs the holder types during the scenario, in order.
pub const SCENARIO_PINS: &str =
    "123456,123456,135790,135790,135790,135790,135790,135790,111111,246802,246802,246802,246802,135791,135791,135791";

/// What the scenario's card holds in its purse (fen): less than the PSAM debit asks (9401), more
/// than the HSM debit.
pub const SCENARIO_BALANCE: u32 = 500;

pub fn config_text(card_reader: &str, psam: bool, pins: &str) -> String {
    let mut text = format!("[card]\nreader = \"{card_reader}\"\nwait_ms = 3000\n");
    if psam {
        text.push_str("[psam]\nreader = \"Virtual PCD 00 01\"\n");
    }
    text.push_str(&format!(
        "[terminal]\ndevice_number = \"HIS-01\"\n[pin]\nsource = \"script:{pins}\"\n"
    ));
    text
}

/// All 23 functions, in an order a counter would use them, with their results checked; the HSM
/// debit's pKey comes from the HSM service over HTTP.
pub fn scenario(t: &mut Terminal) {
    use A::{N, S};
    let h = Hsm::new(keys());
    let service = HsmService::start();
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
    // Debits: parameters checked; the served card's purse holds 5.00, so the debit of 10.00 is
    // refused with its status word (9401 → −37889) and the card has no debit record.
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
        -37889
    );
    assert_eq!(t.ok("iReadDebitRecord", &[N(3)]), "");
    // The HSM path: Step1 → the HSM service (with the caller's pCardInfo) → Step2 pays 3.00.
    assert_eq!(t.call("iDoDebit_HSM_Step1", &[N(3), info, pay]).0, -37889);
    let step1 = t.ok(
        "iDoDebit_HSM_Step1",
        &[N(3), S(CARD_INFO), S("3.50|3.00|20240401094000|")],
    );
    assert_eq!(items(&step1).len(), 8, "{step1}");
    let key = service.debit(&step1, CARD_INFO);
    let out = t.ok("iDoDebit_HSM_Step2", &[S(&key)]);
    let out = items(&out);
    assert_eq!(out.len(), 9, "{out:?}");
    assert_eq!(
        &out[3..8],
        [
            "3.00",
            "02",
            "000000000000",
            &items(&key)[0],
            "20240401094000"
        ]
    );
    assert_eq!(
        t.call(
            "iDoDebit_HSM_Step2",
            &[S("00112233|20240401093000|44556677|")]
        )
        .0,
        -12,
        "the exchange is over"
    );
    assert_eq!(t.call("iVerifyPIN", &[N(3)]), (-51, "5".to_owned()));
    assert_eq!(t.ok("iUnblockPIN", &[N(3), S(CARD_INFO)]), "");
    assert_eq!(t.ok("iReloadPIN", &[N(3), S(CARD_INFO)]), "");
    assert_eq!(t.ok("iVerifyPIN", &[N(3)]), "");
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

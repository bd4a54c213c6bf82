//! Shared by the tests through the real PC/SC stack (pcscd + vpcd, see docs/pcsc.md) and by the
//! pcsc_bench example: the reader lock, a served card, a card pulled on cue, opening the virtual
//! reader, running the `sscard` binary, and process guards.
//!
//! Every test through the stack is `#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs
//! it)"]`, so that a plain `cargo test` reports it ignored, not passed; scripts/pcsc-tests.sh and
//! scripts/test.sh run them with `--ignored` once the stack is up.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod activation;

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use host_tools::transport::pcsc::{PcscOptions, PcscTransport, ReaderChoice};
use host_tools::transport::sim::{MemoryStorage, SimTransport};
use host_tools::transport::vpcd::{
    self, ServeControl, ServeOptions, ServeSummary, VpcdError, MIN_REINSERT_DELAY,
};
use host_tools::transport::{CardTransport, ResetKind, TransportError};
use pcsc::{Card, Context, Protocols, ReaderState, Scope, ShareMode, State};

pub const READER: &str = "Virtual PCD 00 00";
pub const SECOND_READER: &str = "Virtual PCD 00 01";
/// Safety net for waits on the stack; a healthy stack answers in well under a second.
pub const STACK_TIMEOUT: Duration = Duration::from_secs(15);

/// One virtual reader for all test processes: an exclusive flock, released when dropped (or when
/// the process dies).
pub struct ReaderLock(File);

impl ReaderLock {
    pub fn acquire() -> Self {
        let path = std::env::temp_dir().join("sscard-virtual-reader.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open the reader lock {}: {e}", path.display()));
        // SAFETY: flock on a descriptor this File owns; no memory is shared with the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "cannot lock {}", path.display());
        Self(file)
    }
}

/// A card served to vpcd from a thread; stopped (the card removed) and joined when dropped.
pub struct ServedCard {
    pub control: ServeControl,
    thread: Option<JoinHandle<Result<ServeSummary, VpcdError>>>,
}

impl ServedCard {
    pub fn start(card: Box<dyn CardTransport + Send>, port: u16) -> Self {
        Self::start_with(card, ServeOptions::new(port))
    }

    pub fn start_with(card: Box<dyn CardTransport + Send>, options: ServeOptions) -> Self {
        let port = options.port;
        let control = options.control.clone();
        let thread = std::thread::spawn(move || {
            let mut card = card;
            // Shown with a failing test's output.
            vpcd::serve_with_events(card.as_mut(), &options, &mut |event| {
                eprintln!("vpcd {port}: {event:?}")
            })
        });
        Self {
            control,
            thread: Some(thread),
        }
    }

    /// Stops serving and returns what the loop did.
    pub fn stop(mut self) -> ServeSummary {
        self.finish().expect("serving failed")
    }

    fn finish(&mut self) -> Result<ServeSummary, VpcdError> {
        self.control.stop();
        let result = match self.thread.take() {
            Some(thread) => thread.join().expect("the serve thread panicked"),
            None => Ok(ServeSummary::default()),
        };
        // The next test's card must not reach the reader sooner (docs/pcsc.md, re-insertion).
        std::thread::sleep(MIN_REINSERT_DELAY);
        result
    }
}

impl Drop for ServedCard {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.finish();
        }
    }
}

/// Starts serving `card` in the first slot and waits until PC/SC sees it; returns the served card
/// and the PC/SC context.
pub fn serve_in_first_reader(card: Box<dyn CardTransport + Send>) -> (ServedCard, Context) {
    let served = ServedCard::start(card, vpcd::FIRST_SLOT_PORT);
    let ctx = context();
    wait_for_card(&ctx, READER, true);
    (served, ctx)
}

/// A served card that is pulled from the reader right after an answer `pull` picks (given the
/// command and the response); the serve loop sends that answer first.
pub struct PulledOnCue {
    card: Box<dyn CardTransport + Send>,
    control: ServeControl,
    pull: Cue,
}

/// Given a command and its response: whether to pull the card now.
type Cue = Box<dyn FnMut(&[u8], &[u8]) -> bool + Send>;

impl PulledOnCue {
    pub fn new(
        card: Box<dyn CardTransport + Send>,
        control: ServeControl,
        pull: impl FnMut(&[u8], &[u8]) -> bool + Send + 'static,
    ) -> Self {
        PulledOnCue {
            card,
            control,
            pull: Box::new(pull),
        }
    }
}

impl CardTransport for PulledOnCue {
    fn name(&self) -> String {
        self.card.name()
    }
    fn atr(&self) -> Vec<u8> {
        self.card.atr()
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let response = self.card.transmit(command)?;
        if (self.pull)(command, &response) {
            self.control.remove_card();
        }
        Ok(response)
    }
    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        self.card.reset(kind)
    }
    fn power_off(&mut self) -> Result<(), TransportError> {
        self.card.power_off()
    }
}

/// sscard's PC/SC transport on the card in `reader`, waiting for it up to [`STACK_TIMEOUT`].
pub fn open_reader_with(reader: &str, share: ShareMode) -> Result<PcscTransport, TransportError> {
    PcscTransport::open(&PcscOptions {
        reader: Some(ReaderChoice::Name(reader.to_string())),
        wait: STACK_TIMEOUT,
        answer_timeout: STACK_TIMEOUT,
        share,
    })
}

/// A raw PC/SC connection (the pcsc crate, shared) to the card in `reader`.
pub fn connect(ctx: &Context, reader: &str) -> Card {
    ctx.connect(
        &CString::new(reader).expect("reader names have no NUL"),
        ShareMode::Shared,
        Protocols::ANY,
    )
    .unwrap_or_else(|e| panic!("cannot connect to the card in {reader:?}: {e}"))
}

/// Runs the `sscard` binary under the stack's timeout (tests only: cargo names the binary to
/// tests, not to the examples that share this module).
#[cfg(test)]
pub fn sscard(args: &[&str]) -> Output {
    // option_env: the driver's tests share this module and have no sscard binary of their own.
    let Some(binary) = option_env!("CARGO_BIN_EXE_sscard") else {
        panic!("sscard is host-tools' binary: only host-tools' tests run it")
    };
    run(binary, args)
}

/// What `sscard --json` printed.
pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "sscard printed no JSON ({e}):\n{}\n{}",
            stdout(output),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Bytes of card memory for the demo card.
pub const DEMO_CAPACITY: usize = 64 * 1024;

/// card-os's demo SSC card (SSSE with EF05 and EF06 filled in), as a fresh memory.
pub fn demo_storage() -> MemoryStorage {
    let mut storage = MemoryStorage::erased(DEMO_CAPACITY);
    card_os::testing::demo_card(&mut storage).expect("the demo card builds");
    storage
}

/// The demo card in the in-process simulator, memory only.
pub fn demo_sim() -> Box<dyn CardTransport + Send> {
    Box::new(SimTransport::in_memory(demo_storage()).expect("the demo card powers on"))
}

/// SELECT SSSE by its DF name, asking for no FCI (P2 0C): over T=0 an FCI would come as 61xx,
/// left to the client layer, which raw PC/SC clients do not have.
pub fn select_ssse() -> Vec<u8> {
    let name = card_os::testing::SSSE_NAME;
    let mut apdu = vec![0x00, 0xA4, 0x04, 0x0C, name.len() as u8];
    apdu.extend_from_slice(&name);
    apdu
}

pub fn context() -> Context {
    Context::establish(Scope::User).expect("pcscd is not running: scripts/pcsc-stack.sh start")
}

/// Waits until PC/SC reports `reader` with a card in it (`present`) or empty; returns the ATR.
pub fn wait_for_card(ctx: &Context, reader: &str, present: bool) -> Vec<u8> {
    let name = CString::new(reader).expect("reader names have no NUL");
    let mut states = [ReaderState::new(name, State::UNAWARE)];
    let deadline = Instant::now() + STACK_TIMEOUT;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        assert!(
            !remaining.is_zero(),
            "PC/SC never reported {reader:?} with the card {}",
            if present { "in" } else { "out" }
        );
        match ctx.get_status_change(remaining, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            // The reader is not there yet (pcscd just started): ask again shortly.
            Err(pcsc::Error::UnknownReader) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("waiting for {reader:?}: {e}"),
        }
        let state = &mut states[0];
        let event = state.event_state();
        let has_card = event.contains(State::PRESENT) && !event.contains(State::MUTE);
        if has_card == present && !event.contains(State::UNKNOWN) && event != State::UNAWARE {
            return state.atr().to_vec();
        }
        state.sync_current_state();
    }
}

/// Runs a program to completion under `timeout` (a safety net: it kills a hung client).
pub fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new("timeout")
        .arg(STACK_TIMEOUT.as_secs().to_string())
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert_ne!(
        output.status.code(),
        Some(124),
        "{program} {args:?} hung and was killed"
    );
    output
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A background process, killed and reaped when dropped.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs scripts/pcsc-stack.sh with `command` and asserts it succeeded.
pub fn stack(command: &str) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/pcsc-stack.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg(command)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run scripts/pcsc-stack.sh");
    assert!(
        output.status.success(),
        "pcsc-stack.sh {command} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// opensc-tool's number for the virtual reader, from `opensc-tool -l`, which must show a card in it.
pub fn opensc_reader_number() -> String {
    let listing = stdout(&run("opensc-tool", &["-l"]));
    let line = listing
        .lines()
        .find(|line| line.ends_with(READER))
        .unwrap_or_else(|| panic!("opensc-tool -l does not list {READER}:\n{listing}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields.get(1), Some(&"Yes"), "no card in {READER}: {line}");
    fields[0].to_string()
}

/// What `opensc-tool` prints sending `apdus` (colon-separated hex) to the card in the virtual
/// reader.
pub fn opensc_send(apdus: &[&str]) -> String {
    let reader = opensc_reader_number();
    let mut args = vec!["-r", reader.as_str(), "-c", "default"];
    for apdu in apdus {
        args.extend(["-s", apdu]);
    }
    stdout(&run("opensc-tool", &args))
}

/// The responses in scriptor's output, each as bytes with its status word: a response starts
/// with "< ", may wrap over several lines (16 bytes each), and ends with " : " and the SW's meaning.
/// A reset's answer ("< OK: " and the ATR) is not a response.
pub fn scriptor_responses(output: &str) -> Vec<Vec<u8>> {
    let mut responses = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in output.lines().filter(|line| !line.starts_with("< OK: ")) {
        let rest = match (line.strip_prefix("< "), current.is_some()) {
            (Some(rest), _) => {
                current = Some(Vec::new());
                rest
            }
            (None, true) => line,
            (None, false) => continue,
        };
        let (hex, ended) = match rest.split_once(" : ") {
            Some((hex, _)) => (hex, true),
            None => (rest, false),
        };
        let bytes = current.get_or_insert_with(Vec::new);
        for token in hex.split_whitespace() {
            bytes.push(u8::from_str_radix(token, 16).unwrap_or_else(|_| panic!("not hex: {line}")));
        }
        if ended {
            responses.extend(current.take());
        }
    }
    responses
}

/// Upper-case, space-separated hex, as pcsc_scan and scriptor print bytes.
pub fn spaced_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

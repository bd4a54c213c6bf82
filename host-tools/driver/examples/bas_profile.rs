//! Where the time of one iReadCardBas goes: the APDUs it sends (card in "Virtual PCD 00 00", PSAM
//! in "Virtual PCD 00 01"), and the median cost of each per-call step on its own, timed with the
//! pcsc crate directly (context, reader list, connect and power, status, one APDU's round trip
//! through pcscd and vpcd, the worker thread's start and hand-off) and in process (the
//! configuration file, the layout). Needs the stack (scripts/pcsc-stack.sh start); run it under
//! the reader lock:
//!
//!     flock -o /tmp/sscard-pcsc.lock cargo run --release -p sscard-driver --example bas_profile [-- RUNS]

mod bas_stack;
#[path = "../../tests/pcsc_support/mod.rs"]
mod pcsc_support;
#[path = "../tests/support/mod.rs"]
mod support;

use std::ffi::CString;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use host_tools::transport::bounded::Worker;
use host_tools::transport::{CardTransport, ResetKind, TransportError};
use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};
use pcsc_support::{ReaderLock, READER, SECOND_READER};

/// A served card that logs the command header of each APDU it answers.
struct Logged {
    card: Box<dyn CardTransport + Send>,
    log: Arc<Mutex<Vec<String>>>,
}

impl CardTransport for Logged {
    fn name(&self) -> String {
        self.card.name()
    }
    fn atr(&self) -> Vec<u8> {
        self.card.atr()
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let response = self.card.transmit(command)?;
        let header: Vec<String> = command.iter().take(4).map(|b| format!("{b:02X}")).collect();
        self.log.lock().unwrap().push(format!(
            "{} ({} bytes out, {} back)",
            header.join(" "),
            command.len(),
            response.len()
        ));
        Ok(response)
    }
    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        self.log.lock().unwrap().push(format!("reset {kind:?}"));
        self.card.reset(kind)
    }
    fn power_off(&mut self) -> Result<(), TransportError> {
        self.log.lock().unwrap().push("power off".into());
        self.card.power_off()
    }
}

/// Median of `runs` timings of `step`, in ms.
fn median(runs: usize, mut step: impl FnMut()) -> f64 {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            step();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

fn row(label: &str, ms: f64) {
    println!("  {label:<62} {ms:>7.3} ms");
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map_or(200, |n| n.parse().expect("a number"));
    let _lock = ReaderLock::acquire();
    let card_log = Arc::new(Mutex::new(Vec::new()));
    let psam_log = Arc::new(Mutex::new(Vec::new()));
    let (card_seen, psam_seen) = (card_log.clone(), psam_log.clone());
    let stack = bas_stack::start(
        "bas-profile",
        Box::new(move |card| {
            Box::new(Logged {
                card,
                log: card_seen,
            })
        }),
        Box::new(move |card| {
            Box::new(Logged {
                card,
                log: psam_seen,
            })
        }),
    );
    let ctx = &stack.ctx;
    let mut out = [0u8; 1024];
    let mut call = || bas_stack::read_card_bas(&mut out);
    for _ in 0..10 {
        call();
    }
    card_log.lock().unwrap().clear();
    psam_log.lock().unwrap().clear();
    call();
    println!("one iReadCardBas, as the served cards saw it:");
    for (who, log) in [("card", &card_log), ("PSAM", &psam_log)] {
        let log = log.lock().unwrap();
        let apdus = log.iter().filter(|l| l.contains("bytes")).count();
        println!("  {who}: {apdus} APDUs");
        for line in log.iter() {
            println!("    {line}");
        }
    }
    let whole = median(runs, &mut call);
    // Closes the readers the driver keeps (the PSAM is held between calls), so the steps below
    // can connect to them.
    SSCardDriver::configure(None);

    println!("each step on its own (median of {runs}):");
    row("iReadCardBas, the whole call", whole);
    row(
        "SCardEstablishContext + SCardReleaseContext",
        median(runs, || drop(Context::establish(Scope::User).unwrap())),
    );
    row(
        "SCardListReaders",
        median(runs, || drop(ctx.list_readers_owned().unwrap())),
    );
    let card_name = CString::new(READER).unwrap();
    let psam_name = CString::new(SECOND_READER).unwrap();
    row(
        "SCardGetStatusChange (one reader, no wait)",
        median(runs, || {
            let mut states = [ReaderState::new(card_name.clone(), State::UNAWARE)];
            ctx.get_status_change(Duration::ZERO, &mut states).unwrap();
        }),
    );
    row(
        "card: SCardConnect (powers up) + SCardDisconnect(unpower)",
        median(runs, || {
            let card = ctx
                .connect(&card_name, ShareMode::Exclusive, Protocols::ANY)
                .unwrap();
            card.disconnect(Disposition::UnpowerCard)
                .map_err(|(_, e)| e)
                .unwrap();
        }),
    );
    row(
        "card: SCardConnect (card left powered) + SCardDisconnect(leave)",
        median(runs, || {
            let card = ctx
                .connect(&card_name, ShareMode::Exclusive, Protocols::ANY)
                .unwrap();
            card.disconnect(Disposition::LeaveCard)
                .map_err(|(_, e)| e)
                .unwrap();
        }),
    );
    row(
        "PSAM: SCardConnect + SCardDisconnect(leave)",
        median(runs, || {
            let card = ctx
                .connect(&psam_name, ShareMode::Exclusive, Protocols::ANY)
                .unwrap();
            card.disconnect(Disposition::LeaveCard)
                .map_err(|(_, e)| e)
                .unwrap();
        }),
    );
    let held = ctx
        .connect(&card_name, ShareMode::Exclusive, Protocols::ANY)
        .unwrap();
    let mut names = [0u8; 2048];
    let mut atr = [0u8; pcsc::MAX_ATR_SIZE];
    row(
        "SCardStatus on a held card",
        median(runs, || {
            held.status2(&mut names, &mut atr).unwrap();
        }),
    );
    let challenge = [0x00u8, 0x84, 0x00, 0x00, 0x08];
    let mut buffer = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    row(
        "one APDU (GET CHALLENGE) through pcscd + vpcd, this thread",
        median(runs, || {
            held.transmit(&challenge, &mut buffer).unwrap();
        }),
    );
    let mut worker = Worker::start("profile", Duration::from_secs(5), || Ok::<_, ()>(held))
        .unwrap()
        .unwrap();
    row(
        "one APDU through the worker thread (hand-off both ways)",
        median(runs, || {
            worker
                .call(Duration::from_secs(5), move |card: &mut pcsc::Card| {
                    let mut buffer = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
                    card.transmit(&challenge, &mut buffer).map(|r| r.len())
                })
                .unwrap()
                .unwrap();
        }),
    );
    row(
        "worker hand-off alone (an empty call)",
        median(runs, || {
            worker
                .call(Duration::from_secs(5), |_: &mut pcsc::Card| ())
                .unwrap();
        }),
    );
    drop(worker);
    row(
        "worker thread start (spawn, first answer)",
        median(runs, || {
            drop(
                Worker::start("profile", Duration::from_secs(5), || Ok::<_, ()>(()))
                    .unwrap()
                    .unwrap(),
            )
        }),
    );
    row(
        "configuration file: read + parse (Config::locate)",
        median(runs, || drop(SSCardDriver::Config::locate().unwrap())),
    );
    row(
        "layout: national(\"3.0\") built",
        median(runs, || {
            drop(file_structures::layout::national("3.0").unwrap())
        }),
    );
    stack.card.stop();
    stack.psam.stop();
}

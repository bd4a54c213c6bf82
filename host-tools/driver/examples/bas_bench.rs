//! iReadCardBas on a 3.0 card through the library → pcscd → vpcd (the card in "Virtual PCD 00 00",
//! the PSAM in "Virtual PCD 00 01"), next to what `sscard info` does on the same card (its library
//! call, read_card_info with the TEST keys), and the floor a real card at 9,600 bit/s would set
//! (bytes on the wire × 10 bits). Needs the stack (scripts/pcsc-stack.sh start); run it under the
//! reader lock:
//!
//!     flock -o /tmp/sscard-pcsc.lock cargo run --release -p sscard-driver --example bas_bench [-- CALLS]
//!
//! Rows: iReadCardBas as configured by default (the PSAM kept connected between calls), the same
//! with `[psam] keep_connected = false`, `sscard info`'s read, and the floor.

mod bas_stack;
#[path = "../../tests/pcsc_support/mod.rs"]
mod pcsc_support;
#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use file_structures::layout::national;
use host_tools::card::info::read_card_info;
use host_tools::protocol::client::Client;
use host_tools::transport::pcsc::{PcscOptions, PcscTransport, ReaderChoice};
use host_tools::transport::{CardTransport, ResetKind, TransportError};
use pcsc_support::{ReaderLock, READER};
use support::keys;

/// A served card that counts the bytes crossing its contacts (command and response APDUs).
struct Counted {
    card: Box<dyn CardTransport + Send>,
    bytes: Arc<AtomicUsize>,
    apdus: Arc<AtomicUsize>,
}

impl CardTransport for Counted {
    fn name(&self) -> String {
        self.card.name()
    }
    fn atr(&self) -> Vec<u8> {
        self.card.atr()
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let response = self.card.transmit(command)?;
        self.bytes
            .fetch_add(command.len() + response.len(), Ordering::Relaxed);
        self.apdus.fetch_add(1, Ordering::Relaxed);
        Ok(response)
    }
    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        self.card.reset(kind)
    }
    fn power_off(&mut self) -> Result<(), TransportError> {
        self.card.power_off()
    }
}

fn stats(label: &str, times: &mut [Duration]) -> f64 {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(times[times.len() / 2]);
    println!(
        "{label}: median {median:.2} ms, p10 {:.2} ms, p90 {:.2} ms, min {:.2} ms, max {:.2} ms ({} calls)",
        ms(times[times.len() / 10]),
        ms(times[times.len() * 9 / 10]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len()
    );
    median
}

fn main() {
    let calls: usize = std::env::args()
        .nth(1)
        .map_or(200, |n| n.parse().expect("a number"));
    let _lock = ReaderLock::acquire();
    let (card_bytes, card_apdus) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (psam_bytes, psam_apdus) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (bytes, apdus) = (card_bytes.clone(), card_apdus.clone());
    let (psam_bytes_seen, psam_apdus_seen) = (psam_bytes.clone(), psam_apdus.clone());
    let stack = bas_stack::start(
        "bas-bench",
        Box::new(move |card| Box::new(Counted { card, bytes, apdus })),
        Box::new(move |card| {
            Box::new(Counted {
                card,
                bytes: psam_bytes_seen,
                apdus: psam_apdus_seen,
            })
        }),
    );
    let mut out = [0u8; 1024];
    let mut call = || bas_stack::read_card_bas(&mut out);
    for _ in 0..10 {
        call();
    }
    let (b0, a0, pb0, pa0) = (
        card_bytes.load(Ordering::Relaxed),
        card_apdus.load(Ordering::Relaxed),
        psam_bytes.load(Ordering::Relaxed),
        psam_apdus.load(Ordering::Relaxed),
    );
    call();
    let card_per_call = card_bytes.load(Ordering::Relaxed) - b0;
    let apdus_per_call = card_apdus.load(Ordering::Relaxed) - a0;
    let psam_per_call = psam_bytes.load(Ordering::Relaxed) - pb0;
    let psam_apdus_per_call = psam_apdus.load(Ordering::Relaxed) - pa0;
    let mut bas = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        call();
        bas.push(started.elapsed());
    }
    let median = stats(
        "iReadCardBas (library → pcscd → vpcd, card + PSAM)",
        &mut bas,
    );

    // The same with the PSAM opened and closed by each call, as before the driver kept it.
    bas_stack::write_config(&stack.config, false);
    let mut unkept = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        call();
        unkept.push(started.elapsed());
    }
    stats("iReadCardBas, [psam] keep_connected = false", &mut unkept);

    let layout = national("3.0").unwrap();
    let keys = keys();
    let mut info = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        let transport = PcscTransport::open(&PcscOptions {
            reader: Some(ReaderChoice::Name(READER.into())),
            ..PcscOptions::default()
        })
        .unwrap();
        let mut client = Client::new(transport);
        read_card_info(&mut client, &layout, Some(&keys)).unwrap();
        info.push(started.elapsed());
    }
    stats(
        "sscard info's read (read_card_info, TEST keys, same card)",
        &mut info,
    );

    let wire = card_per_call + psam_per_call;
    let floor_ms = wire as f64 * 10.0 / 9600.0 * 1000.0;
    println!(
        "bytes on the wire per iReadCardBas: card {card_per_call} in {apdus_per_call} APDUs, PSAM {psam_per_call} in {psam_apdus_per_call} APDUs"
    );
    println!(
        "floor for a real card and PSAM at 9,600 bit/s: {wire} bytes × 10 bits = {floor_ms:.1} ms"
    );
    println!(
        "target ≤ 5 ms median: {}",
        if median <= 5.0 { "met" } else { "NOT met" }
    );
    stack.card.stop();
    stack.psam.stop();
}

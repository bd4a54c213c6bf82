//! Milliseconds per bank-outlet activation (docs/activation.md), end to end through pcscd → vpcd:
//! the sample card (national 3.0) in "Virtual PCD 00 00", the terminal's simulated PSAM in
//! "Virtual PCD 00 01", each run on a fresh card image with a fresh journal; and the same
//! activation in-process (card and PSAM in the simulator) for comparison. Needs the stack:
//! scripts/pcsc-stack.sh start.
//!
//!     cargo run --release -p host-tools --example pcsc_activation_bench [-- RUNS]
//!
//! A run is what `sscard activate --reader ... --psam-reader ...` does after its arguments are
//! parsed: open both readers, read the card (personal data behind key 0A through the PSAM), check
//! the identity, authenticate both ways, change the PIN, write the activation record under secure
//! messaging, read the medical insurance status, power the card off; the journal's five lines are
//! each synced to disk. The median run is reported.

#[path = "../tests/pcsc_support/mod.rs"]
mod pcsc_support;

use std::time::{Duration, Instant};

use host_tools::jobs::activation::{GivenPins, Journal};
use host_tools::testdir::TestDir;
use host_tools::transport::sim::SimTransport;
use host_tools::transport::vpcd::{FIRST_SLOT_PORT, SECOND_SLOT_PORT};
use pcsc_support::activation::{
    activate_through_pcsc, fresh_card, fresh_card_storage, psam, psam_storage, run_terminal,
    NEW_PIN,
};
use pcsc_support::{context, wait_for_card, ReaderLock, ServedCard, READER, SECOND_READER};

/// In-process runs: cheap, so more of them.
const IN_PROCESS_RUNS: usize = 50;

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map_or(7, |n| n.parse().expect("RUNS: a number"));
    let dir = TestDir::new("pcsc-activation-bench");
    let pins = || GivenPins(NEW_PIN.into(), NEW_PIN.into());

    let mut in_process = Vec::new();
    for run in 0..IN_PROCESS_RUNS {
        let card = SimTransport::in_memory(fresh_card_storage()).expect("the card powers on");
        let module = SimTransport::in_memory(psam_storage()).expect("the PSAM powers on");
        let mut journal = Journal::open(&dir.path().join(format!("sim-{run}.jsonl"))).unwrap();
        let started = Instant::now();
        run_terminal(card, module, &mut journal, &mut pins()).expect("in-process activation");
        in_process.push(started.elapsed());
    }

    let _lock = ReaderLock::acquire();
    let psam_served = ServedCard::start(psam(), SECOND_SLOT_PORT);
    let ctx = context();
    wait_for_card(&ctx, SECOND_READER, true);
    let mut through_pcscd = Vec::new();
    let mut card_apdus = Vec::new();
    for run in 0..runs {
        let served = ServedCard::start(fresh_card(), FIRST_SLOT_PORT);
        wait_for_card(&ctx, READER, true);
        let mut journal = Journal::open(&dir.path().join(format!("pcsc-{run}.jsonl"))).unwrap();
        let started = Instant::now();
        let receipt = activate_through_pcsc(READER, SECOND_READER, &mut journal, &mut pins())
            .expect("activation through pcscd");
        through_pcscd.push(started.elapsed());
        assert_eq!(receipt.medical_insurance, "normal");
        card_apdus.push(served.stop().apdus);
    }
    let psam_apdus = psam_served.stop().apdus;

    report("through pcscd → vpcd", &mut through_pcscd);
    println!(
        "  APDUs per activation: {} to the card, {} to the PSAM",
        card_apdus[0],
        psam_apdus / runs as u64
    );
    report("in-process (simulator)", &mut in_process);
}

/// Prints the median, fastest and slowest run in milliseconds.
fn report(label: &str, runs: &mut [Duration]) {
    runs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{label:<24} median {:>7.2} ms; runs from {:.2} to {:.2} ms; {} runs",
        ms(runs[runs.len() / 2]),
        ms(runs[0]),
        ms(runs[runs.len() - 1]),
        runs.len()
    );
}

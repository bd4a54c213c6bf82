//! APDUs per second through pcscd → vpcd → a served card: the echo card (answers 90 00 to
//! everything) against the simulated demo card, on a READ RECORD loop. Needs the stack:
//! scripts/pcsc-stack.sh start.
//!
//!     cargo run --release -p host-tools --example pcsc_bench [-- ROUNDS APDUS_PER_ROUND]
//!
//! The two cards sit in vpcd's two slots at once and are measured in alternating rounds, so that
//! load from other processes on the machine falls on both alike; the median round is reported.

#[path = "../tests/pcsc_support/mod.rs"]
mod pcsc_support;

use std::ffi::CString;
use std::time::{Duration, Instant};

use host_tools::transport::vpcd::{EchoCard, FIRST_SLOT_PORT, SECOND_SLOT_PORT};
use pcsc::{Card, Context, Protocols, ShareMode};
use pcsc_support::{
    context, demo_sim, select_ssse, wait_for_card, ReaderLock, ServedCard, READER, SECOND_READER,
};

/// READ RECORD 1 of SSSE EF05 (SFI 5) by number: the card identification code (18 bytes).
const READ_RECORD: [u8; 5] = [0x00, 0xB2, 0x01, 0x2C, 0x00];
const WARM_UP: u32 = 200;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|n| n.parse::<u32>().expect("a number"));
    let rounds = args.next().unwrap_or(20);
    let per_round = args.next().unwrap_or(2_000);
    let _lock = ReaderLock::acquire();
    let echo_served = ServedCard::start(Box::new(EchoCard::new()), FIRST_SLOT_PORT);
    let sim_served = ServedCard::start(demo_sim(), SECOND_SLOT_PORT);
    let ctx = context();
    let echo = connect(&ctx, READER, &[]);
    let sim = connect(&ctx, SECOND_READER, &[&select_ssse()]);

    let mut echo_rounds = Vec::new();
    let mut sim_rounds = Vec::new();
    for _ in 0..rounds {
        echo_rounds.push(time_round(&echo, per_round));
        sim_rounds.push(time_round(&sim, per_round));
    }
    let echo_rate = report("echo card", &mut echo_rounds, per_round);
    let sim_rate = report("simulated card", &mut sim_rounds, per_round);
    println!(
        "simulated card / echo card: {:.1} %",
        100.0 * sim_rate / echo_rate
    );
    drop((echo, sim));
    sim_served.stop();
    echo_served.stop();
}

/// Connects to the card in `reader`, runs `setup`, and warms the READ RECORD loop up.
fn connect(ctx: &Context, reader: &str, setup: &[&[u8]]) -> Card {
    wait_for_card(ctx, reader, true);
    let name = CString::new(reader).expect("no NUL");
    let card = ctx
        .connect(&name, ShareMode::Shared, Protocols::ANY)
        .expect("connect to the served card");
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
    for command in setup {
        let response = card.transmit(command, &mut buf).expect("setup APDU");
        assert!(
            response.ends_with(&[0x90, 0x00]),
            "setup failed: {response:02X?}"
        );
    }
    for _ in 0..WARM_UP {
        let response = card.transmit(&READ_RECORD, &mut buf).expect("READ RECORD");
        assert!(
            response.ends_with(&[0x90, 0x00]),
            "READ RECORD failed: {response:02X?}"
        );
    }
    card
}

fn time_round(card: &Card, apdus: u32) -> Duration {
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
    let started = Instant::now();
    for _ in 0..apdus {
        card.transmit(&READ_RECORD, &mut buf).expect("READ RECORD");
    }
    started.elapsed()
}

/// Prints the median round's rate and the spread; returns the median rate.
fn report(label: &str, rounds: &mut [Duration], per_round: u32) -> f64 {
    rounds.sort();
    let rate = |d: Duration| f64::from(per_round) / d.as_secs_f64();
    let median = rounds[rounds.len() / 2];
    let best = rounds[0];
    let worst = rounds[rounds.len() - 1];
    println!(
        "{label:<15} median {:>6.0} APDU/s ({:.1} us/APDU); rounds from {:.0} to {:.0} APDU/s; {} rounds of {per_round}",
        rate(median),
        median.as_secs_f64() * 1e6 / f64::from(per_round),
        rate(worst),
        rate(best),
        rounds.len(),
    );
    rate(median)
}

//! What the host layers cost per APDU: the SSC read mix (card-os's throughput bench mix) against the
//! demo card, called four ways: card-os directly, through `SimTransport`, through the `Client`
//! over it, and with a trace written to nowhere on top. Not a test: numbers go to
//! docs/performance.md. Run: `cargo bench -p host-tools --bench client_overhead`.

use std::hint::black_box;
use std::time::Instant;

use card_os::testing::{demo_card, READ_MIX};
use card_os::{Card, MAX_RESPONSE};
use host_tools::protocol::apdu;
use host_tools::protocol::client::Client;
use host_tools::transport::sim::{MemoryStorage, SimTransport};
use host_tools::transport::trace::TracingTransport;
use host_tools::transport::CardTransport;

const ROUNDS: usize = 200_000;

fn demo_storage() -> MemoryStorage {
    let mut storage = MemoryStorage::erased(64 * 1024);
    demo_card(&mut storage).expect("demo card");
    storage
}

fn report(label: &str, apdus: usize, seconds: f64, baseline: Option<f64>) -> f64 {
    let per_second = apdus as f64 / seconds;
    let ns = seconds * 1e9 / apdus as f64;
    let extra = baseline.map_or(String::new(), |b| {
        format!("  (+{:.0} ns/APDU over card-os)", ns - 1e9 / b)
    });
    println!(
        "{label:<34} {:>7.3} M APDU/s  {ns:>7.1} ns/APDU{extra}",
        per_second / 1e6
    );
    per_second
}

fn time(mut f: impl FnMut() -> usize) -> (f64, usize) {
    let start = Instant::now();
    let checksum = f();
    (start.elapsed().as_secs_f64(), checksum)
}

fn main() {
    let mix = READ_MIX;
    let apdus = ROUNDS * mix.len();

    let mut card = Card::power_on(demo_storage()).expect("power on");
    let mut response = vec![0u8; MAX_RESPONSE];
    let (seconds, direct_sum) = time(|| {
        let mut sum = 0;
        for _ in 0..ROUNDS {
            for apdu in &mix {
                sum += card.process(black_box(apdu), black_box(&mut response));
            }
        }
        sum
    });
    let direct = report("card-os Card::process", apdus, seconds, None);

    let mut sim = SimTransport::in_memory(demo_storage()).expect("sim");
    let (seconds, sim_sum) = time(|| {
        let mut sum = 0;
        for _ in 0..ROUNDS {
            for apdu in &mix {
                sum += sim.transmit(black_box(apdu)).expect("transmit").len();
            }
        }
        sum
    });
    report("SimTransport::transmit", apdus, seconds, Some(direct));

    let commands: Vec<apdu::Command<'_>> = mix
        .iter()
        .map(|a| apdu::parse(a).expect("parses"))
        .collect();
    let mut client = Client::new(SimTransport::in_memory(demo_storage()).expect("sim"));
    let (seconds, client_sum) = time(|| {
        let mut sum = 0;
        for _ in 0..ROUNDS {
            for command in &commands {
                let r = client.transmit(black_box(command)).expect("transmit");
                sum += r.data.len() + 2;
            }
        }
        sum
    });
    report(
        "Client::transmit over the simulator",
        apdus,
        seconds,
        Some(direct),
    );

    let traced = TracingTransport::new(
        SimTransport::in_memory(demo_storage()).expect("sim"),
        Box::new(std::io::sink()),
    );
    let mut client = Client::new(traced);
    let (seconds, traced_sum) = time(|| {
        let mut sum = 0;
        for _ in 0..ROUNDS {
            for command in &commands {
                sum += client
                    .transmit(black_box(command))
                    .expect("transmit")
                    .data
                    .len()
                    + 2;
            }
        }
        sum
    });
    report(
        "... with --trace (to a null sink)",
        apdus,
        seconds,
        Some(direct),
    );

    // Every path saw the same response bytes.
    assert!(direct_sum == sim_sum && sim_sum == client_sum && client_sum == traced_sum);
}

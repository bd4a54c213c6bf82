//! Milliseconds per settlement (docs/settlement.md), end to end through pcscd → vpcd: the sample
//! card (national 3.0, 1,000.00 yuan, the holder's own PIN) in "Virtual PCD 00 00", the terminal's
//! simulated PSAM in "Virtual PCD 00 01", one card for all runs, the journal synced to disk. The
//! median, the fastest and the slowest run are reported. Run it under the PC/SC lock:
//!
//!     flock -o /tmp/sscard-pcsc.lock cargo run --release -p host-tools --example pcsc_settle_bench [-- RUNS]
//!
//! A run is what `sscard settle --reader ... --psam-reader ...` does after its arguments are
//! parsed and both readers are open: the card's identification file, internal authentication
//! through the PSAM, SET DATE, VERIFY, INITIALIZE, INIT SAM, the intent synced, DEBIT, CREDIT SAM,
//! the receipt synced.

#[path = "../tests/pcsc_support/mod.rs"]
mod pcsc_support;

use std::time::{Duration, Instant};

use card_os::crypto::Pin;
use file_structures::personalise::IssuerKeys;
use host_tools::jobs::activation::{LostList, PsamModule};
use host_tools::jobs::settlement::{
    self, Amounts, GivenPin, PurchaseRequest, SettlementJournal, Terminal, TradeTime,
};
use host_tools::protocol::client::Client;
use host_tools::testdir::TestDir;
use host_tools::transport::sim::SimTransport;
use host_tools::transport::simcard::{personalised_card, sample_holder};
use host_tools::transport::vpcd::{FIRST_SLOT_PORT, SECOND_SLOT_PORT};
use host_tools::transport::CardTransport;
use pcsc_support::activation::{layout, open_reader, psam};
use pcsc_support::{context, wait_for_card, ReaderLock, ServedCard, READER, SECOND_READER};

fn card() -> Box<dyn CardTransport + Send> {
    let keys = IssuerKeys::test_keys().expect("test keys");
    let mut holder = sample_holder();
    holder
        .values
        .insert("purse_balance".into(), "100000".into());
    let storage = personalised_card(&layout(), &holder, &keys)
        .expect("card")
        .0;
    let mut sim = SimTransport::in_memory(storage).expect("card on");
    let answer = sim
        .transmit(&hex::decode("805E010007123456FF135790").expect("hex"))
        .expect("CHANGE PIN");
    assert_eq!(answer, [0x90, 0x00]);
    Box::new(sim)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map_or(21, |n| n.parse().expect("RUNS: a number"));
    let dir = TestDir::new("pcsc-settle-bench");
    let _lock = ReaderLock::acquire();
    let _psam_served = ServedCard::start(psam(), SECOND_SLOT_PORT);
    let _card_served = ServedCard::start(card(), FIRST_SLOT_PORT);
    let ctx = context();
    wait_for_card(&ctx, SECOND_READER, true);
    wait_for_card(&ctx, READER, true);
    let mut client = Client::new(open_reader(READER));
    let mut module = PsamModule::open(open_reader(SECOND_READER)).expect("PSAM");
    let terminal = Terminal::from_psam(&mut module, LostList::default()).expect("terminal");
    let mut journal = SettlementJournal::open(&dir.path().join("terminal.jsonl")).expect("journal");
    let request = PurchaseRequest {
        amounts: Amounts::new(1, 0, 0).expect("amounts"),
        time: TradeTime::parse("20240315103000").expect("time"),
    };
    let mut pin = GivenPin(Pin::from_ascii(b"135790").expect("pin"));
    let layout = layout();
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        settlement::settle(
            &mut client,
            &mut module,
            &layout,
            &terminal,
            &request,
            &mut pin,
            &mut journal,
        )
        .expect("settles through pcscd");
        times.push(started.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "settlement through pcscd ({runs} runs): median {:.2} ms, fastest {:.2} ms, slowest {:.2} ms, p10-p90 {:.2}-{:.2} ms",
        ms(median),
        ms(times[0]),
        ms(times[times.len() - 1]),
        ms(times[times.len() / 10]),
        ms(times[times.len() * 9 / 10]),
    );
}

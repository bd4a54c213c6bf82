//! Settlements per second in process, on one core: the card (a personalised national card image)
//! and the PSAM both simulated, the whole terminal flow of `jobs::settlement::settle` (identity,
//! region, journal, internal authentication, PIN, INITIALIZE, INIT SAM, DEBIT, CREDIT SAM, two
//! journal lines synced), on 2.0 (3DES) and 3.0 (SM4) cards. Not a test: numbers go to
//! docs/performance.md.
//! Run: `cargo bench -p host-tools --bench settlement` (the journal goes to SSCARD_BENCH_DIR, by
//! default the system's temporary directory; on tmpfs its fsync costs nothing).

use std::time::Instant;

use card_os::crypto::Pin;
use file_structures::layout::national;
use file_structures::personalise::IssuerKeys;
use host_tools::jobs::activation::{psam::psam_image, LostList, PsamModule};
use host_tools::jobs::settlement::{
    self, Amounts, GivenPin, PurchaseRequest, SettlementJournal, Terminal, TradeTime,
};
use host_tools::protocol::client::Client;
use host_tools::transport::sim::SimTransport;
use host_tools::transport::simcard::{personalised_card, sample_holder};

const SETTLEMENTS: usize = 5_000;

fn main() {
    let keys = IssuerKeys::test_keys().expect("test keys");
    let dir = std::env::var_os("SSCARD_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("sscard-settle-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    for (version, algorithm) in [("2.0", "3DES"), ("3.0", "SM4")] {
        let layout = national(version).expect("layout");
        let mut holder = sample_holder();
        holder
            .values
            .insert("purse_balance".into(), "4000000000".into());
        let storage = personalised_card(&layout, &holder, &keys).expect("card").0;
        let mut card = Client::new(SimTransport::in_memory(storage).expect("card on"));
        let answer = card
            .transmit_raw(&hex::decode("805E010007123456FF135790").expect("hex"))
            .expect("change PIN");
        assert_eq!(answer.sw.to_u16(), 0x9000);
        let psam = psam_image(&layout, &keys, &[0x11, 0x01, 0x00]).expect("psam");
        let mut psam =
            PsamModule::open(SimTransport::in_memory(psam).expect("psam on")).expect("psam");
        let terminal = Terminal::from_psam(&mut psam, LostList::default()).expect("terminal");
        let path = dir.join(format!("journal-{version}.jsonl"));
        let mut journal = SettlementJournal::open(&path).expect("journal");
        let request = PurchaseRequest {
            amounts: Amounts::new(1, 0, 0).expect("amounts"),
            time: TradeTime::parse("20240315103000").expect("time"),
        };
        let mut pin = GivenPin(Pin::from_ascii(b"135790").expect("pin"));
        let start = Instant::now();
        for _ in 0..SETTLEMENTS {
            settlement::settle(
                &mut card,
                &mut psam,
                &layout,
                &terminal,
                &request,
                &mut pin,
                &mut journal,
            )
            .expect("settles");
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{version} ({algorithm}) whole flow: {SETTLEMENTS} settlements in {seconds:.3} s = {:.0}/s ({:.1} us each)",
            SETTLEMENTS as f64 / seconds,
            seconds * 1e6 / SETTLEMENTS as f64
        );
        let state = {
            card.reset(host_tools::transport::ResetKind::Cold)
                .expect("reset");
            settlement::read_purse(&mut card, &layout, &mut pin).expect("purse")
        };
        assert_eq!(state.balance, 4_000_000_000 - SETTLEMENTS as u32);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

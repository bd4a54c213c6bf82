//! APDUs per second on one core: the SSC read mix against the demo card, next to a "null card"
//! that parses the command and answers 9000. Run: `cargo bench -p card-os --bench throughput`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;
use std::time::Instant;

use card_os::testing::{demo_card, READ_MIX};
use card_os::{Card, Command, RamStorage, MAX_RESPONSE};

const ROUNDS: usize = 2_000_000;

/// Parses the header and answers 9000: the floor of what any card costs.
fn null_card(apdu: &[u8], response: &mut [u8]) -> usize {
    match Command::parse(apdu) {
        Ok(_) => {
            response[..2].copy_from_slice(&[0x90, 0x00]);
            2
        }
        Err(sw) => {
            response[..2].copy_from_slice(&sw.to_bytes());
            2
        }
    }
}

fn rate(label: &str, apdus: usize, seconds: f64) -> f64 {
    let per_second = apdus as f64 / seconds;
    println!(
        "{label:<28} {:>8.2} M APDU/s  ({:.1} ns/APDU)",
        per_second / 1e6,
        seconds * 1e9 / apdus as f64
    );
    per_second
}

fn main() {
    let mut storage = Box::new(RamStorage::<65536>::new());
    demo_card(&mut *storage).expect("demo card");
    let mut card = Card::power_on(&mut *storage).expect("power on");
    let mix = READ_MIX;
    let mut response = vec![0u8; MAX_RESPONSE];

    for apdu in &mix {
        let n = card.process(apdu, &mut response);
        assert_eq!(&response[n - 2..n], &[0x90, 0x00], "{apdu:02X?}");
    }

    let start = Instant::now();
    let mut checksum = 0usize;
    for _ in 0..ROUNDS {
        for apdu in &mix {
            checksum += card.process(black_box(apdu), black_box(&mut response));
        }
    }
    let card_rate = rate(
        "card, SSC read mix",
        ROUNDS * mix.len(),
        start.elapsed().as_secs_f64(),
    );

    let start = Instant::now();
    for _ in 0..ROUNDS {
        for apdu in &mix {
            checksum += null_card(black_box(apdu), black_box(&mut response));
        }
    }
    let null_rate = rate(
        "null card (parse + 9000)",
        ROUNDS * mix.len(),
        start.elapsed().as_secs_f64(),
    );
    println!(
        "card / null card: {:.2}   (checksum {checksum})",
        card_rate / null_rate
    );
    println!(
        "RAM: Volatile {} bytes, FileIndex {} bytes, Card<&mut RamStorage> {} bytes",
        std::mem::size_of::<card_os::Volatile>(),
        std::mem::size_of::<card_os::fs::FileIndex>(),
        std::mem::size_of::<Card<&mut RamStorage<65536>>>()
    );
}

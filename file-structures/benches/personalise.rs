//! Benchmark (not a test): personalise 100,000 generated records on one core.
//!
//! `cargo bench -p file-structures --bench personalise [-- COUNT]`
//!
//! Measures (1) records → personalisation scripts (field codecs, key diversification, APDUs) and
//! (2) records → card images (the script run on the in-process card OS). When the card OS
//! refuses a step, (2) is reported as such and (3) measures the file-system part of the script
//! (everything but WRITE KEY / WRITE PIN / ISSUE CARD) on an all-free variant of the layout.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use file_structures::codec::{card_number_check_char, citizen_id_check_char};
use file_structures::layout::{self, Layout};
use file_structures::personalise::*;

fn record(i: u32) -> CardRecord {
    let first17 = format!(
        "110105{:04}{:02}{:02}{:03}",
        1950 + i % 60,
        1 + i % 12,
        1 + i % 28,
        i % 1000
    );
    let number8 = format!("B{:07}", i);
    let mut values = BTreeMap::new();
    values.insert(
        "card_id_code".to_owned(),
        format!("110100D156000005{:016X}", u64::from(i)),
    );
    values.insert("init_org".to_owned(), "110100000001".to_owned());
    values.insert("issue_date".to_owned(), "20240101".to_owned());
    values.insert("expiry_date".to_owned(), "20340101".to_owned());
    values.insert(
        "card_number".to_owned(),
        format!(
            "{number8}{}",
            card_number_check_char(&number8).unwrap_or('?')
        ),
    );
    values.insert(
        "ssn".to_owned(),
        format!(
            "{first17}{}",
            citizen_id_check_char(&first17).unwrap_or('?')
        ),
    );
    values.insert("name".to_owned(), "张测试".to_owned());
    values.insert("gender".to_owned(), (1 + i % 2).to_string());
    values.insert("nation".to_owned(), "01".to_owned());
    values.insert("birthplace".to_owned(), "110105".to_owned());
    values.insert("birth_date".to_owned(), first17[6..14].to_owned());
    values.insert(
        "household_address".to_owned(),
        "北京市测试区示例路1号".to_owned(),
    );
    CardRecord {
        label: format!("bench {i}"),
        values,
    }
}

fn rate(what: &str, count: u32, start: Instant) {
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{what}: {count} cards in {secs:.2} s = {:.0} cards/s",
        f64::from(count) / secs
    );
}

/// The national layout with every access rule free (see tests/simulator.rs).
fn all_free(version: &str) -> Layout {
    let mut text = String::new();
    for line in layout::NATIONAL_TOML.lines() {
        let t = line.trim_start();
        if t.starts_with("read = ") || t.starts_with("update = ") {
            text.push_str(&format!(
                "{} = \"free\"\n",
                t.split(" = ").next().unwrap_or("read")
            ));
        } else if !t.starts_with("{ file = ") {
            text.push_str(line);
            text.push('\n');
        }
        if t.starts_with("parent = ") {
            text.push_str("admin = \"free\"\n");
        }
    }
    layout::load_str("all-free.toml", &text, Some(version)).expect("all-free layout")
}

fn main() {
    let count: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let layout = layout::national("3.0").expect("national layout");
    let keys = IssuerKeys::test_keys().expect("test keys");
    let records: Vec<CardRecord> = (0..count).map(record).collect();

    let personaliser = Personaliser::new(&layout, &keys);
    let start = Instant::now();
    let mut steps = 0;
    for r in &records {
        steps += black_box(personaliser.script(r).expect("script"))
            .steps
            .len();
    }
    rate("records -> scripts", count, start);
    println!("  ({} APDUs per card)", steps / count as usize);

    let start = Instant::now();
    match personaliser.card_image(&records[0]) {
        Err(e) => println!("records -> card images: not measurable yet: {e}"),
        Ok(_) => {
            for r in &records {
                black_box(personaliser.card_image(r).expect("card image"));
            }
            rate("records -> card images", count, start);
        }
    }

    let free = all_free("3.0");
    let free_personaliser = Personaliser::new(&free, &keys);
    let start = Instant::now();
    for r in &records {
        let script = free_personaliser.script(r).expect("script");
        let storage = run_file_system_steps(&free, script).expect("file-system steps");
        black_box(storage.as_bytes().to_vec());
    }
    rate(
        "records -> card images, file-system steps only",
        count,
        start,
    );
}

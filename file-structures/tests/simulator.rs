//! Personalisation scripts run on the in-process card OS, and every field read back by record
//! number and by tag, decoded through the layout to the record that went in.

use std::collections::BTreeMap;

use card_os::{Card, Storage};
use file_structures::decode::{decode_ef, to_record};
use file_structures::layout::{self, Layout, ReadMode};
use file_structures::personalise::*;

fn holder() -> CardRecord {
    record_from_json("holder.json", include_str!("../samples/holder.json")).unwrap()
}

fn transmit<S: Storage>(card: &mut Card<S>, apdu: &[u8]) -> (Vec<u8>, u16) {
    let mut response = [0u8; 300];
    let n = card.process(apdu, &mut response);
    (
        response[..n - 2].to_vec(),
        u16::from_be_bytes([response[n - 2], response[n - 1]]),
    )
}

/// Every record file of the read plan (only those readable without PIN or key when `free_only`),
/// read by record number and checked against the same record read by tag.
fn read_back<S: Storage>(
    card: &mut Card<S>,
    layout: &Layout,
    free_only: bool,
) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for plan in layout.read_plan() {
        let ReadMode::Records { records } = plan.mode else {
            continue;
        };
        if free_only && !plan.free {
            continue;
        }
        let mut select = vec![0x00, 0xA4, 0x08, 0x0C, (plan.df_path.len() * 2) as u8];
        plan.df_path
            .iter()
            .for_each(|fid| select.extend_from_slice(&fid.to_be_bytes()));
        assert_eq!(transmit(card, &select).1, 0x9000, "select {}", plan.df_name);
        let sfi = plan
            .sfi
            .expect("record files of the national layout have SFIs");
        let mut read = Vec::new();
        for rec in 1..=records {
            let (by_number, sw) = transmit(card, &[0x00, 0xB2, rec, sfi << 3 | 0x04, 0x00]);
            assert_eq!(sw, 0x9000, "{} record {rec}", plan.path);
            let (by_tag, sw) = transmit(card, &[0x00, 0xB2, by_number[0], sfi << 3, 0x00]);
            assert_eq!(
                (by_tag, sw),
                (by_number.clone(), 0x9000),
                "{} tag {:02X}",
                plan.path,
                by_number[0]
            );
            read.push(by_number);
        }
        values.extend(to_record(&decode_ef(layout, &plan.path, &read).unwrap()));
    }
    values
}

fn expected(layout: &Layout, record: &CardRecord) -> BTreeMap<String, String> {
    let mut values = record.values.clone();
    for f in layout.fields() {
        if let Some(d) = &f.field.default {
            values
                .entry(f.field.id.clone())
                .or_insert_with(|| d.clone());
        }
    }
    values
}

/// The national layout with every access rule free, so that the structure and record steps of
/// a script can run on a card OS that checks access conditions while personalising.
fn all_free_national() -> Layout {
    let mut text = String::new();
    for line in layout::NATIONAL_TOML.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("read = ") || trimmed.starts_with("update = ") {
            let (key, _) = trimmed.split_once(" = ").unwrap();
            text.push_str(&format!("{key} = \"free\"\n"));
        } else if trimmed.starts_with("{ file = ") {
            continue;
        } else {
            text.push_str(line);
            text.push('\n');
        }
        if trimmed.starts_with("parent = ") {
            text.push_str("admin = \"free\"\n");
        }
    }
    layout::load_str("all-free.toml", &text, Some("3.0")).unwrap()
}

#[test]
fn structure_and_records_of_a_script_build_a_card_that_reads_back_every_field() {
    let layout = all_free_national();
    let record = holder();
    let keys = IssuerKeys::test_keys().unwrap();
    let script = personalisation_script(&layout, &record, &keys).unwrap();
    // The security commands (WRITE KEY, WRITE PIN, ISSUE CARD) are tested with the whole script
    // below; here the file system commands run alone.
    let mut storage = run_file_system_steps(&layout, script).unwrap();
    let mut card = Card::power_on(&mut *storage).unwrap();
    assert_eq!(
        read_back(&mut card, &layout, false),
        expected(&layout, &record)
    );
}

#[test]
fn the_whole_script_personalises_a_blank_card_that_reads_back_its_free_files() {
    let layout = layout::national("2.0").unwrap();
    let record = holder();
    let image = card_image(&layout, &record, &IssuerKeys::test_keys().unwrap()).unwrap();
    assert_eq!(image.bytes.len(), IMAGE_SIZE);
    assert_eq!(image.summary.card_number.as_deref(), Some("T0000001X"));
    let storage = CardStorage::from_image(&image.bytes).unwrap();
    let mut card = Card::power_on(storage).unwrap();
    assert_eq!(
        transmit(&mut card, &[0x00, 0xCA, 0x9F, 0x70, 0x01]),
        (vec![0x02], 0x9000),
        "issued"
    );
    let read = read_back(&mut card, &layout, true);
    let expected = expected(&layout, &record);
    for (id, value) in &read {
        assert_eq!(Some(value), expected.get(id), "{id}");
    }
    assert!(
        read.contains_key("name")
            && read.contains_key("card_number")
            && read.contains_key("activation_state")
    );
}

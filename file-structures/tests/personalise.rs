//! Personalisation: records through the layout into scripts that follow docs/card-os.md and
//! docs/security.md, bad records refused with record and field named, batches all-or-nothing,
//! and records read back decoding to what was written.

use std::collections::BTreeMap;

use card_os::crypto::diversify::{card_factor, region_factor};
use card_os::crypto::{diversify_two_level, Algorithm};
use file_structures::codec::{card_number_check_char, citizen_id_check_char, encode};
use file_structures::decode::{decode_ef, to_record};
use file_structures::layout::{self, ef_path, Layout};
use file_structures::personalise::*;
use proptest::prelude::*;

const HOLDER: &str = include_str!("../samples/holder.json");
const BATCH_CSV: &str = include_str!("../samples/batch.csv");
const BATCH_JSONL: &str = include_str!("../samples/batch.jsonl");

fn holder() -> CardRecord {
    record_from_json("holder.json", HOLDER).unwrap()
}

fn keys() -> IssuerKeys {
    IssuerKeys::test_keys().unwrap()
}

fn v3() -> Layout {
    layout::national("3.0").unwrap()
}

/// The `tag len value` records the script appends, per EF path, in order.
fn appended(layout: &Layout, script: &Script) -> BTreeMap<String, Vec<Vec<u8>>> {
    let mut current = String::new();
    let mut files: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for step in &script.steps {
        if let Some(path) = step.label.strip_prefix("create EF ") {
            current = path.to_owned();
            assert!(layout.ef(path).is_some());
        }
        if step.apdu[..4] == [0x00, 0xE2, 0x00, 0x00] {
            files
                .entry(current.clone())
                .or_default()
                .push(step.apdu[5..].to_vec());
        }
    }
    files
}

fn find<'a>(script: &'a Script, label: &str) -> &'a Step {
    script
        .steps
        .iter()
        .find(|s| &*s.label == label)
        .unwrap_or_else(|| panic!("no step {label:?}"))
}

#[test]
fn script_follows_the_card_contract() {
    let layout = v3();
    let script = personalisation_script(&layout, &holder(), &keys()).unwrap();
    assert_eq!(
        script.steps.first().unwrap().apdu,
        [0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00]
    );
    assert_eq!(script.steps.last().unwrap().apdu, [0x80, 0xF0, 0x02, 0x00]);

    let ssse = &find(&script, "create DF SSSE").apdu;
    let mut fcp = vec![0x82, 0x01, 0x38, 0x83, 0x02, 0xDD, 0xF1, 0x84, 0x0F];
    fcp.extend_from_slice(b"sx1.sh.");
    fcp.extend_from_slice(&[0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF]);
    fcp.extend_from_slice(&[0x8A, 0x01, 0x05, 0x86, 0x08, 0, 0, 0, 0, 0, 0, 0xFF, 0]);
    fcp.extend_from_slice(&[0xA5, 0x06, 0x9F, 0x0C, 0x03, 0x86, 0x01, 0x03]);
    assert_eq!(
        ssse[..7],
        [
            0x00,
            0xE0,
            0x00,
            0x00,
            fcp.len() as u8 + 2,
            0x62,
            fcp.len() as u8
        ]
    );
    assert_eq!(ssse[7..], fcp[..]);

    let ef06 = &find(&script, "create EF SSSE/EF06").apdu;
    assert_eq!(
        ef06[5..],
        [
            0x62,
            0x1B,
            0x82,
            0x05,
            0x04,
            0x21,
            0x00,
            32,
            7,
            0x83,
            0x02,
            0xEF,
            0x06,
            0x88,
            0x01,
            6 << 3,
            0x8A,
            0x01,
            0x05,
            0x86,
            0x08,
            0x02,
            0x0A,
            0x02,
            0x04,
            0x02,
            0x04,
            0xFF,
            0x00
        ]
    );
    let photo = &find(&script, "create EF SSSE/EF08").apdu;
    assert_eq!(
        photo[7..16],
        [0x82, 0x01, 0x01, 0x83, 0x02, 0xEF, 0x08, 0x80, 0x02]
    );
    assert_eq!(photo[16..18], [0x10, 0x00]);

    assert_eq!(
        find(&script, "write PIN in SSSE (6 tries)").apdu,
        [0x80, 0xD4, 0x01, 0x00, 0x04, 0x06, 0x12, 0x34, 0x56]
    );
    let structure_first = script
        .steps
        .iter()
        .position(|s| &*s.label == "create DF SSSE")
        .unwrap();
    let key_step = script
        .steps
        .iter()
        .position(|s| s.label.starts_with("write key 04"))
        .unwrap();
    assert!(structure_first < key_step);
}

#[test]
fn every_field_is_appended_as_tag_len_value_in_record_order() {
    let layout = v3();
    let record = holder();
    let script = personalisation_script(&layout, &record, &keys()).unwrap();
    let files = appended(&layout, &script);
    for f in layout.fields() {
        let path = ef_path(f.df, f.ef);
        let stored = &files[&path][usize::from(f.field.rec) - 1];
        let value = record.values.get(&f.field.id).or(f.field.default.as_ref());
        match value {
            Some(v) => {
                let mut expected = vec![f.field.tag, f.field.len];
                expected.extend(encode(f.field.encoding, usize::from(f.field.len), v).unwrap());
                assert_eq!(stored, &expected, "{}", f.field.id);
            }
            None => assert_eq!(
                stored,
                &vec![f.field.tag, 0],
                "absent optional {} is an empty record",
                f.field.id
            ),
        }
    }
}

#[test]
fn card_keys_are_diversified_from_the_master_with_the_card_identification_code() {
    let layout = v3();
    let record = holder();
    let script = personalisation_script(&layout, &record, &keys()).unwrap();
    let write = &find(&script, "write key 04 (external-auth) in SSSE").apdu;
    assert_eq!(
        write[..9],
        [0x80, 0xD4, 0x00, 0x00, 0x14, 0x04, 0x01, 0x03, 0x0F]
    );
    let code: [u8; 16] = hex::decode(&record.values["card_id_code"])
        .unwrap()
        .try_into()
        .unwrap();
    let master = card_os::crypto::SecretKey::from_slice(
        Algorithm::Sm4,
        &hex::decode("54455354DDF104030011223344556677").unwrap(),
    )
    .unwrap();
    let region = region_factor(&[code[0], code[1], code[2]]).unwrap();
    let expected = diversify_two_level(&master, &region, &card_factor(&code).unwrap()).unwrap();
    assert_eq!(write[9..], expected.expose_bytes()[..]);

    let mut other = record.clone();
    other.values.insert(
        "card_id_code".into(),
        "110100D156000005544553540000000F".into(),
    );
    let other_script = personalisation_script(&layout, &other, &keys()).unwrap();
    assert_ne!(
        find(&other_script, "write key 04 (external-auth) in SSSE").apdu,
        *write
    );
}

#[test]
fn version_2_cards_get_3des_keys() {
    let layout = layout::national("2.0").unwrap();
    let script = personalisation_script(&layout, &holder(), &keys()).unwrap();
    assert_eq!(
        find(&script, "write key 04 (external-auth) in SSSE").apdu[7],
        0x01
    );
    assert!(!script
        .steps
        .iter()
        .any(|s| s.label.starts_with("write key 0A")));
}

fn field_error(record: CardRecord) -> RecordError {
    match personalisation_script(&v3(), &record, &keys()) {
        Err(PersoError::Record { errors, .. }) => {
            assert_eq!(errors.len(), 1, "{errors:#?}");
            errors.into_iter().next().unwrap()
        }
        other => panic!("expected a record error, got {other:?}"),
    }
}

fn with(field: &str, value: &str) -> CardRecord {
    let mut r = holder();
    r.values.insert(field.into(), value.into());
    r
}

#[test]
fn bad_records_name_record_field_and_rule() {
    let e = field_error(with("ssn", "110105199001010011"));
    assert_eq!(
        (e.record.as_str(), e.field.as_deref()),
        ("holder.json", Some("ssn"))
    );
    assert!(e.rule.contains("ISO 7064 MOD 11-2 gives 0"), "{e}");

    let e = field_error(with("name", &"测".repeat(16)));
    assert_eq!(e.field.as_deref(), Some("name"));
    assert!(
        e.rule.contains("32 bytes do not fit the field's 30 bytes"),
        "{e}"
    );

    let e = field_error(with("issue_date", "20230231"));
    assert!(e.rule.contains("not a calendar date"), "{e}");

    let e = field_error(with("nickname", "x"));
    assert_eq!(e.field.as_deref(), Some("nickname"));
    assert!(e.rule.contains("no field of the layout"), "{e}");

    let mut missing = holder();
    missing.values.remove("birth_date");
    let e = field_error(missing);
    assert!(
        e.rule
            .contains("mandatory field birth date (出生日期) is missing"),
        "{e}"
    );
}

#[test]
fn record_errors_are_all_reported_together() {
    let mut r = with("ssn", "110105199001010011");
    r.values.insert("gender".into(), "5".into());
    match personalisation_script(&v3(), &r, &keys()) {
        Err(PersoError::Record { errors, .. }) => {
            let fields: Vec<_> = errors.iter().filter_map(|e| e.field.clone()).collect();
            assert_eq!(fields, ["ssn", "gender"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_batch_with_bad_records_makes_nothing_unless_allowed() {
    let layout = v3();
    let records = || records_from_batch("batch.csv", BATCH_CSV, BatchFormat::Csv);
    let mut made = Vec::new();
    let options = BatchOptions {
        output: Output::Script,
        allow_partial: false,
    };
    let result = personalise_batch(
        &layout,
        records(),
        &keys(),
        options,
        &mut |_| {},
        &mut |r, _| {
            made.push(r.label.clone());
            Ok(())
        },
    );
    match result {
        Err(BatchError::Rejected {
            total,
            bad_records,
            failed,
        }) => {
            assert_eq!(total, 4);
            assert_eq!(bad_records, 2, "two records are bad, one of them twice");
            let bad: Vec<_> = failed
                .iter()
                .map(|e| (e.record.as_str(), e.field.as_deref().unwrap_or("")))
                .collect();
            assert_eq!(
                bad,
                [
                    ("batch.csv line 4", "issue_date"),
                    ("batch.csv line 4", "ssn"),
                    ("batch.csv line 5", "name")
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(made.is_empty(), "nothing is made when a record is bad");

    let mut progress = Vec::new();
    let options = BatchOptions {
        output: Output::Script,
        allow_partial: true,
    };
    let report = personalise_batch(
        &layout,
        records(),
        &keys(),
        options,
        &mut |p| progress.push(p),
        &mut |r, out| {
            assert!(matches!(out, CardOutput::Script(_)));
            made.push(r.label.clone());
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(made, ["batch.csv line 2", "batch.csv line 3"]);
    assert_eq!((report.made, report.failed.len()), (2, 3));
    assert_eq!(progress.last(), Some(&Progress::Made { done: 2, total: 2 }));
}

#[test]
fn json_lines_batches_read_like_csv_ones() {
    let records = records_from_batch("batch.jsonl", BATCH_JSONL, BatchFormat::JsonLines);
    assert_eq!(records.len(), 2);
    let csv = records_from_batch("batch.csv", BATCH_CSV, BatchFormat::Csv);
    let first_jsonl = records[0].as_ref().unwrap();
    let mut first_csv = csv[0].as_ref().unwrap().values.clone();
    first_csv.remove("phone");
    assert_eq!(first_jsonl.values, first_csv);
    assert!(record_from_json("x.json", "{\"gender\": 1}")
        .unwrap_err()
        .rule
        .contains("must be strings"));
}

#[test]
fn text_script_is_one_comment_and_one_apdu_per_step() {
    let script = personalisation_script(&v3(), &holder(), &keys()).unwrap();
    let text = script.to_text();
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), script.steps.len() * 2);
    for (pair, step) in lines.chunks(2).zip(&script.steps) {
        assert_eq!(pair[0], format!("# {}", step.label));
        assert_eq!(hex::decode(pair[1].replace(' ', "")).unwrap(), step.apdu);
    }
}

#[test]
fn records_decode_back_to_the_input_with_the_layout_defaults() {
    let layout = layout::load_str(
        "a.toml",
        include_str!("../layouts/local/example-region-a.toml"),
        None,
    )
    .unwrap();
    let mut record = holder();
    record
        .values
        .insert("person_id".into(), "P12345678901".into());
    record
        .values
        .insert("first_application_region".into(), "110105".into());
    let script = personalisation_script(&layout, &record, &keys()).unwrap();
    let mut decoded = BTreeMap::new();
    for (path, records) in appended(&layout, &script) {
        decoded.extend(to_record(&decode_ef(&layout, &path, &records).unwrap()));
    }
    let mut expected = record.values.clone();
    for f in layout.fields() {
        if let Some(d) = &f.field.default {
            expected
                .entry(f.field.id.clone())
                .or_insert_with(|| d.clone());
        }
    }
    assert_eq!(decoded, expected);
}

#[test]
fn decoding_refuses_records_the_layout_does_not_define() {
    let layout = v3();
    assert!(decode_ef(&layout, "SSSE/EF06", &[vec![0x77, 0x01, 0x31]])
        .unwrap_err()
        .to_string()
        .contains("tag 77 is no field of SSSE/EF06"));
    assert!(decode_ef(&layout, "SSSE/EF06", &[vec![0x0A, 0x02, 0x31]]).is_err());
    assert!(decode_ef(&layout, "SSSE/EF99", &[]).is_err());
}

fn valid_record() -> impl Strategy<Value = BTreeMap<String, String>> {
    (
        "[0-9A-F]{16}",
        "[0-9A-Z]{8}",
        prop::sample::select(vec!["110105", "310101", "440305"]),
        (1950u32..2010, 1u32..=12, 1u32..=28),
        0u32..1000,
        "[张王李赵测试明华]{1,15}",
        prop::sample::select(vec!["0", "1", "2", "9"]),
        1u32..=56,
        prop::option::of("[0-9]{11}"),
    )
        .prop_map(
            |(serial, number8, region, (y, m, d), seq, name, gender, nation, phone)| {
                let first17 = format!("{region}{y:04}{m:02}{d:02}{seq:03}");
                let mut r = BTreeMap::new();
                r.insert("card_id_code".into(), format!("{region}D156000005{serial}"));
                r.insert("init_org".into(), "110100000001".into());
                r.insert("issue_date".into(), "20240101".into());
                r.insert("expiry_date".into(), "20340101".into());
                r.insert(
                    "card_number".into(),
                    format!(
                        "{number8}{}",
                        file_structures::codec::card_number_check_char(&number8).unwrap()
                    ),
                );
                r.insert(
                    "ssn".into(),
                    format!("{first17}{}", citizen_id_check_char(&first17).unwrap()),
                );
                r.insert("name".into(), name);
                r.insert("gender".into(), gender.into());
                r.insert("nation".into(), format!("{nation:02}"));
                r.insert("birthplace".into(), region.into());
                r.insert("birth_date".into(), format!("{y:04}{m:02}{d:02}"));
                if let Some(p) = phone {
                    r.insert("phone".into(), p);
                }
                r
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_valid_record_round_trips_through_script_and_decoding(values in valid_record()) {
        let layout = v3();
        let record = CardRecord { label: "generated".into(), values: values.clone() };
        let script = personalisation_script(&layout, &record, &keys()).unwrap();
        let mut decoded = BTreeMap::new();
        for (path, records) in appended(&layout, &script) {
            decoded.extend(to_record(&decode_ef(&layout, &path, &records).unwrap()));
        }
        for (id, value) in &values {
            prop_assert_eq!(decoded.get(id), Some(value));
        }
    }
}

/// The two good records of the sample batch (lines 2 and 3), then `extra` rows, as a CSV batch.
fn good_batch_with(extra: &[&str]) -> Vec<Result<CardRecord, RecordError>> {
    let mut text: String = BATCH_CSV.lines().take(3).collect::<Vec<_>>().join("\n");
    for row in extra {
        text.push('\n');
        text.push_str(row);
    }
    records_from_batch("b.csv", &text, BatchFormat::Csv)
}

/// A valid card number from its first eight characters.
fn card_number(first8: &str) -> String {
    format!("{first8}{}", card_number_check_char(first8).unwrap())
}

/// A valid citizen ID of Dongcheng, born 1985-12-31, with sequence number `seq` (3 digits).
fn citizen_id(seq: u32) -> String {
    let first17 = format!("11010519851231{seq:03}");
    format!("{first17}{}", citizen_id_check_char(&first17).unwrap())
}

/// Line 2 of the sample batch with its card number, card identification code (last byte) and
/// citizen ID replaced.
fn line_2_as(number: &str, code_last_byte: &str, ssn: &str) -> String {
    BATCH_CSV
        .lines()
        .nth(1)
        .unwrap()
        .replace("T00000028", number)
        .replace("0000000B,", &format!("000000{code_last_byte},"))
        .replace("110105198512310029", ssn)
}

#[test]
fn a_batch_that_would_make_one_card_twice_is_refused_whole_naming_both_lines() {
    let layout = v3();
    let (other_number, other_ssn) = (card_number("T0000005"), citizen_id(4));
    // A fourth record equal to line 2 in one identifying value, different in the others.
    let cases = [
        ("card_number", line_2_as("T00000028", "0F", &other_ssn)),
        ("card_id_code", line_2_as(&other_number, "0B", &other_ssn)),
        ("ssn", line_2_as(&other_number, "0F", "110105198512310029")),
    ];
    for (field, row) in cases {
        for allow_partial in [false, true] {
            let mut made = 0;
            let options = BatchOptions {
                output: Output::Script,
                allow_partial,
            };
            let result = personalise_batch(
                &layout,
                good_batch_with(&[&row]),
                &keys(),
                options,
                &mut |_| {},
                &mut |_, _| {
                    made += 1;
                    Ok(())
                },
            );
            match result {
                Err(BatchError::Duplicates { duplicates }) => {
                    assert_eq!(
                        duplicates,
                        [Duplicate {
                            field: field.into(),
                            records: vec!["b.csv line 2".into(), "b.csv line 4".into()],
                        }],
                        "{field}"
                    );
                }
                other => panic!("{field}: {other:?}"),
            }
            assert_eq!(made, 0, "{field}: nothing is made");
        }
    }
    // The same rows with distinct values make every card.
    let distinct = line_2_as(&other_number, "0F", &other_ssn);
    let checked = check_batch(&layout, good_batch_with(&[&distinct]), false, &mut |_| {}).unwrap();
    assert_eq!(checked.records().len(), 3);
}

#[test]
fn every_shared_value_is_named_once_with_all_its_records() {
    let layout = v3();
    // Lines 2, 4 and 5 share a card number; lines 4 and 6 share a citizen ID.
    let rows = [
        line_2_as("T00000028", "0F", &citizen_id(4)),
        line_2_as("T00000028", "10", &citizen_id(5)),
        line_2_as(&card_number("T0000006"), "11", &citizen_id(4)),
    ];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let e = check_batch(&layout, good_batch_with(&rows), true, &mut |_| {}).unwrap_err();
    assert_eq!(
        e.to_string(),
        "2 value(s) would make the same card twice, so no card was made: \
         card_number is the same in b.csv line 2, b.csv line 4, b.csv line 5; \
         ssn is the same in b.csv line 4, b.csv line 6"
    );
}

#[test]
fn an_empty_batch_is_an_error() {
    let layout = v3();
    let header_only = records_from_batch("e.csv", "card_number,name\n", BatchFormat::Csv);
    for records in [Vec::new(), header_only] {
        assert!(matches!(
            check_batch(&layout, records, true, &mut |_| {}),
            Err(BatchError::Empty)
        ));
    }
}

#[test]
fn a_batch_past_the_record_limit_is_refused_before_any_record_is_checked() {
    let layout = v3();
    let record = holder();
    let records: Vec<_> = (0..=MAX_BATCH_RECORDS)
        .map(|_| Ok(record.clone()))
        .collect();
    let mut checked = 0;
    let e = check_batch(&layout, records, true, &mut |_| checked += 1).unwrap_err();
    assert!(matches!(e, BatchError::TooManyRecords { limit } if limit == MAX_BATCH_RECORDS));
    assert!(e.to_string().contains("100000 records, the limit"), "{e}");
    assert_eq!(checked, 0);
}

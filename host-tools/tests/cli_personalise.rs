//! `sscard personalise` on the sample batch, which has good and bad records.

mod common;
use common::*;

fn batch(name: &str) -> String {
    file_structures_dir()
        .join("samples")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_batch_with_bad_records_is_refused_whole_and_writes_nothing() {
    let dir = TestDir::new("cli-perso-refused");
    let out = dir.path().join("cards");
    let run = sscard(&[
        "personalise",
        "--records",
        &batch("batch.csv"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, EXIT_BAD_RECORDS, "{}{}", run.stdout, run.stderr);
    assert!(!out.exists(), "nothing is written");
    // Each bad record is named with its field and the rule it breaks.
    assert!(
        run.stdout.contains("batch.csv line 4:issue_date: "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("batch.csv line 5:name: "),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("0 card(s) written"), "{}", run.stdout);
}

#[test]
fn allow_partial_writes_the_good_cards_and_lists_the_bad_records() {
    let dir = TestDir::new("cli-perso-partial");
    let out = dir.path().join("cards");
    let run = sscard(&[
        "--json",
        "personalise",
        "--version",
        "2.0",
        "--records",
        &batch("batch.csv"),
        "--out",
        out.to_str().unwrap(),
        "--allow-partial",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["written"].as_array().unwrap().len(), 2);
    let rejected = report["rejected"].as_array().unwrap();
    assert!(rejected
        .iter()
        .any(|r| r["record"] == "batch.csv line 4" && r["field"] == "issue_date"));
    assert!(rejected.iter().all(|r| r["record"] != "batch.csv line 2"));
    // A card written reads back as its record.
    let card = out.join("T00000028.card");
    let run = sscard(&["--json", "--card", card.to_str().unwrap(), "info"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["values"]["name"], "王测试");
    assert!(!out.join("T00000044.card").exists());
}

#[test]
fn script_writes_the_apdu_scripts_of_the_good_cards() {
    let dir = TestDir::new("cli-perso-script");
    let out = dir.path().join("scripts");
    let run = sscard(&[
        "personalise",
        "--records",
        &batch("batch.jsonl"),
        "--out",
        out.to_str().unwrap(),
        "--allow-partial",
        "--script",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let script = std::fs::read_to_string(out.join("T00000028.apdu")).unwrap();
    assert!(
        script.starts_with("# personalisation script for batch.jsonl line 1\n"),
        "{script}"
    );
    assert!(script.contains("# issue card\n80 F0 02 00"), "{script}");
    assert!(
        !out.join("T00000028.card").exists(),
        "--script alone writes no images"
    );
}

/// The sample batch's header and its good lines 2 and 3, then `extra` rows.
fn good_rows(extra: &[String]) -> String {
    let sample = std::fs::read_to_string(batch("batch.csv")).unwrap();
    let mut text: Vec<String> = sample.lines().take(3).map(str::to_owned).collect();
    text.extend(extra.iter().cloned());
    text.join("\n") + "\n"
}

/// Line 2 of the sample batch with each `(from, to)` replaced.
fn line_2_with(replacements: &[(&str, &str)]) -> String {
    let sample = std::fs::read_to_string(batch("batch.csv")).unwrap();
    let mut line = sample.lines().nth(1).unwrap().to_owned();
    for (from, to) in replacements {
        assert!(line.contains(from), "{from}");
        line = line.replace(from, to);
    }
    line
}

fn personalise(dir: &TestDir, csv: &[u8], extra: &[&str]) -> (Run, std::path::PathBuf) {
    let records = dir.path().join("batch.csv");
    std::fs::write(&records, csv).unwrap();
    let out = dir.path().join("cards");
    let mut args = vec![
        "personalise",
        "--records",
        records.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = sscard(&args);
    (run, out)
}

#[test]
fn two_records_of_one_card_refuse_the_batch_naming_both_lines_and_write_nothing() {
    // Line 4 repeats line 2's card number (T00000028); its code and citizen ID differ.
    let same_number = line_2_with(&[
        ("0000000B,", "0000000F,"),
        ("110105198512310029", "110105198512310037"),
    ]);
    let dir = TestDir::new("cli-perso-duplicate");
    for partial in [&[][..], &["--allow-partial"][..]] {
        let (run, out) = personalise(
            &dir,
            good_rows(std::slice::from_ref(&same_number)).as_bytes(),
            partial,
        );
        assert_eq!(run.code, EXIT_BAD_RECORDS, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stderr
                .contains("card_number is the same in batch.csv line 2, batch.csv line 4"),
            "{}",
            run.stderr
        );
        assert!(!out.exists(), "nothing is written");
    }
    // The same batch as JSON names the problem for programs.
    let records = dir.path().join("batch.csv");
    let out = dir.path().join("cards");
    let run = sscard(&[
        "--json",
        "personalise",
        "--records",
        records.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, EXIT_BAD_RECORDS);
    assert_eq!(
        run.json()["error"]["kind"],
        "duplicate_records",
        "{}",
        run.stdout
    );
}

#[test]
fn an_empty_batch_is_an_error() {
    let dir = TestDir::new("cli-perso-empty");
    let header = good_rows(&[]).lines().next().unwrap().to_owned() + "\n";
    for text in [header.as_str(), ""] {
        let (run, out) = personalise(&dir, text.as_bytes(), &[]);
        assert_eq!(run.code, EXIT_BAD_RECORDS, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("the batch has no records"),
            "{}",
            run.stderr
        );
        assert!(!out.exists());
    }
}

#[test]
fn existing_cards_are_not_overwritten_without_force() {
    let dir = TestDir::new("cli-perso-force");
    let csv = good_rows(&[]);
    let (run, out) = personalise(&dir, csv.as_bytes(), &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let first = out.join("T00000028.card");
    let second = out.join("T00000036.card");
    // One of the two cards is there already (say, from yesterday's run): nothing is written.
    std::fs::remove_file(&second).unwrap();
    std::fs::write(&first, b"yesterday").unwrap();
    let (run, _) = personalise(&dir, csv.as_bytes(), &[]);
    assert_eq!(run.code, EXIT_IO, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("exist already and --force was not given")
            && run.stderr.contains("T00000028.card"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(&first).unwrap(), b"yesterday");
    assert!(
        !second.exists(),
        "no card is written when one would be overwritten"
    );
    // Scripts are refused the same way.
    std::fs::write(out.join("T00000028.apdu"), b"mine").unwrap();
    let (run, _) = personalise(&dir, csv.as_bytes(), &["--script"]);
    assert_eq!(run.code, EXIT_IO, "{}{}", run.stdout, run.stderr);
    assert_eq!(std::fs::read(out.join("T00000028.apdu")).unwrap(), b"mine");
    // --force replaces them.
    let (run, _) = personalise(&dir, csv.as_bytes(), &["--force"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("2 card(s) written"), "{}", run.stdout);
    assert_ne!(std::fs::read(&first).unwrap(), b"yesterday");
    assert!(second.exists());
}

#[test]
fn a_gbk_csv_is_read_as_gbk_with_a_note_or_when_named() {
    let dir = TestDir::new("cli-perso-gbk");
    let text = good_rows(&[]);
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    for (extra, note) in [(&[][..], true), (&["--encoding", "gbk"][..], false)] {
        // Version 2.0 cards show the holder's name without authentication.
        let mut args = vec!["--force", "--version", "2.0"];
        args.extend_from_slice(extra);
        let (run, out) = personalise(&dir, &gbk, &args);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert_eq!(
            run.stdout.contains("read as GB18030/GBK"),
            note,
            "{}",
            run.stdout
        );
        let card = out.join("T00000028.card");
        let info = sscard(&["--json", "--card", card.to_str().unwrap(), "info"]);
        assert_eq!(info.json()["values"]["name"], "王测试", "{}", info.stderr);
    }
}

#[test]
fn text_that_is_not_in_its_encoding_names_line_byte_and_how_to_convert() {
    let dir = TestDir::new("cli-perso-not-utf8");
    let text = good_rows(&[]);
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let (run, out) = personalise(&dir, &gbk, &["--encoding", "utf-8"]);
    assert_eq!(run.code, EXIT_BAD_INPUT, "{}{}", run.stdout, run.stderr);
    // Line 2's first non-ASCII byte: the name 王测试 after six ASCII fields.
    let line_2_start = text.find('\n').unwrap() + 1;
    let offset = line_2_start + text[line_2_start..].find('王').unwrap();
    assert!(
        run.stderr.contains(&format!(
            "is not valid utf-8 text at line 2 (byte {offset} of the file"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("iconv -f GBK -t UTF-8"),
        "{}",
        run.stderr
    );
    assert!(!out.exists());
    // Bytes that are neither UTF-8 nor GB18030.
    let (run, _) = personalise(&dir, b"card_number\n\xFF\xFF\n", &[]);
    assert_eq!(run.code, EXIT_BAD_INPUT, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("not valid gb18030 text at line 2 (byte 12"),
        "{}",
        run.stderr
    );
    let (run, _) = personalise(&dir, b"x", &["--encoding", "latin1"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn a_sim_record_in_gbk_is_read_too() {
    let dir = TestDir::new("cli-sim-gbk");
    let holder = sample_holder().to_string();
    let (gbk, _, _) = encoding_rs::GBK.encode(&holder);
    let record = dir.path().join("holder.json");
    std::fs::write(&record, &gbk).unwrap();
    let card = dir.path().join("h.card");
    let run = sscard(&[
        "sim",
        "new",
        "--version",
        "2.0",
        "--out",
        card.to_str().unwrap(),
        "--record",
        record.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("read as GB18030/GBK"), "{}", run.stdout);
    let info = sscard(&["--json", "--card", card.to_str().unwrap(), "info"]);
    assert_eq!(info.json()["values"]["name"], sample_holder()["name"]);
}

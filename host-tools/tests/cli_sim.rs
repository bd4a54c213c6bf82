//! Layout-backed commands on simulated cards: sim new, info, explore and the demo.

mod common;
use common::*;

/// The fields `info` shows that come straight from the sample record.
const HOLDER_FIELDS: [&str; 9] = [
    "card_number",
    "ssn",
    "name",
    "gender",
    "nation",
    "birthplace",
    "birth_date",
    "issue_date",
    "expiry_date",
];

/// The run succeeded and its output shows every one of `expected`.
fn assert_succeeds_showing(run: &Run, expected: &[&str]) {
    assert_eq!(run.code, 0, "{}", run.stderr);
    for expected in expected {
        assert!(run.stdout.contains(expected), "{expected}:\n{}", run.stdout);
    }
}

/// Every holder field in `sscard --json info` output has the sample record's value.
fn assert_values_are_the_sample_holders(info: &serde_json::Value) {
    let holder = sample_holder();
    for id in HOLDER_FIELDS {
        assert_eq!(info["values"][id], holder[id], "{id}");
    }
}

/// `sscard --json info` (no keys) on a new sample card of national `version`.
fn info_json(label: &str, version: &str) -> serde_json::Value {
    let dir = TestDir::new(label);
    let card = sample_card(dir.path(), version);
    let run = sscard(&["--json", "--card", card.to_str().unwrap(), "info"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()
}

#[test]
fn sim_new_then_info_shows_the_sample_holder_as_a_person_reads_it() {
    let dir = TestDir::new("cli-info-table");
    let card = sample_card(dir.path(), "2.0");
    let run = sscard(&["--card", card.to_str().unwrap(), "info"]);
    assert_succeeds_showing(
        &run,
        &[
            "national 2.0",
            "姓名",
            "张测试",
            "T0000001X",
            "110105199001010010",
            "男 male",
            "汉族 (01)",
            "1990-01-01",
            "2034-01-01",
            "2.00",
            "not activated",
        ],
    );
}

#[test]
fn info_json_gives_the_values_of_the_sample_record() {
    let out = info_json("cli-info-json", "2.0");
    assert_values_are_the_sample_holders(&out);
    assert_eq!(out["values"]["spec_version"], "2.00");
    assert_eq!(out["activation"]["state"], "not-activated");
}

#[test]
fn info_on_a_3_0_card_without_keys_says_which_fields_need_authentication() {
    let out = info_json("cli-info-nokeys", "3.0");
    assert_eq!(out["layout"], "national 3.0", "version from the ATR");
    // Card identification stays free to read; personal data needs key 0A.
    assert_eq!(out["values"]["card_number"], "T0000001X");
    assert_eq!(out["values"]["name"], serde_json::Value::Null);
    let name = out["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "name")
        .unwrap();
    assert_eq!(
        name["missing"],
        "needs external authentication with key 0A (give --keys)"
    );
}

#[test]
fn info_with_the_test_keys_authenticates_and_reads_3_0_personal_data() {
    let dir = TestDir::new("cli-info-keys");
    let card = sample_card(dir.path(), "3.0");
    let keys = file_structures_dir().join("keys/test-issuer-keys.toml");
    let run = sscard(&[
        "--json",
        "--card",
        card.to_str().unwrap(),
        "info",
        "--keys",
        keys.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.json();
    assert_values_are_the_sample_holders(&out);
    assert_eq!(out["authenticated"][0], "SSSE key 0A");
}

#[test]
fn info_with_the_wrong_master_key_is_refused_by_the_card() {
    let dir = TestDir::new("cli-info-wrongkey");
    let card = sample_card(dir.path(), "3.0");
    // The test key file with SSSE key 0A's SM4 master changed in its last digit.
    let good =
        std::fs::read_to_string(file_structures_dir().join("keys/test-issuer-keys.toml")).unwrap();
    let wrong = good.replace(
        "54455354DDF10A030011223344556677",
        "54455354DDF10A030011223344556678",
    );
    assert_ne!(good, wrong, "the test key file has the SSSE 0A SM4 master");
    let keys = dir.path().join("wrong-keys.toml");
    std::fs::write(&keys, wrong).unwrap();
    let run = sscard(&[
        "--card",
        card.to_str().unwrap(),
        "info",
        "--keys",
        keys.to_str().unwrap(),
    ]);
    assert_eq!(run.code, EXIT_REFUSED, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("EXTERNAL AUTHENTICATE"),
        "{}",
        run.stderr
    );
}

#[test]
fn explore_shows_fcp_facts_decoded_records_and_why_a_file_was_not_read() {
    let dir = TestDir::new("cli-explore");
    let card = sample_card(dir.path(), "3.0");
    let run = sscard(&["--card", card.to_str().unwrap(), "explore", "SSSE"]);
    assert_succeeds_showing(
        &run,
        &[
            "DF SSSE 社会保障应用",
            "EF SSSE/EF05 发卡机构数据",
            "FID EF05, linear-variable, SFI 5",
            "access: read free; update external authentication with key 04",
            "tag 07",
            "卡号",
            "T0000001X",
            "not read: 6982 security status not satisfied",
        ],
    );
    assert!(!run.stdout.contains("DF DF01"), "only SSSE was asked for");
}

#[test]
fn explore_json_lists_records_with_raw_bytes_and_values() {
    let dir = TestDir::new("cli-explore-json");
    let card = sample_card(dir.path(), "2.0");
    let run = sscard(&[
        "--json",
        "--card",
        card.to_str().unwrap(),
        "explore",
        "SSSE/EF06",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.json();
    let efs = out["dfs"][0]["efs"].as_array().unwrap();
    assert_eq!(efs.len(), 1);
    assert_eq!(efs[0]["facts"]["sfi"], 6);
    let name = efs[0]["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "name")
        .unwrap();
    assert_eq!(name["value"], "张测试");
    // GBK: 张 D5C5, 测 B2E2, 试 CAD4, after tag and length.
    assert!(
        name["raw"].as_str().unwrap().contains("D5C5B2E2CAD4"),
        "{name}"
    );
}

#[test]
fn explore_of_a_path_the_layout_lacks_is_bad_input() {
    let dir = TestDir::new("cli-explore-bad");
    let card = sample_card(dir.path(), "3.0");
    let run = sscard(&["--card", card.to_str().unwrap(), "explore", "SSSE/EF99"]);
    run.assert_error_contains(EXIT_BAD_INPUT, "SSSE/EF99");
}

#[test]
fn sim_new_refuses_a_bad_record_and_writes_nothing() {
    let dir = TestDir::new("cli-sim-bad");
    let mut holder = sample_holder();
    holder["birth_date"] = "19900231".into();
    let record = dir.path().join("bad.json");
    std::fs::write(&record, holder.to_string()).unwrap();
    let out = dir.path().join("bad.card");
    let run = sscard(&[
        "sim",
        "new",
        "--out",
        out.to_str().unwrap(),
        "--record",
        record.to_str().unwrap(),
    ]);
    run.assert_error_contains(EXIT_BAD_RECORDS, "birth_date");
    assert!(!out.exists());
}

#[test]
fn sim_new_labels_the_test_keys() {
    let dir = TestDir::new("cli-sim-test");
    let out = dir.path().join("x.card");
    let run = sscard(&["--json", "sim", "new", "--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["test_keys"], true);
    let run = sscard(&["sim", "new", "--out", out.to_str().unwrap()]);
    assert!(run.stdout.contains("TEST issuer keys"), "{}", run.stdout);
}

#[test]
fn demo_runs_in_memory_and_shows_the_holder() {
    let run = sscard(&["demo"]);
    assert_succeeds_showing(
        &run,
        &[
            "张测试",
            "TEST",
            "ATR",
            "SSSE",
            "T0000001X",
            "not activated",
            "Medical settlement receipt",
            "余额 balance: 487.50",
            "TAC: ",
        ],
    );
    let run = sscard(&["--json", "demo"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.json();
    assert_eq!(out["info"]["values"]["name"], "张测试");
    assert_eq!(out["test_card"], true);
    // The demo ends with a settlement of 12.50 yuan from the purse's 500.00, with its TAC.
    assert_eq!(out["settlement"]["amounts"]["account"], 1250);
    assert_eq!(out["settlement"]["balance_after"], 48750);
    assert_eq!(out["settlement"]["tac"].as_str().map(str::len), Some(8));
}

/// A local port nothing listens on (bound, then released).
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port.to_string()
}

#[test]
fn sim_serve_says_with_faults_only_when_faults_were_asked_for() {
    let dir = TestDir::new("cli-serve-faults");
    let card = sample_card(dir.path(), "3.0");
    let card = card.to_str().unwrap();
    let serve = |extra: &[&str]| {
        let port = closed_port();
        let mut args = vec!["--card", card, "sim", "serve", "--port", &port];
        args.extend_from_slice(&["--give-up-after", "0.3", "--connect-timeout", "0.1"]);
        args.extend_from_slice(extra);
        let run = sscard(&args);
        // No vpcd on that port: the card was announced, then sscard gave up (exit code 3).
        assert_eq!(run.code, EXIT_SERVICE, "{}", run.stderr);
        run.stderr.lines().next().unwrap_or_default().to_owned()
    };
    let plain = serve(&[]);
    assert!(plain.starts_with("serving simulator ("), "{plain}");
    assert!(!plain.contains("with faults"), "{plain}");
    let faulty = serve(&["--fault", "slow"]);
    assert!(faulty.contains("(with faults)"), "{faulty}");
}

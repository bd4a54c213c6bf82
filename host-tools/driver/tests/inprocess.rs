//! Every function through the Rust API against card images run by the simulator in this process
//! (no pcscd): the national formats, the PSAM and HSM paths, PIN entry, writes, cyclic records,
//! and the parameter errors.

mod support;

use support::{keys, Fixture};
use SSCardDriver::api::{Arg, Driver, Reply};
use SSCardDriver::hsm::Hsm;

const CARD_INFO: &str = "110100D156000005544553540000000A|T0000001X|";
const OTHER_CARD: &str = "110100D156000005544553540000000B|T0000001X|";
/// The sample holder's basic information as iReadCardBas gives it (before GBK).
const BAS_3_0: &str = "110100|110105199001010010|T0000001X|110100D156000005544553540000000A|张测试|0081544C308684110154455354|3.00|20240101|20340101|000000000000|HIS-01|";

fn t(s: &str) -> Arg<'_> {
    Arg::Text(Some(s))
}

const I: Arg<'static> = Arg::Int(3);

fn ok(reply: Reply) -> String {
    assert_eq!(reply.code, 0, "{}", reply.out);
    reply.out
}

fn code(reply: Reply) -> i64 {
    reply.code
}

fn hsm() -> Hsm {
    Hsm::new(keys())
}

fn items(text: &str) -> Vec<String> {
    text.strip_suffix('|')
        .expect("a list ends with '|'")
        .split('|')
        .map(str::to_owned)
        .collect()
}

#[test]
fn read_card_bas_on_a_3_0_card_through_the_psam_is_the_national_format() {
    let f = Fixture::new("drv-bas3", "3.0");
    let mut d = Driver::with_config(f.config(true, ""));
    assert_eq!(ok(d.call("iReadCardBas", &[I])), BAS_3_0);
    for i_type in [1, 2, 4] {
        assert_eq!(ok(d.call("iReadCardBas", &[Arg::Int(i_type)])), BAS_3_0);
    }
    for i_type in [0, 5, -1] {
        assert_eq!(code(d.call("iReadCardBas", &[Arg::Int(i_type)])), -1);
    }
}

#[test]
fn a_psam_terminal_number_comes_from_the_configuration() {
    let f = Fixture::new("drv-bas-tn", "3.0");
    let mut text = f.config_text(true, "");
    text = text.replace(
        "[terminal]",
        "terminal_number = \"410100813475\"\n[terminal]",
    );
    let config = SSCardDriver::Config::parse(&f.dir.path().join("c.toml"), &text).unwrap();
    let out = ok(Driver::with_config(config).call("iReadCardBas", &[I]));
    assert_eq!(items(&out)[9], "410100813475");
}

#[test]
fn without_a_psam_a_3_0_card_sends_the_caller_to_the_hsm_which_gives_the_same_11_items() {
    let f = Fixture::new("drv-hsm-bas", "3.0");
    let mut d = Driver::with_config(f.config(false, ""));
    assert_eq!(code(d.call("iReadCardBas", &[I])), -2201);
    let step1 = ok(d.call("iReadCardBas_HSM_Step1", &[I]));
    let s = items(&step1);
    assert_eq!(s.len(), 8, "{step1}");
    assert_eq!(s[0], "110100");
    assert_eq!(s[2], "03", "3.0 cards use SM4");
    assert_eq!(s[3], "110100D156000005544553540000000A");
    assert!(s[4..8].iter().all(|i| !i.is_empty()));
    let key = hsm().read_card_bas(&step1).unwrap();
    assert_eq!(ok(d.call("iReadCardBas_HSM_Step2", &[t(&key)])), BAS_3_0);
    // The exchange is over: a second Step2 has no Step1.
    assert_eq!(code(d.call("iReadCardBas_HSM_Step2", &[t(&key)])), -12);
}

#[test]
fn a_2_0_card_needs_no_psam_and_its_hsm_step1_has_no_external_part() {
    let f = Fixture::new("drv-bas2", "2.0");
    let mut d = Driver::with_config(f.config(false, ""));
    let out = ok(d.call("iReadCardBas", &[I]));
    let i = items(&out);
    assert_eq!(
        (i[4].as_str(), i[6].as_str(), i[9].as_str()),
        ("张测试", "2.00", "000000000000")
    );
    let step1 = ok(d.call("iReadCardBas_HSM_Step1", &[I]));
    let s = items(&step1);
    assert_eq!(
        (s[2].as_str(), s[6].as_str(), s[7].as_str()),
        ("01", "", "")
    );
    let key = hsm().read_card_bas(&step1).unwrap();
    assert!(key.ends_with("||"), "{key}");
    assert_eq!(ok(d.call("iReadCardBas_HSM_Step2", &[t(&key)])), out);
}

#[test]
fn an_internal_authentication_that_does_not_match_is_a_fake_card() {
    let f = Fixture::new("drv-fake", "3.0");
    let mut d = Driver::with_config(f.config(false, ""));
    let step1 = ok(d.call("iReadCardBas_HSM_Step1", &[I]));
    let key = hsm().read_card_bas(&step1).unwrap();
    let flipped = if key.starts_with('0') { "1" } else { "0" };
    let forged = format!("{flipped}{}", &key[1..]);
    let r = d.call("iReadCardBas_HSM_Step2", &[t(&forged)]);
    assert_eq!(r.code, -21, "{}", r.out);
    assert!(r.out.contains("not a genuine card"));
    // A card whose keys are not the issuer's: the HSM's answer for another card's code.
    let step1 = ok(d.call("iReadCardBas_HSM_Step1", &[I]));
    let other = step1.replace("544553540000000A", "544553540000000B");
    let key = hsm().read_card_bas(&other).unwrap();
    assert_eq!(code(d.call("iReadCardBas_HSM_Step2", &[t(&key)])), -21);
}

#[test]
fn hsm_step2_parameters_are_checked_and_leave_the_exchange_open() {
    let f = Fixture::new("drv-step2-params", "3.0");
    let mut d = Driver::with_config(f.config(false, ""));
    let step1 = ok(d.call("iReadCardBas_HSM_Step1", &[I]));
    for (bad, expected) in [
        ("", -14),
        ("0011|", -14),
        ("00112233445566778899AABBCCDDEEFF|", -14),
        ("00112233445566778899AABBCCDDEEFG|00|", -41),
        ("00112233|00|", -42),
        ("0011\n|00|", -41),
    ] {
        assert_eq!(
            code(d.call("iReadCardBas_HSM_Step2", &[t(bad)])),
            expected,
            "{bad:?}"
        );
    }
    assert_eq!(
        code(d.call("iReadCardBas_HSM_Step2", &[Arg::Text(None)])),
        -14
    );
    let key = hsm().read_card_bas(&step1).unwrap();
    assert_eq!(ok(d.call("iReadCardBas_HSM_Step2", &[t(&key)])), BAS_3_0);
}

#[test]
fn pin_verify_and_change_give_the_spec_codes() {
    let f = Fixture::new("drv-pins", "3.0");
    let script = [
        "123456", // verify: the initial PIN cannot transact (-35)
        "123456", "123456", "123456", // change to the initial PIN (-36)
        "123456", "135790", "135791", // new PINs differ (-34)
        "123456", "135790", "135790", // change (0)
        "135790", // verify (0)
        "111111", // wrong (-51, 5 left)
        "12",     // too short (-33)
        "cancel", "timeout", // -31, -32
        "135790",  // right again: tries back
    ]
    .join(",");
    let mut d = Driver::with_config(f.config(false, &script));
    assert_eq!(code(d.call("iVerifyPIN", &[I])), -35);
    assert_eq!(code(d.call("iChangePIN", &[I])), -36);
    assert_eq!(code(d.call("iChangePIN", &[I])), -34);
    assert_eq!(ok(d.call("iChangePIN", &[I])), "");
    assert_eq!(ok(d.call("iVerifyPIN", &[I])), "");
    let wrong = d.call("iVerifyPIN", &[I]);
    assert_eq!((wrong.code, wrong.out.as_str()), (-51, "5"));
    assert_eq!(code(d.call("iVerifyPIN", &[I])), -33);
    assert_eq!(code(d.call("iVerifyPIN", &[I])), -31);
    assert_eq!(code(d.call("iVerifyPIN", &[I])), -32);
    assert_eq!(ok(d.call("iVerifyPIN", &[I])), "");
}

#[test]
fn a_blocked_pin_is_unblocked_and_reloaded_through_the_psam() {
    let f = Fixture::new("drv-unblock", "3.0");
    let wrong = ["111111"; 6].join(",");
    let script = format!("{wrong},123456,123456,246802,246802,246802");
    let mut d = Driver::with_config(f.config(true, &script));
    for left in (0..6).rev() {
        let r = d.call("iVerifyPIN", &[I]);
        if left > 0 {
            assert_eq!((r.code, r.out.clone()), (-51, left.to_string()));
        } else {
            assert_eq!(r.code, -52, "{}", r.out);
        }
    }
    // Blocked: even the right PIN is refused (6983).
    assert_eq!(code(d.call("iVerifyPIN", &[I])), -52);
    assert_eq!(code(d.call("iUnblockPIN", &[I, t(OTHER_CARD)])), -22);
    assert_eq!(ok(d.call("iUnblockPIN", &[I, t(CARD_INFO)])), "");
    // Unblocked: the (initial) PIN verifies again.
    assert_eq!(code(d.call("iVerifyPIN", &[I])), -35);
    assert_eq!(ok(d.call("iReloadPIN", &[I, t(CARD_INFO)])), "");
    assert_eq!(ok(d.call("iVerifyPIN", &[I])), "");
}

#[test]
fn pin_unblock_and_reload_through_the_hsm() {
    let f = Fixture::new("drv-hsm-pin", "3.0");
    let wrong = ["111111"; 6].join(",");
    let script = format!("{wrong},123456,975310,975310,975310");
    let mut d = Driver::with_config(f.config(false, &script));
    assert_eq!(code(d.call("iUnblockPIN", &[I, t(CARD_INFO)])), -2201);
    for _ in 0..6 {
        d.call("iVerifyPIN", &[I]);
    }
    let h = hsm();
    let step1 = ok(d.call("iUnblockPIN_HSM_Step1", &[I, t(CARD_INFO)]));
    let alg = items(&step1)[2].clone();
    let step2 = ok(d.call("iUnblockPIN_HSM_Step2", &[t(&h.pin_step1(&step1).unwrap())]));
    let mac = h.unblock_step2(&alg, &step2).unwrap();
    assert_eq!(ok(d.call("iUnblockPIN_HSM_Step3", &[t(&mac)])), "");
    assert_eq!(code(d.call("iVerifyPIN", &[I])), -35);
    let step1 = ok(d.call("iReloadPIN_HSM_Step1", &[I, t(CARD_INFO)]));
    let step2 = ok(d.call("iReloadPIN_HSM_Step2", &[t(&h.pin_step1(&step1).unwrap())]));
    let session = h.reload_step2(&alg, &step2).unwrap();
    assert_eq!(ok(d.call("iReloadPIN_HSM_Step3", &[t(&session)])), "");
    assert_eq!(ok(d.call("iVerifyPIN", &[I])), "");
    // Steps out of order.
    assert_eq!(code(d.call("iReloadPIN_HSM_Step3", &[t(&session)])), -12);
}

#[test]
fn read_and_write_items_by_tag_through_the_psam() {
    let f = Fixture::new("drv-rw", "3.0");
    let mut d = Driver::with_config(f.config(true, ""));
    // The n-th record carrying a tag: the first is the field, there is no second (6A83).
    let read =
        |d: &mut Driver, addr: &str| d.call("iReadCard", &[I, Arg::Int(2), t(CARD_INFO), t(addr)]);
    assert_eq!(ok(read(&mut d, "SSSEEF05|07:1|$")), "SSSEEF05|T0000001X|$");
    assert_eq!(code(read(&mut d, "SSSEEF05|07:2|$")), -27267);
    let out = ok(d.call(
        "iReadCard",
        &[
            I,
            Arg::Int(2),
            t(CARD_INFO),
            t("SSSEEF06|08|09|$SSSEEF05|07|$"),
        ],
    ));
    assert_eq!(
        out,
        "SSSEEF06|110105199001010010|张测试|$SSSEEF05|T0000001X|$"
    );
    assert_eq!(
        ok(d.call(
            "iWriteCard",
            &[I, t(CARD_INFO), t("SSSEEF06|09|$"), t("李四|$")]
        )),
        ""
    );
    let out = ok(d.call(
        "iReadCard",
        &[I, Arg::Int(2), t(CARD_INFO), t("SSSEEF06|09|$")],
    ));
    assert_eq!(out, "SSSEEF06|李四|$");
    // A value the field cannot hold changes nothing.
    assert_eq!(
        code(d.call(
            "iWriteCard",
            &[I, t(CARD_INFO), t("SSSEEF06|08|$"), t("12345|$")]
        )),
        -23
    );
    // DF01's keys are not in the PSAM: the HSM functions are the way.
    assert_eq!(
        code(d.call(
            "iWriteCard",
            &[I, t(CARD_INFO), t("DF01EF06|28|$"), t("01012345678|$")]
        )),
        -2203
    );
    assert_eq!(
        code(d.call(
            "iReadCard",
            &[I, Arg::Int(2), t(OTHER_CARD), t("SSSEEF06|09|$")]
        )),
        -22
    );
}

#[test]
fn pin_protected_files_cyclic_records_and_hsm_writes_on_a_2_0_card() {
    let f = Fixture::new("drv-cyclic", "2.0");
    let mut d = Driver::with_config(f.config(false, "123456,135790,135790,135790,135790,135790"));
    ok(d.call("iChangePIN", &[I]));
    let out = ok(d.call(
        "iReadCard",
        &[
            I,
            Arg::Int(1),
            t(CARD_INFO),
            t("DF01EF05|21|$DF01EF06|28|$"),
        ],
    ));
    assert_eq!(
        out,
        "DF01EF05|北京市测试区示例路1号|$DF01EF06|01000000000|$"
    );
    // DF02's journal: append the newest record through the HSM, read it back with the PIN.
    let step1 = ok(d.call(
        "iWriteCard_HSM_Step1",
        &[I, t(CARD_INFO), t("DF02EF07|^|$")],
    ));
    assert_eq!(items(&step1)[4..6], ["DF02", "80"]);
    let key = hsm().files(&step1).unwrap();
    let record = "0102030405060708".repeat(6); // the journal's 48-byte records
    assert_eq!(
        ok(d.call(
            "iWriteCard_HSM_Step2",
            &[t(&key), t(&format!("{record}|$"))]
        )),
        ""
    );
    let out = ok(d.call(
        "iReadCard",
        &[I, Arg::Int(1), t(CARD_INFO), t("DF02EF07|^1|^|$")],
    ));
    assert_eq!(out, format!("DF02EF07|{record}|{record}|$"));
    // The medical journal is the purse's own log: no terminal writes it (the card's 6982).
    assert_eq!(
        code(d.call(
            "iWriteCard_HSM_Step1",
            &[I, t(CARD_INFO), t("DF04EF08|^|$")],
        )),
        -27010
    );
    // The special-settlement log of a card not activated: the card's own six-month rule (9302).
    let step1 = ok(d.call(
        "iWriteCard_HSM_Step1",
        &[I, t(CARD_INFO), t("DF04EF15|^|$")],
    ));
    let key = hsm().files(&step1).unwrap();
    assert_eq!(
        code(d.call("iWriteCard_HSM_Step2", &[t(&key), t("000101|$")])),
        -37634
    );
    // Files that need no key do not need the HSM.
    assert_eq!(
        code(d.call(
            "iReadCard_HSM_Step1",
            &[I, t(CARD_INFO), t("SSSEEF05|07|$")]
        )),
        -2204
    );
}

#[test]
fn a_3_0_card_read_through_the_hsm_with_the_pin() {
    let f = Fixture::new("drv-hsm-read", "3.0");
    let mut d = Driver::with_config(f.config(false, "123456,135790,135790,135790"));
    ok(d.call("iChangePIN", &[I]));
    let step1 = ok(d.call(
        "iReadCard_HSM_Step1",
        &[I, t(CARD_INFO), t("DF01EF06|28|$")],
    ));
    assert_eq!(items(&step1)[4..6], ["DF01", "0A"]);
    let key = hsm().files(&step1).unwrap();
    // A cryptogram of the wrong length is refused and the exchange stays open.
    assert_eq!(
        code(d.call("iReadCard_HSM_Step2", &[t("0011223344556677|")])),
        -42
    );
    assert_eq!(
        ok(d.call("iReadCard_HSM_Step2", &[t(&key)])),
        "DF01EF06|01000000000|$"
    );
}

#[test]
fn addresses_and_card_info_get_the_parameter_codes() {
    let f = Fixture::new("drv-params", "3.0");
    let mut d = Driver::with_config(f.config(true, ""));
    let read = |d: &mut Driver, info: &str, addr: &str| {
        code(d.call("iReadCard", &[I, Arg::Int(2), t(info), t(addr)]))
    };
    assert_eq!(read(&mut d, CARD_INFO, "SSSEEF06|09|"), -14);
    assert_eq!(read(&mut d, CARD_INFO, "SSSEEF06|0G|$"), -41);
    assert_eq!(read(&mut d, CARD_INFO, "SSSEEF06|0900|$"), -42);
    assert_eq!(read(&mut d, CARD_INFO, "SSSEEF06|77|$"), -23);
    assert_eq!(read(&mut d, CARD_INFO, "DF09EF06|09|$"), -23);
    assert_eq!(read(&mut d, CARD_INFO, "SSSEEF06|^1|$"), -23);
    assert_eq!(
        read(&mut d, "110100D156000005544553540000000A|", "SSSEEF06|09|$"),
        -14
    );
    assert_eq!(
        read(
            &mut d,
            "110100D15600000554455354000000ZZ|T0000001X|",
            "SSSEEF06|09|$"
        ),
        -41
    );
    assert_eq!(
        read(
            &mut d,
            "110100D15600000554455354|T0000001X|",
            "SSSEEF06|09|$"
        ),
        -42
    );
    assert_eq!(
        read(
            &mut d,
            "110100D166000005544553540000000A|T0000001X|",
            "SSSEEF06|09|$"
        ),
        -20
    );
    assert_eq!(
        code(d.call(
            "iReadCard",
            &[I, Arg::Int(3), t(CARD_INFO), t("SSSEEF06|09|$")]
        )),
        -14
    );
    assert_eq!(
        code(d.call(
            "iReadCard",
            &[I, Arg::Int(2), Arg::Text(None), t("SSSEEF06|09|$")]
        )),
        -14
    );
    assert_eq!(
        code(d.call(
            "iWriteCard",
            &[I, t(CARD_INFO), t("SSSEEF06|09|$"), t("a|b|$")]
        )),
        -14
    );
    assert_eq!(
        code(d.call(
            "iWriteCard",
            &[I, t(CARD_INFO), t("SSSEEF06|09|$"), Arg::Text(None)]
        )),
        -14
    );
    assert_eq!(code(d.call("iReloadPIN", &[I, t("x|")])), -14);
    assert_eq!(code(d.call("iUnblockPIN", &[I, Arg::Text(None)])), -14);
    assert_eq!(code(d.call("iReadCardBas", &[])), -14);
    assert_eq!(code(d.call("iReadCardBas", &[t("3")])), -14);
    assert_eq!(code(d.call("iNoSuchFunction", &[])), -13);
    assert_eq!(code(d.call_text("iReadCardBas", &[Some("x")])), -14);
    assert_eq!(ok(d.call_text("iReadCardBas", &[Some("3")])), BAS_3_0);
}

#[test]
fn debits_check_their_parameters_first() {
    let f = Fixture::new("drv-debit", "3.0");
    let mut d = Driver::with_config(f.config(true, ""));
    let pay = "12.50|10.00|20240401093000|";
    assert_eq!(
        code(d.call(
            "iDoDebit",
            &[I, t(CARD_INFO), t("12.5|10.00|20240401093000|")]
        )),
        -42
    );
    assert_eq!(
        code(d.call("iDoDebit", &[I, t(CARD_INFO), t("12.50|10.00|")])),
        -14
    );
    assert_eq!(
        code(d.call("iDoDebit", &[I, t(CARD_INFO), Arg::Text(None)])),
        -14
    );
    assert_eq!(code(d.call("iDoDebit", &[I, t(OTHER_CARD), t(pay)])), -22);
    assert_eq!(
        code(d.call("iDoDebit_HSM_Step1", &[Arg::Int(9), t(CARD_INFO), t(pay)])),
        -1
    );
    assert_eq!(code(d.call("iDoDebit_HSM_Step2", &[t("00112233|")])), -14);
    let mut step2 = |key: &str| code(d.call("iDoDebit_HSM_Step2", &[t(key)]));
    assert_eq!(step2("0011223|20240401093000|00112233|"), -42);
    assert_eq!(step2("00112233|2024040109300X|00112233|"), -41);
    assert_eq!(step2("00112233|20240401093000|0011223G|"), -41);
    // Well-formed, but no Step1 before it: the sequence error of every Step2.
    assert_eq!(step2("00112233|20240401093000|00112233|"), -12);
}

#[test]
fn a_debit_through_the_psam_pays_from_the_purse_and_its_record_reads_back() {
    // 100.00 yuan on the card; the holder sets a PIN of their own first.
    let f = Fixture::with_balance("drv-debit-psam", "3.0", 10_000);
    let script = [
        "123456", "135790", "135790", // change
        "135790", // the debit
        "135790", // the records
        "135790", // balance too low
        "111111", // wrong PIN
    ]
    .join(",");
    let mut d = Driver::with_config(f.config(true, &script));
    assert_eq!(ok(d.call("iChangePIN", &[I])), "");
    let out = ok(d.call(
        "iDoDebit",
        &[I, t(CARD_INFO), t("12.50|10.00|20240401093000|")],
    ));
    let it = items(&out);
    assert_eq!(it.len(), 8, "{out}");
    assert!(it[0] == "01" || it[0] == "03", "{out}");
    assert_eq!(it[2], "10.00");
    assert_eq!(it[4].len(), 12);
    assert!(
        it[4].starts_with("1101"),
        "the PSAM's terminal number: {out}"
    );
    assert_eq!(it[5].len(), 8, "terminal serial: {out}");
    assert_eq!(it[6], "20240401093000");
    assert_eq!(it[7].len(), 8, "TAC: {out}");
    let records = ok(d.call("iReadDebitRecord", &[I]));
    let record: Vec<&str> = records.split('^').collect();
    assert_eq!(record.len(), 6, "{records}");
    assert_eq!(
        &record[1..6],
        [it[4].as_str(), "20240401093000", "12.50", "10.00", "|"]
    );
    // 9401: balance too low (90.00 left) → −37889, nothing debited.
    let low = d.call(
        "iDoDebit",
        &[I, t(CARD_INFO), t("95.00|95.00|20240401094000|")],
    );
    assert_eq!(low.code, -37889, "{}", low.out);
    let wrong = d.call(
        "iDoDebit",
        &[I, t(CARD_INFO), t("1.00|1.00|20240401095000|")],
    );
    assert_eq!(wrong.code, -51, "{}", wrong.out);
}

#[test]
fn a_debit_without_a_psam_sends_the_caller_to_the_hsm() {
    let f = Fixture::with_balance("drv-debit-nopsam", "3.0", 10_000);
    let mut d = Driver::with_config(f.config(false, "135790"));
    let r = d.call(
        "iDoDebit",
        &[I, t(CARD_INFO), t("12.50|10.00|20240401093000|")],
    );
    assert_eq!(r.code, -2201, "{}", r.out);
}

#[test]
fn no_card_is_minus_2_class_errors_and_a_bad_configuration_minus_5() {
    let f = Fixture::new("drv-nocard", "3.0");
    std::fs::remove_file(&f.card).unwrap();
    let mut d = Driver::with_config(f.config(true, ""));
    let r = d.call("iReadCardBas", &[I]);
    assert!(r.code == -11 || r.code == -2, "{r:?}");
    let mut d = Driver::with_config(f.config(true, ""));
    d.set_config(Some(
        SSCardDriver::Config::parse(
            &f.dir.path().join("x.toml"),
            "[card]\nimage = \"/nonexistent/card.card\"\n",
        )
        .unwrap(),
    ));
    assert!(d.call("iVerifyPIN", &[I]).code < 0);
}

/// The card's purse balance and its number of settlement records, read from the image after the
/// calls (the holder's PIN 135790).
fn purse_of(f: &Fixture, version: &str) -> (u32, usize) {
    use host_tools::jobs::settlement::{read_purse, GivenPin};
    use host_tools::protocol::client::Client;
    use host_tools::transport::sim::SimTransport;
    let layout = file_structures::layout::national(version).unwrap();
    let mut client = Client::new(SimTransport::open_image(&f.card).unwrap());
    let pin = card_os::crypto::Pin::from_ascii(b"135790").unwrap();
    let state = read_purse(&mut client, &layout, &mut GivenPin(pin)).unwrap();
    let settlements = state
        .records
        .iter()
        .filter(|r| r.kind == "settlement")
        .count();
    (state.balance, settlements)
}

/// The back office's receipt of an iDoDebit_HSM_Step2 output (9 items), for its TAC check.
fn receipt_of(step2: &[String]) -> host_tools::jobs::settlement::Receipt {
    use host_tools::jobs::settlement::{yuan_to_fen, Amounts, Kind, Receipt};
    Receipt {
        kind: Kind::Purchase,
        card_number: "T0000001X".into(),
        card_id_code: "110100D156000005544553540000000A".into(),
        terminal_no: step2[5].clone(),
        terminal_serial: Some(step2[6].clone()),
        serial: 0,
        time: step2[7].clone(),
        amounts: Amounts::new(yuan_to_fen("amount", &step2[3]).unwrap(), 0, 0).unwrap(),
        balance_before: None,
        balance_after: None,
        algorithm: u8::from_str_radix(&step2[1], 16).unwrap(),
        tac: step2[8].clone(),
        resumed: false,
    }
}

/// The holder's PIN changed from the initial one (which cannot pay), then `debits` PIN entries.
fn pins_then(debits: usize) -> String {
    let mut pins = vec!["123456", "135790", "135790"];
    pins.extend(std::iter::repeat_n("135790", debits));
    pins.join(",")
}

const PAY: &str = "12.50|10.00|20240401093000|";

#[test]
fn a_debit_through_the_hsm_pays_from_the_purse_and_its_tac_verifies() {
    for (version, alg) in [("3.0", "03"), ("2.0", "01")] {
        let f = Fixture::with_balance(&format!("drv-hsm-debit-{version}"), version, 10_000);
        let mut d = Driver::with_config(f.config(false, &pins_then(3)));
        assert_eq!(ok(d.call("iChangePIN", &[I])), "");
        let h = hsm();
        let step1 = ok(d.call("iDoDebit_HSM_Step1", &[I, t(CARD_INFO), t(PAY)]));
        let s = items(&step1);
        assert_eq!(s.len(), 8, "{step1}");
        assert_eq!(s[0], alg, "{step1}");
        assert_eq!(s[1].len(), 2, "key address: {step1}");
        assert_eq!((s[2].len(), s[3].len()), (8, 4), "random, serial: {step1}");
        assert_eq!(
            &s[4..],
            ["10.00", "02", "000000000000", "20240401093000"],
            "{step1}"
        );
        let key = h.debit(&step1, CARD_INFO).unwrap();
        assert!(key.starts_with("00000001|20240401093000|"), "{key}");
        let out = ok(d.call("iDoDebit_HSM_Step2", &[t(&key)]));
        let o = items(&out);
        assert_eq!(o.len(), 9, "{out}");
        assert_eq!(o[0].len(), 8, "MAC2: {out}");
        assert_eq!(
            &o[1..8],
            [
                alg,
                &s[1],
                "10.00",
                "02",
                "000000000000",
                "00000001",
                "20240401093000"
            ],
            "{out}"
        );
        let layout = file_structures::layout::national(version).unwrap();
        host_tools::jobs::settlement::verify_tac(&keys(), &layout, &receipt_of(&o))
            .expect("the back office verifies the card's TAC");
        // A TAC altered by one digit does not verify.
        let mut forged = o.clone();
        forged[8] = format!("{:08X}", u32::from_str_radix(&o[8], 16).unwrap() ^ 1);
        assert!(
            host_tools::jobs::settlement::verify_tac(&keys(), &layout, &receipt_of(&forged))
                .is_err()
        );
        // The record reads back; the next debit has the HSM's next terminal serial.
        let records = ok(d.call("iReadDebitRecord", &[I]));
        assert!(
            records.contains("^20240401093000^10.00^10.00^|"),
            "{records}"
        );
        let step1 = ok(d.call(
            "iDoDebit_HSM_Step1",
            &[I, t(CARD_INFO), t("5.00|5.00|20240401100000|")],
        ));
        let key = h.debit(&step1, CARD_INFO).unwrap();
        assert!(key.starts_with("00000002|"), "{key}");
        assert_eq!(
            items(&ok(d.call("iDoDebit_HSM_Step2", &[t(&key)])))[6],
            "00000002"
        );
        assert_eq!(purse_of(&f, version), (10_000 - 1_500, 2), "{version}");
        // The exchange is over: a second Step2 has no Step1.
        assert_eq!(code(d.call("iDoDebit_HSM_Step2", &[t(&key)])), -12);
    }
}

#[test]
fn a_wrong_mac1_is_refused_by_the_card_and_changes_nothing() {
    let f = Fixture::with_balance("drv-hsm-debit-mac1", "3.0", 10_000);
    let mut d = Driver::with_config(f.config(false, &pins_then(3)));
    assert_eq!(ok(d.call("iChangePIN", &[I])), "");
    let step1 = ok(d.call("iDoDebit_HSM_Step1", &[I, t(CARD_INFO), t(PAY)]));
    let key = hsm().debit(&step1, CARD_INFO).unwrap();
    let k = items(&key);
    let flipped = format!(
        "{:08X}",
        u32::from_str_radix(&k[2], 16).unwrap() ^ 0x8000_0000
    );
    let wrong = format!("{}|{}|{flipped}|", k[0], k[1]);
    let r = d.call("iDoDebit_HSM_Step2", &[t(&wrong)]);
    assert_eq!(r.code, -37634, "9302 negated: {}", r.out);
    assert!(r.out.contains("MAC1"), "{}", r.out);
    assert_eq!(purse_of(&f, "3.0"), (10_000, 0), "no debit, no record");
    // The exchange is over; MAC1 of another card (pCardInfo naming card ...0B) is refused too.
    assert_eq!(code(d.call("iDoDebit_HSM_Step2", &[t(&key)])), -12);
    let step1 = ok(d.call("iDoDebit_HSM_Step1", &[I, t(CARD_INFO), t(PAY)]));
    let other = hsm().debit(&step1, OTHER_CARD).unwrap();
    assert_eq!(code(d.call("iDoDebit_HSM_Step2", &[t(&other)])), -37634);
    assert_eq!(purse_of(&f, "3.0"), (10_000, 0));
    // A pKey for another Step1's time is refused before the card is asked.
    let step1 = ok(d.call("iDoDebit_HSM_Step1", &[I, t(CARD_INFO), t(PAY)]));
    let key = hsm().debit(&step1, CARD_INFO).unwrap();
    let moved = key.replace("20240401093000", "20240401093001");
    assert_eq!(code(d.call("iDoDebit_HSM_Step2", &[t(&moved)])), -22);
    assert_eq!(purse_of(&f, "3.0"), (10_000, 0));
}

#[test]
fn hsm_debit_steps_out_of_order_and_amounts_above_the_balance() {
    let f = Fixture::with_balance("drv-hsm-debit-order", "3.0", 10_000);
    let mut d = Driver::with_config(f.config(false, &pins_then(3)));
    let key = "00000001|20240401093000|00112233|";
    assert_eq!(code(d.call("iDoDebit_HSM_Step2", &[t(key)])), -12);
    // The initial PIN cannot pay: −35, and no exchange is left open.
    assert_eq!(
        code(d.call("iDoDebit_HSM_Step1", &[I, t(CARD_INFO), t(PAY)])),
        -35
    );
    assert_eq!(code(d.call("iDoDebit_HSM_Step2", &[t(key)])), -12);
    d.set_config(Some(f.config(false, &pins_then(3))));
    assert_eq!(ok(d.call("iChangePIN", &[I])), "");
    // 9401: 150.00 is more than the 100.00 on the card → −37889, nothing open, nothing debited.
    let low = d.call(
        "iDoDebit_HSM_Step1",
        &[I, t(CARD_INFO), t("150.00|150.00|20240401093000|")],
    );
    assert_eq!(low.code, -37889, "{}", low.out);
    assert!(low.out.contains("balance too low"), "{}", low.out);
    assert_eq!(code(d.call("iDoDebit_HSM_Step2", &[t(key)])), -12);
    // Another function between the steps ends the exchange.
    let step1 = ok(d.call("iDoDebit_HSM_Step1", &[I, t(CARD_INFO), t(PAY)]));
    let key = hsm().debit(&step1, CARD_INFO).unwrap();
    assert_eq!(code(d.call("iReadCardBas_HSM_Step1", &[I])), 0);
    assert_eq!(code(d.call("iDoDebit_HSM_Step2", &[t(&key)])), -12);
    // Another card in the reader than pCardInfo names: −22.
    assert_eq!(
        code(d.call("iDoDebit_HSM_Step1", &[I, t(OTHER_CARD), t(PAY)])),
        -22
    );
    assert_eq!(purse_of(&f, "3.0"), (10_000, 0));
}

/// A debit torn after the card debited (the terminal lost power before it journalled the
/// outcome): the next Step1 with the same card asks GET TRANSACTION PROOF, finds it done, and
/// does not pay again (−22 with the debit's items); a debit torn before the card debited is
/// closed as not done and Step1 goes on.
#[test]
fn a_torn_hsm_debit_is_resolved_by_the_next_step1_and_paid_once() {
    let f = Fixture::with_balance("drv-hsm-debit-torn", "3.0", 10_000);
    let mut d = Driver::with_config(f.config(false, &pins_then(4)));
    let journal = f.dir.path().join(SSCardDriver::ops::debit::DEBIT_JOURNAL);
    assert_eq!(ok(d.call("iChangePIN", &[I])), "");
    let step1 = ok(d.call("iDoDebit_HSM_Step1", &[I, t(CARD_INFO), t(PAY)]));
    let key = hsm().debit(&step1, CARD_INFO).unwrap();
    let out = ok(d.call("iDoDebit_HSM_Step2", &[t(&key)]));
    let tac = items(&out)[8].clone();
    // The power lost after DEBIT, before the journal's last line: the intent is open.
    let text = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.last().unwrap().contains("\"settled\""), "{text}");
    std::fs::write(
        &journal,
        format!("{}\n", lines[..lines.len() - 1].join("\n")),
    )
    .unwrap();
    let r = d.call("iDoDebit_HSM_Step1", &[I, t(CARD_INFO), t(PAY)]);
    assert_eq!(r.code, -22, "{}", r.out);
    assert!(r.out.contains(&tac), "the completed debit's TAC: {}", r.out);
    assert!(std::fs::read_to_string(&journal)
        .unwrap()
        .contains("\"recovered\""));
    assert_eq!(purse_of(&f, "3.0"), (10_000 - 1_000, 1), "paid once");
    // Torn before the card debited: an intent with a serial the card never used.
    let step1 = ok(d.call("iDoDebit_HSM_Step1", &[I, t(CARD_INFO), t(PAY)]));
    let key = hsm().debit(&step1, CARD_INFO).unwrap();
    let k = items(&key);
    let wrong = format!("{}|{}|00000000|", k[0], k[1]);
    assert_eq!(code(d.call("iDoDebit_HSM_Step2", &[t(&wrong)])), -37634);
    let text = std::fs::read_to_string(&journal).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .take_while(|l| !l.contains("\"not-done\""))
        .collect();
    assert!(kept.last().unwrap().contains("\"intent\""), "{text}");
    std::fs::write(&journal, format!("{}\n", kept.join("\n"))).unwrap();
    let step1 = ok(d.call("iDoDebit_HSM_Step1", &[I, t(CARD_INFO), t(PAY)]));
    assert!(std::fs::read_to_string(&journal)
        .unwrap()
        .contains("GET TRANSACTION PROOF: 9406"));
    let key = hsm().debit(&step1, CARD_INFO).unwrap();
    ok(d.call("iDoDebit_HSM_Step2", &[t(&key)]));
    assert_eq!(purse_of(&f, "3.0"), (10_000 - 2_000, 2));
}

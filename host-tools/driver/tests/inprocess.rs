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
fn debits_check_their_parameters_and_then_say_the_purse_is_missing() {
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
    let r = d.call("iDoDebit", &[I, t(CARD_INFO), t(pay)]);
    assert_eq!(r.code, -13);
    assert!(r.out.contains("medical purse"), "{}", r.out);
    assert_eq!(
        code(d.call("iDoDebit_HSM_Step1", &[I, t(CARD_INFO), t(pay)])),
        -13
    );
    assert_eq!(
        code(d.call("iDoDebit_HSM_Step1", &[Arg::Int(9), t(CARD_INFO), t(pay)])),
        -1
    );
    assert_eq!(code(d.call("iDoDebit_HSM_Step2", &[t("0011223|")])), -42);
    assert_eq!(code(d.call("iDoDebit_HSM_Step2", &[t("00112233|")])), -13);
    assert_eq!(code(d.call("iReadDebitRecord", &[I])), -13);
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

//! `sscard ecard` against a running `sscard platform serve`: a holder applies, sees the card
//! face and shows codes (terminal, SVG, PNG, --watch); a hospital terminal verifies them online
//! and offline; each refusal has its own exit code; the password never shows.

mod common;

use common::*;
use sscard_platform::model::CardRegistration;
use sscard_platform::registry::Actor;

/// Exit codes from docs/host-tools.md.
const EXIT_PLATFORM_REFUSED: i32 = 50;
const EXIT_PASSWORD_REJECTED: i32 = 36;
const EXIT_CODE_EXPIRED: i32 = 57;
const EXIT_CODE_REPLAYED: i32 = 58;
const EXIT_CODE_TAMPERED: i32 = 59;
const EXIT_CODE_CARD_BLOCKED: i32 = 60;
const EXIT_CONSENT_REQUIRED: i32 = 63;

const PASSWORD: &str = "482915";

/// A back office with cards 1 to 3 activated and 4 only issued, a hospital terminal, and the
/// service running.
struct Office {
    dir: TestDir,
    db: String,
    hospital: String,
    service: Service,
    password_file: String,
}

fn office(serve_options: &[&str]) -> Office {
    let dir = TestDir::new("cli-ecard");
    let db = format!("sqlite:{}", dir.path().join("registry.db").display());
    let rt = sscard_platform::runtime().unwrap();
    let hospital = rt.block_on(async {
        let store = sscard_platform::Store::open(&db).await.unwrap();
        let actor = Actor::new("test");
        let cards: Vec<_> = (1..=4).map(registry_card).collect();
        store.register_cards(&cards, &actor).await.unwrap();
        for c in &cards[..3] {
            store
                .record_activation(&c.card_number, &test_activation(), &actor, None)
                .await
                .unwrap();
        }
        store
            .add_terminal("HOSP-01", sscard_platform::auth::Role::Hospital, &actor)
            .await
            .unwrap()
            .token
    });
    let service = Service::start_full(&db, serve_options, &[]);
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    Office {
        password_file: password_file.display().to_string(),
        dir,
        db,
        hospital,
        service,
    }
}

impl Office {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// `sscard [--json] ecard ARGS`.
    fn ecard(&self, json: bool, args: &[&str]) -> Run {
        sscard_env(&ecard_args(json, args), &[])
    }

    /// The same at the hospital terminal: its credential in the environment.
    fn ecard_at_hospital(&self, json: bool, args: &[&str]) -> Run {
        sscard_env(
            &ecard_args(json, args),
            &[("SSCARD_PLATFORM_TOKEN", &self.hospital)],
        )
    }

    /// `sscard [--json] ecard apply` for `c`'s holder with the office's password file, with
    /// `--consent` when `consent`.
    fn apply_for(&self, json: bool, c: &CardRegistration, consent: bool) -> Run {
        let mut args = vec![
            "apply",
            "--platform",
            &self.service.base,
            "--name",
            &c.name,
            "--ssn",
            &c.ssn,
        ];
        if consent {
            args.push("--consent");
        }
        args.extend_from_slice(&["--password-file", &self.password_file]);
        self.ecard(json, &args)
    }

    /// `sscard [--json] ecard COMMAND` of the holder of `ecard`, logged in with the office's
    /// password file, with `extra` arguments after.
    fn as_holder(&self, json: bool, command: &str, ecard: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            command,
            "--platform",
            &self.service.base,
            "--ecard",
            ecard,
            "--password-file",
            &self.password_file,
        ];
        args.extend_from_slice(extra);
        self.ecard(json, &args)
    }

    fn apply(&self, i: u32) -> String {
        let run = self.apply_for(true, &registry_card(i), true);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        run.json()["id"].as_str().unwrap().to_owned()
    }

    /// A fresh code of the e-card (`qr --json`).
    fn code(&self, ecard: &str) -> serde_json::Value {
        let run = self.as_holder(true, "qr", ecard, &[]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        run.json()
    }

    fn verify_online(&self, code: &str) -> Run {
        self.ecard_at_hospital(true, &["verify", code, "--platform", &self.service.base])
    }

    fn verify_offline(&self, code: &str) -> Run {
        self.ecard(
            true,
            &[
                "verify",
                code,
                "--offline",
                "--keys",
                &self.path("keys.json"),
                "--blacklist",
                &self.path("blacklist.json"),
            ],
        )
    }

    fn sync(&self) -> Run {
        self.ecard_at_hospital(
            true,
            &[
                "verify",
                "--sync-blacklist",
                "--platform",
                &self.service.base,
                "--keys",
                &self.path("keys.json"),
                "--blacklist",
                &self.path("blacklist.json"),
            ],
        )
    }
}

fn ecard_args<'a>(json: bool, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = Vec::new();
    if json {
        all.push("--json");
    }
    all.push("ecard");
    all.extend_from_slice(args);
    all
}

/// The code with one character of its signature part changed to another base32 character.
fn tampered(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[test]
fn a_holder_applies_sees_the_card_and_shows_codes_a_pharmacy_verifies_online() {
    let office = office(&[]);
    let c = registry_card(1);
    let ecard = office.apply(1);
    assert_eq!(ecard.len(), 32, "{ecard}");

    // The card face, the number masked, in JSON and for a person.
    let show = |json| office.as_holder(json, "show", &ecard, &[]);
    let face = show(true);
    assert_eq!(face.code, 0, "{}{}", face.stdout, face.stderr);
    let face = face.json();
    assert_eq!(face["name"], c.name.as_str());
    assert_eq!(face["ssn"], "1101**********0001");
    assert_eq!(face["card_number"], "T00000001");
    assert_eq!(face["card_expiry_date"], "20340101");
    assert_eq!(face["level"], "1");
    assert_eq!(face["channels"], serde_json::json!(["sscard-cli"]));
    assert_eq!(face["works"], true);
    let text = show(false);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("1101**********0001"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains(&c.ssn), "{}", text.stdout);
    assert!(text.stdout.contains("T00000001"), "{}", text.stdout);

    // A code as JSON: the text and its 60-second validity.
    let code = office.code(&ecard);
    let text = code["code"].as_str().unwrap();
    assert!(text.starts_with("SSC1:"), "{code}");
    assert_eq!(
        code["expires_at"].as_u64().unwrap() - code["issued_at"].as_u64().unwrap(),
        60
    );
    // Drawn in the terminal, as SVG and as PNG files.
    let qr = |format: &str, out: Option<&str>| {
        let mut extra = vec!["--format", format];
        if let Some(out) = out {
            extra.extend(["--out", out]);
        }
        office.as_holder(false, "qr", &ecard, &extra)
    };
    let terminal = qr("terminal", None);
    assert_eq!(terminal.code, 0, "{}", terminal.stderr);
    assert!(
        terminal.stdout.contains('█') || terminal.stdout.contains('▀'),
        "{}",
        terminal.stdout
    );
    assert!(
        terminal.stdout.contains("valid until"),
        "{}",
        terminal.stdout
    );
    // The code's text on a line of its own under the drawing, for a person to read out.
    let shown = terminal
        .stdout
        .lines()
        .find(|l| l.starts_with("SSC1:"))
        .unwrap_or_else(|| panic!("{}", terminal.stdout))
        .to_owned();
    let by_person = office.ecard_at_hospital(
        false,
        &["verify", &shown, "--platform", &office.service.base],
    );
    assert_eq!(
        by_person.code, 0,
        "{}{}",
        by_person.stdout, by_person.stderr
    );
    assert!(
        by_person.stdout.contains("1101**********0001"),
        "{}",
        by_person.stdout
    );
    assert!(!by_person.stdout.contains(&c.ssn), "{}", by_person.stdout);
    assert!(by_person.stdout.contains(&c.name), "{}", by_person.stdout);
    let svg = office.path("code.svg");
    let run = qr("svg", Some(&svg));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    let png = office.path("code.png");
    let run = qr("png", Some(&png));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(std::fs::read(&png)
        .unwrap()
        .starts_with(b"\x89PNG\r\n\x1a\n"));
    let no_file = qr("png", None);
    assert_eq!(no_file.code, EXIT_USAGE, "{}", no_file.stderr);

    // Only a terminal with its credential verifies online: none, a forged one, refused, and
    // the code is not used up by them.
    let none = office.ecard(true, &["verify", text, "--platform", &office.service.base]);
    assert_eq!(none.code, EXIT_USAGE, "{}{}", none.stdout, none.stderr);
    let forged = sscard_env(
        &ecard_args(true, &["verify", text, "--platform", &office.service.base]),
        &[("SSCARD_PLATFORM_TOKEN", "sst_forged")],
    );
    assert_eq!(
        forged.code, EXIT_PLATFORM_REFUSED,
        "{}{}",
        forged.stdout, forged.stderr
    );
    assert_eq!(forged.json()["error"]["kind"], "platform_refused");

    // The pharmacy verifies the code online: the holder's identity.
    let verified = office.verify_online(text);
    assert_eq!(verified.code, 0, "{}{}", verified.stdout, verified.stderr);
    let verified = verified.json();
    assert_eq!(verified["valid"], true);
    assert_eq!(verified["reason"], serde_json::Value::Null);
    assert_eq!(verified["holder"]["name"], c.name.as_str());
    assert_eq!(verified["holder"]["card_number"], "T00000001");
    assert_eq!(verified["holder"]["ecard"], ecard.as_str());

    // The same code again: replayed.
    let again = office.verify_online(text);
    assert_eq!(
        again.code, EXIT_CODE_REPLAYED,
        "{}{}",
        again.stdout, again.stderr
    );
    assert_eq!(again.json()["valid"], false);
    assert_eq!(again.json()["reason"], "replayed");

    // A tampered code: refused online and offline with the same exit code.
    let fresh = office.code(&ecard);
    let altered = tampered(fresh["code"].as_str().unwrap());
    let refused = office.verify_online(&altered);
    assert_eq!(
        refused.code, EXIT_CODE_TAMPERED,
        "{}{}",
        refused.stdout, refused.stderr
    );
    let reason = refused.json()["reason"].as_str().unwrap().to_owned();
    assert!(
        ["bad-signature", "malformed"].contains(&reason.as_str()),
        "{reason}"
    );
    assert!(
        refused.stderr.contains("refuses the code"),
        "{}",
        refused.stderr
    );
    let sync = office.sync();
    assert_eq!(sync.code, 0, "{}{}", sync.stdout, sync.stderr);
    let refused = office.verify_offline(&altered);
    assert_eq!(
        refused.code, EXIT_CODE_TAMPERED,
        "{}{}",
        refused.stdout, refused.stderr
    );
    // The untouched code passes offline.
    let fine = office.verify_offline(fresh["code"].as_str().unwrap());
    assert_eq!(fine.code, 0, "{}{}", fine.stdout, fine.stderr);
    assert_eq!(fine.json()["holder"]["ecard"], ecard.as_str());
    // A terminal that keeps the codes it has seen refuses the second showing offline too.
    let seen = office.path("seen.json");
    let offline_seen = || {
        office.ecard(
            true,
            &[
                "verify",
                fresh["code"].as_str().unwrap(),
                "--offline",
                "--keys",
                &office.path("keys.json"),
                "--blacklist",
                &office.path("blacklist.json"),
                "--seen",
                &seen,
            ],
        )
    };
    let first = offline_seen();
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let second = offline_seen();
    assert_eq!(
        second.code, EXIT_CODE_REPLAYED,
        "{}{}",
        second.stdout, second.stderr
    );
    assert_eq!(second.json()["reason"], "replayed");
}

#[test]
fn an_expired_code_is_refused_online_and_offline() {
    let office = office(&["--qr-validity", "5"]);
    let ecard = office.apply(2);
    let code = office.code(&ecard);
    assert_eq!(code["validity_secs"], 5);
    let sync = office.sync();
    assert_eq!(sync.code, 0, "{}{}", sync.stdout, sync.stderr);
    std::thread::sleep(std::time::Duration::from_secs(6));
    let text = code["code"].as_str().unwrap();
    let online = office.verify_online(text);
    assert_eq!(
        online.code, EXIT_CODE_EXPIRED,
        "{}{}",
        online.stdout, online.stderr
    );
    assert_eq!(online.json()["reason"], "expired");
    let offline = office.verify_offline(text);
    assert_eq!(
        offline.code, EXIT_CODE_EXPIRED,
        "{}{}",
        offline.stdout, offline.stderr
    );
    assert_eq!(offline.json()["reason"], "expired");
    assert!(offline.stderr.contains("expired"), "{}", offline.stderr);
}

#[test]
fn a_lost_cards_code_is_refused_online_at_once_and_offline_after_the_sync() {
    let office = office(&[]);
    let ecard = office.apply(3);
    let sync = office.sync();
    assert_eq!(sync.code, 0, "{}{}", sync.stdout, sync.stderr);
    assert_eq!(sync.json()["keys_written"], true);
    let code = office.code(&ecard);
    let text = code["code"].as_str().unwrap();

    let lost = sscard(&[
        "platform",
        "loss",
        "T00000003",
        "--kind",
        "formal",
        "--db",
        &office.db,
    ]);
    assert_eq!(lost.code, 0, "{}", lost.stderr);

    // Online: refused at once, for the card.
    let online = office.verify_online(text);
    assert_eq!(
        online.code, EXIT_CODE_CARD_BLOCKED,
        "{}{}",
        online.stdout, online.stderr
    );
    assert_eq!(online.json()["reason"], "card-lost");
    // Offline with the blacklist of before the loss: accepted, the documented window.
    let stale = office.verify_offline(text);
    assert_eq!(stale.code, 0, "{}{}", stale.stdout, stale.stderr);
    // After the next sync: refused.
    let sync = office.sync();
    assert_eq!(sync.code, 0, "{}{}", sync.stdout, sync.stderr);
    assert_eq!(sync.json()["blocked"], 1);
    assert_eq!(sync.json()["keys_written"], false);
    let offline = office.verify_offline(text);
    assert_eq!(
        offline.code, EXIT_CODE_CARD_BLOCKED,
        "{}{}",
        offline.stdout, offline.stderr
    );
    assert_eq!(offline.json()["reason"], "card-blocked");
    // The holder cannot log in any more, and is told why.
    let show = office.as_holder(false, "show", &ecard, &[]);
    assert_eq!(
        show.code, EXIT_PLATFORM_REFUSED,
        "{}{}",
        show.stdout, show.stderr
    );
    assert!(show.stderr.contains("reported lost"), "{}", show.stderr);
}

#[test]
fn an_application_without_consent_is_refused_with_the_reason_and_nothing_is_issued() {
    let office = office(&[]);
    let c = registry_card(1);
    let run = office.apply_for(true, &c, false);
    assert_eq!(
        run.code, EXIT_CONSENT_REQUIRED,
        "{}{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains("consent to the privacy terms"),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["error"]["kind"], "consent_required");
    // Nothing was issued: the same holder applies with consent and gets the e-card.
    office.apply(1);
    // A card not activated yet: the back office's reason.
    let c4 = registry_card(4);
    let run = office.apply_for(false, &c4, true);
    assert_eq!(
        run.code, EXIT_PLATFORM_REFUSED,
        "{}{}",
        run.stdout, run.stderr
    );
    assert!(run.stderr.contains("not activated"), "{}", run.stderr);
}

#[test]
fn the_password_never_appears_in_output_trace_or_history() {
    let office = office(&[]);
    let trace = office.path("trace.jsonl");
    let c = registry_card(2);
    let mut seen = String::new();
    let mut run = |json: bool, args: &[&str]| {
        let mut all = vec!["--trace", trace.as_str()];
        if json {
            all.push("--json");
        }
        all.push("ecard");
        all.extend_from_slice(args);
        let run = sscard_env(&all, &[("SSCARD_PLATFORM_TOKEN", &office.hospital)]);
        seen.push_str(&run.stdout);
        seen.push_str(&run.stderr);
        run
    };
    let base = office.service.base.clone();
    let pw = office.password_file.clone();
    for json in [false, true] {
        let applied = run(
            json,
            &[
                "apply",
                "--platform",
                &base,
                "--name",
                &c.name,
                "--ssn",
                &c.ssn,
                "--consent",
                "--password-file",
                &pw,
            ],
        );
        // The first succeeds; the second is refused (one e-card per card).
        assert!(
            [0, EXIT_PLATFORM_REFUSED].contains(&applied.code),
            "{}",
            applied.stderr
        );
    }
    let ecard = office.code_owner(&c);
    let mut with_password = |json: bool, command: &str, password_file: &str| {
        run(
            json,
            &[
                command,
                "--platform",
                &base,
                "--ecard",
                &ecard,
                "--password-file",
                password_file,
            ],
        )
    };
    for json in [false, true] {
        let shown = with_password(json, "show", &pw);
        assert_eq!(shown.code, 0, "{}", shown.stderr);
        let code = with_password(json, "qr", &pw);
        assert_eq!(code.code, 0, "{}", code.stderr);
    }
    // A wrong password and a malformed one: refused, and not echoed either.
    let wrong = office.path("wrong");
    std::fs::write(&wrong, "111111\n").unwrap();
    let refused = with_password(true, "show", &wrong);
    assert_eq!(refused.code, EXIT_PLATFORM_REFUSED, "{}", refused.stderr);
    let malformed = office.path("malformed");
    std::fs::write(&malformed, "48291x\n").unwrap();
    let refused = with_password(true, "show", &malformed);
    assert_eq!(refused.code, EXIT_PASSWORD_REJECTED, "{}", refused.stderr);
    assert!(!seen.contains("48291x"), "{seen}");
    assert!(!seen.contains("111111"), "{seen}");
    assert!(!seen.contains(PASSWORD), "{seen}");
    // The trace logs card exchanges; e-card commands make none, so there may be no file.
    if let Ok(traced) = std::fs::read_to_string(&trace) {
        assert!(!traced.contains(PASSWORD), "{traced}");
    }
    let history = sscard(&[
        "--json",
        "platform",
        "history",
        "T00000002",
        "--db",
        &office.db,
    ]);
    assert_eq!(history.code, 0, "{}", history.stderr);
    assert!(
        history.stdout.contains("ecard-issued"),
        "{}",
        history.stdout
    );
    assert!(!history.stdout.contains(PASSWORD), "{}", history.stdout);
}

impl Office {
    /// The e-card of card `c`'s holder, from the registry.
    fn code_owner(&self, c: &CardRegistration) -> String {
        let rt = sscard_platform::runtime().unwrap();
        rt.block_on(async {
            let store = sscard_platform::Store::open(&self.db).await.unwrap();
            store.ecard_of_person(&c.ssn).await.unwrap().unwrap().id
        })
    }
}

#[test]
fn watch_shows_a_new_code_each_validity_period_until_the_count() {
    let office = office(&["--qr-validity", "5"]);
    let ecard = office.apply(1);
    let started = std::time::Instant::now();
    let run = office.as_holder(true, "qr", &ecard, &["--watch", "--count", "2"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let codes: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(codes.len(), 2, "{}", run.stdout);
    assert_ne!(codes[0]["code"], codes[1]["code"]);
    // The second came when the first expired, not before.
    assert!(codes[1]["issued_at"].as_u64() >= codes[0]["expires_at"].as_u64());
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// (status, error code) of a login request sent as it is.
fn login(base: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    match ureq::post(&format!("{base}/api/v1/ecard/login")).send_json(body) {
        Ok(r) => (r.status(), r.into_json().unwrap()),
        Err(ureq::Error::Status(status, r)) => (status, r.into_json().unwrap()),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_login_by_ecard_id_needs_the_right_password_and_one_form_only() {
    let office = office(&[]);
    let c = registry_card(1);
    let ecard = office.apply(1);
    let base = &office.service.base;
    let (status, body) = login(
        base,
        serde_json::json!({"ecard": ecard, "password": PASSWORD}),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["token"].as_str().unwrap().starts_with("ssce_"));
    assert_eq!(body["ecard"]["id"], ecard.as_str());
    // The apps' form still works.
    let (status, _) = login(
        base,
        serde_json::json!({"ssn": c.ssn, "name": c.name, "password": PASSWORD}),
    );
    assert_eq!(status, 200);
    // A wrong password, an unknown e-card: the same answer.
    let (status, body) = login(
        base,
        serde_json::json!({"ecard": ecard, "password": "000000"}),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("wrong-credentials"))
    );
    let unknown = "0".repeat(32);
    let (status, body) = login(
        base,
        serde_json::json!({"ecard": unknown, "password": PASSWORD}),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("wrong-credentials"))
    );
    // Both forms at once, or neither: refused.
    let (status, _) = login(
        base,
        serde_json::json!({"ecard": ecard, "ssn": c.ssn, "name": c.name, "password": PASSWORD}),
    );
    assert_eq!(status, 422);
    let (status, _) = login(base, serde_json::json!({"password": PASSWORD}));
    assert_eq!(status, 422);
}

#[test]
fn of_offline_runs_at_once_sharing_a_seen_file_exactly_one_accepts_a_code() {
    let office = office(&[]);
    let ecard = office.apply(1);
    let sync = office.sync();
    assert_eq!(sync.code, 0, "{}{}", sync.stdout, sync.stderr);
    let code = office.code(&ecard)["code"].as_str().unwrap().to_owned();
    let (keys, blacklist, seen) = (
        office.path("keys.json"),
        office.path("blacklist.json"),
        office.path("seen.json"),
    );
    let codes: Vec<i32> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..6)
            .map(|_| {
                scope.spawn(|| {
                    office
                        .ecard(
                            true,
                            &[
                                "verify",
                                &code,
                                "--offline",
                                "--keys",
                                &keys,
                                "--blacklist",
                                &blacklist,
                                "--seen",
                                &seen,
                            ],
                        )
                        .code
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 1, "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| **c == EXIT_CODE_REPLAYED).count(),
        5,
        "{codes:?}"
    );
}

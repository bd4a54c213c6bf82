//! Terminals consulting the back office through the real `sscard`: the activation outlet
//! (`activate --platform`: the registry's blacklist, the activation recorded, a lost answer
//! recorded by the rerun) and the diagnostics counter (`diagnose --platform`).

mod common;

use common::*;

const HOLDERS: &str = "card_id_code,init_org,issue_date,expiry_date,card_number,ssn,name,gender,nation,birthplace,birth_date,phone
110100D156000005544553540000000B,110100000001,20240101,20340101,T00000028,110105198512310029,王测试,2,01,110105,19851231,01000000001
310100D156000005544553540000000C,310100000001,20240101,20340101,T00000036,310101200002290031,李测试,1,03,310101,20000229,
";

struct Desk {
    dir: TestDir,
    db: String,
    outlet: String,
    hospital: String,
}

fn desk() -> Desk {
    let dir = TestDir::new("platform-terminals");
    let db = format!("sqlite:{}", dir.path().join("registry.db").display());
    let batch = dir.path().join("holders.csv");
    std::fs::write(&batch, HOLDERS).unwrap();
    let out = dir.path().join("cards");
    let run = sscard(&[
        "personalise",
        "--records",
        batch.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--test-keys",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    register_batch(&batch, &db);
    let token = |id: &str, role: &str| add_terminal(&db, id, role);
    let outlet = token("BANK-0001-T42", "outlet");
    let hospital = token("HOSP-01", "hospital");
    Desk {
        dir,
        db,
        outlet,
        hospital,
    }
}

/// `sscard platform register` of the holders in `batch` into the registry `db`; it must succeed.
fn register_batch(batch: &std::path::Path, db: &str) {
    let run = sscard(&[
        "platform",
        "register",
        "--batch",
        batch.to_str().unwrap(),
        "--db",
        db,
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// The arguments of `sscard --json activate` of `card` at outlet BANK-0001's terminal T-42 for
/// the holder `ssn`, `name`, with `journal`, a new PIN and the TEST keys; without `--platform`.
fn activate_args<'a>(card: &'a str, journal: &'a str, ssn: &'a str, name: &'a str) -> Vec<&'a str> {
    vec![
        "--card",
        card,
        "--json",
        "activate",
        "--test-keys",
        "--outlet",
        "BANK-0001",
        "--terminal",
        "T-42",
        "--journal",
        journal,
        "--id-number",
        ssn,
        "--name",
        name,
        "--date",
        "20240401",
        "--unsafe-new-pin",
        "135790",
    ]
}

fn add_terminal(db: &str, id: &str, role: &str) -> String {
    let run = sscard(&[
        "--json", "platform", "terminal", "--id", id, "--role", role, "--db", db,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()["token"].as_str().unwrap().to_owned()
}

impl Desk {
    fn token(&self, id: &str, role: &str) -> String {
        add_terminal(&self.db, id, role)
    }

    fn card(&self, number: &str) -> String {
        self.dir
            .path()
            .join("cards")
            .join(format!("{number}.card"))
            .display()
            .to_string()
    }

    /// The same card again, as personalised (a fresh image in another directory).
    fn fresh_card(&self, number: &str) -> String {
        let out = self.dir.path().join("cards-fresh");
        let batch = self.dir.path().join("holders.csv");
        let run = sscard(&[
            "personalise",
            "--records",
            batch.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--test-keys",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        out.join(format!("{number}.card")).display().to_string()
    }

    fn activate(&self, number: &str, ssn: &str, name: &str, platform: &str) -> Run {
        self.activate_image(&self.card(number), ssn, name, platform)
    }

    fn activate_image(&self, card: &str, ssn: &str, name: &str, platform: &str) -> Run {
        let journal = self.dir.path().join("terminal.jsonl");
        let mut args = activate_args(card, journal.to_str().unwrap(), ssn, name);
        args.extend_from_slice(&["--platform", platform]);
        sscard_env(&args, &[("SSCARD_PLATFORM_TOKEN", &self.outlet)])
    }

    fn status(&self, number: &str) -> serde_json::Value {
        let run = sscard(&["--json", "platform", "status", number, "--db", &self.db]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.json()
    }
}

#[test]
fn an_activation_is_recorded_in_the_registry_and_a_lost_answer_is_recorded_by_the_rerun() {
    let desk = desk();
    // The back office is down: the card is activated, the registry is not told: exit 51.
    let down = desk.activate(
        "T00000028",
        "110105198512310029",
        "王测试",
        "http://127.0.0.1:9",
    );
    assert_eq!(down.code, 51, "{}{}", down.stdout, down.stderr);
    assert!(
        down.stdout.contains("run the same activation again"),
        "{}",
        down.stdout
    );
    assert_eq!(desk.status("T00000028")["state"], "issued");
    // Back up: the rerun finds the card activated by this terminal and records it.
    let service = Service::start(&desk.db);
    let rerun = desk.activate("T00000028", "110105198512310029", "王测试", &service.base);
    assert_eq!(rerun.code, 0, "{}{}", rerun.stdout, rerun.stderr);
    let first = rerun.json();
    assert_eq!(first["resumed"], true);
    let status = desk.status("T00000028");
    assert_eq!(status["state"], "activated");
    assert_eq!(status["activation"]["terminal"], "T-42");
    assert_eq!(status["activation"]["date"], "20240401");
    // Once more: the same record (the journal's attempt id is the idempotency key).
    let again = desk.activate("T00000028", "110105198512310029", "王测试", &service.base);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json()["registry"], first["registry"]);
    let history = sscard(&[
        "--json",
        "platform",
        "history",
        "T00000028",
        "--db",
        &desk.db,
    ])
    .json();
    let activated = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "activated")
        .count();
    assert_eq!(activated, 1);
}

#[test]
fn a_card_the_registry_lists_as_lost_is_blocked_and_refused_at_the_outlet() {
    let desk = desk();
    let run = sscard(&[
        "platform",
        "loss",
        "T00000036",
        "--kind",
        "temporary",
        "--db",
        &desk.db,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let service = Service::start(&desk.db);
    let refused = desk.activate("T00000036", "310101200002290031", "李测试", &service.base);
    assert_eq!(refused.code, 34, "{}{}", refused.stdout, refused.stderr);
    // The terminal keeps the blacklist beside its journal for when the back office is away.
    let cache = desk.dir.path().join("terminal.jsonl.blacklist.json");
    let cached: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    assert_eq!(cached["listed"][0], "T00000036");
    // The back office away: a fresh copy of the card is refused from the cached blacklist.
    drop(service);
    let fresh = desk.fresh_card("T00000036");
    let offline = desk.activate_image(&fresh, "310101200002290031", "李测试", "http://127.0.0.1:9");
    assert_eq!(offline.code, 34, "{}{}", offline.stdout, offline.stderr);
    assert_eq!(desk.status("T00000036")["state"], "temporarily_lost");
}

#[test]
fn diagnose_with_the_registry_names_the_back_office_cause() {
    let desk = desk();
    let service = Service::start(&desk.db);
    let activated = desk.activate("T00000028", "110105198512310029", "王测试", &service.base);
    assert_eq!(
        activated.code, 0,
        "{}{}",
        activated.stdout, activated.stderr
    );
    let diagnose = |extra: &[&str]| {
        let card = desk.card("T00000028");
        let mut args = vec![
            "--card",
            card.as_str(),
            "--json",
            "diagnose",
            "--today",
            "20250601",
            "--platform",
            &service.base,
        ];
        args.extend_from_slice(extra);
        let run = sscard_env(&args, &[("SSCARD_PLATFORM_TOKEN", &desk.hospital)]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.json()
    };
    let healthy = diagnose(&[]);
    assert_eq!(healthy["cause"], "back-office", "{healthy}");
    let registry = healthy["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "registry")
        .unwrap()
        .clone();
    assert_eq!(registry["outcome"], "pass", "{registry}");
    let run = sscard(&[
        "platform",
        "insurance",
        "110105198512310029",
        "--suspend-since",
        "20250101",
        "--reason",
        "contributions unpaid since 2024-10",
        "--db",
        &desk.db,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let suspended = diagnose(&[]);
    assert_eq!(suspended["cause"], "insurance-suspended");
    assert_eq!(suspended["action"], "pay-contributions");
    let run = sscard(&[
        "platform",
        "insurance",
        "110105198512310029",
        "--paid-through",
        "202512",
        "--db",
        &desk.db,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = sscard(&[
        "platform",
        "account",
        "T00000028",
        "--online",
        "--balance",
        "50",
        "--db",
        &desk.db,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(diagnose(&["--amount", "1.00"])["cause"], "balance-too-low");
    assert_eq!(diagnose(&["--amount", "0.50"])["cause"], "back-office");
    let run = sscard(&[
        "platform",
        "loss",
        "T00000028",
        "--kind",
        "formal",
        "--db",
        &desk.db,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lost = diagnose(&[]);
    assert_eq!(lost["cause"], "reported-lost");
    // A back office that does not answer: the chip's verdict, and the check says why.
    let card = desk.card("T00000028");
    let away = sscard_env(
        &[
            "--card",
            &card,
            "--json",
            "diagnose",
            "--today",
            "20250601",
            "--platform",
            "http://127.0.0.1:9",
        ],
        &[("SSCARD_PLATFORM_TOKEN", &desk.hospital)],
    );
    assert_eq!(away.code, 0);
    let away = away.json();
    assert_eq!(away["cause"], "back-office");
    let registry = away["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "registry")
        .unwrap()
        .clone();
    assert_eq!(registry["outcome"], "warn");
    assert!(registry["detail"]
        .as_str()
        .unwrap()
        .contains("did not answer"));
}

#[test]
fn the_hsm_endpoints_take_the_terminal_credentials_of_the_back_office() {
    let desk = desk();
    let admin = desk.token("admin-1", "admin");
    let spare = desk.token("HOSP-02", "hospital");
    // The HSM service's own token no longer opens its endpoints in the back office.
    let own_token = "hsm-token-0123456789abcdef";
    let service = Service::start_with(&desk.db, &[("SSCARD_HSM_TOKEN", own_token)]);
    let call = |method: &str, path: &str, bearer: Option<&str>| {
        let mut request = ureq::request(method, &format!("{}{path}", service.base));
        if let Some(b) = bearer {
            request = request.set("Authorization", &format!("Bearer {b}"));
        }
        let result = if method == "POST" {
            request.send_json(serde_json::json!({ "step1": "not a step" }))
        } else {
            request.call()
        };
        match result {
            Ok(r) => (r.status(), String::new()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => panic!("{path}: {e}"),
        }
    };
    let status = |bearer| call("GET", "/api/v1/hsm/status", bearer).0;
    // An outlet, a hospital, an administrator: the same credentials as the registry's.
    assert_eq!(status(Some(&desk.outlet)), 200);
    assert_eq!(status(Some(&desk.hospital)), 200);
    assert_eq!(status(Some(&admin)), 200);
    // No credential, a forged one, the HSM's own token: 401 with the reason, the HSM not asked.
    let (code, body) = call("POST", "/api/v1/hsm/read-card", None);
    assert_eq!(code, 401);
    assert!(body.contains("credential-missing"), "{body}");
    let forged = format!("sscp_{}", "0".repeat(64));
    let (code, body) = call("POST", "/api/v1/hsm/read-card", Some(&forged));
    assert_eq!(code, 401);
    assert!(body.contains("credential-invalid"), "{body}");
    assert_eq!(status(Some(own_token)), 401);
    // A credential the HSM accepted, revoked by an administrator: refused at once.
    assert_eq!(status(Some(&spare)), 200);
    let revoked = ureq::post(&format!(
        "{}/api/v1/terminals/HOSP-02/revocation",
        service.base
    ))
    .set("Authorization", &format!("Bearer {admin}"))
    .call()
    .unwrap();
    assert_eq!(revoked.status(), 200);
    let (code, body) = call("GET", "/api/v1/hsm/status", Some(&spare));
    assert_eq!(code, 401);
    assert!(body.contains("credential-revoked"), "{body}");
    // Past the credential check, the HSM judges the request itself.
    let (code, body) = call("POST", "/api/v1/hsm/read-card", Some(&desk.hospital));
    assert_eq!(code, 400, "{body}");
    let refusal: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(refusal["error"]["kind"].is_string(), "{body}");
    // The registry beside it, with the same credentials.
    assert_eq!(
        call("GET", "/api/v1/cards/T00000028", Some(&desk.outlet)).0,
        200
    );
    assert_eq!(call("GET", "/api/v1/nothing", Some(&desk.outlet)).0, 404);
}

#[test]
fn a_terminal_revoked_from_the_command_line_is_refused() {
    let desk = desk();
    let run = sscard(&[
        "--json",
        "platform",
        "terminal",
        "revoke",
        "BANK-0001-T42",
        "--db",
        &desk.db,
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.json()["already_revoked"], false);
    let again = sscard(&[
        "--json",
        "platform",
        "terminal",
        "revoke",
        "BANK-0001-T42",
        "--db",
        &desk.db,
    ]);
    assert_eq!(again.json()["already_revoked"], true);
    let unknown = sscard(&["platform", "terminal", "revoke", "NOBODY", "--db", &desk.db]);
    assert_eq!(unknown.code, 50, "{}", unknown.stderr);
    // The outlet's activation is refused by the back office before the card is touched.
    let service = Service::start(&desk.db);
    let refused = desk.activate("T00000028", "110105198512310029", "王测试", &service.base);
    assert_eq!(refused.code, 50, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stdout.contains("revoked"), "{}", refused.stdout);
    assert_eq!(desk.status("T00000028")["state"], "issued");
    // Adding a terminal still works as before.
    let token = desk.token("BANK-0001-T43", "outlet");
    assert!(token.starts_with("sscp_"));
}

#[test]
fn a_card_the_registry_does_not_know_is_refused_before_anything_is_written() {
    let desk = desk();
    // A registry that issued only the first card of the batch.
    let db = format!(
        "sqlite:{}",
        desk.dir.path().join("other-registry.db").display()
    );
    let batch = desk.dir.path().join("first-holder.csv");
    let first: Vec<&str> = HOLDERS.lines().take(2).collect();
    std::fs::write(&batch, first.join("\n") + "\n").unwrap();
    register_batch(&batch, &db);
    let outlet = add_terminal(&db, "BANK-0001-T42", "outlet");
    let service = Service::start(&db);
    let journal = desk.dir.path().join("other-terminal.jsonl");
    let activate = |platform: Option<&str>| {
        let card = desk.card("T00000036");
        let mut args = activate_args(
            card.as_str(),
            journal.to_str().unwrap(),
            "310101200002290031",
            "李测试",
        );
        match platform {
            Some(platform) => {
                args.extend_from_slice(&["--platform", platform]);
                sscard_env(&args, &[("SSCARD_PLATFORM_TOKEN", &outlet)])
            }
            None => sscard(&args),
        }
    };
    let refused = activate(Some(&service.base));
    assert_eq!(refused.code, 53, "{}{}", refused.stdout, refused.stderr);
    let error = &refused.json()["error"];
    assert_eq!(error["kind"], "registry_refused");
    assert_eq!(error["reason_code"], "unknown-card");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("not in the registry"),
        "{error}"
    );
    // Nothing was written: the card activates normally where the registry is not asked.
    let offline = activate(None);
    assert_eq!(offline.code, 0, "{}{}", offline.stdout, offline.stderr);
    assert_eq!(offline.json()["activated"], true);
}

//! `sscard settle --platform`: the till asks the back office's registry before the purse is
//! touched (a suspended or lost card is refused with the registry's reason, the purse unchanged),
//! uploads each settled record keyed by card and serial, and keeps the records queued in its
//! journal while the back office does not answer.

mod common;

use common::*;

struct Till {
    /// Kept for its lifetime: the card, the PSAM, the journal and the registry live in it.
    _dir: TestDir,
    card: String,
    psam: String,
    journal: String,
    db: String,
    hospital: String,
}

/// Where the registry lives: a SQLite file in the test's directory, or a fresh database on the
/// PostgreSQL test server.
#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

fn postgres_db(name: &str) -> String {
    let server = std::env::var("SSCARD_TEST_POSTGRES_URL").expect("SSCARD_TEST_POSTGRES_URL");
    let name = format!("sscard_{}_{}", name.replace('-', "_"), std::process::id());
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        let status = std::process::Command::new("psql")
            .args([server.as_str(), "-q", "-c", &sql])
            .status()
            .expect("psql runs");
        assert!(status.success(), "{sql}");
    }
    let (head, _) = server.rsplit_once('/').unwrap();
    format!("{head}/{name}")
}

fn till(name: &str) -> Till {
    till_on(name, Backend::Sqlite)
}

fn till_on(name: &str, backend: Backend) -> Till {
    let dir = TestDir::new(name);
    let PayingCard { holder, card, psam } = paying_card_and_psam(dir.path());
    // The registry knows the card (the batch the card was made from).
    let db = match backend {
        Backend::Sqlite => format!("sqlite:{}", dir.path().join("registry.db").display()),
        Backend::Postgres => postgres_db(name),
    };
    let batch = dir.path().join("holders.jsonl");
    std::fs::write(&batch, format!("{holder}\n")).unwrap();
    let run = sscard(&[
        "platform",
        "register",
        "--batch",
        batch.to_str().unwrap(),
        "--version",
        "2.0",
        "--db",
        &db,
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let run = sscard(&[
        "--json", "platform", "terminal", "--id", "HOSP-01", "--role", "hospital", "--db", &db,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let hospital = run.json()["token"].as_str().unwrap().to_owned();
    let journal = dir.path().join("till.jsonl").display().to_string();
    Till {
        _dir: dir,
        card,
        psam,
        journal,
        db,
        hospital,
    }
}

impl Till {
    fn settle(&self, amount: &str, platform: &str) -> Run {
        self.settle_run(true, amount, platform)
    }

    /// `sscard [--json] settle` of `amount` at the hospital, asking the registry at `platform`.
    fn settle_run(&self, json: bool, amount: &str, platform: &str) -> Run {
        let mut args = settle_args(json, &self.card, &self.psam, &self.journal, TILL_TIME);
        args.extend_from_slice(&[
            "--amount",
            amount,
            "--unsafe-pin",
            PAYING_PIN,
            "--platform",
            platform,
        ]);
        sscard_env(&args, &[("SSCARD_PLATFORM_TOKEN", &self.hospital)])
    }

    /// Balance (fen) and number of log records, as the card holds them.
    fn purse(&self) -> (u64, usize) {
        card_purse(&self.card, PAYING_PIN)
    }

    fn admin(&self, args: &[&str]) {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--db", &self.db]);
        let run = sscard(&all);
        assert_eq!(run.code, 0, "{args:?}: {}{}", run.stdout, run.stderr);
    }

    fn registry_purse(&self) -> serde_json::Value {
        let run = sscard(&[
            "--json",
            "platform",
            "status",
            "T0000001X",
            "--db",
            &self.db,
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.json()["purse"].clone()
    }

    /// The registry's settlement events of the card (one per record applied).
    fn settlement_events(&self) -> usize {
        let run = sscard(&[
            "--json",
            "platform",
            "history",
            "T0000001X",
            "--db",
            &self.db,
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.json()
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"].as_str().unwrap_or("").contains("settlement"))
            .count()
    }
}

fn refused_with(run: &Run, reason_code: &str, words: &str) {
    assert_eq!(run.code, 53, "{}{}", run.stdout, run.stderr);
    let error = &run.json()["error"];
    assert_eq!(error["kind"], "registry_refused", "{error}");
    assert_eq!(error["reason_code"], reason_code, "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(words), "{message}");
    assert!(!message.contains('\n'), "one sentence: {message}");
}

/// Each test body on SQLite, and (ignored unless the PostgreSQL stack is up) on PostgreSQL.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::Backend::Sqlite)
            }
            #[test]
            #[ignore = "postgres: needs SSCARD_TEST_POSTGRES_URL and scripts/postgres-stack.sh (scripts/test.sh runs it)"]
            fn postgres() {
                super::$name(super::Backend::Postgres)
            }
        }
    )*};
}

on_both_backends!(
    the_registry_is_asked_first_and_refuses_a_suspended_or_lost_card_with_its_reason,
    records_stay_queued_while_the_back_office_is_away_and_are_uploaded_once,
);

fn the_registry_is_asked_first_and_refuses_a_suspended_or_lost_card_with_its_reason(
    backend: Backend,
) {
    let t = till_on("settle-refusals", backend);
    let service = Service::start(&t.db);
    let paid = t.settle("12.50", &service.base);
    assert_eq!(paid.code, 0, "{}{}", paid.stdout, paid.stderr);
    let out = paid.json();
    assert_eq!(out["registry"]["check"]["outcome"], "approved", "{out}");
    let results = out["registry"]["upload"]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{out}");
    assert_eq!(results[0]["verdict"], "accepted", "{out}");
    assert_eq!(out["registry"]["upload"]["pending"], 0);
    assert_eq!(t.registry_purse()["balance_fen"], 8750);
    let after = t.purse();
    assert_eq!(after, (8750, 1));

    // Contributions unpaid: medical insurance suspended. Refused; the purse is not touched.
    t.admin(&[
        "platform",
        "insurance",
        "110105199001010010",
        "--suspend-since",
        "20240301",
        "--reason",
        "contributions unpaid since 2023-12",
    ]);
    let suspended = t.settle("1", &service.base);
    refused_with(
        &suspended,
        "insurance-suspended",
        "contributions unpaid since 2023-12",
    );
    assert_eq!(t.purse(), after, "a suspended card's purse changed");
    t.admin(&[
        "platform",
        "insurance",
        "110105199001010010",
        "--paid-through",
        "202412",
    ]);

    // Reported lost by phone, then formally: refused each time with the registry's reason.
    t.admin(&["platform", "loss", "T0000001X", "--kind", "temporary"]);
    let temporary = t.settle("1", &service.base);
    refused_with(&temporary, "temporarily-lost", "reported lost");
    t.admin(&["platform", "loss", "T0000001X", "--kind", "formal"]);
    let lost = t.settle("1", &service.base);
    refused_with(&lost, "reported-lost", "reported lost");
    assert_eq!(t.purse(), after, "a lost card's purse changed");
    // The text for a person names the reason too.
    let text = t.settle_run(false, "1", &service.base);
    assert_eq!(text.code, 53);
    assert!(
        text.stderr
            .contains("the registry refuses card T0000001X: the card is reported lost"),
        "{}",
        text.stderr
    );
    assert_eq!(t.settlement_events(), 1);
}

fn records_stay_queued_while_the_back_office_is_away_and_are_uploaded_once(backend: Backend) {
    let t = till_on("settle-queue", backend);
    // The back office is away: the card pays offline, the record stays queued in the journal.
    let away = t.settle("12.50", "http://127.0.0.1:9");
    assert_eq!(away.code, 0, "{}{}", away.stdout, away.stderr);
    let out = away.json();
    assert_eq!(out["settled"], true);
    assert_eq!(out["registry"]["check"]["outcome"], "unavailable", "{out}");
    assert_eq!(out["registry"]["upload"]["pending"], 1, "{out}");
    assert!(out["registry"]["upload"]["error"]
        .as_str()
        .unwrap()
        .contains("did not answer"));
    assert_eq!(t.purse(), (8750, 1));
    let journal = std::fs::read_to_string(&t.journal).unwrap();
    assert!(!journal.contains("\"uploaded\""), "{journal}");

    // Back: the next settlement uploads the queued record and its own, in order.
    let service = Service::start(&t.db);
    let back = t.settle("2.50", &service.base);
    assert_eq!(back.code, 0, "{}{}", back.stdout, back.stderr);
    let out = back.json();
    let results = out["registry"]["upload"]["results"].as_array().unwrap();
    let serials: Vec<_> = results.iter().map(|r| r["serial"].clone()).collect();
    assert_eq!(results.len(), 2, "{out}");
    assert!(serials[0].as_u64() < serials[1].as_u64(), "{out}");
    assert!(results.iter().all(|r| r["verdict"] == "accepted"), "{out}");
    assert_eq!(out["registry"]["upload"]["pending"], 0);
    let purse = t.registry_purse();
    assert_eq!(purse["balance_fen"], 8500, "{purse}");
    assert_eq!(t.settlement_events(), 2);

    // The answer lost after the back office applied it (the journal's `uploaded` lines gone):
    // the repeat carries the same keys and applies nothing twice.
    let kept: String = std::fs::read_to_string(&t.journal)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("\"uploaded\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&t.journal, kept).unwrap();
    let third = t.settle("1", &service.base);
    assert_eq!(third.code, 0, "{}{}", third.stdout, third.stderr);
    let results = third.json()["registry"]["upload"]["results"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(results.len(), 3, "{results:?}");
    assert_eq!(t.settlement_events(), 3, "a repeated upload applied twice");
    assert_eq!(t.registry_purse()["balance_fen"], 8400);
    assert_eq!(t.purse(), (8400, 3));
}

#[test]
fn a_revoked_till_is_refused_before_the_purse_is_touched() {
    let t = till("platform-settle-revoked");
    let run = sscard(&["platform", "terminal", "revoke", "HOSP-01", "--db", &t.db]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let service = Service::start(&t.db);
    let refused = t.settle("1", &service.base);
    assert_eq!(refused.code, 50, "{}{}", refused.stdout, refused.stderr);
    let error = &refused.json()["error"];
    assert!(
        error["message"].as_str().unwrap().contains("revoked"),
        "{error}"
    );
    assert_eq!(t.purse(), (10000, 0));
}

/// A card pulled after its DEBIT, put back: the rerun completes the torn purchase from the card's
/// proof without asking the registry again (the payment happened), and uploads it once.
#[test]
fn a_torn_purchase_completed_by_the_rerun_is_uploaded() {
    use card_os::crypto::Pin;
    use file_structures::layout::national;
    use file_structures::personalise::IssuerKeys;
    use host_tools::jobs::activation::{psam::psam_image, LostList, PsamModule};
    use host_tools::jobs::settlement::registry::{upload_pending, RegistryApproval};
    use host_tools::jobs::settlement::{
        self, Amounts, GivenPin, PurchaseRequest, SettlementJournal, Terminal, TradeTime,
    };
    use host_tools::protocol::client::Client;
    use host_tools::transport::faults::{FaultyTransport, PullAt, TransportFaults};
    use host_tools::transport::sim::SimTransport;
    use host_tools::transport::simcard::personalised_card;
    use host_tools::transport::{CardTransport, ResetKind};

    let t = till("platform-settle-torn");
    let service = Service::start(&t.db);
    let platform = sscard_platform::Client::new(
        &service.base,
        &t.hospital,
        std::time::Duration::from_secs(20),
    );
    let keys = IssuerKeys::test_keys().unwrap();
    let layout = national("2.0").unwrap();
    let mut holder = host_tools::transport::simcard::sample_holder();
    holder.values.insert("purse_balance".into(), "10000".into());
    let storage = personalised_card(&layout, &holder, &keys).unwrap().0;
    let faults = TransportFaults {
        pull_at: Some(PullAt {
            // DEBIT FOR PURCHASE, run by the card, its answer lost.
            cla: 0xB0,
            ins: 0x2C,
            delivered: true,
        }),
        ..TransportFaults::default()
    };
    let mut card = Client::new(FaultyTransport::new(
        SimTransport::in_memory(storage).unwrap(),
        faults,
    ));
    let pin_change = host_tools::protocol::hexstr::parse("805E010007123456FF135790").unwrap();
    assert_eq!(card.transmit_raw(&pin_change).unwrap().sw.to_u16(), 0x9000);
    let mut psam = PsamModule::open(
        SimTransport::in_memory(psam_image(&layout, &keys, &[0x11, 0x01, 0x00]).unwrap()).unwrap(),
    )
    .unwrap();
    let terminal = Terminal::from_psam(&mut psam, LostList::default()).unwrap();
    let mut journal = SettlementJournal::open(&std::path::PathBuf::from(&t.journal)).unwrap();
    let request = PurchaseRequest {
        amounts: Amounts::new(300, 0, 0).unwrap(),
        time: TradeTime::parse(TILL_TIME).unwrap(),
    };
    let mut run = |card: &mut Client<FaultyTransport<SimTransport>>,
                   journal: &mut SettlementJournal| {
        let mut approval = RegistryApproval::new(&platform);
        let result = settlement::settle_approved(
            card,
            &mut psam,
            &layout,
            &terminal,
            &request,
            &mut GivenPin(Pin::from_ascii(PAYING_PIN.as_bytes()).unwrap()),
            journal,
            &mut approval,
        );
        (result, approval.consulted)
    };
    let (torn, consulted) = run(&mut card, &mut journal);
    assert!(torn.unwrap_err().is_resumable());
    assert!(
        consulted.is_some(),
        "the registry is asked before the DEBIT"
    );
    card.transport_mut().reset(ResetKind::Cold).unwrap();
    let (receipt, consulted) = run(&mut card, &mut journal);
    let receipt = receipt.unwrap();
    assert!(receipt.resumed);
    assert_eq!(
        consulted, None,
        "a completed payment is not asked about again"
    );
    let report = upload_pending(&platform, &mut journal).unwrap();
    assert_eq!(report.results.len(), 1, "{report:?}");
    assert_eq!(report.results[0].serial, receipt.serial);
    assert_eq!(report.pending, 0);
    assert_eq!(t.registry_purse()["balance_fen"], 9700);
    // Nothing is left to send.
    let again = upload_pending(&platform, &mut journal).unwrap();
    assert!(again.results.is_empty() && again.pending == 0, "{again:?}");
}

//! `sscard settle --qr` against a served back office (`sscard platform serve`): a holder's
//! payment code pays from the medical account with a receipt; a payment whose answer is lost
//! (a proxy that drops it) is completed by the rerun with the same code, or by `--resume`, and
//! charged exactly once; refusals exit with their own codes.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use sscard_platform::auth::Role;
use sscard_platform::model::{AccountChange, CardRegistration};
use sscard_platform::registry::{Action, Actor};
use sscard_platform::Store;

const PASSWORD: &str = "246810";

struct Desk {
    dir: TestDir,
    db: String,
    hospital: String,
    rt: tokio::runtime::Runtime,
}

/// Card `i` of a holder whose account is online.
fn holder(i: u32) -> CardRegistration {
    CardRegistration {
        name: format!("王测试{i}"),
        online_mode: true,
        ..registry_card(i)
    }
}

impl Desk {
    /// A registry with holders 1 and 2: activated, level 2 e-cards, online accounts of
    /// 100.00 and 5.00 yuan; a hospital credential.
    fn new() -> Desk {
        let dir = TestDir::new("platform-qr-settle");
        let db = format!("sqlite:{}", dir.path().join("registry.db").display());
        let rt = sscard_platform::runtime().unwrap();
        let actor = Actor::new("test");
        let hospital = rt.block_on(async {
            let store = Store::open(&db).await.unwrap();
            for (i, balance) in [(1, 10_000), (2, 500)] {
                let c = holder(i);
                register_activated(&store, &c, &actor).await;
                let account = AccountChange {
                    online_mode: true,
                    balance_fen: balance,
                };
                store
                    .change_account(&c.card_number, &account, &actor)
                    .await
                    .unwrap();
                let e = apply_ecard(&store, &c, PASSWORD, &actor).await;
                store
                    .set_settlement_link(&e.id, true, &actor)
                    .await
                    .unwrap();
            }
            store
                .add_terminal("HOSP-01", Role::Hospital, &actor)
                .await
                .unwrap()
                .token
        });
        Desk {
            dir,
            db,
            hospital,
            rt,
        }
    }

    fn store(&self) -> Store {
        self.rt.block_on(Store::open(&self.db)).unwrap()
    }

    fn balance(&self, i: u32) -> i64 {
        let store = self.store();
        self.rt
            .block_on(store.card_status(&holder(i).card_number, None, None))
            .unwrap()
            .account_balance_fen
    }

    fn payments(&self) -> i64 {
        let store = self.store();
        self.rt.block_on(async {
            let history = store.history(&holder(1).card_number).await.unwrap();
            history.iter().filter(|e| e.kind == "ecard-payment").count() as i64
        })
    }

    /// A fresh payment code of holder `i`, as the holder's app fetches it.
    fn code(&self, base: &str, i: u32) -> String {
        let c = holder(i);
        let session: serde_json::Value = ureq::post(&format!("{base}/api/v1/ecard/login"))
            .send_json(serde_json::json!({"ssn": c.ssn, "name": c.name, "password": PASSWORD}))
            .unwrap()
            .into_json()
            .unwrap();
        let token = session["token"].as_str().unwrap();
        let ecard = session["ecard"]["id"].as_str().unwrap();
        let code: serde_json::Value =
            ureq::get(&format!("{base}/api/v1/ecard/{ecard}/qr?purpose=payment"))
                .set("Authorization", &format!("Bearer {token}"))
                .call()
                .unwrap()
                .into_json()
                .unwrap();
        code["code"].as_str().unwrap().to_owned()
    }

    fn journal(&self) -> String {
        self.dir.path().join("till.jsonl").display().to_string()
    }

    /// `sscard --json settle --qr` (or with `extra` instead) at `base`, as the hospital's
    /// till-3.
    fn settle(&self, base: &str, args: &[&str]) -> Run {
        let mut all = vec!["--terminal-id", "till-3"];
        all.extend_from_slice(args);
        self.settle_as(&self.hospital, true, base, &all)
    }

    /// `sscard [--json] settle ARGS` at `base` with the credential `token`, no terminal id.
    fn settle_as(&self, token: &str, json: bool, base: &str, args: &[&str]) -> Run {
        let journal = self.journal();
        let mut all = if json { vec!["--json"] } else { vec![] };
        all.extend_from_slice(&["settle", "--journal", &journal, "--platform", base]);
        all.extend_from_slice(args);
        sscard_env(&all, &[("SSCARD_PLATFORM_TOKEN", token)])
    }
}

/// What the proxy does with the answer of a payment it holds back.
#[derive(Clone, Copy)]
enum Loss {
    /// Closes the terminal's connection at once.
    Drop,
    /// Keeps the terminal waiting (up to a minute): time to kill it.
    Hang,
}

/// A proxy in front of the back office that forwards every request and drops the answers of
/// the first `drops` payments: each is made, the terminal never hears of it.
fn lossy_proxy(upstream: &str, drops: usize) -> String {
    proxy(upstream, drops, Loss::Drop)
}

fn proxy(upstream: &str, drops: usize, loss: Loss) -> String {
    let upstream = upstream.trim_start_matches("http://").to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let drops = Arc::new(AtomicUsize::new(drops));
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (upstream, drops) = (upstream.clone(), drops.clone());
            std::thread::spawn(move || forward(client, &upstream, &drops, loss));
        }
    });
    base
}

/// One request (the head and a Content-Length body) to `upstream`, its answer back, or not.
fn forward(mut client: TcpStream, upstream: &str, drops: &AtomicUsize, loss: Loss) {
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") && request.len() < 64 * 1024 {
        if client.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        request.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&request).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    client.read_exact(&mut body).unwrap();
    // One request per connection, both ways.
    let head: String = head
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let mut server = TcpStream::connect(upstream).unwrap();
    server
        .write_all(format!("{head}Connection: close\r\n\r\n").as_bytes())
        .unwrap();
    server.write_all(&body).unwrap();
    let mut answer = Vec::new();
    server.read_to_end(&mut answer).unwrap();
    let payment = head.starts_with("POST /api/v1/ecard/payments ");
    if payment
        && drops
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    {
        if let Loss::Hang = loss {
            // Until the terminal is killed and its end of the connection closes (bounded).
            let _ = client.set_read_timeout(Some(Duration::from_secs(60)));
            let _ = client.read(&mut byte);
        }
        let _ = client.shutdown(std::net::Shutdown::Both);
        return;
    }
    let _ = client.write_all(&answer);
}

#[test]
fn a_payment_code_pays_from_the_account_with_a_receipt() {
    let desk = Desk::new();
    let service = Service::start(&desk.db);
    let code = desk.code(&service.base, 1);
    let run = desk.settle(
        &service.base,
        &["--qr", &code, "--amount", "12.50", "--self-pay", "3.00"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let out = run.json();
    let receipt = &out["receipt"];
    assert_eq!(out["settled"], true);
    assert_eq!(receipt["kind"], "qr-payment");
    assert!(receipt["payment_id"].as_str().unwrap().starts_with("pay_"));
    assert_eq!(receipt["holder"], "王测试1");
    assert_eq!(receipt["card_number"], "T00000001");
    assert_eq!(receipt["amounts"]["account"], 1250);
    assert_eq!(receipt["amounts"]["self_pay"], 300);
    assert_eq!(receipt["balance_before"], 10_000);
    assert_eq!(receipt["balance_after"], 8750);
    assert_eq!(receipt["terminal_id"], "till-3");
    assert_eq!(receipt["resumed"], false);
    assert_eq!(out["identity"]["ssn"], holder(1).ssn);
    assert_eq!(desk.balance(1), 8750);
    // The journal holds the intent and the receipt, the transaction id on both.
    let journal = std::fs::read_to_string(desk.journal()).unwrap();
    let lines: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{journal}");
    assert_eq!(lines[0]["step"], "intent");
    assert_eq!(lines[1]["step"], "settled");
    assert_eq!(lines[0]["online"]["txn"], receipt["terminal_txn_id"]);
    assert_eq!(lines[1]["online"]["payment"], receipt["payment_id"]);
    // The same code again: the back office refuses the replay, nothing is charged.
    let replay = desk.settle(&service.base, &["--qr", &code, "--amount", "12.50"]);
    assert_eq!(replay.code, 54, "{}{}", replay.stdout, replay.stderr);
    assert_eq!(replay.json()["error"]["kind"], "qr_code_refused");
    assert_eq!(desk.balance(1), 8750);
    // As text: the holder's identity on stderr, the receipt on stdout.
    let code = desk.code(&service.base, 1);
    let text = desk.settle_as(
        &desk.hospital,
        false,
        &service.base,
        &["--qr", &code, "--amount", "1"],
    );
    assert_eq!(text.code, 0, "{}{}", text.stdout, text.stderr);
    assert!(text.stderr.contains("王测试1"), "{}", text.stderr);
    assert!(text.stdout.contains("QR code, online"), "{}", text.stdout);
    assert!(
        text.stdout.contains("余额 balance: 86.50"),
        "{}",
        text.stdout
    );
    assert_eq!(desk.balance(1), 8650);
}

#[test]
fn a_payment_whose_answer_is_lost_is_charged_once_by_the_rerun_or_resume() {
    let desk = Desk::new();
    let service = Service::start(&desk.db);
    let lossy = lossy_proxy(&service.base, 2);
    // The answer lost: unconfirmed (56), the intent open in the journal.
    let code = desk.code(&service.base, 1);
    let lost = desk.settle(&lossy, &["--qr", &code, "--amount", "20"]);
    assert_eq!(lost.code, 56, "{}{}", lost.stdout, lost.stderr);
    assert_eq!(lost.json()["error"]["kind"], "payment_unconfirmed");
    assert!(
        lost.stderr.contains("never charged twice"),
        "{}",
        lost.stderr
    );
    // The back office did pay: the answer was lost on the way back.
    assert_eq!(desk.balance(1), 8000);
    // The rerun with the same code (even with other amounts) completes that payment.
    let rerun = desk.settle(&service.base, &["--qr", &code, "--amount", "99"]);
    assert_eq!(rerun.code, 0, "{}{}", rerun.stdout, rerun.stderr);
    let receipt = rerun.json()["receipt"].clone();
    assert_eq!(receipt["resumed"], true);
    assert_eq!(receipt["amounts"]["account"], 2000);
    assert_eq!(receipt["balance_after"], 8000);
    assert_eq!(desk.balance(1), 8000);
    assert_eq!(desk.payments(), 1);
    // Again: nothing is open any more; the code itself is spent.
    let again = desk.settle(&service.base, &["--qr", &code, "--amount", "20"]);
    assert_eq!(again.code, 54, "{}{}", again.stdout, again.stderr);
    assert_eq!(desk.balance(1), 8000);
    // Lost once more, completed by --resume this time.
    let code = desk.code(&service.base, 1);
    let lost = desk.settle(&lossy, &["--qr", &code, "--amount", "5"]);
    assert_eq!(lost.code, 56, "{}{}", lost.stdout, lost.stderr);
    let resumed = desk.settle(&service.base, &["--resume"]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    let out = resumed.json();
    assert_eq!(out["resumed"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(out["resumed"][0]["balance_after"], 7500);
    assert_eq!(desk.balance(1), 7500);
    assert_eq!(desk.payments(), 2);
    let nothing = desk.settle(&service.base, &["--resume"]);
    assert_eq!(nothing.code, 0, "{}", nothing.stderr);
    assert_eq!(nothing.json()["resumed"].as_array().unwrap().len(), 0);
    // The proxy now passes answers: a payment through it completes at once.
    let code = desk.code(&service.base, 1);
    let through = desk.settle(&lossy, &["--qr", &code, "--amount", "1"]);
    assert_eq!(through.code, 0, "{}{}", through.stdout, through.stderr);
    assert_eq!(desk.balance(1), 7400);
    assert_eq!(desk.payments(), 3);
}

#[test]
fn a_terminal_killed_while_the_payment_is_on_its_way_is_charged_once_by_the_rerun() {
    let desk = Desk::new();
    let service = Service::start(&desk.db);
    let hanging = proxy(&service.base, 1, Loss::Hang);
    let code = desk.code(&service.base, 1);
    let journal = desk.journal();
    let mut till = std::process::Command::new(env!("CARGO_BIN_EXE_sscard"))
        .args([
            "--json",
            "settle",
            "--journal",
            &journal,
            "--platform",
            &hanging,
            "--qr",
            &code,
            "--amount",
            "30",
        ])
        .env("SSCARD_PLATFORM_TOKEN", &desk.hospital)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The back office has paid; the terminal waits for the answer: kill it there (SIGKILL).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while desk.balance(1) == 10_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "the payment never arrived"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        till.try_wait().unwrap().is_none(),
        "the terminal did not wait"
    );
    till.kill().unwrap();
    till.wait().unwrap();
    let lines = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(lines.lines().count(), 1, "{lines}");
    assert!(lines.contains(r#""step":"intent""#), "{lines}");
    // The rerun with the same code: the same payment, charged once.
    let rerun = desk.settle(&service.base, &["--qr", &code, "--amount", "30"]);
    assert_eq!(rerun.code, 0, "{}{}", rerun.stdout, rerun.stderr);
    let receipt = rerun.json()["receipt"].clone();
    assert_eq!(receipt["resumed"], true);
    assert_eq!(receipt["balance_after"], 7000);
    assert_eq!(desk.balance(1), 7000);
    assert_eq!(desk.payments(), 1);
}

#[test]
fn refusals_exit_with_their_own_codes_and_charge_nothing() {
    let desk = Desk::new();
    let service = Service::start(&desk.db);
    // More than the account holds: 40.
    let code = desk.code(&service.base, 2);
    let low = desk.settle(&service.base, &["--qr", &code, "--amount", "5.01"]);
    assert_eq!(low.code, 40, "{}{}", low.stdout, low.stderr);
    assert_eq!(low.json()["error"]["kind"], "balance_too_low");
    assert_eq!(desk.balance(2), 500);
    // Not a code at all: 54, before the back office is asked.
    let junk = desk.settle(&service.base, &["--qr", "hello", "--amount", "1"]);
    assert_eq!(junk.code, 54, "{}{}", junk.stdout, junk.stderr);
    // A bad amount: 49.
    let code = desk.code(&service.base, 2);
    let bad = desk.settle(&service.base, &["--qr", &code, "--amount", "1.234"]);
    assert_eq!(bad.code, 49, "{}{}", bad.stdout, bad.stderr);
    // The card reported lost after the code was shown: 34.
    let store = desk.store();
    desk.rt
        .block_on(store.change_state(
            &holder(2).card_number,
            Action::LossFormal,
            None,
            &Actor::new("test"),
            None,
        ))
        .unwrap();
    let lost = desk.settle(&service.base, &["--qr", &code, "--amount", "1"]);
    assert_eq!(lost.code, 34, "{}{}", lost.stdout, lost.stderr);
    assert_eq!(desk.balance(2), 500);
    // An outlet's credential may not verify or pay: the back office refuses (50).
    let outlet = desk
        .rt
        .block_on(store.add_terminal("BANK-01", Role::Outlet, &Actor::new("test")))
        .unwrap()
        .token;
    let code = desk.code(&service.base, 1);
    let run = desk.settle_as(
        &outlet,
        true,
        &service.base,
        &["--qr", &code, "--amount", "1"],
    );
    assert_eq!(run.code, 50, "{}{}", run.stdout, run.stderr);
    assert_eq!(desk.balance(1), 10_000);
    // No back office: 51, nothing charged.
    let away = desk.settle("http://127.0.0.1:9", &["--qr", &code, "--amount", "1"]);
    assert_eq!(away.code, 51, "{}{}", away.stdout, away.stderr);
}

//! The services end to end: `sscard hsm serve` and `sscard bridge serve` as processes, the
//! national interface's HSM path through the HSM service, the bridge over a card image, and the
//! counter page in headless Chromium (ignored unless scripts/test.sh runs it with a browser).

mod services_support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use host_tools::interface::api::{Arg, Driver};
use serde_json::{json, Value};
use services_support::{exchange, post, run_sscard, test_keys, Images, Served};
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "e2e-token-0123456789abcdef";
const I: Arg<'static> = Arg::Int(3);

/// The sample holder as the counter sees them.
const NAME: &str = "张测试";
const SSN: &str = "110105199001010010";
const CARD_NUMBER: &str = "T0000001X";

fn items(text: &str) -> Vec<&str> {
    text.strip_suffix('|')
        .expect("a list ends with '|'")
        .split('|')
        .collect()
}

fn ok(reply: host_tools::interface::Reply) -> String {
    assert_eq!(reply.code, 0, "{}", reply.out);
    reply.out
}

/// An HSM service process with the TEST keys and a token file.
fn hsm_service(images: &Images) -> Served {
    let token = images.dir.path().join("hsm.token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    Served::start(
        &[
            "hsm",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            token.to_str().unwrap(),
        ],
        &[],
    )
}

/// Asks the HSM service for Step1's pKey: the status and the answer.
async fn ask_hsm(hsm: &Served, group: &str, body: Value, token: &str) -> (u16, Value) {
    let auth = format!("Authorization: Bearer {token}");
    let a = exchange(
        hsm.addr,
        &post(
            &format!("/api/v1/hsm/{group}"),
            &[&auth, "Content-Type: application/json"],
            body.to_string().as_bytes(),
        ),
    )
    .await;
    (a.status, a.json())
}

#[tokio::test]
async fn the_hsm_path_through_sscard_hsm_serve_gives_the_full_11_items() {
    let images = Images::new("e2e-hsm", "3.0");
    // What a terminal with a PSAM reads: the reference.
    let reference = ok(Driver::with_config(images.config(true)).call("iReadCardBas", &[I]));
    let hsm = hsm_service(&images);
    let mut driver = Driver::with_config(images.config(false));
    assert_eq!(
        driver.call("iReadCardBas", &[I]).code,
        -2201,
        "no PSAM: the HSM path"
    );
    let step1 = ok(driver.call("iReadCardBas_HSM_Step1", &[I]));
    // A forged credential gets nothing, and the exchange stays open.
    let (status, answer) = ask_hsm(
        &hsm,
        "read-card-bas",
        json!({ "step1": step1 }),
        "e2e-token-0123456789abcdeX",
    )
    .await;
    assert_eq!(status, 401, "{answer}");
    let (status, answer) = ask_hsm(&hsm, "read-card-bas", json!({ "step1": step1 }), TOKEN).await;
    assert_eq!(status, 200, "{answer}");
    let key = answer["pKey"].as_str().expect("a pKey");
    let bas = ok(driver.call("iReadCardBas_HSM_Step2", &[Arg::Text(Some(key))]));
    let i = items(&bas);
    assert_eq!(i.len(), 11, "{bas}");
    assert_eq!((i[1], i[2], i[4]), (SSN, CARD_NUMBER, NAME));
    assert_eq!(i[9], "000000000000", "no PSAM: twelve zeros");
    assert_eq!(
        bas, reference,
        "the HSM path gives what the PSAM path gives"
    );
}

#[tokio::test]
async fn a_card_the_issuer_did_not_make_is_refused_on_the_hsm_path() {
    // The same holder on a card personalised with another issuer's keys: a counterfeit.
    let other = file_structures::personalise::TEST_KEYS_TOML
        .replace("0011223344556677", "8899AABBCCDDEEFF");
    let counterfeit_keys =
        file_structures::personalise::IssuerKeys::from_toml("counterfeit", &other).unwrap();
    let images = Images::with_keys("e2e-fake", "3.0", &counterfeit_keys);
    let hsm = hsm_service(&images);
    let mut driver = Driver::with_config(images.config(false));
    let step1 = ok(driver.call("iReadCardBas_HSM_Step1", &[I]));
    let (status, answer) = ask_hsm(&hsm, "read-card-bas", json!({ "step1": step1 }), TOKEN).await;
    assert_eq!(status, 200, "{answer}");
    let r = driver.call(
        "iReadCardBas_HSM_Step2",
        &[Arg::Text(Some(answer["pKey"].as_str().unwrap()))],
    );
    assert_eq!(r.code, -21, "{}", r.out);
    assert!(r.out.contains("not a genuine card"), "{}", r.out);
    // Given the card's own answer, the service itself refuses and gives no cryptogram.
    let genuine = Images::new("e2e-genuine", "3.0");
    let mut genuine_driver = Driver::with_config(genuine.config(false));
    let step1 = ok(genuine_driver.call("iReadCardBas_HSM_Step1", &[I]));
    let (status, answer) = ask_hsm(
        &hsm,
        "read-card-bas",
        json!({ "step1": step1, "cardAnswer": "0000000000000000" }),
        TOKEN,
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["kind"], "card_not_genuine");
    assert!(answer.get("pKey").is_none());
    drop(genuine);
}

#[tokio::test]
async fn a_blocked_pin_is_unblocked_and_reloaded_through_the_hsm_service() {
    let images = Images::new("e2e-hsm-pin", "3.0");
    let hsm = hsm_service(&images);
    // Six wrong PINs block it; then the initial PIN verifies (−35: it cannot transact) once
    // unblocked; the reload takes a new PIN twice, which then verifies.
    let pins = format!("{},123456,975310,975310,975310", ["111111"; 6].join(","));
    let mut driver = Driver::with_config(images.config_with_pins(false, &pins));
    for _ in 0..6 {
        driver.call("iVerifyPIN", &[I]);
    }
    let card_info = Arg::Text(Some("110100D156000005544553540000000A|T0000001X|"));
    for (group, function, then) in [
        ("unblock-pin", "iUnblockPIN_HSM", -35),
        ("reload-pin", "iReloadPIN_HSM", 0),
    ] {
        let step1 = ok(driver.call(&format!("{function}_Step1"), &[I, card_info]));
        let algorithm = items(&step1)[2].to_owned();
        let (status, a) = ask_hsm(&hsm, group, json!({ "step1": step1 }), TOKEN).await;
        assert_eq!(status, 200, "{group} step1: {a}");
        let step2 = ok(driver.call(
            &format!("{function}_Step2"),
            &[Arg::Text(a["pKey"].as_str())],
        ));
        let body = json!({ "step2": step2, "algorithm": algorithm });
        let (status, a) = ask_hsm(&hsm, group, body, TOKEN).await;
        assert_eq!(status, 200, "{group} step2: {a}");
        assert_eq!(
            ok(driver.call(
                &format!("{function}_Step3"),
                &[Arg::Text(a["pKey"].as_str())]
            )),
            ""
        );
        assert_eq!(driver.call("iVerifyPIN", &[I]).code, then, "after {group}");
    }
}

/// The HSM debit through `sscard hsm serve`: Step1 on a card whose purse holds 100.00, the
/// service's debit group (refused without the caller's pCardInfo, answered with it), Step2 pays
/// and the back office accepts the card's TAC.
#[tokio::test]
async fn a_debit_through_sscard_hsm_serve_pays_from_the_purse() {
    use host_tools::jobs::settlement::{verify_tac, Amounts, Kind, Receipt};
    let images = Images::new("e2e-hsm-debit", "3.0");
    let layout = file_structures::layout::national("3.0").unwrap();
    let mut holder = host_tools::transport::simcard::sample_holder();
    holder.values.insert("purse_balance".into(), "10000".into());
    let storage = host_tools::transport::simcard::personalised_card(&layout, &holder, &test_keys())
        .unwrap()
        .0;
    host_tools::transport::sim::SimTransport::create_image(&images.card, &storage).unwrap();
    let hsm = hsm_service(&images);
    let pins = "123456,135790,135790,135790";
    let mut driver = Driver::with_config(images.config_with_pins(false, pins));
    assert_eq!(ok(driver.call("iChangePIN", &[I])), "");
    let card_info = "110100D156000005544553540000000A|T0000001X|";
    let step1 = ok(driver.call(
        "iDoDebit_HSM_Step1",
        &[
            I,
            Arg::Text(Some(card_info)),
            Arg::Text(Some("12.50|10.00|20240401093000|")),
        ],
    ));
    assert_eq!(items(&step1).len(), 8, "{step1}");
    let (status, answer) = ask_hsm(&hsm, "debit", json!({ "step1": step1 }), TOKEN).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("cardInfo"));
    let body = json!({ "step1": step1, "cardInfo": card_info });
    let (status, answer) = ask_hsm(&hsm, "debit", body, TOKEN).await;
    assert_eq!(status, 200, "{answer}");
    let key = answer["pKey"].as_str().expect("a pKey");
    assert!(key.starts_with("00000001|20240401093000|"), "{key}");
    let out = ok(driver.call("iDoDebit_HSM_Step2", &[Arg::Text(Some(key))]));
    let o = items(&out);
    assert_eq!(o.len(), 9, "{out}");
    let receipt = Receipt {
        kind: Kind::Purchase,
        card_number: CARD_NUMBER.into(),
        card_id_code: "110100D156000005544553540000000A".into(),
        terminal_no: o[5].into(),
        terminal_serial: Some(o[6].into()),
        serial: 0,
        time: o[7].into(),
        amounts: Amounts::new(1000, 0, 0).unwrap(),
        balance_before: None,
        balance_after: None,
        algorithm: 0x03,
        tac: o[8].into(),
        resumed: false,
    };
    verify_tac(&test_keys(), &layout, &receipt).expect("the back office accepts the TAC");
}

#[test]
fn the_hsm_service_will_not_start_open_or_on_a_public_address_by_accident() {
    let (code, _, err) = run_sscard(&["hsm", "serve", "--listen", "127.0.0.1:0"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs a token"), "{err}");
    let (code, _, err) = run_sscard(
        &[
            "hsm",
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--insecure-no-auth",
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a loopback address"), "{err}");
    let (code, _, err) = run_sscard(
        &["hsm", "serve", "--listen", "127.0.0.1:0"],
        &[("SSCARD_HSM_TOKEN", "short")],
    );
    assert_eq!(code, 10, "{err}");
    let (code, _, err) = run_sscard(&["bridge", "serve", "--listen", "0.0.0.0:0"], &[]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run_sscard(&["bridge", "serve", "--card", "x.card"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("driver configuration"), "{err}");
    let (code, _, err) = run_sscard(
        &[
            "bridge",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            "/nonexistent/SSCardDriver.toml",
        ],
        &[],
    );
    assert_eq!(code, 10, "{err}");
    assert!(err.contains("SSCardDriver.toml"), "{err}");
}

/// A bridge process over the sample card with the PSAM (or `card` instead of the card).
fn bridge(images: &Images, card: Option<&std::path::Path>) -> Served {
    let config = images.config_file("bridge.toml", &images.config_text(card, true));
    Served::start(
        &[
            "bridge",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ],
        &[],
    )
}

#[tokio::test]
async fn the_bridge_reads_a_served_card_in_both_shapes() {
    let images = Images::new("e2e-bridge", "3.0");
    let served = bridge(&images, None);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/", served.addr))
        .await
        .expect("the bridge accepts a local program");
    let mut ask = async |request: Value| -> Value {
        ws.send(Message::text(request.to_string())).await.unwrap();
        loop {
            let m = tokio::time::timeout(Duration::from_secs(20), ws.next())
                .await
                .expect("an answer")
                .expect("open")
                .expect("a message");
            if let Message::Text(t) = m {
                return serde_json::from_str(t.as_str()).unwrap();
            }
        }
    };
    let a = ask(json!({ "function": "iReadCardBas", "iType": 3 })).await;
    assert_eq!(a["functionName"], "iReadCardBas");
    assert_eq!(a["success"], 0, "{a}");
    let out = a["pOutInfo"].as_str().unwrap().to_owned();
    let i = items(&out);
    assert_eq!((i[1], i[4], i[10]), (SSN, NAME, "COUNTER-1"));
    let b = ask(json!({ "func": "iReadCardBas", "in": ["3"] })).await;
    assert_eq!(b, json!({ "result": "0", "out": [out] }));
    let c = ask(json!({ "function": "iReadCardBas", "iType": 9 })).await;
    assert_eq!(c["success"], -1);
}

/// The browser, or None (with the reason printed) when there is none.
fn browser() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|b| {
        std::process::Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        eprintln!("SKIPPED: no chromium (scripts/browser-stack.sh install, as root)");
    }
    found
}

/// Chromium, headless, killed when dropped.
struct Chromium {
    child: std::process::Child,
    _profile: host_tools::testdir::TestDir,
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens `url` in headless Chromium, waits (at most 30 s) until the counter page has finished
/// reading (`body[data-state]` is no longer "reading"), and returns the page's DOM. Driven
/// through the DevTools protocol: a page's WebSocket traffic does not hold --dump-dom.
async fn rendered_dom(browser: &str, url: &str) -> String {
    use std::io::BufRead;
    let profile = host_tools::testdir::TestDir::new("chromium-profile");
    let mut child = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let stderr = child.stderr.take().expect("its stderr");
    let chromium = Chromium {
        child,
        _profile: profile,
    };
    // "DevTools listening on ws://127.0.0.1:PORT/browser/ID"
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(rest) = line.split("DevTools listening on ws://").nth(1) {
                let _ = tx.send(rest.split('/').next().unwrap_or("").to_owned());
            }
        }
    });
    let devtools: std::net::SocketAddr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("chromium says where DevTools listens within 30 s")
        .parse()
        .expect("an address");
    let mut page_socket = None;
    for _ in 0..100 {
        // DevTools names the page's socket after the Host it was asked with.
        let host = format!("Host: {devtools}");
        let list = exchange(devtools, &services_support::get("/json/list", &[&host])).await;
        let targets: Value = serde_json::from_slice(&list.body).unwrap_or(Value::Null);
        page_socket = targets
            .as_array()
            .and_then(|t| {
                t.iter().find(|t| {
                    t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.starts_with(url))
                })
            })
            .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_owned));
        if page_socket.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page_socket = page_socket.expect("chromium opened the page");
    let (mut ws, _) = tokio_tungstenite::connect_async(page_socket)
        .await
        .expect("the page's DevTools socket");
    // Until the page has loaded, an evaluation may meet about:blank or a context the navigation
    // destroys: those answer "" or an error, and are asked again.
    let wait_then_dump = r#"new Promise((resolve) => {
        if (!location.href.startsWith("http")) { resolve(""); return; }
        const started = Date.now();
        const poll = () => {
            const state = document.body && document.body.dataset.state;
            if ((state && state !== "reading") || Date.now() - started > 30000) {
                resolve(document.documentElement.outerHTML);
            } else {
                setTimeout(poll, 50);
            }
        };
        poll();
    })"#;
    let started = std::time::Instant::now();
    let mut id = 0;
    let dom = loop {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "the page did not finish reading within 40 s"
        );
        id += 1;
        let request = json!({
            "id": id,
            "method": "Runtime.evaluate",
            "params": { "expression": wait_then_dump, "awaitPromise": true, "returnByValue": true },
        });
        ws.send(Message::text(request.to_string())).await.unwrap();
        let answer = loop {
            let message = tokio::time::timeout(Duration::from_secs(40), ws.next())
                .await
                .expect("chromium answers within 40 s")
                .expect("the DevTools socket is open")
                .expect("a message");
            if let Message::Text(text) = message {
                let answer: Value = serde_json::from_str(text.as_str()).unwrap();
                if answer["id"] == id {
                    break answer;
                }
            }
        };
        match answer["result"]["result"]["value"].as_str() {
            Some(dom) if !dom.is_empty() => break dom.to_owned(),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    drop(chromium);
    dom
}

/// The text of the element with `id` in a dumped DOM.
fn element_text<'a>(dom: &'a str, id: &str) -> &'a str {
    let open = format!("id=\"{id}\"");
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no #{id} in {dom}"));
    let rest = &dom[start..];
    let text_start = rest.find('>').map_or(0, |i| i + 1);
    let text_end = rest.find("</").unwrap_or(rest.len());
    &rest[text_start..text_end]
}

#[tokio::test]
#[ignore = "browser: needs chromium (scripts/test.sh runs it)"]
async fn the_counter_page_shows_the_holder_of_the_card_in_the_reader() {
    let Some(browser) = browser() else {
        return;
    };
    let images = Images::new("e2e-page", "3.0");
    let served = bridge(&images, None);
    let dom = rendered_dom(browser, &format!("http://{}/", served.addr)).await;
    assert!(dom.contains("data-state=\"shown\""), "{dom}");
    assert_eq!(element_text(&dom, "name"), NAME);
    assert_eq!(element_text(&dom, "ssn"), SSN);
    assert_eq!(element_text(&dom, "card-number"), CARD_NUMBER);
    assert_eq!(element_text(&dom, "validity"), "2024-01-01 – 2034-01-01");
    assert_eq!(element_text(&dom, "error"), "");
}

#[tokio::test]
#[ignore = "browser: needs chromium (scripts/test.sh runs it)"]
async fn the_counter_page_says_in_words_that_there_is_no_card() {
    let Some(browser) = browser() else {
        return;
    };
    let images = Images::new("e2e-page-empty", "3.0");
    let nothing = images.dir.path().join("no-card-here.card");
    let served = bridge(&images, Some(&nothing));
    let dom = rendered_dom(browser, &format!("http://{}/", served.addr)).await;
    assert!(dom.contains("data-state=\"error\""), "{dom}");
    assert!(
        element_text(&dom, "error").contains("No card in the reader"),
        "{dom}"
    );
    assert!(dom.contains("id=\"holder\" hidden"), "{dom}");
    assert_eq!(element_text(&dom, "name"), "");
}

//! The HSM service's HTTP layer, in process, over a recording backend: each group answers an
//! authenticated, well-formed request; every refused request (credential missing or forged,
//! malformed, oversized, inconsistent, a card that is not genuine) gets a 4xx with a JSON reason,
//! and the backend is not asked and the answered count does not move.

mod services_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use host_tools::services::auth::AccessToken;
use host_tools::services::hsm::{
    hsm_router, HsmBackend, HsmCounters, HsmDenial, HsmGroup, HsmQuestion, HsmState, Step,
    HSM_BODY_MAX,
};
use host_tools::services::listener::ConnectionLimits;
use serde_json::json;
use services_support::{exchange, get, post, serve, serve_with, Answer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "test-token-0123456789abcdef";
const AUTH: &str = "Authorization: Bearer test-token-0123456789abcdef";
const JSON: &str = "Content-Type: application/json";
/// A Step1 of iReadCardBas_HSM_Step1's shape (8 items, region = start of the code).
const STEP1: &str = "110100|0081544C308684110154455354|03|110100D156000005544553540000000A|0011223344556677|8899AABBCCDDEEFF|0102030405060708|1112131415161718|";
/// The card's expected internal-authentication result in the recorder's answers.
const EXPECTED: &str = "A1A2A3A4A5A6A7A8";

/// Records every question and answers like an HSM would in shape: `<expected><original>|...|`.
/// A code ending in FFFF is a card the keys did not make; debit is not computed.
#[derive(Default)]
struct Recorder {
    asked: Mutex<Vec<String>>,
}

impl HsmBackend for Recorder {
    fn answer(&self, q: &HsmQuestion<'_>) -> Result<String, HsmDenial> {
        let text = match q.step {
            Step::One(t) => format!("{}:1:{t}", q.group.path()),
            Step::Two { text, algorithm } => format!("{}:2:{algorithm}:{text}", q.group.path()),
        };
        self.asked.lock().unwrap().push(text);
        if q.group == HsmGroup::Debit {
            return Err(HsmDenial::Unsupported("no medical purse yet".into()));
        }
        match q.step {
            Step::One(t) if t.contains("FFFF|") => Err(HsmDenial::NotGenuine(
                "the card identification code is not one the issuer made".into(),
            )),
            Step::One(t) if t.split('|').count() < 7 => Err(HsmDenial::Malformed(
                "the Step1 string has too few items".into(),
            )),
            _ => Ok(format!(
                "{EXPECTED}8899AABBCCDDEEFF|00112233445566778899AABBCCDDEEFF|"
            )),
        }
    }
}

struct Service {
    addr: SocketAddr,
    recorder: Arc<Recorder>,
    counters: Arc<HsmCounters>,
}

impl Service {
    async fn start() -> Self {
        let recorder = Arc::new(Recorder::default());
        let state = HsmState::new(recorder.clone(), AccessToken::new(TOKEN).unwrap());
        let counters = state.counters();
        let addr = serve(hsm_router(state)).await;
        Service {
            addr,
            recorder,
            counters,
        }
    }

    fn asked(&self) -> Vec<String> {
        self.recorder.asked.lock().unwrap().clone()
    }

    async fn post(&self, group: &str, headers: &[&str], body: &[u8]) -> Answer {
        exchange(
            self.addr,
            &post(&format!("/api/v1/hsm/{group}"), headers, body),
        )
        .await
    }

    async fn ask(&self, group: &str, body: serde_json::Value) -> Answer {
        self.post(group, &[AUTH, JSON], body.to_string().as_bytes())
            .await
    }

    /// `answer` is a refusal of `status` and `kind` that changed nothing.
    fn refused_and_unchanged(&self, answer: &Answer, status: u16, kind: &str, what: &str) {
        assert_eq!(answer.status, status, "{what}: {:?}", answer.body);
        assert_eq!(answer.kind(), kind, "{what}");
        let reason = answer.json()["error"]["reason"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        assert!(!reason.is_empty(), "{what}: a refusal says why");
        assert!(self.asked().is_empty(), "{what}: the backend was asked");
        assert_eq!(self.counters.answered(), 0, "{what}");
    }
}

#[tokio::test]
async fn every_group_answers_an_authenticated_step_with_its_pkey() {
    let s = Service::start().await;
    for group in [
        "read-card-bas",
        "read-card",
        "write-card",
        "reload-pin",
        "unblock-pin",
    ] {
        let a = s.ask(group, json!({ "step1": STEP1 })).await;
        assert_eq!(a.status, 200, "{group}: {:?}", a.body);
        assert_eq!(
            a.json()["pKey"],
            format!("{EXPECTED}8899AABBCCDDEEFF|00112233445566778899AABBCCDDEEFF|")
        );
        assert_eq!(a.header("content-type"), Some("application/json"));
    }
    // PIN reload and unblock answer their Step2 too, given Step1's algorithm.
    let step2 = "110100D156000005544553540000000A|0B|0102030405060708|";
    for group in ["reload-pin", "unblock-pin"] {
        let a = s
            .ask(group, json!({ "step2": step2, "algorithm": "03" }))
            .await;
        assert_eq!(a.status, 200, "{group}: {:?}", a.body);
    }
    let asked = s.asked();
    assert_eq!(asked.len(), 7);
    assert_eq!(asked[0], format!("read-card-bas:1:{STEP1}"));
    assert_eq!(asked[5], format!("reload-pin:2:03:{step2}"));
    assert_eq!(s.counters.answered(), 7);
    let status = exchange(
        s.addr,
        &get("/api/v1/hsm/status", &["Host: 127.0.0.1", AUTH]),
    )
    .await;
    assert_eq!(status.status, 200);
    assert_eq!(status.json()["answered"], 7);
}

#[tokio::test]
async fn a_missing_or_forged_credential_is_401_and_changes_nothing() {
    let s = Service::start().await;
    let body = json!({ "step1": STEP1 }).to_string();
    for (headers, what) in [
        (vec![JSON], "no Authorization"),
        (
            vec![JSON, "Authorization: Bearer test-token-0123456789abcdeF"],
            "one character off",
        ),
        (
            vec![JSON, "Authorization: Bearer test-token-0123456789abcdef0"],
            "one character more",
        ),
        (vec![JSON, "Authorization: Bearer "], "empty token"),
        (
            vec![JSON, "Authorization: Basic dGVzdDp0ZXN0"],
            "another scheme",
        ),
        (
            vec![JSON, "Authorization: test-token-0123456789abcdef"],
            "no scheme",
        ),
    ] {
        let a = s.post("read-card-bas", &headers, body.as_bytes()).await;
        s.refused_and_unchanged(&a, 401, "unauthorised", what);
        assert_eq!(a.header("www-authenticate"), Some("Bearer"), "{what}");
    }
    // The status needs the credential too.
    let a = exchange(s.addr, &get("/api/v1/hsm/status", &["Host: 127.0.0.1"])).await;
    assert_eq!(a.status, 401);
    assert_eq!(s.counters.refused(), 7);
}

/// Headers, body, the expected status and kind, what the case is.
type Case<'a> = (Vec<&'a str>, Vec<u8>, u16, &'a str, &'a str);

#[tokio::test]
async fn malformed_requests_are_4xx_with_a_reason_and_change_nothing() {
    let s = Service::start().await;
    let cases: Vec<Case> = vec![
        (
            vec![AUTH, JSON],
            b"{\"step1\": ".to_vec(),
            400,
            "malformed",
            "truncated JSON",
        ),
        (
            vec![AUTH, JSON],
            b"not json".to_vec(),
            400,
            "malformed",
            "not JSON",
        ),
        (
            vec![AUTH, JSON],
            b"[]".to_vec(),
            400,
            "malformed",
            "an array",
        ),
        (
            vec![AUTH, JSON],
            b"{}".to_vec(),
            400,
            "malformed",
            "no step",
        ),
        (
            vec![AUTH, JSON],
            json!({ "step1": STEP1, "pin": "123456" })
                .to_string()
                .into_bytes(),
            400,
            "malformed",
            "an unknown field",
        ),
        (
            vec![AUTH, JSON],
            json!({ "step1": STEP1, "step2": STEP1 })
                .to_string()
                .into_bytes(),
            400,
            "malformed",
            "both steps",
        ),
        (
            vec![AUTH, JSON],
            json!({ "step1": 12 }).to_string().into_bytes(),
            400,
            "malformed",
            "a number for a step",
        ),
        (
            vec![AUTH, JSON],
            json!({ "step1": STEP1.trim_end_matches('|') })
                .to_string()
                .into_bytes(),
            400,
            "malformed",
            "no final '|'",
        ),
        (
            vec![AUTH, JSON],
            json!({ "step1": STEP1.replace("0011", "00\n1") })
                .to_string()
                .into_bytes(),
            400,
            "malformed",
            "a control character",
        ),
        (
            vec![AUTH, JSON],
            json!({ "step1": "A|".repeat(600) })
                .to_string()
                .into_bytes(),
            400,
            "malformed",
            "a step longer than a national buffer",
        ),
        (
            vec![AUTH, JSON],
            json!({ "step1": STEP1.replacen("110100|", "120100|", 1) })
                .to_string()
                .into_bytes(),
            422,
            "forged",
            "a region that is not the card's",
        ),
        (
            vec![AUTH, JSON],
            json!({ "step2": "A|", "algorithm": "03" })
                .to_string()
                .into_bytes(),
            400,
            "malformed",
            "a step2 for a group without one",
        ),
        (
            vec![AUTH, "Content-Type: text/plain"],
            json!({ "step1": STEP1 }).to_string().into_bytes(),
            415,
            "not_json",
            "not declared JSON",
        ),
        (
            vec![AUTH, JSON],
            {
                let mut big = json!({ "step1": STEP1 }).to_string().into_bytes();
                big.extend(std::iter::repeat_n(b' ', HSM_BODY_MAX));
                big
            },
            413,
            "body",
            "a body over the limit",
        ),
    ];
    for (headers, body, status, kind, what) in cases {
        let a = s.post("read-card-bas", &headers, &body).await;
        s.refused_and_unchanged(&a, status, kind, what);
    }
    // Step2 without the algorithm, or with another one.
    for body in [
        json!({ "step2": "A|" }),
        json!({ "step2": "A|", "algorithm": "04" }),
    ] {
        let a = s.ask("reload-pin", body.clone()).await;
        s.refused_and_unchanged(&a, 400, "malformed", &body.to_string());
    }
    let a = s.ask("open-the-vault", json!({ "step1": STEP1 })).await;
    s.refused_and_unchanged(&a, 404, "no_such_group", "an unknown group");
}

#[tokio::test]
async fn a_card_that_is_not_genuine_gets_no_key() {
    let s = Service::start().await;
    // The terminal sends the card's answer: one that is not what the keys give is refused.
    let a = s
        .ask(
            "read-card-bas",
            json!({ "step1": STEP1, "cardAnswer": "A1A2A3A4A5A6A7A9" }),
        )
        .await;
    assert_eq!(a.status, 422, "{:?}", a.body);
    assert_eq!(a.kind(), "card_not_genuine");
    assert!(a.json()["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("card not genuine"));
    assert!(a.json().get("pKey").is_none());
    assert_eq!(s.counters.answered(), 0);
    // The genuine answer (any case) is given its key.
    let a = s
        .ask(
            "unblock-pin",
            json!({ "step1": STEP1, "cardAnswer": "a1a2a3a4a5a6a7a8" }),
        )
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(s.counters.answered(), 1);
    // The backend's own refusal of a card the issuer did not make.
    let fake = STEP1.replace("0000000A|", "0000FFFF|");
    let a = s.ask("read-card-bas", json!({ "step1": fake })).await;
    assert_eq!((a.status, a.kind().as_str()), (422, "card_not_genuine"));
    // A card answer is 16 hex digits, and only for the groups whose Step1 proves the card.
    let a = s
        .ask(
            "read-card-bas",
            json!({ "step1": STEP1, "cardAnswer": "A1A2" }),
        )
        .await;
    assert_eq!((a.status, a.kind().as_str()), (400, "malformed"));
    let a = s
        .ask(
            "write-card",
            json!({ "step1": STEP1, "cardAnswer": EXPECTED }),
        )
        .await;
    assert_eq!((a.status, a.kind().as_str()), (400, "malformed"));
    assert_eq!(s.counters.answered(), 1);
}

#[tokio::test]
async fn the_backends_refusals_are_4xx_or_501_with_its_reason() {
    let s = Service::start().await;
    let short = "110100|00|03|110100D156000005544553540000000A|";
    let a = s.ask("read-card", json!({ "step1": short })).await;
    assert_eq!((a.status, a.kind().as_str()), (422, "forged"));
    assert!(a.json()["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("too few items"));
    let a = s.ask("debit", json!({ "step1": STEP1 })).await;
    assert_eq!((a.status, a.kind().as_str()), (501, "unsupported"));
    assert_eq!(s.counters.answered(), 0);
}

#[tokio::test]
async fn without_a_token_on_purpose_no_credential_is_asked() {
    let recorder = Arc::new(Recorder::default());
    let addr = serve(hsm_router(HsmState::insecure_without_token(
        recorder.clone(),
    )))
    .await;
    let body = json!({ "step1": STEP1 }).to_string();
    let a = exchange(
        addr,
        &post("/api/v1/hsm/read-card-bas", &[JSON], body.as_bytes()),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(recorder.asked.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_stalled_or_idle_connection_is_closed_within_the_idle_bound() {
    let recorder = Arc::new(Recorder::default());
    let limits = ConnectionLimits {
        max_connections: 2,
        idle: Duration::from_millis(300),
    };
    let state = HsmState::new(recorder.clone(), AccessToken::new(TOKEN).unwrap());
    let addr = serve_with(hsm_router(state), limits).await;
    // Half a request head, then nothing: closed, not held.
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"POST /api/v1/hsm/read-card-bas HTTP/1.1\r\nHost: 1")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(3), stalled.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the stalled connection is still open after 3 s"
    );
    // A body announced and never sent: the same.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(&post("/api/v1/hsm/read-card-bas", &[AUTH, JSON], b"")[..])
        .await
        .ok();
    let head = format!(
        "POST /api/v1/hsm/read-card-bas HTTP/1.1\r\nHost: 127.0.0.1\r\n{AUTH}\r\n{JSON}\r\nContent-Length: 100\r\n\r\n{{"
    );
    let mut slow2 = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow2.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(3), slow2.read_to_end(&mut answer)).await;
    assert!(closed.is_ok(), "a half-sent body holds the connection");
    drop(slow);
    assert!(recorder.asked.lock().unwrap().is_empty());
    // The service still answers.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let body = json!({ "step1": STEP1 }).to_string();
    let a = exchange(
        addr,
        &post("/api/v1/hsm/read-card-bas", &[AUTH, JSON], body.as_bytes()),
    )
    .await;
    assert_eq!(a.status, 200);
}

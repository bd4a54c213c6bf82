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

/// Records every question and answers like an HSM would in shape: `<expected><original>|...|`
/// (a debit: `terminal serial|time|MAC1|`). A code ending in FFFF is a card the keys did not
/// make.
#[derive(Default)]
struct Recorder {
    asked: Mutex<Vec<String>>,
}

impl HsmBackend for Recorder {
    fn answer(&self, q: &HsmQuestion<'_>) -> Result<String, HsmDenial> {
        let text = match q.step {
            Step::One(t) if q.group == HsmGroup::Debit => {
                format!("debit:1:{t}:{}", q.card_info.unwrap_or("NONE"))
            }
            Step::One(t) => format!("{}:1:{t}", q.group.path()),
            Step::Two { text, algorithm } => format!("{}:2:{algorithm}:{text}", q.group.path()),
        };
        self.asked.lock().unwrap().push(text);
        if q.group == HsmGroup::Debit {
            return Ok("00000001|20240401093000|A1B2C3D4|".into());
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
    assert_eq!(s.counters.answered(), 0);
    // A backend that cannot compute a group says so: 501.
    let addr = serve(hsm_router(HsmState::insecure_without_token(Arc::new(
        Unable,
    ))))
    .await;
    let body = json!({ "step1": STEP1 }).to_string();
    let a = exchange(
        addr,
        &post("/api/v1/hsm/read-card", &[JSON], body.as_bytes()),
    )
    .await;
    assert_eq!((a.status, a.kind().as_str()), (501, "unsupported"));
}

/// A backend without the computation of any group.
struct Unable;

impl HsmBackend for Unable {
    fn answer(&self, _: &HsmQuestion<'_>) -> Result<String, HsmDenial> {
        Err(HsmDenial::Unsupported(
            "this HSM has no issuer keys loaded".into(),
        ))
    }
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

/// A Step1 of iDoDebit_HSM_Step1's shape (8 items: alg id, key address, random, purchase serial,
/// amount, type, terminal no., time) and the caller's pCardInfo.
const DEBIT_STEP1: &str = "03|32|11223344|0001|10.00|02|000000000000|20240401093000|";
const CARD_INFO: &str = "110100D156000005544553540000000A|T0000001X|";

#[tokio::test]
async fn a_debit_step1_with_the_callers_card_info_is_answered() {
    let s = Service::start().await;
    let a = s
        .ask(
            "debit",
            json!({ "step1": DEBIT_STEP1, "cardInfo": CARD_INFO }),
        )
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.json()["pKey"], "00000001|20240401093000|A1B2C3D4|");
    assert_eq!(
        s.asked(),
        [format!("debit:1:{DEBIT_STEP1}:{CARD_INFO}")],
        "the backend gets the Step1 and the card"
    );
    assert_eq!(s.counters.answered(), 1);
}

#[tokio::test]
async fn a_debit_without_card_info_is_422_and_changes_nothing() {
    let s = Service::start().await;
    let a = s.ask("debit", json!({ "step1": DEBIT_STEP1 })).await;
    s.refused_and_unchanged(&a, 422, "forged", "no cardInfo");
    assert!(a.json()["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("cardInfo"));
    for (info, what) in [
        ("110100D156000005544553540000000A|", "one item"),
        ("110100D15600000554455354000000|T0000001X|", "short code"),
        (
            "110100D156000006544553540000000A|T0000001X|",
            "not a card code",
        ),
    ] {
        let a = s
            .ask("debit", json!({ "step1": DEBIT_STEP1, "cardInfo": info }))
            .await;
        s.refused_and_unchanged(&a, 422, "forged", what);
    }
    // cardInfo belongs to the debit group only.
    let a = s
        .ask(
            "read-card",
            json!({ "step1": STEP1, "cardInfo": CARD_INFO }),
        )
        .await;
    s.refused_and_unchanged(&a, 400, "malformed", "cardInfo elsewhere");
    let a = s
        .ask(
            "debit",
            json!({ "step2": DEBIT_STEP1, "algorithm": "03", "cardInfo": CARD_INFO }),
        )
        .await;
    s.refused_and_unchanged(&a, 400, "malformed", "debit step2");
}

/// The issuer's HSM of this library behind the service: a debit answered with the card's MAC1
/// and the HSM's next terminal serial; a forged Step1 (another key than DPK, a type that is not
/// a purchase, a bad amount, a wrong algorithm, too few items) is 422 and uses no serial.
#[tokio::test]
async fn the_issuer_hsm_answers_debits_and_refuses_forged_ones_without_counting() {
    use host_tools::interface::hsm::Hsm;
    let keys = file_structures::personalise::IssuerKeys::test_keys().unwrap();
    let hsm = Arc::new(Hsm::new(keys));
    let state = HsmState::insecure_without_token(hsm.clone());
    let counters = state.counters();
    let addr = serve(hsm_router(state)).await;
    let ask = |step1: &str| {
        let body = json!({ "step1": step1, "cardInfo": CARD_INFO }).to_string();
        async move { exchange(addr, &post("/api/v1/hsm/debit", &[JSON], body.as_bytes())).await }
    };
    for (forged, what) in [
        (
            "03|80|11223344|0001|10.00|02|000000000000|20240401093000|",
            "external-auth key 80",
        ),
        (
            "03|33|11223344|0001|10.00|02|000000000000|20240401093000|",
            "the TAC key",
        ),
        (
            "03|32|11223344|0001|10.00|01|000000000000|20240401093000|",
            "a load's type",
        ),
        (
            "03|32|11223344|0001|-1.00|02|000000000000|20240401093000|",
            "a negative amount",
        ),
        (
            "03|32|11223344|0001|0.00|02|000000000000|20240401093000|",
            "no amount",
        ),
        (
            "02|32|11223344|0001|10.00|02|000000000000|20240401093000|",
            "SSF33, not held",
        ),
        (
            "03|32|11223344|0001|10.00|02|00000000000X|20240401093000|",
            "terminal number",
        ),
        (
            "03|32|11223344|0001|10.00|02|000000000000|20241301093000|",
            "month 13",
        ),
        (
            "03|32|112233|0001|10.00|02|000000000000|20240401093000|",
            "a short random",
        ),
        ("03|32|11223344|0001|10.00|02|000000000000|", "seven items"),
    ] {
        let a = ask(forged).await;
        assert_eq!(
            (a.status, a.kind().as_str()),
            (422, "forged"),
            "{what}: {:?}",
            a.body
        );
        assert!(!a.json()["error"]["reason"].as_str().unwrap().is_empty());
    }
    assert_eq!((hsm.last_debit_serial(), counters.answered()), (0, 0));
    let a = ask(DEBIT_STEP1).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let key = a.json()["pKey"].as_str().unwrap().to_owned();
    let items: Vec<&str> = key.split('|').collect();
    assert_eq!(items.len(), 4, "{key}");
    assert_eq!(&items[..2], ["00000001", "20240401093000"]);
    assert!(items[2].len() == 8 && items[2].bytes().all(|b| b.is_ascii_hexdigit()));
    // The next debit gets the next serial.
    let again = ask(DEBIT_STEP1).await.json()["pKey"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(again.starts_with("00000002|"), "{again}");
    assert_eq!(hsm.last_debit_serial(), 2);
}

//! The HSM service: HTTP + JSON, one endpoint per group of the national interface's HSM
//! functions. A request carries the Step string the driver produced; the answer is the `pKey`
//! the driver's next Step takes:
//!
//! ```text
//! POST /api/v1/hsm/read-card-bas  {"step1": "..."[, "cardAnswer": "<16 hex>"]}  -> {"pKey": "..."}
//! POST /api/v1/hsm/read-card      {"step1": "..."}                              -> {"pKey": "..."}
//! POST /api/v1/hsm/write-card     {"step1": "..."}                              -> {"pKey": "..."}
//! POST /api/v1/hsm/reload-pin     {"step1": "..."} | {"step2": "...", "algorithm": "03"}
//! POST /api/v1/hsm/unblock-pin    {"step1": "..."} | {"step2": "...", "algorithm": "03"}
//! POST /api/v1/hsm/debit          {"step1": "...", "cardInfo": "<pCardInfo>"}    -> {"pKey": "..."}
//! GET  /api/v1/hsm/status         -> {"answered": n, "refused": n}
//! ```
//!
//! Every request needs `Authorization: Bearer <token>` unless the service was started without a
//! token on purpose ([`HsmState::insecure_without_token`], for tests). A refused request gets a
//! 4xx and `{"error": {"kind", "reason"}}` and the backend is not asked: a malformed, oversized,
//! unauthenticated or inconsistent request changes nothing. Bodies are at most
//! [`HSM_BODY_MAX`] bytes, each string at most [`STEP_MAX`] characters, and a request is answered
//! within [`HSM_REQUEST_TIMEOUT`].
//!
//! The debit group's Step1 string does not carry the card identification code the card's DPK is
//! diversified with: its request carries the caller's pCardInfo (`card identification code | card
//! number |`, what the caller gave iDoDebit_HSM_Step1) as `cardInfo`; a debit request without it
//! is refused (422), and no other group takes it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::auth::AccessToken;
use super::Refusal;
use crate::interface::codes;
use crate::interface::hsm::Hsm;

/// The default address of `sscard hsm serve`.
pub const HSM_DEFAULT_LISTEN: &str = "127.0.0.1:8630";
/// The largest request body.
pub const HSM_BODY_MAX: usize = 8 * 1024;
/// The longest Step string (the national buffers are 1024 bytes, NUL included).
pub const STEP_MAX: usize = 1023;
/// A request not answered by then gets 408.
pub const HSM_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The HSM groups of the national interface, one endpoint each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HsmGroup {
    ReadCardBas,
    ReadCard,
    WriteCard,
    ReloadPin,
    UnblockPin,
    Debit,
}

impl HsmGroup {
    pub const ALL: [HsmGroup; 6] = [
        HsmGroup::ReadCardBas,
        HsmGroup::ReadCard,
        HsmGroup::WriteCard,
        HsmGroup::ReloadPin,
        HsmGroup::UnblockPin,
        HsmGroup::Debit,
    ];

    /// The endpoint's last path segment.
    pub fn path(self) -> &'static str {
        match self {
            HsmGroup::ReadCardBas => "read-card-bas",
            HsmGroup::ReadCard => "read-card",
            HsmGroup::WriteCard => "write-card",
            HsmGroup::ReloadPin => "reload-pin",
            HsmGroup::UnblockPin => "unblock-pin",
            HsmGroup::Debit => "debit",
        }
    }

    pub fn from_path(path: &str) -> Option<HsmGroup> {
        HsmGroup::ALL.into_iter().find(|g| g.path() == path)
    }

    /// Whether the group has a second HSM exchange (PIN reload and unblock answer Step2 too).
    fn has_step2(self) -> bool {
        matches!(self, HsmGroup::ReloadPin | HsmGroup::UnblockPin)
    }

    /// Whether the first item of the group's Step1 answer is the card's expected
    /// internal-authentication result (16 hex), which `cardAnswer` is checked against.
    fn proves_the_card(self) -> bool {
        matches!(
            self,
            HsmGroup::ReadCardBas | HsmGroup::ReloadPin | HsmGroup::UnblockPin
        )
    }
}

/// Which Step string a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// The driver's Step1 output.
    One(&'a str),
    /// The driver's Step2 output (PIN reload and unblock), with Step1's algorithm id.
    Two { text: &'a str, algorithm: &'a str },
}

/// What the backend is asked, after the service has checked the request's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HsmQuestion<'a> {
    pub group: HsmGroup,
    pub step: Step<'a>,
    /// The caller's pCardInfo (the debit group only; checked for shape).
    pub card_info: Option<&'a str>,
}

/// Why the backend does not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HsmDenial {
    /// The Step string is not what the driver produces (422).
    Malformed(String),
    /// The card is not one the issuer keys made (422, kind `card_not_genuine`).
    NotGenuine(String),
    /// The HSM cannot compute this group yet (501).
    Unsupported(String),
}

/// The computation behind the service: the issuer master keys and the card-key derivation.
/// Must be fast; it is called on the service's threads. Its one side effect is the debit group's
/// terminal serial, counted only for a request it answers.
pub trait HsmBackend: Send + Sync + 'static {
    fn answer(&self, question: &HsmQuestion<'_>) -> Result<String, HsmDenial>;
}

/// Counts of what the service did (for operators, and the tests' "nothing changed").
#[derive(Debug, Default)]
pub struct HsmCounters {
    answered: AtomicU64,
    refused: AtomicU64,
}

impl HsmCounters {
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::SeqCst)
    }

    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }
}

/// The service's state: the backend, the token, the counters.
#[derive(Clone)]
pub struct HsmState {
    backend: Arc<dyn HsmBackend>,
    token: Option<Arc<AccessToken>>,
    counters: Arc<HsmCounters>,
}

impl HsmState {
    /// A service that answers only requests bearing `token`.
    pub fn new(backend: Arc<dyn HsmBackend>, token: AccessToken) -> Self {
        HsmState {
            backend,
            token: Some(Arc::new(token)),
            counters: Arc::default(),
        }
    }

    /// A service mounted in another that authenticates every request before it reaches these
    /// routes (the back office guards them with its terminal credentials and roles:
    /// `sscard_platform::api::require_terminal`). It checks no token of its own.
    pub fn behind_service(backend: Arc<dyn HsmBackend>) -> Self {
        HsmState {
            backend,
            token: None,
            counters: Arc::default(),
        }
    }

    /// A service that answers anyone who reaches it (`--insecure-no-auth`, tests only).
    pub fn insecure_without_token(backend: Arc<dyn HsmBackend>) -> Self {
        HsmState {
            backend,
            token: None,
            counters: Arc::default(),
        }
    }

    pub fn counters(&self) -> Arc<HsmCounters> {
        Arc::clone(&self.counters)
    }
}

/// The HSM endpoints under `/api/v1/hsm`, with their body limit, timeout and authentication; the
/// back office mounts the same router in its own service (`Router::merge`).
pub fn hsm_router(state: HsmState) -> Router {
    let counters = state.counters();
    hsm_route_list()
        .into_router()
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(DefaultBodyLimit::max(HSM_BODY_MAX))
        .layer(middleware::from_fn(bounded))
        .layer(middleware::from_fn_with_state(counters, count_refusals))
        .with_state(state)
}

fn hsm_route_list() -> sscard_platform::api::RouteList<HsmState> {
    sscard_platform::api::RouteList::default()
        .get("/api/v1/hsm/status", status)
        .post("/api/v1/hsm/{group}", answer)
}

/// Every HSM route as (method, OpenAPI path): the back office's OpenAPI description lists them,
/// as it mounts them.
pub fn hsm_routes() -> Vec<(&'static str, &'static str)> {
    hsm_route_list().routes().to_vec()
}

/// Every refusal (4xx/5xx, including the extractor's and the router's own) is counted.
async fn count_refusals(
    State(counters): State<Arc<HsmCounters>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if !response.status().is_success() {
        counters.refused.fetch_add(1, Ordering::SeqCst);
    }
    response
}

async fn bounded(request: Request, next: Next) -> Response {
    match tokio::time::timeout(HSM_REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Refusal::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!(
                "the request was not complete within {} s",
                HSM_REQUEST_TIMEOUT.as_secs()
            ),
        )
        .into_response(),
    }
}

async fn authenticate(State(state): State<HsmState>, request: Request, next: Next) -> Response {
    if let Some(token) = &state.token {
        if let Err(refusal) = check_bearer(token, request.headers()) {
            return refusal.into_response();
        }
    }
    next.run(request).await
}

fn check_bearer(token: &AccessToken, headers: &HeaderMap) -> Result<(), Refusal> {
    let unauthorised =
        |reason: &str| Refusal::new(StatusCode::UNAUTHORIZED, "unauthorised", reason);
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorised("the request has no Authorization: Bearer token"))?;
    let presented = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorised("the Authorization header is not 'Bearer <token>'"))?;
    if token.matches(presented) {
        Ok(())
    } else {
        Err(unauthorised("the bearer token is not this service's"))
    }
}

async fn status(State(state): State<HsmState>) -> Json<serde_json::Value> {
    Json(json!({
        "answered": state.counters.answered(),
        "refused": state.counters.refused(),
        "groups": HsmGroup::ALL.map(HsmGroup::path),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HsmRequest {
    step1: Option<String>,
    step2: Option<String>,
    algorithm: Option<String>,
    card_answer: Option<String>,
    card_info: Option<String>,
}

fn malformed(reason: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, "malformed", reason)
}

fn forged(reason: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, "forged", reason)
}

fn not_genuine(reason: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, "card_not_genuine", reason)
}

async fn answer(
    State(state): State<HsmState>,
    Path(group): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, Refusal> {
    let group = HsmGroup::from_path(&group).ok_or_else(|| {
        Refusal::new(
            StatusCode::NOT_FOUND,
            "no_such_group",
            format!(
                "the HSM groups are {}",
                HsmGroup::ALL.map(HsmGroup::path).join(", ")
            ),
        )
    })?;
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !json_body {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_json",
            "the body is JSON: Content-Type: application/json",
        ));
    }
    let body = body.map_err(|e| {
        Refusal::new(
            e.status(),
            "body",
            format!("the body cannot be read (at most {HSM_BODY_MAX} bytes): {e}"),
        )
    })?;
    let request: HsmRequest = serde_json::from_slice(&body)
        .map_err(|e| malformed(format!("the body is not a request of this service: {e}")))?;
    let question = question(group, &request)?;
    let card_answer = match &request.card_answer {
        None => None,
        Some(_) if !group.proves_the_card() => {
            return Err(malformed(format!(
                "cardAnswer belongs to the groups whose Step1 proves the card, not {}",
                group.path()
            )))
        }
        Some(_) if matches!(question.step, Step::Two { .. }) => {
            return Err(malformed("cardAnswer goes with step1, not step2"))
        }
        Some(a) => Some(hex16(a, "cardAnswer")?),
    };
    let key = state
        .backend
        .answer(&question)
        .map_err(|denial| match denial {
            HsmDenial::Malformed(reason) => forged(reason),
            HsmDenial::NotGenuine(reason) => not_genuine(reason),
            HsmDenial::Unsupported(reason) => {
                Refusal::new(StatusCode::NOT_IMPLEMENTED, "unsupported", reason)
            }
        })?;
    if let Some(card) = card_answer {
        // The card's INTERNAL AUTHENTICATE answer must be what its keys give: else the card (or
        // the terminal) is not genuine and it gets no cryptogram.
        let expected = key.get(..16).unwrap_or_default();
        if !expected.eq_ignore_ascii_case(&card) {
            return Err(not_genuine(
                "card not genuine: its internal-authentication answer is not what the issuer keys give",
            ));
        }
    }
    state.counters.answered.fetch_add(1, Ordering::SeqCst);
    Ok(Json(json!({ "pKey": key })))
}

/// The request's Step string, checked for shape: one of step1/step2, printable, bounded, a list
/// ending with '|'; a Step1 names a region that is the start of its card identification code.
fn question<'a>(group: HsmGroup, request: &'a HsmRequest) -> Result<HsmQuestion<'a>, Refusal> {
    let step = match (&request.step1, &request.step2, &request.algorithm) {
        (Some(text), None, None) => Step::One(text),
        (None, Some(text), Some(algorithm)) if group.has_step2() => {
            if !matches!(algorithm.as_str(), "01" | "02" | "03") {
                return Err(malformed("algorithm is Step1's id: 01, 02 or 03"));
            }
            Step::Two { text, algorithm }
        }
        (None, Some(_), None) if group.has_step2() => {
            return Err(malformed("step2 comes with Step1's algorithm id"))
        }
        (None, Some(_), _) => return Err(malformed(format!("{} has no step2", group.path()))),
        _ => {
            return Err(malformed(
                "the request carries step1 (or step2 with algorithm)",
            ))
        }
    };
    let text = match step {
        Step::One(t) | Step::Two { text: t, .. } => t,
    };
    if text.len() > STEP_MAX {
        return Err(malformed(format!(
            "a Step string is at most {STEP_MAX} characters"
        )));
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) || !text.ends_with('|') {
        return Err(malformed(
            "a Step string is printable ASCII items each ending with '|'",
        ));
    }
    let card_info = match (group, &request.card_info) {
        (HsmGroup::Debit, None) => {
            return Err(forged(
                "a debit request carries cardInfo, the caller's pCardInfo ('card identification code|card number|'): Step1 of the debit does not name the card whose key signs",
            ))
        }
        (HsmGroup::Debit, Some(info)) => {
            crate::interface::ops::CardInfo::parse(info)
                .map_err(|f| forged(format!("cardInfo is not a pCardInfo: {}", f.message)))?;
            Some(info.as_str())
        }
        (_, None) => None,
        (other, Some(_)) => {
            return Err(malformed(format!(
                "cardInfo belongs to the debit group, not {}",
                other.path()
            )))
        }
    };
    // The debit's Step1 has no region item: its card is cardInfo's, checked above.
    if let (Step::One(t), false) = (step, group == HsmGroup::Debit) {
        let items: Vec<&str> = t.split('|').collect();
        let (region, code) = (items.first().copied(), items.get(3).copied());
        let consistent = match (region, code) {
            (Some(region), Some(code)) => {
                region.len() == 6
                    && code.len() == 32
                    && code.bytes().all(|b| b.is_ascii_hexdigit())
                    && code.starts_with(region)
            }
            _ => false,
        };
        if !consistent {
            return Err(forged(
                "the Step1 string's region is not the start of its card identification code",
            ));
        }
    }
    Ok(HsmQuestion {
        group,
        step,
        card_info,
    })
}

fn hex16(text: &str, what: &str) -> Result<String, Refusal> {
    if text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_uppercase())
    } else {
        Err(malformed(format!("{what} is 16 hex digits")))
    }
}

/// The issuer's HSM of this library ([`crate::interface::hsm`]) behind the service.
impl HsmBackend for Hsm {
    fn answer(&self, question: &HsmQuestion<'_>) -> Result<String, HsmDenial> {
        let result = match (question.group, question.step) {
            (HsmGroup::ReadCardBas, Step::One(text)) => self.read_card_bas(text),
            (HsmGroup::ReadCard | HsmGroup::WriteCard, Step::One(text)) => self.files(text),
            (HsmGroup::ReloadPin | HsmGroup::UnblockPin, Step::One(text)) => self.pin_step1(text),
            (HsmGroup::ReloadPin, Step::Two { text, algorithm }) => {
                self.reload_step2(algorithm, text)
            }
            (HsmGroup::UnblockPin, Step::Two { text, algorithm }) => {
                self.unblock_step2(algorithm, text)
            }
            (HsmGroup::Debit, Step::One(text)) => match question.card_info {
                Some(info) => self.debit(text, info),
                None => return Err(HsmDenial::Malformed("a debit needs cardInfo".into())),
            },
            (group, Step::Two { .. }) => {
                return Err(HsmDenial::Malformed(format!(
                    "{} has no step2",
                    group.path()
                )))
            }
        };
        result.map_err(|failure| match failure.code {
            codes::FAKE_CARD => HsmDenial::NotGenuine(failure.message),
            _ => HsmDenial::Malformed(failure.message),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_back_office_describes_the_hsm_routes_it_mounts() {
        let spec: serde_json::Value =
            serde_json::from_str(sscard_platform::api::OPENAPI_JSON).unwrap();
        let routes = hsm_routes();
        assert_eq!(routes.len(), 2);
        for (method, path) in routes {
            assert!(
                spec["paths"][path][method].is_object(),
                "{method} {path} is not in openapi.json"
            );
        }
    }

    fn request(step1: Option<&str>, step2: Option<&str>, algorithm: Option<&str>) -> HsmRequest {
        HsmRequest {
            step1: step1.map(str::to_owned),
            step2: step2.map(str::to_owned),
            algorithm: algorithm.map(str::to_owned),
            card_answer: None,
            card_info: None,
        }
    }

    proptest! {
        /// A Step string is accepted only in the shape the driver makes: printable, bounded,
        /// ending with '|', and (Step1) its region the start of its card identification code.
        #[test]
        fn only_well_shaped_steps_reach_the_backend(text in ".{0,80}", region in "[0-9]{6}") {
            let step1 = format!("{region}|00|03|{region}D156000005544553540000000A|{text}|");
            for candidate in [text.clone(), step1] {
                let r = request(Some(&candidate), None, None);
                if let Ok(q) = question(HsmGroup::ReadCardBas, &r) {
                    let Step::One(t) = q.step else { panic!("step1 became step2") };
                    prop_assert!(t.len() <= STEP_MAX && t.ends_with('|'));
                    prop_assert!(t.bytes().all(|b| b.is_ascii_graphic()));
                    let items: Vec<&str> = t.split('|').collect();
                    prop_assert!(items[3].starts_with(items[0]));
                }
            }
        }
    }

    #[test]
    fn step2_goes_with_an_algorithm_and_only_where_there_is_one() {
        let r = request(None, Some("A|"), Some("03"));
        assert!(question(HsmGroup::UnblockPin, &r).is_ok());
        assert!(question(HsmGroup::ReadCardBas, &r).is_err());
        assert!(question(HsmGroup::ReloadPin, &request(None, Some("A|"), None)).is_err());
        assert!(question(HsmGroup::ReloadPin, &request(None, None, None)).is_err());
    }
}

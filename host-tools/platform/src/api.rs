//! The HTTP API under `/api/v1/` (docs/back-office.md, "The API"), its OpenAPI description and
//! the admin page. Every endpoint but `health`, `openapi.json` and the page's HTML needs a
//! terminal credential (`Authorization: Bearer <token>`) whose role allows it. Every error is a
//! JSON `{"error": code, "reason": sentence}` with a 4xx or 5xx status.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use file_structures::personalise::IssuerKeys;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::Role;
use crate::error::PlatformError;
use crate::model::*;
use crate::registry::{Action, Actor, IdempotencyKey, MAX_IDEMPOTENCY_KEY_LEN};
use crate::store::Store;

/// The largest request body accepted (a settlement upload of 1000 records fits).
pub const MAX_BODY_BYTES: usize = 512 * 1024;
/// The header carrying an idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The issuer master keys the TACs of uploaded records are checked with.
    pub keys: Arc<IssuerKeys>,
    /// Credentials seen lately (see [`CREDENTIAL_CACHE_TTL`]).
    pub credentials: Arc<CredentialCache>,
}

impl AppState {
    pub fn new(store: Store, keys: IssuerKeys) -> Self {
        AppState {
            store,
            keys: Arc::new(keys),
            credentials: Arc::default(),
        }
    }
}

/// How long a checked credential is trusted without asking the database again: a revoked
/// terminal is refused at most this long after. It spares every request a second query.
pub const CREDENTIAL_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);
/// The most credentials kept (the cache is emptied when full).
const CREDENTIAL_CACHE_MAX: usize = 10_000;

/// Live credentials by the SHA-256 of their token, with when they were checked.
#[derive(Default)]
pub struct CredentialCache(
    std::sync::Mutex<std::collections::HashMap<String, (String, Role, std::time::Instant)>>,
);

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialCache")
    }
}

impl CredentialCache {
    pub(crate) fn get(&self, hash: &str) -> Option<(String, Role)> {
        let map = self.0.lock().ok()?;
        let (id, role, at) = map.get(hash)?;
        (at.elapsed() < CREDENTIAL_CACHE_TTL).then(|| (id.clone(), *role))
    }

    pub(crate) fn put(&self, hash: String, id: String, role: Role) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= CREDENTIAL_CACHE_MAX {
                map.clear();
            }
            map.insert(hash, (id, role, std::time::Instant::now()));
        }
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub reason: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, reason: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.into(),
            reason: reason.into(),
        }
    }
}

impl From<PlatformError> for ApiError {
    fn from(e: PlatformError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            eprintln!("sscard platform: {e}");
        }
        ApiError {
            status,
            code: e.code(),
            reason: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.code,
                reason: self.reason,
            }),
        )
            .into_response()
    }
}

/// A JSON body whose every rejection (not JSON, malformed, wrong fields, too large) is an
/// [`ApiError`] with the reason.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "body-too-large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "not-json",
        _ => "malformed-json",
    };
    let reason = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("the body is larger than {MAX_BODY_BYTES} bytes")
    } else {
        rejection.body_text()
    };
    ApiError::new(status, code, reason)
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid-query",
        rejection.body_text(),
    )
}

/// The terminal a request comes from, authenticated.
pub struct Caller {
    pub id: String,
    pub role: Role,
}

impl Caller {
    fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "role-not-allowed",
            format!(
                "terminal {} has the role {}; this needs {}",
                self.id,
                self.role.as_str(),
                allowed.join(" or ")
            ),
        ))
    }

    fn actor(&self) -> Actor {
        Actor::new(self.id.clone())
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized = |code: &str, reason: &str| {
            ApiError::new(StatusCode::UNAUTHORIZED, code, reason.to_owned())
        };
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| {
                unauthorized(
                    "credential-missing",
                    "no credential: send Authorization: Bearer <terminal token>",
                )
            })?
            .to_str()
            .map_err(|_| unauthorized("credential-invalid", "the credential is not text"))?;
        let token = value.strip_prefix("Bearer ").ok_or_else(|| {
            unauthorized(
                "credential-invalid",
                "the Authorization header is not Bearer <token>",
            )
        })?;
        let token = token.trim();
        let hash = crate::auth::token_hash(token);
        if let Some((id, role)) = state.credentials.get(&hash) {
            return Ok(Caller { id, role });
        }
        match state.store.authenticate(token).await? {
            Some((id, role)) => {
                state.credentials.put(hash, id.clone(), role);
                Ok(Caller { id, role })
            }
            None => Err(unauthorized(
                "credential-invalid",
                "the credential is not a live terminal credential",
            )),
        }
    }
}

/// The request's idempotency key (scoped to the caller), hashed with what it asks for.
fn idempotency_key(
    headers: &HeaderMap,
    caller: &Caller,
    what: &str,
    body: &impl Serialize,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| {
            !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_LEN && k.bytes().all(|b| b > 0x20)
        })
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid-idempotency-key",
                format!(
                    "the idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible characters"
                ),
            )
        })?;
    let mut hash = Sha256::new();
    hash.update(what.as_bytes());
    hash.update([0]);
    hash.update(serde_json::to_vec(body).unwrap_or_default());
    Ok(Some(IdempotencyKey {
        terminal_id: caller.id.clone(),
        key: key.to_owned(),
        request_sha256: hex::encode(hash.finalize()),
    }))
}

#[derive(Debug, Deserialize)]
struct StatusQuery {
    today: Option<String>,
    amount: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct BlacklistQuery {
    since: Option<i64>,
}

async fn health(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let version = state.store.schema_version().await?;
    Ok(Json(serde_json::json!({
        "status": "ok",
        "backend": format!("{:?}", state.store.backend()).to_lowercase(),
        "schema_version": version,
    })))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

async fn admin_page() -> Html<&'static str> {
    Html(ADMIN_PAGE)
}

async fn card_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(card_number): Path<String>,
    query: Result<Query<StatusQuery>, QueryRejection>,
) -> Result<Json<CardStatus>, ApiError> {
    caller.require(&[Role::Outlet, Role::Hospital, Role::Admin])?;
    let Query(query) = query.map_err(query_rejection)?;
    let status = state
        .store
        .card_status(&card_number, query.today.as_deref(), query.amount)
        .await?;
    Ok(Json(status))
}

async fn card_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(card_number): Path<String>,
) -> Result<Json<Vec<Event>>, ApiError> {
    caller.require(&[Role::Admin])?;
    Ok(Json(state.store.history(&card_number).await?))
}

async fn activation(
    State(state): State<AppState>,
    caller: Caller,
    Path(card_number): Path<String>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<ActivationRequest>,
) -> Result<Json<ActivationOutcome>, ApiError> {
    caller.require(&[Role::Outlet, Role::Admin])?;
    let key = idempotency_key(
        &headers,
        &caller,
        &format!("activation {card_number}"),
        &request,
    )?;
    let outcome = state
        .store
        .record_activation(&card_number, &request, &caller.actor(), key.as_ref())
        .await?;
    Ok(Json(outcome))
}

async fn loss(
    State(state): State<AppState>,
    caller: Caller,
    Path(card_number): Path<String>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<LossRequest>,
) -> Result<Json<StateChange>, ApiError> {
    caller.require(&[Role::Outlet, Role::Admin])?;
    let key = idempotency_key(&headers, &caller, &format!("loss {card_number}"), &request)?;
    let action = match request.kind {
        LossKind::Temporary => Action::LossTemporary,
        LossKind::Formal => Action::LossFormal,
        LossKind::Found => Action::Found,
    };
    let change = state
        .store
        .change_state(
            &card_number,
            action,
            request.note.as_deref(),
            &caller.actor(),
            key.as_ref(),
        )
        .await?;
    Ok(Json(change))
}

async fn cancellation(
    State(state): State<AppState>,
    caller: Caller,
    Path(card_number): Path<String>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CancelRequest>,
) -> Result<Json<StateChange>, ApiError> {
    caller.require(&[Role::Admin])?;
    let key = idempotency_key(
        &headers,
        &caller,
        &format!("cancel {card_number}"),
        &request,
    )?;
    let change = state
        .store
        .change_state(
            &card_number,
            Action::Cancel,
            Some(&request.reason),
            &caller.actor(),
            key.as_ref(),
        )
        .await?;
    Ok(Json(change))
}

async fn account(
    State(state): State<AppState>,
    caller: Caller,
    Path(card_number): Path<String>,
    JsonBody(request): JsonBody<AccountChange>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&[Role::Admin])?;
    let id = state
        .store
        .change_account(&card_number, &request, &caller.actor())
        .await?;
    Ok(Json(serde_json::json!({ "event_id": id })))
}

async fn insurance(
    State(state): State<AppState>,
    caller: Caller,
    Path(ssn): Path<String>,
    JsonBody(request): JsonBody<InsuranceChange>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&[Role::Admin])?;
    let id = state
        .store
        .change_insurance(&ssn, &request, &caller.actor())
        .await?;
    Ok(Json(serde_json::json!({ "event_id": id })))
}

async fn register(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<RegisterRequest>,
) -> Result<Json<RegisterOutcome>, ApiError> {
    caller.require(&[Role::Admin])?;
    Ok(Json(
        state
            .store
            .register_cards(&request.cards, &caller.actor())
            .await?,
    ))
}

async fn settlements(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(request): JsonBody<UploadRequest>,
) -> Result<Json<UploadOutcome>, ApiError> {
    caller.require(&[Role::Hospital, Role::Admin])?;
    let key = idempotency_key(&headers, &caller, "settlements", &request)?;
    let outcome = state
        .store
        .upload_settlements(&request.records, &state.keys, &caller.actor(), key.as_ref())
        .await?;
    Ok(Json(outcome))
}

async fn blacklist(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<BlacklistQuery>, QueryRejection>,
) -> Result<Json<BlacklistDelta>, ApiError> {
    caller.require(&[Role::Outlet, Role::Hospital, Role::Admin])?;
    let Query(query) = query.map_err(query_rejection)?;
    Ok(Json(
        state
            .store
            .blacklist_since(query.since.unwrap_or(0))
            .await?,
    ))
}

async fn terminals(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<TerminalRequest>,
) -> Result<Json<TerminalCredential>, ApiError> {
    caller.require(&[Role::Admin])?;
    Ok(Json(
        state
            .store
            .add_terminal(&request.id, request.role, &caller.actor())
            .await?,
    ))
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no-such-endpoint",
        "no such endpoint (see /api/v1/openapi.json)",
    )
}

/// The OpenAPI description (kept in step with the routes by a test).
pub const OPENAPI_JSON: &str = include_str!("openapi.json");
/// The admin page: plain HTML and JavaScript, the credential from the URL fragment.
pub const ADMIN_PAGE: &str = include_str!("admin.html");

/// Every route as (method, OpenAPI path), the list the OpenAPI test checks.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/health"),
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/cards"),
    ("get", "/api/v1/cards/{card_number}"),
    ("get", "/api/v1/cards/{card_number}/events"),
    ("post", "/api/v1/cards/{card_number}/activation"),
    ("post", "/api/v1/cards/{card_number}/loss"),
    ("post", "/api/v1/cards/{card_number}/cancellation"),
    ("post", "/api/v1/cards/{card_number}/account"),
    ("post", "/api/v1/persons/{ssn}/insurance"),
    ("post", "/api/v1/settlements"),
    ("get", "/api/v1/blacklist"),
    ("post", "/api/v1/terminals"),
];

/// The back office's router: `/api/v1/...` and `/admin`. Merge other routers (the HSM
/// service's) into it with [`Router::merge`] before serving.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/cards", post(register))
        .route("/api/v1/cards/{card_number}", get(card_status))
        .route("/api/v1/cards/{card_number}/events", get(card_events))
        .route("/api/v1/cards/{card_number}/activation", post(activation))
        .route("/api/v1/cards/{card_number}/loss", post(loss))
        .route(
            "/api/v1/cards/{card_number}/cancellation",
            post(cancellation),
        )
        .route("/api/v1/cards/{card_number}/account", post(account))
        .route("/api/v1/persons/{ssn}/insurance", post(insurance))
        .route("/api/v1/settlements", post(settlements))
        .route("/api/v1/blacklist", get(blacklist))
        .route("/api/v1/terminals", post(terminals))
        .route("/api/v1/{*rest}", get(not_found).post(not_found))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    Router::new().route("/admin", get(admin_page)).merge(api)
}

/// Serves `app` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

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

use crate::auth::{Credential, Role};
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
}

impl AppState {
    pub fn new(store: Store, keys: IssuerKeys) -> Self {
        AppState {
            store,
            keys: Arc::new(keys),
        }
    }
}

/// How long a checked credential is trusted without asking the database again. It spares every
/// request a second query. A revocation through the API empties the serving instance's entries
/// at once; other instances (and a revocation made in the database by `sscard platform terminal
/// revoke`) refuse the credential at most this long after: short enough to count as at once,
/// long enough that a busy terminal's requests cost one credential query a second.
pub const CREDENTIAL_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);
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

    /// Forgets every entry of terminal `id` (its credential was just revoked).
    pub fn forget_terminal(&self, id: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.retain(|_, (terminal, _, _)| terminal != id);
        }
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
        match state.store.authenticate_terminal(token).await? {
            Credential::Live { id, role } => Ok(Caller { id, role }),
            Credential::Revoked { id } => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "credential-revoked",
                format!("the credential of terminal {id} was revoked: the back office must issue a new one"),
            )),
            Credential::Unknown => Err(unauthorized(
                "credential-invalid",
                "the credential is not a live terminal credential",
            )),
        }
    }
}

/// Who may pass [`require_terminal`]: the service's state (credentials are checked as for every
/// API route, with the same cache) and the roles allowed.
#[derive(Clone)]
pub struct TerminalGate {
    pub state: AppState,
    pub roles: &'static [Role],
}

/// A middleware that admits a request only with a live terminal credential of one of the gate's
/// roles (`401` / `403` with the reason otherwise): for routes mounted beside the API, such as
/// the HSM service's, so one credential and one set of roles serve the whole service.
pub async fn require_terminal(
    State(gate): State<TerminalGate>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let admitted = match Caller::from_request_parts(&mut parts, &gate.state).await {
        Ok(caller) => caller.require(gate.roles),
        Err(refusal) => Err(refusal),
    };
    match admitted {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(refusal) => refusal.into_response(),
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

async fn revocation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TerminalRevocation>, ApiError> {
    caller.require(&[Role::Admin])?;
    Ok(Json(
        state.store.revoke_terminal(&id, &caller.actor()).await?,
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

/// A router that remembers the method and path of every route it is given, so that the test
/// of the OpenAPI description checks what is served, not a list kept beside it.
pub struct RouteList<S> {
    router: Router<S>,
    routes: Vec<(&'static str, &'static str)>,
}

impl<S: Clone + Send + Sync + 'static> Default for RouteList<S> {
    fn default() -> Self {
        RouteList {
            router: Router::new(),
            routes: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> RouteList<S> {
    pub fn get<H: axum::handler::Handler<T, S>, T: 'static>(
        mut self,
        path: &'static str,
        handler: H,
    ) -> Self {
        self.router = self.router.route(path, get(handler));
        self.routes.push(("get", path));
        self
    }

    pub fn post<H: axum::handler::Handler<T, S>, T: 'static>(
        mut self,
        path: &'static str,
        handler: H,
    ) -> Self {
        self.router = self.router.route(path, post(handler));
        self.routes.push(("post", path));
        self
    }

    pub fn delete<H: axum::handler::Handler<T, S>, T: 'static>(
        mut self,
        path: &'static str,
        handler: H,
    ) -> Self {
        self.router = self.router.route(path, axum::routing::delete(handler));
        self.routes.push(("delete", path));
        self
    }

    /// Every route as (method, OpenAPI path).
    pub fn routes(&self) -> &[(&'static str, &'static str)] {
        &self.routes
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }
}

/// The API's routes under `/api/v1/`.
fn api_routes() -> RouteList<AppState> {
    RouteList::default()
        .get("/api/v1/health", health)
        .get("/api/v1/openapi.json", openapi)
        .post("/api/v1/cards", register)
        .get("/api/v1/cards/{card_number}", card_status)
        .get("/api/v1/cards/{card_number}/events", card_events)
        .post("/api/v1/cards/{card_number}/activation", activation)
        .post("/api/v1/cards/{card_number}/loss", loss)
        .post("/api/v1/cards/{card_number}/cancellation", cancellation)
        .post("/api/v1/cards/{card_number}/account", account)
        .post("/api/v1/persons/{ssn}/insurance", insurance)
        .post("/api/v1/settlements", settlements)
        .get("/api/v1/blacklist", blacklist)
        .post("/api/v1/terminals", terminals)
        .post("/api/v1/terminals/{id}/revocation", revocation)
}

/// Every route of the back office's own API as (method, OpenAPI path); the e-card's are
/// [`crate::ecard::api::routes`].
pub fn routes() -> Vec<(&'static str, &'static str)> {
    api_routes().routes().to_vec()
}

/// The back office's router: `/api/v1/...` and `/admin`. Merge other routers (the HSM
/// service's) into it with [`Router::merge`] before serving.
pub fn router(state: AppState) -> Router {
    let api = api_routes()
        .into_router()
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

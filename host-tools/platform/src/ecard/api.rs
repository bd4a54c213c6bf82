//! The e-card's HTTP API, merged into the back office's router (docs/electronic-card.md,
//! "APIs"): application and login for holders, a holder's QR code, online verification for
//! hospital and pharmacy terminals, the published key set and the offline blacklist.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sscard_ecard::{Blacklist, PublicKeySet, Purpose, Signer, UnixTime, VerifyPolicy};

use super::family;
use super::online::OnlineVerification;
use super::payments::{EcardPayment, PaymentRequest};
use super::{EcardApplication, EcardPassword, EcardView};
use crate::api::{ApiError, JsonBody};
use crate::auth::{Credential, Role};
use crate::registry::Actor;
use crate::store::Store;

/// What the e-card handlers share.
#[derive(Clone)]
pub struct EcardService {
    pub store: Store,
    pub signer: Arc<Signer>,
    pub keys: Arc<PublicKeySet>,
    pub policy: VerifyPolicy,
}

fn error(status: StatusCode, code: &str, reason: &str) -> ApiError {
    ApiError {
        status,
        code: code.into(),
        reason: reason.into(),
    }
}

fn bearer(parts: &Parts) -> Result<String, ApiError> {
    let unauthorized = |reason: &str| error(StatusCode::UNAUTHORIZED, "credential-missing", reason);
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("no credential: send Authorization: Bearer <token>"))?
        .to_str()
        .map_err(|_| unauthorized("the credential is not text"))?;
    value
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_owned())
        .ok_or_else(|| unauthorized("the Authorization header is not Bearer <token>"))
}

/// A holder logged in: the e-card its session belongs to.
pub struct Holder(pub String);

impl FromRequestParts<EcardService> for Holder {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &EcardService) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        match s.store.session_ecard(&token).await? {
            Some(id) => Ok(Holder(id)),
            None => Err(error(
                StatusCode::UNAUTHORIZED,
                "session-invalid",
                "not logged in, or the session expired: log in again",
            )),
        }
    }
}

/// A hospital or pharmacy terminal (or the administration).
pub struct Till(pub Actor);

impl FromRequestParts<EcardService> for Till {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &EcardService) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        match s.store.authenticate_terminal(&token).await? {
            Credential::Live {
                id,
                role: Role::Hospital | Role::Admin,
            } => Ok(Till(Actor::new(id))),
            Credential::Live { id, role } => Err(error(
                StatusCode::FORBIDDEN,
                "role-not-allowed",
                &format!(
                    "terminal {id} has the role {}; this needs hospital or admin",
                    role.as_str()
                ),
            )),
            Credential::Revoked { id } => Err(error(
                StatusCode::UNAUTHORIZED,
                "credential-revoked",
                &format!("the credential of terminal {id} was revoked: the back office must issue a new one"),
            )),
            Credential::Unknown => Err(error(
                StatusCode::UNAUTHORIZED,
                "credential-invalid",
                "the credential is not a live terminal credential",
            )),
        }
    }
}

/// A login: name and social security number (as the apps ask), or the e-card's id (as
/// `sscard ecard show --ecard ID` does); and the e-card password.
#[derive(Deserialize)]
struct Login {
    ssn: Option<String>,
    name: Option<String>,
    ecard: Option<String>,
    password: String,
}

#[derive(Serialize)]
struct Session {
    token: String,
    ecard: EcardView,
}

/// The code a holder's page shows.
#[derive(Debug, Serialize, Deserialize)]
pub struct CodeAnswer {
    pub code: String,
    pub issued_at: u64,
    pub expires_at: u64,
    pub validity_secs: u16,
    /// The code drawn as an SVG document, when asked for with `render=svg` (the holder's page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub svg: Option<String>,
}

/// SVG user units per QR module in a rendered code.
const SVG_MODULE_PX: u32 = 6;

#[derive(Deserialize)]
struct CodeQuery {
    purpose: Option<String>,
    member: Option<String>,
    render: Option<String>,
}

#[derive(Deserialize)]
struct VerifyRequest {
    code: String,
}

async fn apply(
    State(s): State<EcardService>,
    JsonBody(application): JsonBody<EcardApplication>,
) -> Result<Json<EcardView>, ApiError> {
    let actor = Actor::new(format!("holder:{}", application.channel));
    Ok(Json(s.store.apply_ecard(&application, &actor).await?))
}

async fn login(
    State(s): State<EcardService>,
    JsonBody(login): JsonBody<Login>,
) -> Result<Json<Session>, ApiError> {
    let password = EcardPassword::new(&zeroize::Zeroizing::new(login.password))?;
    let (token, ecard) = match (login.ecard, login.ssn, login.name) {
        (Some(id), None, None) => s.store.open_ecard_session(&id, &password).await?,
        (None, Some(ssn), Some(name)) => s.store.open_session(&ssn, &name, &password).await?,
        _ => {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-request",
                "log in with ssn and name, or with ecard, and the password",
            ))
        }
    };
    Ok(Json(Session { token, ecard }))
}

async fn show(
    State(s): State<EcardService>,
    holder: Holder,
    Path(id): Path<String>,
) -> Result<Json<EcardView>, ApiError> {
    family::api::acting_for(&s, &holder, &id, "show").await?;
    Ok(Json(s.store.ecard_view(&id).await?))
}

async fn qr(
    State(s): State<EcardService>,
    holder: Holder,
    Path(id): Path<String>,
    Query(query): Query<CodeQuery>,
) -> Result<Json<CodeAnswer>, ApiError> {
    let purpose = match query.purpose.as_deref() {
        None | Some("identity") => Purpose::Identity,
        Some("payment") => Purpose::Payment,
        Some(_) => {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-request",
                "purpose: identity or payment",
            ))
        }
    };
    let render_svg = match query.render.as_deref() {
        None => false,
        Some("svg") => true,
        Some(_) => {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-request",
                "render: svg, or leave it out",
            ))
        }
    };
    // A member's code: `/ecard/{member}/qr`, or `/ecard/{holder}/qr?member=`, with the
    // holder's session and an active family link. The code names both e-cards.
    let subject = match query.member {
        Some(member) if holder.0 == id => member,
        Some(_) => {
            return Err(error(
                StatusCode::FORBIDDEN,
                "not-your-ecard",
                "this session belongs to another e-card",
            ))
        }
        None => id,
    };
    let action = match purpose {
        Purpose::Identity => "identity-code",
        Purpose::Payment => "payment-code",
    };
    let member = family::api::acting_for(&s, &holder, &subject, action).await?;
    let now = UnixTime::now();
    let code = s
        .store
        .issue_code(&s.signer, &holder.0, member.as_deref(), purpose, now)
        .await?;
    let svg = if render_svg {
        Some(
            sscard_ecard::render::to_svg(&code, SVG_MODULE_PX).map_err(|e| {
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "render-failed",
                    &format!("the code could not be drawn: {e}"),
                )
            })?,
        )
    } else {
        None
    };
    Ok(Json(CodeAnswer {
        code,
        issued_at: now.secs(),
        expires_at: now.secs() + u64::from(s.signer.validity_secs()),
        validity_secs: s.signer.validity_secs(),
        svg,
    }))
}

async fn verify(
    State(s): State<EcardService>,
    Till(actor): Till,
    JsonBody(request): JsonBody<VerifyRequest>,
) -> Result<Json<OnlineVerification>, ApiError> {
    Ok(Json(
        s.store
            .verify_code_online(&request.code, &s.keys, UnixTime::now(), &s.policy, &actor)
            .await?,
    ))
}

async fn pay(
    State(s): State<EcardService>,
    Till(actor): Till,
    JsonBody(request): JsonBody<PaymentRequest>,
) -> Result<Json<EcardPayment>, ApiError> {
    Ok(Json(
        s.store
            .pay_with_token(&request, UnixTime::now(), &actor)
            .await?,
    ))
}

async fn keys(State(s): State<EcardService>) -> Json<PublicKeySet> {
    Json((*s.keys).clone())
}

async fn blacklist(
    State(s): State<EcardService>,
    _till: Till,
) -> Result<Json<Blacklist>, ApiError> {
    Ok(Json(s.store.ecard_blacklist().await?))
}

fn ecard_routes() -> crate::api::RouteList<EcardService> {
    crate::api::RouteList::default()
        .post("/api/v1/ecard/applications", apply)
        .post("/api/v1/ecard/login", login)
        .get("/api/v1/ecard/keys", keys)
        .get("/api/v1/ecard/blacklist", blacklist)
        .post("/api/v1/ecard/verify", verify)
        .get("/api/v1/ecard/{id}", show)
        .post("/api/v1/ecard/payments", pay)
        .get("/api/v1/ecard/{id}/qr", qr)
        .get("/api/v1/ecard/{id}/family", family::api::list)
        .post("/api/v1/ecard/{id}/family", family::api::add)
        .delete("/api/v1/ecard/{id}/family/{member}", family::api::remove)
}

/// Every e-card route as (method, OpenAPI path).
pub fn routes() -> Vec<(&'static str, &'static str)> {
    ecard_routes().routes().to_vec()
}

/// The e-card routes, to `.merge` into the back office's router.
pub fn router(service: EcardService) -> Router {
    ecard_routes()
        .into_router()
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024))
        .with_state(service)
        .merge(super::pages::router())
}

impl EcardService {
    /// The service for `sscard platform serve`: the signing key from `key_file`, or generated
    /// into `data_dir` on the first start; codes valid for `validity_secs`.
    pub fn start(
        store: Store,
        data_dir: &std::path::Path,
        key_file: Option<&std::path::Path>,
        validity_secs: u16,
    ) -> Result<EcardService, crate::ServeError> {
        let key_error = |path: &std::path::Path| {
            let path = path.to_owned();
            move |source| crate::ServeError::EcardKey { path, source }
        };
        let default_path = data_dir.join(super::signing_key::DEFAULT_KEY_FILE);
        let (secret, path) = super::signing_key::load_or_generate(data_dir, key_file)
            .map_err(key_error(key_file.unwrap_or(&default_path)))?;
        let keys = super::signing_key::published(&secret).map_err(key_error(&path))?;
        let signer = Signer::new(&secret).map_err(key_error(&path))?;
        Ok(EcardService {
            store,
            signer: Arc::new(signer.with_validity_secs(validity_secs)),
            keys: Arc::new(keys),
            policy: VerifyPolicy::default(),
        })
    }
}

//! The e-card's HTTP API, merged into the back office's router (docs/electronic-card.md,
//! "APIs"): application and login for holders, a holder's QR code, online verification for
//! hospital and pharmacy terminals, the published key set and the offline blacklist.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sscard_ecard::{Blacklist, PublicKeySet, Purpose, Signer, UnixTime, VerifyPolicy};

use super::online::OnlineVerification;
use super::{EcardApplication, EcardPassword, EcardView};
use crate::api::{ApiError, JsonBody};
use crate::auth::Role;
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
            Some((id, Role::Hospital | Role::Admin)) => Ok(Till(Actor::new(id))),
            Some((id, role)) => Err(error(
                StatusCode::FORBIDDEN,
                "role-not-allowed",
                &format!(
                    "terminal {id} has the role {}; this needs hospital or admin",
                    role.as_str()
                ),
            )),
            None => Err(error(
                StatusCode::UNAUTHORIZED,
                "credential-invalid",
                "the credential is not a live terminal credential",
            )),
        }
    }
}

#[derive(Deserialize)]
struct Login {
    ssn: String,
    name: String,
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
}

#[derive(Deserialize)]
struct CodeQuery {
    purpose: Option<String>,
    member: Option<String>,
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
    let (token, ecard) = s
        .store
        .open_session(&login.ssn, &login.name, &password)
        .await?;
    Ok(Json(Session { token, ecard }))
}

fn own(holder: &Holder, id: &str) -> Result<(), ApiError> {
    if holder.0 == id {
        Ok(())
    } else {
        Err(error(
            StatusCode::FORBIDDEN,
            "not-your-ecard",
            "this session belongs to another e-card",
        ))
    }
}

async fn show(
    State(s): State<EcardService>,
    holder: Holder,
    Path(id): Path<String>,
) -> Result<Json<EcardView>, ApiError> {
    own(&holder, &id)?;
    Ok(Json(s.store.ecard_view(&id).await?))
}

async fn qr(
    State(s): State<EcardService>,
    holder: Holder,
    Path(id): Path<String>,
    Query(query): Query<CodeQuery>,
) -> Result<Json<CodeAnswer>, ApiError> {
    own(&holder, &id)?;
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
    if query.member.is_some() {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-request",
            "member: family accounts are not available yet",
        ));
    }
    let now = UnixTime::now();
    let code = s
        .store
        .issue_code(&s.signer, &id, None, purpose, now)
        .await?;
    Ok(Json(CodeAnswer {
        code,
        issued_at: now.secs(),
        expires_at: now.secs() + u64::from(s.signer.validity_secs()),
        validity_secs: s.signer.validity_secs(),
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

async fn keys(State(s): State<EcardService>) -> Json<PublicKeySet> {
    Json((*s.keys).clone())
}

async fn blacklist(
    State(s): State<EcardService>,
    _till: Till,
) -> Result<Json<Blacklist>, ApiError> {
    Ok(Json(s.store.ecard_blacklist().await?))
}

/// The e-card routes, to `.merge` into the back office's router.
pub fn router(service: EcardService) -> Router {
    Router::new()
        .route("/api/v1/ecard/applications", post(apply))
        .route("/api/v1/ecard/login", post(login))
        .route("/api/v1/ecard/keys", get(keys))
        .route("/api/v1/ecard/blacklist", get(blacklist))
        .route("/api/v1/ecard/verify", post(verify))
        .route("/api/v1/ecard/{id}", get(show))
        .route("/api/v1/ecard/{id}/qr", get(qr))
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024))
        .with_state(service)
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

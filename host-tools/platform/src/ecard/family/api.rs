//! The family routes under `/api/v1/ecard/{id}/family`, for the holder's login session, and
//! the rule the e-card's own routes use to let a holder act for a member.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::{
    Consent, FamilyAddition, FamilyList, FamilyMember, FamilyRemoval, MemberRef, Relationship,
    Remover, NO_FAMILY_LINK,
};
use crate::api::{ApiError, JsonBody};
use crate::ecard::api::{EcardService, Holder};
use crate::ecard::EcardPassword;
use crate::error::PlatformError;
use crate::registry::Actor;

/// The body of an add: the member by e-card id or by social security number and name, the
/// relationship (what the member is to the holder), and the consent: `{"password": "123456"}`
/// (the member's own e-card password) or `{"guardian": true}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddRequest {
    pub member_ecard_id: Option<String>,
    pub member_ssn: Option<String>,
    pub member_name: Option<String>,
    pub relationship: Relationship,
    pub consent: ConsentBody,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    #[serde(default, deserialize_with = "optional_password")]
    pub password: Option<EcardPassword>,
    pub guardian: Option<bool>,
}

fn optional_password<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<EcardPassword>, D::Error> {
    let text: Option<zeroize::Zeroizing<String>> =
        Option::<String>::deserialize(d)?.map(zeroize::Zeroizing::new);
    text.map(|t| EcardPassword::new(&t).map_err(serde::de::Error::custom))
        .transpose()
}

fn invalid(reason: &str) -> ApiError {
    ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "invalid-request".into(),
        reason: reason.into(),
    }
}

impl AddRequest {
    fn addition(self) -> Result<FamilyAddition, ApiError> {
        let member = match (self.member_ecard_id, self.member_ssn, self.member_name) {
            (Some(id), None, None) => MemberRef::Ecard(id),
            (None, Some(ssn), Some(name)) => MemberRef::Person { ssn, name },
            _ => {
                return Err(invalid(
                    "give member_ecard_id, or member_ssn with member_name (not both)",
                ))
            }
        };
        let consent = match (self.consent.password, self.consent.guardian) {
            (Some(password), None) => Consent::Own(password),
            (None, Some(true)) => Consent::Guardian,
            _ => {
                return Err(invalid(
                    "consent: {\"password\": the member's 6-digit e-card password} or {\"guardian\": true}",
                ))
            }
        };
        Ok(FamilyAddition {
            member,
            relationship: self.relationship,
            consent,
        })
    }
}

fn actor(holder: &Holder) -> Actor {
    Actor::new(format!("ecard:{}", holder.0))
}

fn forbidden(reason: &str) -> ApiError {
    ApiError {
        status: StatusCode::FORBIDDEN,
        code: "not-your-ecard".into(),
        reason: reason.into(),
    }
}

/// `GET /api/v1/ecard/{id}/family`: the holder's own family.
pub async fn list(
    State(s): State<EcardService>,
    holder: Holder,
    Path(id): Path<String>,
) -> Result<Json<FamilyList>, ApiError> {
    if holder.0 != id {
        return Err(forbidden("this session belongs to another e-card"));
    }
    Ok(Json(s.store.family(&id).await?))
}

/// `POST /api/v1/ecard/{id}/family`: adds a member with their consent (201).
pub async fn add(
    State(s): State<EcardService>,
    holder: Holder,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<AddRequest>,
) -> Result<(StatusCode, Json<FamilyMember>), ApiError> {
    if holder.0 != id {
        return Err(forbidden("this session belongs to another e-card"));
    }
    let addition = request.addition()?;
    let member = s
        .store
        .add_family_member(&id, &addition, &actor(&holder))
        .await?;
    Ok((StatusCode::CREATED, Json(member)))
}

/// `DELETE /api/v1/ecard/{id}/family/{member}`: the holder removes a member, or a member aged
/// 16 or more removes themselves (with their own session).
pub async fn remove(
    State(s): State<EcardService>,
    session: Holder,
    Path((id, member)): Path<(String, String)>,
) -> Result<Json<FamilyRemoval>, ApiError> {
    let by = if session.0 == id {
        Remover::Holder
    } else if session.0 == member {
        Remover::Member
    } else {
        return Err(forbidden(
            "only the holder, or the member themselves, removes a family link",
        ));
    };
    Ok(Json(
        s.store
            .remove_family_member(&id, &member, by, &actor(&session))
            .await?,
    ))
}

/// Whom a request for the e-card `id` is for: `None` when it is the session's own e-card,
/// `Some(id)` when the session's holder acts for the family member `id` (written to the event
/// log as `action`); 403 `not-your-ecard` otherwise.
pub async fn acting_for(
    s: &EcardService,
    holder: &Holder,
    id: &str,
    action: &str,
) -> Result<Option<String>, ApiError> {
    if holder.0 == id {
        return Ok(None);
    }
    match s.store.act_for(&holder.0, id, action, &actor(holder)).await {
        Ok(()) => Ok(Some(id.to_owned())),
        // The same answer as for any other e-card not the session's (403 `not-your-ecard`).
        Err(e @ PlatformError::Refused { .. }) if e.code() == NO_FAMILY_LINK => {
            Err(forbidden(&e.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

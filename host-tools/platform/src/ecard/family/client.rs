//! The family calls of the blocking [`Client`]: a holder logs in with name, social security
//! number and e-card password, and the session's client lists, adds and removes members.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{FamilyList, FamilyMember, FamilyRemoval, Relationship};
use crate::client::{encode, Client, ClientError};
use crate::ecard::{EcardPassword, EcardView};

/// A holder logged in: a client carrying the session, and the holder's e-card.
#[derive(Debug, Clone)]
pub struct HolderLogin {
    pub client: Client,
    pub ecard: EcardView,
}

#[derive(Deserialize)]
struct SessionAnswer {
    token: String,
    ecard: EcardView,
}

#[derive(Serialize)]
struct LoginBody<'a> {
    ssn: &'a str,
    name: &'a str,
    password: &'a str,
}

/// Who to add, as the add request names them.
#[derive(Debug, Clone)]
pub enum MemberToAdd {
    Ecard(String),
    Person { ssn: String, name: String },
}

/// The consent that goes with an add.
#[derive(Debug, Clone)]
pub enum ConsentToAdd {
    /// The member's own e-card password (a member aged 16 or more).
    Own(EcardPassword),
    /// The holder adds a member under 16 as their guardian.
    Guardian,
}

#[derive(Serialize)]
struct AddBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    member_ecard_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    member_ssn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    member_name: Option<&'a str>,
    relationship: Relationship,
    consent: serde_json::Value,
}

/// Logs a holder in at the back office `base` (`http://127.0.0.1:8620`); every call of the
/// returned client is bounded by `timeout`.
pub fn log_in_holder(
    base: &str,
    ssn: &str,
    name: &str,
    password: &EcardPassword,
    timeout: Duration,
) -> Result<HolderLogin, ClientError> {
    let anonymous = Client::new(base, "", timeout);
    let body = LoginBody {
        ssn,
        name,
        password: password.expose(),
    };
    let answer: SessionAnswer = anonymous.post("ecard/login", &body, None)?;
    let token = zeroize::Zeroizing::new(answer.token);
    Ok(HolderLogin {
        client: Client::new(base, &token, timeout),
        ecard: answer.ecard,
    })
}

impl Client {
    /// The holder's family and the limit (the client's session must be the holder's).
    pub fn ecard_family(&self, holder: &str) -> Result<FamilyList, ClientError> {
        self.get(&format!("ecard/{}/family", encode(holder)))
    }

    /// Adds a member to the holder's family.
    pub fn ecard_family_add(
        &self,
        holder: &str,
        member: &MemberToAdd,
        relationship: Relationship,
        consent: &ConsentToAdd,
    ) -> Result<FamilyMember, ClientError> {
        let (member_ecard_id, member_ssn, member_name) = match member {
            MemberToAdd::Ecard(id) => (Some(id.as_str()), None, None),
            MemberToAdd::Person { ssn, name } => (None, Some(ssn.as_str()), Some(name.as_str())),
        };
        // The password lives in this JSON value only until the request is sent.
        let consent = match consent {
            ConsentToAdd::Own(password) => serde_json::json!({"password": password.expose()}),
            ConsentToAdd::Guardian => serde_json::json!({"guardian": true}),
        };
        let body = AddBody {
            member_ecard_id,
            member_ssn,
            member_name,
            relationship,
            consent,
        };
        self.post(&format!("ecard/{}/family", encode(holder)), &body, None)
    }

    /// Removes `member` from `holder`'s family (the holder's session, or the member's own).
    pub fn ecard_family_remove(
        &self,
        holder: &str,
        member: &str,
    ) -> Result<FamilyRemoval, ClientError> {
        self.delete(&format!(
            "ecard/{}/family/{}",
            encode(holder),
            encode(member)
        ))
    }
}

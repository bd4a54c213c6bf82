//! The family calls of the blocking [`Client`]: the client of a holder's session
//! ([`Client::ecard_login`]) lists, adds and removes members.

use serde::Serialize;

use super::{FamilyList, FamilyMember, FamilyRemoval, Relationship};
use crate::client::{encode, Client, ClientError};
use crate::ecard::EcardPassword;

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
    consent: ConsentBody<'a>,
}

/// The consent as sent: borrowed, so the password is copied only into the wiped body.
#[derive(Serialize)]
#[serde(untagged)]
enum ConsentBody<'a> {
    Own { password: &'a str },
    Guardian { guardian: bool },
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
        let consent = match consent {
            ConsentToAdd::Own(password) => ConsentBody::Own {
                password: password.expose(),
            },
            ConsentToAdd::Guardian => ConsentBody::Guardian { guardian: true },
        };
        let body = AddBody {
            member_ecard_id,
            member_ssn,
            member_name,
            relationship,
            consent,
        };
        self.post_secret(&format!("ecard/{}/family", encode(holder)), &body)
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

//! Family accounts (docs/electronic-card.md, "Family accounts"): a holder adds up to
//! `family_max_members` members, each with consent — a member aged 16 or more gives their own
//! e-card password, a younger one is added by the holder as their guardian — and may then show a
//! member's code and query for them; the member's own account is charged. Every add, refused
//! add, removal and act-for is in the event log.

pub mod api;
pub mod client;
pub(crate) mod schema;

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

use super::{card_refusal, state_of, unknown_ecard, EcardPassword, EcardView};
use crate::error::PlatformError;
use crate::registry::{check_len, Actor};
use crate::store::{int, is_unique_violation, text, Store};
use crate::time;

/// The setting's default: the 8 (some public sources say 10).
pub const DEFAULT_FAMILY_MAX_MEMBERS: u32 = 8;
/// The highest value the setting takes: 10, the most any public source states.
pub const FAMILY_MAX_MEMBERS_CEILING: u32 = 10;
/// From this age a member consents with their own e-card credentials; below it a guardian adds
/// them (the Civil Code's age from which a person living on their own income is treated as
/// having full capacity).
pub const AGE_OF_OWN_CONSENT: u32 = 16;
/// The age of majority: a guardian must have reached it.
pub const ADULT_AGE: u32 = 18;
const SETTING: &str = "family_max_members";

/// What the member is to the holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relationship {
    Spouse,
    Parent,
    Child,
    Grandparent,
    Grandchild,
    Sibling,
    /// The holder is the member's legal guardian without being their parent.
    Ward,
}

impl Relationship {
    pub fn as_str(self) -> &'static str {
        match self {
            Relationship::Spouse => "spouse",
            Relationship::Parent => "parent",
            Relationship::Child => "child",
            Relationship::Grandparent => "grandparent",
            Relationship::Grandchild => "grandchild",
            Relationship::Sibling => "sibling",
            Relationship::Ward => "ward",
        }
    }

    pub fn parse(text: &str) -> Option<Relationship> {
        serde_json::from_value(serde_json::Value::String(text.into())).ok()
    }

    /// The relationships in which the holder is the member's guardian: parent of a `child`,
    /// guardian of a `ward`. Only these add a member under 16.
    pub fn makes_guardian(self) -> bool {
        matches!(self, Relationship::Child | Relationship::Ward)
    }
}

/// How the member consented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentKind {
    /// The member (16 or older) gave their own e-card password.
    Own,
    /// The holder added the member (under 16) as their guardian.
    Guardian,
}

impl ConsentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::Own => "own",
            ConsentKind::Guardian => "guardian",
        }
    }
}

/// One member as the holder sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyMember {
    pub ecard_id: String,
    pub name: String,
    pub relationship: Relationship,
    pub consent: ConsentKind,
    pub added_at: String,
}

/// A holder's family: the limit in force and the active members, oldest link first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyList {
    pub limit: u32,
    pub members: Vec<FamilyMember>,
}

/// Who is to be added: an e-card id, or a social security number with the name.
#[derive(Debug, Clone)]
pub enum MemberRef {
    Ecard(String),
    Person { ssn: String, name: String },
}

/// The consent that goes with an add.
#[derive(Debug, Clone)]
pub enum Consent {
    /// The member's own e-card password (a member aged 16 or more).
    Own(EcardPassword),
    /// The holder declares themselves the guardian (a member under 16).
    Guardian,
}

/// A request to add a member.
#[derive(Debug, Clone)]
pub struct FamilyAddition {
    pub member: MemberRef,
    pub relationship: Relationship,
    pub consent: Consent,
}

/// Who removes a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remover {
    Holder,
    /// The member themselves, when 16 or older.
    Member,
}

/// A removed link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyRemoval {
    pub holder: String,
    pub member: String,
    pub removed_at: String,
}

/// The age in whole years on `today` (`YYYYMMDD`) of the holder of the ID number `ssn`: the
/// birth date is digits 7–14 of an 18-digit number (7–12, in the 1900s, of an old 15-digit
/// one). `None` when the number carries no valid birth date on or before `today`. Someone born
/// on 29 February turns a year older on 1 March in common years.
pub fn age_on(ssn: &str, today: &str) -> Option<u32> {
    if !ssn.is_ascii() {
        return None;
    }
    let birth = match ssn.len() {
        18 => ssn.get(6..14)?.to_owned(),
        15 => format!("19{}", ssn.get(6..12)?),
        _ => return None,
    };
    let birth = time::check_date(&birth)?;
    let today = time::check_date(today)?;
    if birth > today {
        return None;
    }
    let years = |d: &str| d.get(..4).and_then(|y| y.parse::<u32>().ok());
    let (birth_year, this_year) = (years(birth)?, years(today)?);
    let before_birthday = today.get(4..)? < birth.get(4..)?;
    Some(this_year - birth_year - u32::from(before_birthday))
}

pub(crate) fn no_link() -> PlatformError {
    PlatformError::refused(
        NO_FAMILY_LINK,
        "this e-card is not yours, and you hold no family link to it",
    )
}

/// The code of a refusal to act for an e-card without a family link (HTTP 403).
pub const NO_FAMILY_LINK: &str = "no-family-link";

fn member_refusal(r: crate::model::Refusal) -> PlatformError {
    PlatformError::refused(
        "member-ecard-not-working",
        format!("the member's e-card does not work: {}", r.reason),
    )
}

fn check_limit(limit: u32) -> Result<(), PlatformError> {
    if limit <= FAMILY_MAX_MEMBERS_CEILING {
        Ok(())
    } else {
        Err(PlatformError::invalid(
            SETTING,
            format!("0 to {FAMILY_MAX_MEMBERS_CEILING}"),
        ))
    }
}

impl Store {
    /// The setting `family_max_members` in force.
    pub async fn family_max_members(&self) -> Result<u32, PlatformError> {
        let mut conn = self.reader.acquire().await?;
        Self::limit_in(&mut conn).await
    }

    async fn limit_in(conn: &mut sqlx::AnyConnection) -> Result<u32, PlatformError> {
        let row = sqlx::query("SELECT value FROM ecard_settings WHERE name = $1")
            .bind(SETTING)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| PlatformError::Corrupt(format!("the setting {SETTING} is missing")))?;
        u32::try_from(int(&row, "value")?)
            .map_err(|_| PlatformError::Corrupt(format!("the setting {SETTING}")))
    }

    /// Sets `family_max_members` (0 to [`FAMILY_MAX_MEMBERS_CEILING`]). Lowering it removes
    /// nobody: a holder above the new limit adds no one until below it.
    pub async fn set_family_max_members(
        &self,
        limit: u32,
        actor: &Actor,
    ) -> Result<(), PlatformError> {
        check_limit(limit)?;
        self.retrying(|| async {
            let mut tx = self.writer.begin().await?;
            sqlx::query("UPDATE ecard_settings SET value = $1, updated_at = $2 WHERE name = $3")
                .bind(i64::from(limit))
                .bind(time::now_rfc3339())
                .bind(SETTING)
                .execute(&mut *tx)
                .await?;
            Self::append_event(
                &mut tx,
                None,
                None,
                "ecard-setting-changed",
                serde_json::json!({"setting": SETTING, "value": limit}),
                actor,
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// The holder's active family members and the limit.
    pub async fn family(&self, holder: &str) -> Result<FamilyList, PlatformError> {
        super::check_ecard_id(holder)?;
        let mut conn = self.reader.acquire().await?;
        Self::ecard_row(&mut conn, "e.id", holder)
            .await?
            .ok_or_else(unknown_ecard)?;
        let limit = Self::limit_in(&mut conn).await?;
        let rows = sqlx::query(
            "SELECT f.member_ecard_id, p.name, f.relationship, f.consent, f.added_at
             FROM ecard_family f JOIN ecards e ON e.id = f.member_ecard_id
             JOIN persons p ON p.id = e.person_id
             WHERE f.holder_ecard_id = $1 AND f.removed_at IS NULL ORDER BY f.id",
        )
        .bind(holder)
        .fetch_all(&mut *conn)
        .await?;
        let members = rows.iter().map(member_of).collect::<Result<_, _>>()?;
        Ok(FamilyList { limit, members })
    }

    /// `true` while `holder` has an active family link to `member`.
    pub async fn family_link(&self, holder: &str, member: &str) -> Result<bool, PlatformError> {
        let mut conn = self.reader.acquire().await?;
        Self::link_in(&mut conn, holder, member).await
    }

    pub(crate) async fn link_in(
        conn: &mut sqlx::AnyConnection,
        holder: &str,
        member: &str,
    ) -> Result<bool, PlatformError> {
        Ok(sqlx::query(
            "SELECT id FROM ecard_family
             WHERE holder_ecard_id = $1 AND member_ecard_id = $2 AND removed_at IS NULL",
        )
        .bind(holder)
        .bind(member)
        .fetch_optional(&mut *conn)
        .await?
        .is_some())
    }

    /// Adds a member to the working e-card `holder`'s family with the member's consent. A
    /// refusal (`unknown-member`, `self-link`, `member-ecard-not-working`, `age-unknown`,
    /// `guardian-consent-required`, `own-consent-required`, `relationship-not-guardian`,
    /// `wrong-credentials`, `password-locked`, `family-limit`, `already-member`) writes nothing
    /// but its own `ecard-family-add-refused` event.
    pub async fn add_family_member(
        &self,
        holder: &str,
        addition: &FamilyAddition,
        actor: &Actor,
    ) -> Result<FamilyMember, PlatformError> {
        let holder = self.working_ecard(holder).await?;
        match self.add_checked(&holder, addition, actor).await {
            Err(e @ PlatformError::Refused { .. }) => {
                let detail = serde_json::json!({
                    "holder": holder.id,
                    "member": match &addition.member {
                        MemberRef::Ecard(id) => id.as_str(),
                        MemberRef::Person { .. } => "(by social security number)",
                    },
                    "relationship": addition.relationship.as_str(),
                    "refusal": e.code(),
                });
                self.family_event(&holder, "ecard-family-add-refused", detail, actor)
                    .await?;
                Err(e)
            }
            other => other,
        }
    }

    async fn add_checked(
        &self,
        holder: &EcardView,
        addition: &FamilyAddition,
        actor: &Actor,
    ) -> Result<FamilyMember, PlatformError> {
        let member = self.member_row(&addition.member).await?;
        let member_id = text(&member, "id")?;
        if member_id == holder.id {
            return Err(PlatformError::refused(
                "self-link",
                "a holder cannot be their own family member",
            ));
        }
        let age = age_on(&text(&member, "ssn")?, &time::today()).ok_or_else(|| {
            PlatformError::refused(
                "age-unknown",
                "the member's social security number carries no valid birth date",
            )
        })?;
        let consent = match &addition.consent {
            Consent::Own(_) if age < AGE_OF_OWN_CONSENT => {
                return Err(PlatformError::refused(
                    "guardian-consent-required",
                    format!(
                        "the member is under {AGE_OF_OWN_CONSENT}: only a guardian adds them, \
                         stating the relationship"
                    ),
                ))
            }
            Consent::Guardian if age >= AGE_OF_OWN_CONSENT => {
                return Err(PlatformError::refused(
                    "own-consent-required",
                    format!(
                        "the member is {AGE_OF_OWN_CONSENT} or older: they consent with their \
                         own e-card password"
                    ),
                ))
            }
            Consent::Guardian if !addition.relationship.makes_guardian() => {
                return Err(PlatformError::refused(
                    "relationship-not-guardian",
                    "a member under 16 is added only by a parent (relationship child) or \
                     guardian (relationship ward)",
                ))
            }
            Consent::Guardian if age_on(&holder.ssn, &time::today()).unwrap_or(0) < ADULT_AGE => {
                return Err(PlatformError::refused(
                    "guardian-not-adult",
                    format!("a guardian is {ADULT_AGE} or older"),
                ))
            }
            Consent::Guardian => ConsentKind::Guardian,
            Consent::Own(password) => {
                // The member's password, with the member's lockout: a wrong one counts.
                if let Some(r) = card_refusal(
                    state_of(&member)?,
                    &text(&member, "expiry_date")?,
                    &time::today(),
                ) {
                    return Err(member_refusal(r));
                }
                self.check_password(&member, password).await?;
                ConsentKind::Own
            }
        };
        self.retrying(|| {
            self.insert_link(holder, &member_id, addition.relationship, consent, actor)
        })
        .await
    }

    async fn member_row(&self, member: &MemberRef) -> Result<AnyRow, PlatformError> {
        let unknown = || {
            PlatformError::refused(
                "unknown-member",
                "no e-card matches the member given (e-card id, or social security number and name)",
            )
        };
        let mut conn = self.reader.acquire().await?;
        match member {
            MemberRef::Ecard(id) => {
                super::check_ecard_id(id)?;
                Self::ecard_row(&mut conn, "e.id", id)
                    .await?
                    .ok_or_else(unknown)
            }
            MemberRef::Person { ssn, name } => {
                check_len("member_ssn", ssn, 18)?;
                check_len("member_name", name, 40)?;
                let row = Self::ecard_row(&mut conn, "p.ssn", ssn)
                    .await?
                    .ok_or_else(unknown)?;
                if text(&row, "name")? == *name {
                    Ok(row)
                } else {
                    Err(unknown())
                }
            }
        }
    }

    async fn insert_link(
        &self,
        holder: &EcardView,
        member_id: &str,
        relationship: Relationship,
        consent: ConsentKind,
        actor: &Actor,
    ) -> Result<FamilyMember, PlatformError> {
        let mut tx = self.writer.begin().await?;
        let now = time::now_rfc3339();
        // The lock on the holder's row: concurrent adds for one holder count one after the
        // other (PostgreSQL's row lock; SQLite has one writer anyway).
        sqlx::query("UPDATE ecards SET updated_at = $1 WHERE id = $2")
            .bind(&now)
            .bind(&holder.id)
            .execute(&mut *tx)
            .await?;
        // The member's card again, in the transaction: it may have been reported lost since.
        let member = Self::ecard_row(&mut tx, "e.id", member_id)
            .await?
            .ok_or_else(unknown_ecard)?;
        if let Some(r) = card_refusal(
            state_of(&member)?,
            &text(&member, "expiry_date")?,
            &time::today(),
        ) {
            return Err(member_refusal(r));
        }
        let limit = Self::limit_in(&mut tx).await?;
        let active: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM ecard_family
             WHERE holder_ecard_id = $1 AND removed_at IS NULL",
        )
        .bind(&holder.id)
        .fetch_one(&mut *tx)
        .await
        .and_then(|r| sqlx::Row::try_get(&r, "n"))?;
        if Self::link_in(&mut tx, &holder.id, member_id).await? {
            return Err(already_member());
        }
        if active >= i64::from(limit) {
            return Err(limit_reached(limit));
        }
        let (guardian_id, guardian_name) = match consent {
            ConsentKind::Guardian => (Some(holder.id.as_str()), Some(holder.name.as_str())),
            ConsentKind::Own => (None, None),
        };
        let inserted = sqlx::query(
            "INSERT INTO ecard_family (holder_ecard_id, member_ecard_id, relationship, consent,
                guardian_ecard_id, guardian_name, added_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&holder.id)
        .bind(member_id)
        .bind(relationship.as_str())
        .bind(consent.as_str())
        .bind(guardian_id)
        .bind(guardian_name)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(PlatformError::from);
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(already_member()),
            Err(e) if is_limit_violation(&e) => return Err(limit_reached(limit)),
            other => other?,
        };
        let detail = serde_json::json!({
            "holder": holder.id, "member": member_id, "relationship": relationship.as_str(),
            "consent": consent.as_str(), "limit": limit,
        });
        for (card, ssn) in [
            (holder.card_number.clone(), holder.ssn.clone()),
            (text(&member, "card_number")?, text(&member, "ssn")?),
        ] {
            Self::append_event(
                &mut tx,
                Some(&card),
                Some(&ssn),
                "ecard-family-member-added",
                detail.clone(),
                actor,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(FamilyMember {
            ecard_id: member_id.to_owned(),
            name: text(&member, "name")?,
            relationship,
            consent,
            added_at: now,
        })
    }

    /// Ends the link from `holder` to `member`, at once: from then on the holder can neither
    /// show the member's code nor query for them, and a code shown before is refused online.
    /// The holder removes any member; a member removes themselves only when 16 or older.
    pub async fn remove_family_member(
        &self,
        holder: &str,
        member: &str,
        by: Remover,
        actor: &Actor,
    ) -> Result<FamilyRemoval, PlatformError> {
        super::check_ecard_id(holder)?;
        super::check_ecard_id(member)?;
        let holder_view = self.ecard_view(holder).await?;
        let member_view = self.ecard_view(member).await?;
        if by == Remover::Member {
            let age = age_on(&member_view.ssn, &time::today()).unwrap_or(0);
            if age < AGE_OF_OWN_CONSENT {
                return Err(PlatformError::refused(
                    "guardian-removes",
                    format!(
                        "a member under {AGE_OF_OWN_CONSENT} is removed by the holder who added them"
                    ),
                ));
            }
        }
        self.retrying(|| async {
            let mut tx = self.writer.begin().await?;
            let now = time::now_rfc3339();
            let by_text = match by {
                Remover::Holder => "holder",
                Remover::Member => "member",
            };
            let removed = sqlx::query(
                "UPDATE ecard_family SET removed_at = $1, removed_by = $2
                 WHERE holder_ecard_id = $3 AND member_ecard_id = $4 AND removed_at IS NULL",
            )
            .bind(&now)
            .bind(by_text)
            .bind(holder)
            .bind(member)
            .execute(&mut *tx)
            .await?;
            if removed.rows_affected() != 1 {
                return Err(PlatformError::refused(
                    "not-a-member",
                    "this e-card is not in the holder's family",
                ));
            }
            let detail = serde_json::json!({"holder": holder, "member": member, "by": by_text});
            for view in [&holder_view, &member_view] {
                Self::append_event(
                    &mut tx,
                    Some(&view.card_number),
                    Some(&view.ssn),
                    "ecard-family-member-removed",
                    detail.clone(),
                    actor,
                )
                .await?;
            }
            tx.commit().await?;
            Ok(FamilyRemoval {
                holder: holder.to_owned(),
                member: member.to_owned(),
                removed_at: now,
            })
        })
        .await
    }

    /// The logged-in `holder` acts for `member` (`action`: `show`, `identity-code`,
    /// `payment-code`): allowed only over an active family link, and written to the event log
    /// either way (`ecard-family-acted-for` or `ecard-family-act-refused`, on the member's
    /// card). Refused with [`NO_FAMILY_LINK`] without a link.
    pub async fn act_for(
        &self,
        holder: &str,
        member: &str,
        action: &str,
        actor: &Actor,
    ) -> Result<(), PlatformError> {
        super::check_ecard_id(member)?;
        let member_view = match self.ecard_view(member).await {
            Err(e) if e.code() == "unknown-ecard" => return Err(no_link()),
            other => other?,
        };
        let linked = self.family_link(holder, member).await?;
        let kind = if linked {
            "ecard-family-acted-for"
        } else {
            "ecard-family-act-refused"
        };
        let detail = serde_json::json!({"holder": holder, "member": member, "action": action});
        self.family_event(&member_view, kind, detail, actor).await?;
        if linked {
            Ok(())
        } else {
            Err(no_link())
        }
    }

    async fn family_event(
        &self,
        on: &EcardView,
        kind: &str,
        detail: serde_json::Value,
        actor: &Actor,
    ) -> Result<(), PlatformError> {
        self.retrying(|| async {
            let mut tx = self.writer.begin().await?;
            Self::append_event(
                &mut tx,
                Some(&on.card_number),
                Some(&on.ssn),
                kind,
                detail.clone(),
                actor,
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

fn member_of(row: &AnyRow) -> Result<FamilyMember, PlatformError> {
    let relationship = text(row, "relationship")?;
    let consent = text(row, "consent")?;
    Ok(FamilyMember {
        ecard_id: text(row, "member_ecard_id")?,
        name: text(row, "name")?,
        relationship: Relationship::parse(&relationship)
            .ok_or_else(|| PlatformError::Corrupt(format!("relationship {relationship:?}")))?,
        consent: match consent.as_str() {
            "own" => ConsentKind::Own,
            "guardian" => ConsentKind::Guardian,
            _ => return Err(PlatformError::Corrupt(format!("consent {consent:?}"))),
        },
        added_at: text(row, "added_at")?,
    })
}

fn already_member() -> PlatformError {
    PlatformError::refused("already-member", "this member is in the family already")
}

fn limit_reached(limit: u32) -> PlatformError {
    PlatformError::refused(
        "family-limit",
        format!(
            "a holder may have at most {limit} family members (the setting family_max_members)"
        ),
    )
}

/// The limit trigger's refusal, should the code's own count ever have missed a concurrent add.
fn is_limit_violation(error: &PlatformError) -> bool {
    matches!(error, PlatformError::Database(sqlx::Error::Database(db))
        if db.message().contains("family-limit"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_comes_from_the_birth_date_in_the_number() {
        let ssn = "110105201012150012"; // born 2010-12-15
        assert_eq!(age_on(ssn, "20261214"), Some(15));
        assert_eq!(age_on(ssn, "20261215"), Some(16));
        assert_eq!(age_on(ssn, "20101215"), Some(0));
        assert_eq!(age_on(ssn, "20101214"), None, "born after today");
        assert_eq!(age_on("110105200002290012", "20160228"), Some(15));
        assert_eq!(age_on("110105200002290012", "20160229"), Some(16));
        assert_eq!(age_on("110105200002290012", "20170228"), Some(16));
        assert_eq!(age_on("110105200002290012", "20180301"), Some(18));
        assert_eq!(age_on("110105580315123", "20261201"), Some(68), "15-digit");
        assert_eq!(age_on("110105201013150012", "20261201"), None, "month 13");
        assert_eq!(age_on("11010520101215001", "20261201"), None, "17 digits");
        assert_eq!(age_on("1101052010121500１", "20261201"), None, "not ASCII");
    }

    proptest::proptest! {
        /// Whole years since the birth date, one more on each birthday, never for a date
        /// before the birth; any surrounding digits of the number change nothing.
        #[test]
        fn age_counts_birthdays(
            (by, bm, bd) in (1900u32..2100, 1u32..=12, 1u32..=31),
            (years, tm, td) in (0u32..120, 1u32..=12, 1u32..=31),
            region in 0u32..1_000_000, serial in 0u32..10_000,
        ) {
            let ssn = format!("{region:06}{by:04}{bm:02}{bd:02}{serial:04}");
            let today = format!("{:04}{tm:02}{td:02}", by + years);
            let before_birthday = (tm, td) < (bm, bd);
            let expected = match (years, before_birthday) {
                (0, true) => None,
                (n, b) => Some(n - u32::from(b)),
            };
            proptest::prop_assert_eq!(age_on(&ssn, &today), expected);
        }
    }

    #[test]
    fn only_parent_and_guardian_relationships_make_a_guardian() {
        let guardians: Vec<_> = [
            Relationship::Spouse,
            Relationship::Parent,
            Relationship::Child,
            Relationship::Grandparent,
            Relationship::Grandchild,
            Relationship::Sibling,
            Relationship::Ward,
        ]
        .into_iter()
        .filter(|r| r.makes_guardian())
        .collect();
        assert_eq!(guardians, [Relationship::Child, Relationship::Ward]);
        assert_eq!(Relationship::parse("ward"), Some(Relationship::Ward));
        assert_eq!(Relationship::parse("cousin"), None);
    }
}

//! Holder sessions: a login with name, social security number and e-card password gives a
//! bearer token for the holder's own e-card, valid for [`SESSION_SECS`].

use sha2::{Digest, Sha256};

use super::{EcardPassword, EcardView};
use crate::error::PlatformError;
use crate::store::{text, Store};

/// How long a holder's login lasts.
pub const SESSION_SECS: u64 = 30 * 60;
/// Tokens start with this, so a leaked one is recognisable.
pub const SESSION_PREFIX: &str = "ssce_";

fn now_secs() -> u64 {
    sscard_ecard::UnixTime::now().secs()
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Logs in and opens a session: its token and the e-card.
    pub async fn open_session(
        &self,
        ssn: &str,
        name: &str,
        password: &EcardPassword,
    ) -> Result<(String, EcardView), PlatformError> {
        let view = self.ecard_login(ssn, name, password).await?;
        self.start_session(view).await
    }

    /// Logs in with the e-card's id and password (the same count of wrong passwords) and
    /// opens a session; an id the back office does not hold is `wrong-credentials` too.
    pub async fn open_ecard_session(
        &self,
        id: &str,
        password: &EcardPassword,
    ) -> Result<(String, EcardView), PlatformError> {
        let view = match self.authorised(id, password).await {
            Err(PlatformError::Refused { code, .. }) if code == "unknown-ecard" => {
                return Err(PlatformError::refused(
                    "wrong-credentials",
                    "the e-card, or the password, is wrong",
                ))
            }
            other => other?,
        };
        self.start_session(view).await
    }

    async fn start_session(&self, view: EcardView) -> Result<(String, EcardView), PlatformError> {
        let token = crate::auth::new_token()
            .map_err(|e| PlatformError::Corrupt(format!("no random token: {e}")))?
            .replacen(crate::auth::TOKEN_PREFIX, SESSION_PREFIX, 1);
        sqlx::query("DELETE FROM ecard_sessions WHERE expires_at < $1")
            .bind(now_secs() as i64)
            .execute(&self.writer)
            .await?;
        sqlx::query(
            "INSERT INTO ecard_sessions (token_sha256, ecard_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(hash(&token))
        .bind(&view.id)
        .bind((now_secs() + SESSION_SECS) as i64)
        .execute(&self.writer)
        .await?;
        Ok((token, view))
    }

    /// The e-card id a live session token belongs to.
    pub async fn session_ecard(&self, token: &str) -> Result<Option<String>, PlatformError> {
        if token.len() > crate::auth::MAX_TOKEN_LEN || !token.starts_with(SESSION_PREFIX) {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT ecard_id FROM ecard_sessions WHERE token_sha256 = $1 AND expires_at >= $2",
        )
        .bind(hash(token))
        .bind(now_secs() as i64)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| text(&r, "ecard_id")).transpose()
    }
}

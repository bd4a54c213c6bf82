//! The client terminals use (blocking, every call bounded by a timeout): the activation outlet,
//! the diagnostics counter and the settlement till; and the e-card's calls, a holder's
//! (apply, log in, show, a code) and a hospital terminal's (verify, keys, blacklist).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use sscard_ecard::{Blacklist, PublicKeySet, Purpose};

use crate::api::IDEMPOTENCY_HEADER;
use crate::ecard::api::CodeAnswer;
use crate::ecard::online::OnlineVerification;
use crate::ecard::payments::{EcardPayment, PaymentRequest};
use crate::ecard::{EcardPassword, EcardView};
use crate::model::*;

/// The default bound on one call (connect, send, answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read.
const MAX_ANSWER_BYTES: u64 = 8 * 1024 * 1024;

/// Why a call to the back office failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer (refused connection, timeout, reset): the request may or may not have been
    /// applied; repeat it with the same idempotency key.
    #[error("the back office at {url} did not answer: {detail}")]
    Unreachable { url: String, detail: String },
    /// The back office answered with an error: `code` is stable, `reason` one sentence.
    #[error("the back office refused ({status} {code}): {reason}")]
    Refused {
        status: u16,
        code: String,
        reason: String,
    },
    #[error("the back office's answer is not what was expected: {0}")]
    BadAnswer(String),
}

impl ClientError {
    /// The stable code of a refusal (`reported-lost`, `unknown-card`, ...).
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A terminal's connection to the back office.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    /// `None` for the calls that need no credential (an e-card application, a login).
    authorization: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("authorization", &"Bearer <redacted>")
            .finish()
    }
}

impl Client {
    /// `base` is the service's URL (`http://127.0.0.1:8620`), `token` the terminal credential.
    pub fn new(base: &str, token: &str, timeout: Duration) -> Client {
        Client {
            agent: ureq::AgentBuilder::new()
                .timeout_connect(timeout)
                .timeout(timeout)
                .build(),
            base: base.trim_end_matches('/').to_owned(),
            authorization: Some(format!("Bearer {token}")),
        }
    }

    /// A client without a credential: for an e-card application and a holder's login.
    pub fn anonymous(base: &str, timeout: Duration) -> Client {
        Client {
            authorization: None,
            ..Client::new(base, "", timeout)
        }
    }

    /// The same connection with another credential (a holder's session token).
    pub fn with_token(&self, token: &str) -> Client {
        Client {
            authorization: Some(format!("Bearer {token}")),
            ..self.clone()
        }
    }

    fn authorised(&self, mut request: ureq::Request) -> ureq::Request {
        if let Some(authorization) = &self.authorization {
            request = request.set("Authorization", authorization);
        }
        request
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/{path}", self.base)
    }

    fn answer<T: DeserializeOwned>(
        &self,
        url: &str,
        result: Result<ureq::Response, ureq::Error>,
    ) -> Result<T, ClientError> {
        use std::io::Read;
        let read = |response: ureq::Response| -> Result<Vec<u8>, ClientError> {
            let mut body = Vec::new();
            response
                .into_reader()
                .take(MAX_ANSWER_BYTES)
                .read_to_end(&mut body)
                .map_err(|e| ClientError::Unreachable {
                    url: url.into(),
                    detail: e.to_string(),
                })?;
            Ok(body)
        };
        match result {
            Ok(response) => serde_json::from_slice(&read(response)?)
                .map_err(|e| ClientError::BadAnswer(e.to_string())),
            Err(ureq::Error::Status(status, response)) => {
                let body = read(response)?;
                let error: ErrorBody =
                    serde_json::from_slice(&body).unwrap_or_else(|_| ErrorBody {
                        error: "http-error".into(),
                        reason: String::from_utf8_lossy(&body).chars().take(200).collect(),
                    });
                Err(ClientError::Refused {
                    status,
                    code: error.error,
                    reason: error.reason,
                })
            }
            Err(ureq::Error::Transport(t)) => Err(ClientError::Unreachable {
                url: url.into(),
                detail: t.to_string(),
            }),
        }
    }

    pub(crate) fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = self.url(path);
        let result = self.authorised(self.agent.get(&url)).call();
        self.answer(&url, result)
    }

    pub(crate) fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        idempotency_key: Option<&str>,
    ) -> Result<T, ClientError> {
        let url = self.url(path);
        let mut request = self.authorised(self.agent.post(&url));
        if let Some(key) = idempotency_key {
            request = request.set(IDEMPOTENCY_HEADER, key);
        }
        let body = serde_json::to_value(body).map_err(|e| ClientError::BadAnswer(e.to_string()))?;
        let result = request.send_json(body);
        self.answer(&url, result)
    }

    pub(crate) fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = self.url(path);
        let result = self.authorised(self.agent.delete(&url)).call();
        self.answer(&url, result)
    }

    /// The card's status and what it may do (`today` `YYYYMMDD`; `amount` in fen also checks
    /// the balance). A settlement terminal calls this before paying.
    pub fn card_status(
        &self,
        card_number: &str,
        today: Option<&str>,
        amount: Option<i64>,
    ) -> Result<CardStatus, ClientError> {
        let mut query = Vec::new();
        if let Some(today) = today {
            query.push(format!("today={}", encode(today)));
        }
        if let Some(amount) = amount {
            query.push(format!("amount={amount}"));
        }
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        self.get(&format!("cards/{}{query}", encode(card_number)))
    }

    /// Records an activation; `idempotency_key` = the activation journal's attempt id, so a
    /// lost answer is repeated safely.
    pub fn record_activation(
        &self,
        card_number: &str,
        request: &ActivationRequest,
        idempotency_key: &str,
    ) -> Result<ActivationOutcome, ClientError> {
        self.post(
            &format!("cards/{}/activation", encode(card_number)),
            request,
            Some(idempotency_key),
        )
    }

    pub fn report_loss(
        &self,
        card_number: &str,
        request: &LossRequest,
        idempotency_key: Option<&str>,
    ) -> Result<StateChange, ClientError> {
        self.post(
            &format!("cards/{}/loss", encode(card_number)),
            request,
            idempotency_key,
        )
    }

    /// Cancels the card (admin).
    pub fn cancel(
        &self,
        card_number: &str,
        request: &CancelRequest,
        idempotency_key: Option<&str>,
    ) -> Result<StateChange, ClientError> {
        self.post(
            &format!("cards/{}/cancellation", encode(card_number)),
            request,
            idempotency_key,
        )
    }

    /// Uploads offline settlement records (at most 1000); each gets its verdict.
    pub fn upload_settlements(
        &self,
        records: &[SettlementRecord],
        idempotency_key: Option<&str>,
    ) -> Result<UploadOutcome, ClientError> {
        self.post(
            "settlements",
            &UploadRequest {
                records: records.to_vec(),
            },
            idempotency_key,
        )
    }

    /// Blacklist changes after `since`.
    pub fn blacklist_since(&self, since: i64) -> Result<BlacklistDelta, ClientError> {
        self.get(&format!("blacklist?since={since}"))
    }

    pub fn history(&self, card_number: &str) -> Result<Vec<Event>, ClientError> {
        self.get(&format!("cards/{}/events", encode(card_number)))
    }

    /// Verifies an e-card QR code online (a hospital or pharmacy terminal): the identity, and
    /// for a payment code the one-time settlement token [`Client::pay_with_token`] spends.
    pub fn verify_code(&self, code: &str) -> Result<OnlineVerification, ClientError> {
        self.post("ecard/verify", &serde_json::json!({ "code": code }), None)
    }

    /// Pays from the medical account with a settlement token. Sending the same
    /// `terminal_txn_id` again (the answer lost) returns the same payment.
    pub fn pay_with_token(&self, request: &PaymentRequest) -> Result<EcardPayment, ClientError> {
        self.post("ecard/payments", request, None)
    }

    /// A request whose body holds a secret (an e-card password): the serialised body is wiped
    /// once sent.
    pub(crate) fn post_secret<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let url = self.url(path);
        let bytes = zeroize::Zeroizing::new(
            serde_json::to_vec(body).map_err(|e| ClientError::BadAnswer(e.to_string()))?,
        );
        let result = self
            .authorised(self.agent.post(&url))
            .set("Content-Type", "application/json")
            .send_bytes(&bytes);
        self.answer(&url, result)
    }

    /// Applies for an e-card (no credential: the name, number, consent and the card's state
    /// are what the back office checks).
    pub fn apply_ecard(
        &self,
        application: &EcardApplicationRequest<'_>,
    ) -> Result<EcardView, ClientError> {
        self.post_secret("ecard/applications", application)
    }

    /// Logs a holder in, named by e-card id or by social security number and name: the one
    /// login of every holder command. The session's client bears the holder's token.
    pub fn ecard_login(
        &self,
        who: &EcardLogin<'_>,
        password: &EcardPassword,
    ) -> Result<EcardSession, ClientError> {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(flatten)]
            who: &'a EcardLogin<'a>,
            password: &'a str,
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            token: String,
            ecard: EcardView,
        }
        let answer: Answer = self.post_secret(
            "ecard/login",
            &Body {
                who,
                password: password.expose(),
            },
        )?;
        let token = zeroize::Zeroizing::new(answer.token);
        Ok(EcardSession {
            client: self.with_token(&token),
            ecard: answer.ecard,
        })
    }

    /// The holder's e-card (a holder's session).
    pub fn ecard(&self, id: &str) -> Result<EcardView, ClientError> {
        self.get(&format!("ecard/{}", encode(id)))
    }

    /// A fresh QR code of the holder's e-card (a holder's session).
    pub fn ecard_code(&self, id: &str, purpose: Purpose) -> Result<CodeAnswer, ClientError> {
        self.get(&format!("ecard/{}/qr?purpose={purpose}", encode(id)))
    }

    /// Verifies a code online (a hospital or admin terminal): the holder's identity.
    pub fn verify_ecard_code(&self, code: &str) -> Result<OnlineVerification, ClientError> {
        #[derive(Serialize)]
        struct Body<'a> {
            code: &'a str,
        }
        self.post("ecard/verify", &Body { code }, None)
    }

    /// The platform's published keys, for offline verification.
    pub fn ecard_keys(&self) -> Result<PublicKeySet, ClientError> {
        self.get("ecard/keys")
    }

    /// The e-card blacklist snapshot an offline terminal caches (a hospital or admin terminal).
    pub fn ecard_blacklist(&self) -> Result<Blacklist, ClientError> {
        self.get("ecard/blacklist")
    }
}

/// An application for an e-card, as a holder's app sends it.
#[derive(Debug, Serialize)]
pub struct EcardApplicationRequest<'a> {
    pub ssn: &'a str,
    pub name: &'a str,
    pub consent_privacy_terms: bool,
    pub channel: &'a str,
    #[serde(serialize_with = "expose_password")]
    pub password: &'a EcardPassword,
}

fn expose_password<S: serde::Serializer>(p: &&EcardPassword, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.expose())
}

/// Who logs in: the e-card's id, or name and social security number as the apps ask.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum EcardLogin<'a> {
    Ecard { ecard: &'a str },
    Person { ssn: &'a str, name: &'a str },
}

/// A holder logged in: a client bearing the session's token, and the e-card as the login saw it.
#[derive(Debug, Clone)]
pub struct EcardSession {
    pub client: Client,
    pub ecard: EcardView,
}

/// Percent-encodes a path segment or query value (everything but unreserved characters).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A terminal's copy of the blacklist: the version it is current to and the listed cards. It is
/// brought up to date from the back office when it answers, and used as it is when not (the
/// offline fallback, with the terminal's own lost-list file beside it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BlacklistCache {
    pub version: i64,
    pub listed: std::collections::BTreeSet<String>,
}

/// Why the cached blacklist could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("the blacklist cache {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the blacklist cache {path} is not one: {source}")]
    Format {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The largest cache file read (a national blacklist of ten million cards is far below).
const MAX_CACHE_BYTES: u64 = 512 * 1024 * 1024;

impl BlacklistCache {
    /// The cache in `path`; empty when the file does not exist yet.
    pub fn load(path: &std::path::Path) -> Result<BlacklistCache, CacheError> {
        use std::io::Read;
        let io = |source| CacheError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(BlacklistCache::default())
            }
            Err(e) => return Err(io(e)),
        };
        let mut text = Vec::new();
        file.take(MAX_CACHE_BYTES)
            .read_to_end(&mut text)
            .map_err(io)?;
        serde_json::from_slice(&text).map_err(|source| CacheError::Format {
            path: path.display().to_string(),
            source,
        })
    }

    /// Writes the cache whole (a temporary file, synced, renamed over the old one).
    pub fn save(&self, path: &std::path::Path) -> Result<(), CacheError> {
        use std::io::Write;
        let io = |source| CacheError::Io {
            path: path.display().to_string(),
            source,
        };
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_vec(self).map_err(|source| CacheError::Format {
            path: path.display().to_string(),
            source,
        })?;
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(&text).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Applies the back office's changes since [`BlacklistCache::version`], page by page.
    pub fn sync(&mut self, client: &Client) -> Result<usize, ClientError> {
        let mut applied = 0;
        // Bounded: a back office that keeps saying "more" cannot hold the terminal forever.
        for _ in 0..10_000 {
            let delta = client.blacklist_since(self.version)?;
            for change in &delta.changes {
                if change.listed {
                    self.listed.insert(change.card_number.to_ascii_uppercase());
                } else {
                    self.listed.remove(&change.card_number.to_ascii_uppercase());
                }
                applied += 1;
            }
            if delta.version < self.version {
                // The back office's list was started again: start again from it.
                self.listed.clear();
            }
            self.version = delta.version;
            if !delta.more {
                break;
            }
        }
        Ok(applied)
    }

    pub fn contains(&self, card_number: &str) -> bool {
        self.listed.contains(&card_number.to_ascii_uppercase())
    }
}

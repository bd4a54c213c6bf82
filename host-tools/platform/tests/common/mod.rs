//! The harness of the back office's tests: a store on SQLite (a fresh file) or on PostgreSQL (a
//! fresh database on the server `SSCARD_TEST_POSTGRES_URL` names), the service on 127.0.0.1:0,
//! an admin credential, and test data.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use file_structures::personalise::IssuerKeys;
use sqlx::Connection;
use sscard_ecard::{PlatformSecretKey, PublicKeySet, Signer, VerifyPolicy};
use sscard_platform::ecard::api::EcardService;
use sscard_platform::ecard::{EcardApplication, EcardPassword, EcardView};
use sscard_platform::model::*;
use sscard_platform::registry::Actor;
use sscard_platform::{auth::Role, router, AppState, Client, Store};

pub const POSTGRES_ENV: &str = "SSCARD_TEST_POSTGRES_URL";

/// The password the test e-cards are applied for with.
pub const ECARD_PASSWORD: &str = "246810";

/// A platform signing key pair: the signer of codes and the key set that verifies them.
pub struct PlatformKeys {
    pub signer: Arc<Signer>,
    pub keys: PublicKeySet,
}

impl PlatformKeys {
    /// A fresh key, signing codes valid for `validity_secs`.
    pub fn generate_valid_for(validity_secs: u16) -> PlatformKeys {
        let secret = PlatformSecretKey::generate().unwrap();
        let mut keys = PublicKeySet::new();
        keys.insert(secret.public_key().clone()).unwrap();
        let signer = Signer::new(&secret)
            .unwrap()
            .with_validity_secs(validity_secs);
        PlatformKeys {
            signer: Arc::new(signer),
            keys,
        }
    }

    /// A fresh key, signing codes of the default validity.
    pub fn generate() -> PlatformKeys {
        PlatformKeys::generate_valid_for(sscard_ecard::DEFAULT_VALIDITY_SECS)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct Harness {
    pub rt: tokio::runtime::Runtime,
    pub store: Store,
    pub base: String,
    pub admin_token: String,
    pub url: String,
    _dir: Option<tempdir::Dir>,
    drop_db: Option<(String, String)>,
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A fresh database URL of the kind asked for.
pub fn fresh_url(db: Db) -> (String, Option<tempdir::Dir>, Option<(String, String)>) {
    match db {
        Db::Sqlite => {
            let dir = std::env::temp_dir().join(format!("sscard-platform-test-{}", unique()));
            std::fs::create_dir_all(&dir).unwrap();
            let url = format!("sqlite:{}", dir.join("registry.db").display());
            (url, Some(tempdir::Dir(dir)), None)
        }
        Db::Postgres => {
            let server = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
                panic!("{POSTGRES_ENV} is not set (scripts/postgres-stack.sh)")
            });
            let name = format!("sscard_t_{}", unique());
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            });
            let (head, _) = server.rsplit_once('/').unwrap();
            let tail = server
                .rsplit_once('/')
                .and_then(|(_, t)| t.split_once('?').map(|(_, q)| format!("?{q}")))
                .unwrap_or_default();
            (format!("{head}/{name}{tail}"), None, Some((server, name)))
        }
    }
}

impl Harness {
    pub fn new(db: Db) -> Harness {
        let (url, dir, drop_db) = fresh_url(db);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap();
        let store = rt.block_on(Store::open(&url)).unwrap();
        let admin = rt
            .block_on(store.add_terminal("admin-1", Role::Admin, &Actor::new("test")))
            .unwrap();
        let app = router(AppState::new(
            store.clone(),
            IssuerKeys::test_keys().unwrap(),
        ));
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        rt.spawn(sscard_platform::serve(
            listener,
            app,
            std::future::pending(),
        ));
        Harness {
            rt,
            store,
            base,
            admin_token: admin.token,
            url,
            _dir: dir,
            drop_db,
        }
    }

    pub fn client(&self, token: &str) -> Client {
        Client::new(&self.base, token, Duration::from_secs(20))
    }

    pub fn admin(&self) -> Client {
        self.client(&self.admin_token)
    }

    /// A new terminal of `role`; its token.
    pub fn terminal(&self, id: &str, role: Role) -> String {
        self.rt
            .block_on(self.store.add_terminal(id, role, &Actor::new("test")))
            .unwrap()
            .token
    }

    pub fn register(&self, cards: &[CardRegistration]) -> RegisterOutcome {
        self.rt
            .block_on(self.store.register_cards(cards, &Actor::new("test")))
            .unwrap()
    }

    /// Row counts of every table: a refused request must leave them all as they were.
    pub fn counts(&self) -> Vec<(String, i64)> {
        self.rt.block_on(async {
            let mut out = Vec::new();
            for table in [
                "persons",
                "cards",
                "events",
                "terminals",
                "idempotency",
                "settlements",
                "blacklist",
            ] {
                let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                    .fetch_one(&raw_pool(&self.url).await)
                    .await
                    .unwrap();
                out.push((table.to_owned(), n));
            }
            out
        })
    }

    /// The e-card routes (API and pages) on a port of their own, signing with a fresh key whose
    /// codes are valid for `validity_secs`: the base URL and the signer.
    pub fn serve_ecard(&self, validity_secs: u16) -> (String, Arc<Signer>) {
        let platform = PlatformKeys::generate_valid_for(validity_secs);
        (self.serve_ecard_with(&platform), platform.signer)
    }

    /// The e-card routes (API and pages) on a port of their own, signing and verifying with
    /// `platform`'s keys: the base URL.
    pub fn serve_ecard_with(&self, platform: &PlatformKeys) -> String {
        let app = sscard_platform::ecard::api::router(EcardService {
            store: self.store.clone(),
            signer: platform.signer.clone(),
            keys: Arc::new(platform.keys.clone()),
            policy: VerifyPolicy::default(),
        });
        let listener = self
            .rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        self.rt.spawn(sscard_platform::serve(
            listener,
            app,
            std::future::pending(),
        ));
        base
    }

    /// `c` registered and its card activated on 2024-03-15 by `actor`.
    pub fn register_activated(&self, c: &CardRegistration, actor: &Actor) {
        self.register(std::slice::from_ref(c));
        self.rt
            .block_on(self.store.record_activation(
                &c.card_number,
                &activation("20240315"),
                actor,
                None,
            ))
            .unwrap();
    }

    /// `c` registered and activated, with an e-card applied for through the city app with
    /// [`ECARD_PASSWORD`]: the e-card.
    pub fn ecard_holder(&self, c: &CardRegistration, actor: &Actor) -> EcardView {
        self.register_activated(c, actor);
        self.rt
            .block_on(self.store.apply_ecard(
                &EcardApplication {
                    ssn: c.ssn.clone(),
                    name: c.name.clone(),
                    consent_privacy_terms: true,
                    channel: "city-app".into(),
                    password: EcardPassword::new(ECARD_PASSWORD).unwrap(),
                },
                actor,
            ))
            .unwrap()
    }

    /// The e-card `ecard_id` linked to the card's account for settlement (level 2: payment).
    pub fn link_settlement(&self, ecard_id: &str, actor: &Actor) {
        self.rt
            .block_on(self.store.set_settlement_link(ecard_id, true, actor))
            .unwrap();
    }

    /// The details of `card`'s events of `kind`, oldest first.
    pub fn events(&self, card: &str, kind: &str) -> Vec<serde_json::Value> {
        self.rt
            .block_on(self.store.history(card))
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.detail)
            .collect()
    }

    pub fn state_of(&self, card: &str) -> CardState {
        self.rt
            .block_on(self.store.card_status(card, None, None))
            .unwrap()
            .state
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some((server, name)) = self.drop_db.take() {
            let _ = self.rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&server).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
            });
        }
    }
}

/// A pool straight on the database, for checks behind the service's back.
pub async fn raw_pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap()
}

/// (status, body) of an HTTP request, with `token` as the bearer credential when given.
pub fn call(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request = ureq::request(method, url);
    if let Some(t) = token {
        request = request.set("Authorization", &format!("Bearer {t}"));
    }
    let result = match body {
        Some(b) => request.send_json(b),
        None => request.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let status = response.status();
    (
        status,
        response.into_json().unwrap_or(serde_json::Value::Null),
    )
}

/// Test card `i`: its own holder, national 3.0, issued 2024-01-01.
pub fn card(i: u32) -> CardRegistration {
    CardRegistration {
        card_number: format!("T{i:08}"),
        card_id_code: format!("110100D15600000554455354{i:08X}"),
        ssn: format!("11010519900101{:04}", i % 10_000),
        name: format!("测试{i}"),
        issue_date: "20240101".into(),
        expiry_date: "20340101".into(),
        version: "3.0".into(),
        online_mode: false,
        supersedes: None,
    }
}

pub fn activation(date: &str) -> ActivationRequest {
    ActivationRequest {
        date: date.into(),
        outlet: "BANK-0001".into(),
        terminal: "T-42".into(),
        card_id_code: None,
        ssn: None,
    }
}

/// A purchase record with the TAC the card would compute (its DTK from the TEST issuer keys).
pub fn purchase(
    card: &CardRegistration,
    serial: u16,
    balance_before: u32,
    amount: u32,
) -> SettlementRecord {
    sscard_platform::simulate::signed_purchase(
        &IssuerKeys::test_keys().unwrap(),
        &card.card_number,
        &card.card_id_code,
        &card.version,
        serial,
        balance_before,
        amount,
        "20250601120000",
    )
    .unwrap()
}

/// Defines `mod $name { fn sqlite(); fn postgres() }` running `$body(Db)` on each backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::common::Db::Sqlite)
            }
            #[test]
            #[ignore = "postgres: needs SSCARD_TEST_POSTGRES_URL (scripts/test.sh runs it)"]
            fn postgres() {
                super::$name(super::common::Db::Postgres)
            }
        }
    )*};
}

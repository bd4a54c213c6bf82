//! Throughput of e-card QR codes (docs/performance.md, "Electronic card QR codes at the back
//! office"), all on one thread in the same run: the bare SM2 signature check, offline
//! verification, signing, and online verification through the service's HTTP API (signature,
//! validity, card state and the nonce insert in the database) on SQLite and, when
//! SSCARD_TEST_POSTGRES_URL is set, PostgreSQL (a fresh database on that server).
//!
//!     cargo run --release -p sscard-platform --example ecard_bench

use std::sync::Arc;
use std::time::Instant;

use sscard_ecard::{
    verify_offline, verify_signature, Blacklist, PlatformSecretKey, PublicKeySet, Purpose, Signer,
    UnixTime, VerifyPolicy,
};
use sscard_platform::auth::Role;
use sscard_platform::ecard::api::{router, EcardService};
use sscard_platform::ecard::{EcardApplication, EcardPassword};
use sscard_platform::model::{ActivationRequest, CardRegistration};
use sscard_platform::registry::Actor;
use sscard_platform::Store;

const HOLDERS: u32 = 20;
const CODES: usize = 2000;

fn per_second(n: usize, started: Instant) -> f64 {
    n as f64 / started.elapsed().as_secs_f64()
}

fn online(label: &str, url: &str, secret: &PlatformSecretKey, keys: &PublicKeySet) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = rt.block_on(Store::open(url)).unwrap();
    let actor = Actor::new("bench");
    let mut ids = Vec::new();
    for i in 0..HOLDERS {
        let card = CardRegistration {
            card_number: format!("Q{i:08}"),
            card_id_code: format!("110100D15600000554455354{i:08X}"),
            ssn: format!("3301011990{i:08}"),
            name: format!("持卡人{i}"),
            issue_date: "20240101".into(),
            expiry_date: "20340101".into(),
            version: "3.0".into(),
            online_mode: true,
            supersedes: None,
        };
        rt.block_on(store.register_cards(std::slice::from_ref(&card), &actor))
            .unwrap();
        let activation = ActivationRequest {
            date: "20240315".into(),
            outlet: "BANK-0001".into(),
            terminal: "T-1".into(),
            card_id_code: None,
            ssn: None,
        };
        rt.block_on(store.record_activation(&card.card_number, &activation, &actor, None))
            .unwrap();
        let e = rt
            .block_on(store.apply_ecard(
                &EcardApplication {
                    ssn: card.ssn.clone(),
                    name: card.name.clone(),
                    consent_privacy_terms: true,
                    channel: "bench".into(),
                    password: EcardPassword::new("123456").unwrap(),
                },
                &actor,
            ))
            .unwrap();
        ids.push(e.id);
    }
    let pharmacy = rt
        .block_on(store.add_terminal("pharmacy-1", Role::Hospital, &actor))
        .unwrap()
        .token;
    let signer = Signer::new(secret).unwrap();
    let now = UnixTime::now();
    let codes: Vec<String> = (0..CODES)
        .map(|i| {
            rt.block_on(store.issue_code(
                &signer,
                &ids[i % ids.len()],
                None,
                Purpose::Identity,
                now,
            ))
            .unwrap()
        })
        .collect();
    let app = router(EcardService {
        store: store.clone(),
        signer: Arc::new(Signer::new(secret).unwrap()),
        keys: Arc::new(keys.clone()),
        policy: VerifyPolicy::default(),
    });
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // The service on its own thread (one core's worth); the client on this one.
    let server = std::thread::spawn(move || {
        rt.block_on(sscard_platform::serve(listener, app, async {
            tokio::time::sleep(std::time::Duration::from_secs(600)).await
        }))
    });
    let agent = ureq::AgentBuilder::new().build();
    let verify_url = format!("{base}/api/v1/ecard/verify");
    let started = Instant::now();
    for code in &codes {
        let answer = agent
            .post(&verify_url)
            .set("Authorization", &format!("Bearer {pharmacy}"))
            .send_json(serde_json::json!({ "code": code }))
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    let rate = per_second(CODES, started);
    println!("{label}: online verifications through the service: {rate:.0}/s");
    drop(server);
    rate
}

fn main() {
    let secret = PlatformSecretKey::generate().unwrap();
    let mut keys = PublicKeySet::new();
    keys.insert(secret.public_key().clone()).unwrap();
    let signer = Signer::new(&secret).unwrap();
    let claims = sscard_ecard::Claims {
        ecard: sscard_ecard::EcardId::from_bytes([1; 16]),
        member: None,
        purpose: Purpose::Identity,
    };
    let now = UnixTime::now();
    let started = Instant::now();
    let codes: Vec<String> = (0..CODES)
        .map(|_| signer.issue(&claims, now).unwrap())
        .collect();
    let signing = per_second(CODES, started);
    let started = Instant::now();
    for code in &codes {
        verify_signature(code, &keys).unwrap();
    }
    let bare = per_second(CODES, started);
    let blacklist = Blacklist::new();
    let started = Instant::now();
    for code in &codes {
        verify_offline(code, &keys, now, &blacklist).unwrap();
    }
    let offline = per_second(CODES, started);
    println!("bare SM2 verification: {bare:.0}/s");
    println!(
        "offline verification: {offline:.0}/s ({:.2}x bare)",
        offline / bare
    );
    println!("signing: {signing:.0}/s ({:.2}x bare)", signing / bare);
    let dir = std::env::temp_dir().join(format!("sscard-ecard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = online(
        "sqlite",
        &format!("sqlite:{}", dir.join("bench.db").display()),
        &secret,
        &keys,
    );
    println!("sqlite online: {:.2}x bare", sqlite / bare);
    if let Ok(server) = std::env::var("SSCARD_TEST_POSTGRES_URL") {
        let name = format!("sscard_ecard_bench_{}", std::process::id());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .unwrap();
        });
        let (head, _) = server.rsplit_once('/').unwrap();
        let pg = online("postgres", &format!("{head}/{name}"), &secret, &keys);
        println!("postgres online: {:.2}x bare", pg / bare);
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
}

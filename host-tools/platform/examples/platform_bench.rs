//! Throughput of the back office (docs/performance.md, "back office"): card-status queries and
//! settlement uploads per second through the HTTP API, each next to a bare indexed point query on
//! the same database in the same run. SQLite always; PostgreSQL when SSCARD_TEST_POSTGRES_URL is
//! set (a fresh database on that server).
//!
//!     cargo run --release -p sscard-platform --example platform_bench

use std::time::{Duration, Instant};

use file_structures::personalise::IssuerKeys;
use sscard_platform::auth::Role;
use sscard_platform::model::CardRegistration;
use sscard_platform::registry::Actor;
use sscard_platform::simulate::signed_purchase;
use sscard_platform::{router, AppState, Client, Store};

const CARDS: u32 = 2000;
const THREADS: usize = 4;
const QUERIES: usize = 4000;
const UPLOADS: usize = 1000;

fn card(i: u32) -> CardRegistration {
    CardRegistration {
        card_number: format!("B{i:08}"),
        card_id_code: format!("110100D15600000554455354{i:08X}"),
        ssn: format!("3301011990{i:08}"),
        name: format!("持卡人{i}"),
        issue_date: "20240101".into(),
        expiry_date: "20340101".into(),
        version: "3.0".into(),
        online_mode: false,
        supersedes: None,
    }
}

/// Runs `work(i)` for i in 0..total over THREADS threads; operations per second.
fn rate(total: usize, work: impl Fn(usize) + Sync) -> f64 {
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let work = &work;
            s.spawn(move || {
                for i in (t..total).step_by(THREADS) {
                    work(i);
                }
            });
        }
    });
    total as f64 / started.elapsed().as_secs_f64()
}

fn bench(label: &str, url: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = rt.block_on(Store::open(url)).unwrap();
    let actor = Actor::new("bench");
    let cards: Vec<_> = (0..CARDS).map(card).collect();
    for chunk in cards.chunks(sscard_platform::registry::MAX_REGISTER_CARDS) {
        rt.block_on(store.register_cards(chunk, &actor)).unwrap();
    }
    let outlet = rt
        .block_on(store.add_terminal("bench-outlet", Role::Outlet, &actor))
        .unwrap()
        .token;
    let hospital = rt
        .block_on(store.add_terminal("bench-hospital", Role::Hospital, &actor))
        .unwrap()
        .token;
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
    let number = |i: usize| cards[i % cards.len()].card_number.clone();

    // Warm both paths, then measure them in turn, twice, and keep the better of each.
    let mut bare = 0f64;
    let mut status = 0f64;
    let mut store_status = 0f64;
    for _ in 0..2 {
        bare = bare.max(rate(QUERIES, |i| {
            rt.block_on(store.bare_point_query(&number(i))).unwrap();
        }));
        store_status = store_status.max(rate(QUERIES, |i| {
            rt.block_on(store.card_status(&number(i), None, None))
                .unwrap();
        }));
        status = status.max(rate(QUERIES, |i| {
            thread_local! {
                static CLIENT: std::cell::RefCell<Option<Client>> = const { std::cell::RefCell::new(None) };
            }
            CLIENT.with(|c| {
                let mut c = c.borrow_mut();
                let client = c.get_or_insert_with(|| Client::new(&base, &outlet, Duration::from_secs(10)));
                client.card_status(&number(i), None, None).unwrap();
            });
        }));
    }
    let keys = IssuerKeys::test_keys().unwrap();
    let records: Vec<_> = (0..UPLOADS)
        .map(|i| {
            let c = &cards[i % cards.len()];
            let serial = (i / cards.len()) as u16 + 1;
            signed_purchase(
                &keys,
                &c.card_number,
                &c.card_id_code,
                "3.0",
                serial,
                10_000,
                100,
                "20250601120000",
            )
            .unwrap()
        })
        .collect();
    let uploads = rate(UPLOADS, |i| {
        let client = Client::new(&base, &hospital, Duration::from_secs(10));
        let out = client
            .upload_settlements(std::slice::from_ref(&records[i]), None)
            .unwrap();
        assert_ne!(
            out.results[0].verdict,
            sscard_platform::model::RecordVerdict::Refused
        );
    });
    println!(
        "{label:<10} bare point query {bare:>8.0}/s | card status via HTTP {status:>7.0}/s ({:.2}x bare) | card status in the store {store_status:>7.0}/s ({:.2}x) | settlement uploads via HTTP {uploads:>6.0}/s",
        status / bare,
        store_status / bare,
    );
}

fn main() {
    let dir = std::env::temp_dir().join(format!("sscard-platform-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "{CARDS} cards, {THREADS} client threads, {QUERIES} queries and {UPLOADS} uploads (one record each) per measure"
    );
    bench(
        "sqlite",
        &format!("sqlite:{}", dir.join("bench.db").display()),
    );
    let _ = std::fs::remove_dir_all(&dir);
    if let Ok(server) = std::env::var("SSCARD_TEST_POSTGRES_URL") {
        let name = format!("sscard_bench_{}", std::process::id());
        let admin = |sql: String| {
            let status = std::process::Command::new("psql")
                .args([server.as_str(), "-q", "-c", &sql])
                .status()
                .unwrap();
            assert!(status.success(), "{sql}");
        };
        admin(format!("CREATE DATABASE {name}"));
        let (head, _) = server.rsplit_once('/').unwrap();
        bench("postgres", &format!("{head}/{name}"));
        admin(format!("DROP DATABASE {name} WITH (FORCE)"));
    } else {
        println!("postgres   skipped: SSCARD_TEST_POSTGRES_URL is not set");
    }
}

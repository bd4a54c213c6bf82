//! Throughput of e-card QR codes (docs/performance.md, "Online verification at the back
//! office"), in one run: the bare SM2 signature check, offline verification and signing on one
//! thread; then online verification through the service's HTTP API (terminal credential,
//! signature, validity, the card's state, the nonce committed to disk before the answer) on
//! SQLite and, when SSCARD_TEST_POSTGRES_URL is set, PostgreSQL (a fresh database on that
//! server), with CLIENTS client threads against the service's runtime of SERVICE_THREADS.
//!
//! Besides the rates, CPU time from /proc (10 ms ticks; the measures are seconds long): the
//! bare check's per signature on its thread, and the service's per online verification (the
//! process's threads but the clients', plus PostgreSQL's backends for the bench's database):
//! their ratio is the rate a service would reach per core it has to itself.
//!
//!     cargo build --release -p sscard-platform --example ecard_bench
//!     target/release/examples/ecard_bench [CLIENTS] [SERVICE_THREADS] [CODES]

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

struct Setup {
    clients: usize,
    service_threads: usize,
    codes: usize,
}

fn per_second(n: usize, started: Instant) -> f64 {
    n as f64 / started.elapsed().as_secs_f64()
}

/// CPU seconds the calling thread has used.
fn own_cpu() -> f64 {
    stat_ticks(&std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default()) / TICKS
}

/// What a measure on one thread gave: its rate by the clock, its CPU time per operation.
struct Measure {
    rate: f64,
    cpu: f64,
}

fn measure(n: usize, mut op: impl FnMut(usize)) -> Measure {
    let cpu = own_cpu();
    let started = Instant::now();
    for i in 0..n {
        op(i);
    }
    Measure {
        rate: per_second(n, started),
        cpu: (own_cpu() - cpu) / n as f64,
    }
}

/// Clock ticks of /proc: USER_HZ, 100 on Linux x86_64.
const TICKS: f64 = 100.0;

/// utime + stime, in ticks, of a /proc/.../stat line.
fn stat_ticks(stat: &str) -> f64 {
    // Fields after the command's closing parenthesis: state is the 1st, utime the 12th.
    let Some((_, after)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    field(11) + field(12)
}

/// CPU seconds of the PostgreSQL server processes serving the database `name` (its backends,
/// by pg_stat_activity; 0 for SQLite).
fn database_cpu(rt: &tokio::runtime::Runtime, url: &str) -> f64 {
    if !url.starts_with("postgres") {
        return 0.0;
    }
    let pids: Vec<i32> = rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()
             AND pid <> pg_backend_pid()",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap()
    });
    pids.iter()
        .map(|pid| {
            stat_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default())
                / TICKS
        })
        .sum()
}

/// CPU seconds (user + system) of the whole process, exited threads included.
fn process_cpu() -> f64 {
    stat_ticks(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default()) / TICKS
}

/// CPU seconds of this process's threads alive now.
fn live_threads_cpu() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .flatten()
        .map(|task| {
            stat_ticks(&std::fs::read_to_string(task.path().join("stat")).unwrap_or_default())
                / TICKS
        })
        .sum()
}

struct Online {
    rate: f64,
    /// Service CPU seconds per verification (this process's threads but the clients', and
    /// PostgreSQL's backends for this database).
    service_cpu: f64,
}

fn online(
    label: &str,
    url: &str,
    secret: &PlatformSecretKey,
    keys: &PublicKeySet,
    setup: &Setup,
) -> Online {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(setup.service_threads)
        .thread_name("bench-service")
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
    let codes: Vec<String> = (0..setup.codes)
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
    rt.spawn(sscard_platform::serve(
        listener,
        app,
        std::future::pending(),
    ));
    let verify_url = format!("{base}/api/v1/ecard/verify");
    let authorization = format!("Bearer {pharmacy}");
    // One verification first: the pools and the committer are up before the clock starts.
    for code in codes.iter().take(1) {
        let answer = ureq::post(&verify_url)
            .set("Authorization", &authorization)
            .send_json(serde_json::json!({ "code": code }))
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    let codes = &codes[1..];
    let chunk = codes.len().div_ceil(setup.clients);
    let database_before = database_cpu(&rt, url);
    // The client threads start after this and are gone before the second reading: the live
    // threads' difference is the service's, the rest of the process's the clients'.
    let (process_before, service_before) = (process_cpu(), live_threads_cpu());
    let started = Instant::now();
    std::thread::scope(|s| {
        let threads: Vec<_> = codes
            .chunks(chunk)
            .map(|share| {
                let (verify_url, authorization) = (&verify_url, &authorization);
                std::thread::Builder::new()
                    .name("bench-client".into())
                    .spawn_scoped(s, move || {
                        let agent = ureq::AgentBuilder::new().build();
                        for code in share {
                            let answer = agent
                                .post(verify_url)
                                .set("Authorization", authorization)
                                .send_json(serde_json::json!({ "code": code }))
                                .unwrap();
                            assert_eq!(answer.status(), 200);
                        }
                    })
                    .unwrap()
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    });
    let rate = per_second(codes.len(), started);
    let service = live_threads_cpu() - service_before;
    let clients_cpu = process_cpu() - process_before - service;
    let database = (database_cpu(&rt, url) - database_before) / codes.len() as f64;
    let service_cpu = service / codes.len() as f64 + database;
    println!(
        "{label}: online verifications through the service: {rate:.0}/s \
         (service CPU {:.0} µs each, of it the database server's {:.0} µs; clients' CPU {:.0} µs each)",
        service_cpu * 1e6,
        database * 1e6,
        clients_cpu / codes.len() as f64 * 1e6
    );
    rt.shutdown_background();
    Online { rate, service_cpu }
}

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .map_or(default, |a| a.parse().expect("a number"))
    };
    let setup = Setup {
        clients: arg(1, 32),
        service_threads: arg(2, 2),
        codes: arg(3, 8000),
    };
    println!(
        "{} clients, {} service threads, {} codes; machine: {} cores",
        setup.clients,
        setup.service_threads,
        setup.codes,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
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
    let mut codes = Vec::with_capacity(setup.codes);
    let signing = measure(setup.codes, |_| {
        codes.push(signer.issue(&claims, now).unwrap())
    });
    let bare = measure(setup.codes, |i| {
        verify_signature(&codes[i], &keys).unwrap();
    });
    let blacklist = Blacklist::new();
    let offline = measure(setup.codes, |i| {
        verify_offline(&codes[i], &keys, now, &blacklist).unwrap();
    });
    let line = |what: &str, m: &Measure| {
        println!(
            "{what} (one thread): {:.0}/s ({:.2}x bare), CPU {:.0} µs each ({:.2}x bare's)",
            m.rate,
            m.rate / bare.rate,
            m.cpu * 1e6,
            m.cpu / bare.cpu
        )
    };
    line("bare SM2 verification", &bare);
    line("offline verification", &offline);
    line("signing", &signing);
    let report = |label: &str, o: &Online| {
        println!(
            "{label} online: {:.2}x the bare rate; service CPU per verification {:.2}x the bare \
             check's CPU time (the rate a service with one core to itself would reach: {:.2}x bare)",
            o.rate / bare.rate,
            o.service_cpu / bare.cpu,
            bare.cpu / o.service_cpu
        );
    };
    let dir = std::env::temp_dir().join(format!("sscard-ecard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = online(
        "sqlite",
        &format!("sqlite:{}", dir.join("bench.db").display()),
        &secret,
        &keys,
        &setup,
    );
    report("sqlite", &sqlite);
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
        let pg = online(
            "postgres",
            &format!("{head}/{name}"),
            &secret,
            &keys,
            &setup,
        );
        report("postgres", &pg);
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

//! Online verification under load keeps its promises (docs/electronic-card.md): with many
//! terminals verifying at once, and verifications sharing one commit, a code is accepted at
//! most once; an acknowledged verification survives a SIGKILL of the service, so the code is
//! refused as replayed after the restart — on both backends.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use sscard_ecard::{Purpose, UnixTime};
use sscard_platform::auth::Role;
use sscard_platform::ecard::api::{router, EcardService};
use sscard_platform::ecard::{EcardApplication, EcardPassword, EcardView};
use sscard_platform::registry::Actor;
use sscard_platform::Store;

on_both_backends!(many_clients_sending_the_same_codes_get_each_accepted_once);

/// The child process's database URL: set, this test binary is the service (see
/// [`acknowledged_verifications_survive_kill_9`]).
const CHILD_DB_ENV: &str = "SSCARD_TEST_ECARD_SERVICE_DB";
/// The child's data directory (its signing key).
const CHILD_DIR_ENV: &str = "SSCARD_TEST_ECARD_SERVICE_DIR";

fn actor() -> Actor {
    Actor::new("test")
}

/// Card `i` registered and activated, with an e-card at level 2 (payment codes allowed).
fn holder(h: &Harness, i: u32) -> EcardView {
    let c = card(i);
    h.register(std::slice::from_ref(&c));
    h.rt.block_on(h.store.record_activation(
        &c.card_number,
        &activation("20240315"),
        &actor(),
        None,
    ))
    .unwrap();
    let e =
        h.rt.block_on(h.store.apply_ecard(
            &EcardApplication {
                ssn: c.ssn.clone(),
                name: c.name.clone(),
                consent_privacy_terms: true,
                channel: "city-app".into(),
                password: EcardPassword::new("246810").unwrap(),
            },
            &actor(),
        ))
        .unwrap();
    h.rt.block_on(h.store.set_settlement_link(&e.id, true, &actor()))
        .unwrap();
    e
}

/// (status, refusal code or "") of a verification.
fn verify(
    agent: &ureq::Agent,
    base: &str,
    token: &str,
    code: &str,
) -> Result<(u16, String), String> {
    let result = agent
        .post(&format!("{base}/api/v1/ecard/verify"))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(json!({ "code": code }));
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e.to_string()),
    };
    let status = response.status();
    let body: Value = response.into_json().map_err(|e| e.to_string())?;
    Ok((
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    ))
}

fn count(h: &Harness, table: &str) -> i64 {
    h.rt.block_on(async {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&raw_pool(&h.url).await)
            .await
            .unwrap()
    })
}

fn many_clients_sending_the_same_codes_get_each_accepted_once(db: Db) {
    const CLIENTS: usize = 16;
    const CODES: usize = 40;
    let h = Harness::new(db);
    let dir = std::env::temp_dir().join(format!("sscard-ecard-dur-{}-{db:?}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let service = EcardService::start(h.store.clone(), &dir, None, 60).unwrap();
    let app = router(service.clone());
    let listener =
        h.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    h.rt.spawn(sscard_platform::serve(
        listener,
        app,
        std::future::pending(),
    ));
    let pharmacy = h.terminal("pharmacy-1", Role::Hospital);
    let ecards: Vec<EcardView> = (1..=4).map(|i| holder(&h, i)).collect();
    let now = UnixTime::now();
    // Half identity codes, half payment codes (which also mint a settlement token).
    let codes: Vec<String> = (0..CODES)
        .map(|i| {
            let purpose = if i.is_multiple_of(2) {
                Purpose::Identity
            } else {
                Purpose::Payment
            };
            h.rt.block_on(h.store.issue_code(
                &service.signer,
                &ecards[i % ecards.len()].id,
                None,
                purpose,
                now,
            ))
            .unwrap()
        })
        .collect();
    // Every client sends every code, each client in its own order, all at once.
    let answers: Vec<Vec<(usize, u16, String)>> = thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (codes, base, pharmacy) = (&codes, &base, &pharmacy);
                s.spawn(move || {
                    let agent = ureq::AgentBuilder::new()
                        .timeout(Duration::from_secs(30))
                        .build();
                    (0..CODES)
                        .map(|k| (k * 7 + c * 3) % CODES)
                        .map(|i| {
                            let (status, error) =
                                verify(&agent, base, pharmacy, &codes[i]).unwrap();
                            (i, status, error)
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let mut accepted = vec![0; CODES];
    for (i, status, error) in answers.into_iter().flatten() {
        match status {
            200 => accepted[i] += 1,
            _ => assert_eq!((status, error.as_str()), (409, "replayed"), "code {i}"),
        }
    }
    assert_eq!(accepted, vec![1; CODES], "each code accepted exactly once");
    assert_eq!(count(&h, "ecard_nonces"), CODES as i64);
    assert_eq!(count(&h, "ecard_settlement_tokens"), CODES as i64 / 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// This test binary started again as the service alone (the e-card routes on the database and
/// key the parent prepared), printing its address; it serves until killed.
fn serve_as_child(url: &str, dir: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = Store::open(url).await.unwrap();
        let service = EcardService::start(store, std::path::Path::new(dir), None, 60).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("http://{}", listener.local_addr().unwrap());
        sscard_platform::serve(listener, router(service), std::future::pending())
            .await
            .unwrap();
    });
}

/// The service in a child process; killed with SIGKILL when dropped.
struct ChildService {
    child: Child,
    base: String,
}

impl ChildService {
    fn start(test: &str, url: &str, dir: &std::path::Path) -> ChildService {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                test,
                "--exact",
                "--nocapture",
                "--include-ignored",
                "--test-threads=1",
            ])
            .env(CHILD_DB_ENV, url)
            .env(CHILD_DIR_ENV, dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            // libtest prints its own lines first ("running 1 test"); the address starts with http.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(at) = line.find("http://") {
                    let _ = tx.send(line[at..].trim().to_owned());
                    return;
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the service says where it listens within 60 s");
        ChildService { child, base }
    }

    fn kill_9(mut self) {
        // Child::kill is SIGKILL on Unix: no shutdown, no flush.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ChildService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Verifications in flight from 8 terminals when the service is killed with SIGKILL: every
/// code whose acceptance was answered is refused as replayed by the restarted service (its
/// nonce was on disk before the answer), and a code never sent is still accepted.
fn acknowledged_verifications_survive_kill_9(db: Db, test: &str) {
    const CLIENTS: usize = 8;
    const CODES: usize = 600;
    if let (Ok(url), Ok(dir)) = (std::env::var(CHILD_DB_ENV), std::env::var(CHILD_DIR_ENV)) {
        return serve_as_child(&url, &dir);
    }
    let h = Harness::new(db);
    let dir = std::env::temp_dir().join(format!(
        "sscard-ecard-kill9-{}-{}",
        std::process::id(),
        test.replace("::", "-")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    // The key generated here, in the data directory the child loads it from.
    let service = EcardService::start(h.store.clone(), &dir, None, 60).unwrap();
    let pharmacy = h.terminal("pharmacy-1", Role::Hospital);
    let ecards: Vec<EcardView> = (1..=4).map(|i| holder(&h, i)).collect();
    let now = UnixTime::now();
    let issue = |i: usize| {
        let purpose = if i.is_multiple_of(3) {
            Purpose::Payment
        } else {
            Purpose::Identity
        };
        h.rt.block_on(h.store.issue_code(
            &service.signer,
            &ecards[i % ecards.len()].id,
            None,
            purpose,
            now,
        ))
        .unwrap()
    };
    let codes: Arc<Vec<String>> = Arc::new((0..CODES).map(issue).collect());
    let unsent = issue(CODES);

    let child = ChildService::start(test, &h.url, &dir);
    let base = child.base.clone();
    let acknowledged = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let accepted: Vec<usize> = thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (codes, base, pharmacy) = (&codes, &base, &pharmacy);
                let (acknowledged, stop, next) = (&acknowledged, &stop, &next);
                s.spawn(move || {
                    let agent = ureq::AgentBuilder::new()
                        .timeout(Duration::from_secs(10))
                        .build();
                    let mut mine = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= CODES {
                            break;
                        }
                        match verify(&agent, base, pharmacy, &codes[i]) {
                            Ok((200, _)) => {
                                mine.push(i);
                                acknowledged.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok(other) => panic!("code {i}: {other:?}"),
                            // The service is gone: the answer never came.
                            Err(_) => break,
                        }
                    }
                    mine
                })
            })
            .collect();
        // A third acknowledged, then the plug pulled while the rest are in flight.
        while acknowledged.load(Ordering::SeqCst) < CODES / 3
            && started.elapsed() < Duration::from_secs(120)
        {
            thread::sleep(Duration::from_millis(2));
        }
        assert!(
            acknowledged.load(Ordering::SeqCst) > 0,
            "nothing acknowledged in {:?}",
            started.elapsed()
        );
        // Killed while the clients still send: the requests in flight lose their answers.
        child.kill_9();
        stop.store(true, Ordering::SeqCst);
        handles
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    assert!(
        accepted.len() < CODES,
        "the kill came after every code was verified: make the load longer"
    );
    let distinct: HashSet<usize> = accepted.iter().copied().collect();
    assert_eq!(distinct.len(), accepted.len(), "a code accepted twice");

    let again = ChildService::start(test, &h.url, &dir);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    for &i in &accepted {
        assert_eq!(
            verify(&agent, &again.base, &pharmacy, &codes[i]).unwrap(),
            (409, "replayed".to_owned()),
            "code {i}, accepted before the kill"
        );
    }
    assert_eq!(
        verify(&agent, &again.base, &pharmacy, &unsent).unwrap(),
        (200, String::new()),
        "a fresh code after the restart"
    );
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
}

mod acknowledged_verifications_survive_kill_9 {
    use super::common::Db;

    #[test]
    fn sqlite() {
        super::acknowledged_verifications_survive_kill_9(
            Db::Sqlite,
            "acknowledged_verifications_survive_kill_9::sqlite",
        )
    }

    #[test]
    #[ignore = "postgres: needs SSCARD_TEST_POSTGRES_URL (scripts/test.sh runs it)"]
    fn postgres() {
        super::acknowledged_verifications_survive_kill_9(
            Db::Postgres,
            "acknowledged_verifications_survive_kill_9::postgres",
        )
    }
}

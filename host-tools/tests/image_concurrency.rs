//! A card image has one owner at a time (docs/reliability.md, "Card images: one owner at a time"):
//! many `sscard` processes, threads of this process and a `sim serve` on one image. Every command
//! either succeeds and its write is in the image afterwards, or is refused as "in use" having
//! written nothing; the image is never empty or damaged in between.

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use host_tools::protocol::apdu::Status;
use host_tools::protocol::client::{Client, ClientError};
use host_tools::transport::image;
use host_tools::transport::sim::{MemoryStorage, SimTransport};
use host_tools::transport::{CardTransport, TransportError};

/// Exit codes from docs/host-tools.md.
const EXIT_CARD_BUSY: i32 = 8;
const EXIT_IMAGE_READ_ONLY: i32 = 15;

/// SSSE/EF07 of the demo card: a transparent file of 1024 bytes anyone may update, by SFI 7.
const READ_EF07: &str = "00B0870000";

/// UPDATE BINARY of one byte of EF07 (by SFI): each writer owns one offset.
fn update(offset: u8, value: u8) -> String {
    format!("00D687{offset:02X}01{value:02X}")
}

/// EF07's first 256 bytes as the image file holds them now (read without owning the image).
fn ef07(path: &Path) -> Vec<u8> {
    let memory = image::load(path).expect("the image is whole");
    let mut card = SimTransport::in_memory(MemoryStorage::from_bytes(memory)).unwrap();
    let select = hex::decode(SELECT_SSSE.replace(' ', "")).unwrap();
    assert_eq!(card.transmit(&select).unwrap(), [0x90, 0x00]);
    let mut answer = card.transmit(&hex::decode(READ_EF07).unwrap()).unwrap();
    assert_eq!(answer.split_off(256), [0x90, 0x00]);
    answer
}

/// What became of one writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// The card answered 9000 and the command exited 0: the write was acknowledged.
    Acknowledged,
    /// Refused because another owner had the image.
    Refused,
}

/// One `sscard --card` process writing `value` at `offset`.
fn process_writer(path: &Path, offset: u8, value: u8, wait: &str) -> (Fate, String) {
    let run = sscard(&[
        "--json",
        "--wait-image",
        wait,
        "--card",
        path.to_str().unwrap(),
        "apdu",
        SELECT_SSSE,
        &update(offset, value),
    ]);
    match run.code {
        0 => (Fate::Acknowledged, run.stderr),
        EXIT_CARD_BUSY => {
            let error = &run.json()["error"];
            assert_eq!(error["kind"], "image_in_use", "{}", run.stdout);
            // The owner writes its pid a moment after it takes the lock and removes it when it
            // lets go: a refusal in that moment names "another process" instead (owner_pid null).
            match error["owner_pid"].as_u64() {
                Some(pid) => assert!(
                    run.stderr.contains(&format!("is in use by process {pid}")),
                    "{}",
                    run.stderr
                ),
                None => assert!(
                    run.stderr.contains("is in use by another process"),
                    "{}",
                    run.stderr
                ),
            }
            (Fate::Refused, run.stderr)
        }
        code => panic!(
            "writer {offset}: exit {code}, neither done nor refused:\n{}",
            run.stderr
        ),
    }
}

/// The same write from a thread of this process, through the library.
fn thread_writer(path: &Path, offset: u8, value: u8, wait: Duration) -> Fate {
    let transport = match SimTransport::open_image_waiting(path, wait) {
        Ok(transport) => transport,
        // Named or not (see process_writer), a refusal is a refusal.
        Err(TransportError::ImageInUse { .. }) => return Fate::Refused,
        Err(e) => panic!("thread writer {offset}: {e}"),
    };
    let mut client = Client::new(transport);
    for apdu in [SELECT_SSSE.replace(' ', ""), update(offset, value)] {
        let answer = client
            .transmit_raw(&hex::decode(apdu).unwrap())
            .unwrap_or_else(|e: ClientError| panic!("thread writer {offset}: {e}"));
        assert_eq!(answer.sw, Status::Success);
    }
    Fate::Acknowledged
}

/// Reads the image over and over while `stop` is false: it must always be a whole image.
fn watch(path: &Path, stop: &AtomicBool, reads: &AtomicUsize) {
    while !stop.load(Ordering::Relaxed) {
        let bytes = std::fs::read(path).expect("the image is always there");
        assert!(!bytes.is_empty(), "a reader saw an empty image");
        image::decode(&bytes).expect("a reader saw a damaged image");
        reads.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs `processes` process writers and `threads` thread writers at once, from offset `first`.
fn race(
    path: &Path,
    first: u8,
    processes: u8,
    threads: u8,
    wait: Duration,
    before: &[u8],
) -> Vec<(u8, Fate)> {
    let value = |offset: u8| !before[usize::from(offset)];
    let wait_text = format!("{}", wait.as_secs_f64());
    std::thread::scope(|s| {
        let mut writers = Vec::new();
        for offset in first..first + processes {
            let wait_text = &wait_text;
            writers.push(s.spawn(move || {
                (
                    offset,
                    process_writer(path, offset, value(offset), wait_text).0,
                )
            }));
        }
        for offset in first + processes..first + processes + threads {
            writers
                .push(s.spawn(move || (offset, thread_writer(path, offset, value(offset), wait))));
        }
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    })
}

/// Every acknowledged write is in the image; every refused writer changed nothing.
fn check(path: &Path, before: &[u8], fates: &[(u8, Fate)]) {
    let now = ef07(path);
    for &(offset, fate) in fates {
        let at = usize::from(offset);
        match fate {
            Fate::Acknowledged => assert_eq!(
                now[at], !before[at],
                "the acknowledged write at {offset} was lost"
            ),
            Fate::Refused => assert_eq!(
                now[at], before[at],
                "the refused writer at {offset} changed the card"
            ),
        }
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn many_processes_and_threads_on_one_image_lose_no_acknowledged_write() {
    let dir = TestDir::new("image-concurrency");
    let path = demo_image(dir.path());
    let before = ef07(&path);
    let stop = AtomicBool::new(false);
    let reads = AtomicUsize::new(0);
    let mut all = Vec::new();
    std::thread::scope(|s| {
        let watcher = s.spawn(|| watch(&path, &stop, &reads));
        // A failed assertion below must stop the watcher too, or the scope would wait for it
        // forever instead of reporting the failure.
        let _stop_watcher = StopOnDrop(&stop);

        // 1. This process owns the image: every other process is refused, naming this one.
        let held = SimTransport::open_image(&path).unwrap();
        let pid = std::process::id();
        for offset in 0..6 {
            let (fate, stderr) = process_writer(&path, offset, !before[usize::from(offset)], "0");
            assert_eq!(fate, Fate::Refused);
            assert!(
                stderr.contains(&format!("is in use by process {pid}")),
                "{stderr}"
            );
            all.push((offset, fate));
        }
        // Writing a new image over it is refused too, and leaves it alone.
        let out = sscard(&["sim", "new", "--out", path.to_str().unwrap()]);
        assert_eq!(out.code, EXIT_CARD_BUSY, "{}", out.stderr);
        drop(held);
        check(&path, &before, &all);

        // 2. No waiting: processes and threads race; each wins the image or is refused.
        let raced = race(&path, 6, 20, 6, Duration::ZERO, &before);
        assert!(
            raced.iter().any(|(_, fate)| *fate == Fate::Acknowledged),
            "{raced:?}"
        );
        all.extend(raced);
        check(&path, &before, &all);

        // 3. Waiting with a bound: every writer gets its turn, and every write is kept.
        let waited = race(&path, 32, 16, 6, Duration::from_secs(120), &before);
        assert!(
            waited.iter().all(|(_, fate)| *fate == Fate::Acknowledged),
            "{waited:?}"
        );
        all.extend(waited);

        stop.store(true, Ordering::Relaxed);
        watcher.join().unwrap();
    });
    check(&path, &before, &all);
    assert!(reads.load(Ordering::Relaxed) > 0);
    let acknowledged = all.iter().filter(|(_, f)| *f == Fate::Acknowledged).count();
    eprintln!(
        "{} writers, {acknowledged} acknowledged and kept, {} refused; {} whole-image reads meanwhile",
        all.len(),
        all.len() - acknowledged,
        reads.load(Ordering::Relaxed)
    );
    // No temporary or lock file is left behind.
    assert_eq!(names_in(dir.path()), ["demo.card"]);
}

/// A port on 127.0.0.1 nobody listens on (vpcd is not needed to own an image).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `sim serve --card` owning an image, until dropped (killed: the lock goes with the process).
struct Server(std::process::Child);

impl Server {
    fn start(path: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sscard"))
            .args(["--card", path.to_str().unwrap(), "sim", "serve", "--port"])
            .arg(closed_port().to_string())
            .args(["--connect-timeout", "0.2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sscard sim serve starts");
        // It says "serving ..." once it owns the card, before it tries vpcd.
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(first.starts_with("serving "), "{first}");
        // Keep draining its events so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn while_sim_serve_owns_an_image_every_other_process_is_refused() {
    let dir = TestDir::new("image-serve");
    let path = demo_image(dir.path());
    let before = ef07(&path);
    let server = Server::start(&path);

    let (fate, stderr) = process_writer(&path, 0, !before[0], "0");
    assert_eq!(fate, Fate::Refused);
    assert!(
        stderr.contains(&format!("is in use by process {}", server.pid())),
        "{stderr}"
    );
    // A bounded wait is a wait, then the same refusal.
    let start = Instant::now();
    let (fate, _) = process_writer(&path, 1, !before[1], "0.5");
    assert_eq!(fate, Fate::Refused);
    assert!(start.elapsed() >= Duration::from_millis(500));
    // Reads are refused as well: the server's card is the card.
    let info = sscard(&["--card", path.to_str().unwrap(), "readers"]);
    assert_eq!(info.code, EXIT_CARD_BUSY, "{}", info.stderr);
    // A second server too.
    let second = sscard(&[
        "--card",
        path.to_str().unwrap(),
        "sim",
        "serve",
        "--port",
        &closed_port().to_string(),
    ]);
    assert_eq!(second.code, EXIT_CARD_BUSY, "{}", second.stderr);

    // Killed, the server leaves the image to the next owner at once.
    drop(server);
    let (fate, _) = process_writer(&path, 2, !before[2], "0");
    assert_eq!(fate, Fate::Acknowledged);
    check(
        &path,
        &before,
        &[
            (0, Fate::Refused),
            (1, Fate::Refused),
            (2, Fate::Acknowledged),
        ],
    );
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
#[test]
fn a_read_only_image_is_read_and_never_replaced() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = TestDir::new("image-read-only-cli");
    let path: PathBuf = demo_image(dir.path());
    set_mode(&path, 0o444);
    let before = std::fs::read(&path).unwrap();
    let inode = std::fs::metadata(&path).unwrap().ino();
    let card = path.to_str().unwrap();

    let read = sscard(&["--card", card, "apdu", SELECT_SSSE, READ_EF07]);
    assert_eq!(
        read.code, 0,
        "reading a read-only image works: {}",
        read.stderr
    );

    let write = sscard(&["--json", "--card", card, "apdu", SELECT_SSSE, &update(0, 1)]);
    assert_eq!(write.code, EXIT_IMAGE_READ_ONLY, "{}", write.stderr);
    assert_eq!(write.json()["error"]["kind"], "image_read_only");
    assert_eq!(
        write.stderr.trim_end(),
        format!("sscard: the card image {card} is read-only (its mode 0444 lets nobody write it), and sscard does not change a read-only image: nothing was saved")
    );
    let serve = sscard(&[
        "--card",
        card,
        "sim",
        "serve",
        "--port",
        &closed_port().to_string(),
    ]);
    assert_eq!(serve.code, EXIT_IMAGE_READ_ONLY, "{}", serve.stderr);

    let after = std::fs::metadata(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(
        (after.ino(), after.permissions().mode() & 0o777),
        (inode, 0o444)
    );
    assert_eq!(names_in(dir.path()), ["demo.card"]);
}

#[cfg(unix)]
#[test]
fn a_save_keeps_the_image_mode() {
    let dir = TestDir::new("image-mode-cli");
    let path = demo_image(dir.path());
    set_mode(&path, 0o640);
    let write = sscard(&[
        "--card",
        path.to_str().unwrap(),
        "apdu",
        SELECT_SSSE,
        &update(0, 0x42),
    ]);
    assert_eq!(write.code, 0, "{}", write.stderr);
    assert_eq!(ef07(&path)[0], 0x42);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o640);
}

/// Sets its flag when dropped, also while a panic unwinds.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

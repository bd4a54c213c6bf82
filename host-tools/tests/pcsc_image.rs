//! `sscard sim serve --card` through the real PC/SC stack owns its card image for its whole life:
//! writes that PC/SC programs make through it are in the image as soon as they are acknowledged,
//! and `sscard --card` on the same image is refused meanwhile instead of saving a stale copy over
//! them (docs/reliability.md, "Card images: one owner at a time"). Ignored by a plain `cargo test`:
//! scripts/pcsc-tests.sh runs it with `--ignored`.

mod pcsc_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use host_tools::testdir::TestDir;
use host_tools::transport::image;
use host_tools::transport::sim::{MemoryStorage, SimTransport};
use host_tools::transport::vpcd::{FIRST_SLOT_PORT, MIN_REINSERT_DELAY};
use host_tools::transport::CardTransport;
use pcsc_support::*;

const SELECT_SSSE: &str = "00A4040C0F7378312E73682EC9E7BBE1B1A3D5CF";
const EXIT_CARD_BUSY: i32 = 8;

fn sscard(args: &[&str]) -> std::process::Output {
    run(env!("CARGO_BIN_EXE_sscard"), args)
}

/// UPDATE BINARY of one byte of the demo card's SSSE/EF07 (free to update), by SFI 7.
fn update(offset: u8, value: u8) -> String {
    format!("00D687{offset:02X}01{value:02X}")
}

/// EF07's first 256 bytes as the image file holds them now (read without owning the image).
fn ef07(path: &Path) -> Vec<u8> {
    let memory = image::load(path).expect("the image is whole");
    let mut card = SimTransport::in_memory(MemoryStorage::from_bytes(memory)).unwrap();
    assert_eq!(card.transmit(&select_ssse()).unwrap(), [0x90, 0x00]);
    let mut answer = card.transmit(&[0x00, 0xB0, 0x87, 0x00, 0x00]).unwrap();
    assert_eq!(answer.split_off(256), [0x90, 0x00]);
    answer
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn writes_through_a_served_image_are_kept_and_other_processes_are_refused() {
    let _lock = ReaderLock::acquire();
    let dir = TestDir::new("pcsc-image");
    let path = dir.path().join("served.card");
    SimTransport::create_image(&path, &demo_storage()).unwrap();
    let card = path.to_str().unwrap();
    let before = ef07(&path);

    let mut child = Command::new(env!("CARGO_BIN_EXE_sscard"))
        .args(["--card", card, "sim", "serve", "--port"])
        .arg(FIRST_SLOT_PORT.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sscard sim serve starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(first.starts_with("serving "), "{first}");
    std::thread::spawn(move || lines.for_each(drop));
    let server = ChildGuard(child);
    let server_pid = server.0.id();
    let ctx = context();
    wait_for_card(&ctx, READER, true);

    for offset in 0..4u8 {
        let value = !before[usize::from(offset)];
        // A PC/SC program writes through the server, while two processes try the image itself.
        let (through_pcsc, direct) = std::thread::scope(|s| {
            let direct: Vec<_> = (0..2)
                .map(|k| {
                    s.spawn(move || {
                        sscard(&["--card", card, "apdu", SELECT_SSSE, &update(100 + k, 0x5A)])
                    })
                })
                .collect();
            let through = sscard(&[
                "--reader",
                READER,
                "apdu",
                SELECT_SSSE,
                &update(offset, value),
            ]);
            (
                through,
                direct
                    .into_iter()
                    .map(|d| d.join().unwrap())
                    .collect::<Vec<_>>(),
            )
        });
        assert!(
            through_pcsc.status.success(),
            "{}",
            String::from_utf8_lossy(&through_pcsc.stderr)
        );
        for refused in direct {
            let stderr = String::from_utf8_lossy(&refused.stderr);
            assert_eq!(refused.status.code(), Some(EXIT_CARD_BUSY), "{stderr}");
            assert!(
                stderr.contains(&format!("is in use by process {server_pid}")),
                "{stderr}"
            );
        }
        // Acknowledged means on disk, with the card still served.
        assert_eq!(ef07(&path)[usize::from(offset)], value);
    }

    // The server killed (as by a crash): every acknowledged write is in the image, none of the
    // refused ones, and the image is free for the next owner.
    drop(server);
    wait_for_card(&ctx, READER, false);
    let after = ef07(&path);
    for offset in 0..4 {
        assert_eq!(after[offset], !before[offset], "write {offset} was lost");
    }
    assert_eq!(after[100..102], before[100..102]);
    let next = sscard(&["--card", card, "apdu", SELECT_SSSE, &update(100, 0x5A)]);
    assert!(next.status.success());
    // The card's 1 s out of the reader before the next test may serve one.
    std::thread::sleep(MIN_REINSERT_DELAY);
}

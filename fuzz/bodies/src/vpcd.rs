//! vpcd's side of the wire, hostile: the input is the byte stream vpcd would send (2-byte length,
//! payload; `00` power off, `01` power on, `02` reset, `04` ATR, longer = a C-APDU), sent over a
//! real loopback connection to `sscard sim serve`'s loop with the demo card in it.
//!
//! The loop's framing and dispatch (host-tools vpcd `frame` and `session`) are driven through their
//! public entry point, [`serve_with_events`], exactly as pcscd's vpcd drives them. What must hold:
//! the loop ends (the stream closes after the input), every answer is one well-formed frame, and
//! the answers are, in order, those the messages ask for: the card's ATR for `04`, a response
//! APDU (at least SW1 SW2) for a C-APDU; all of them unless the loop stopped on a card error.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::sync::OnceLock;
use std::time::Duration;

use host_tools::transport::sim::{MemoryStorage, SimTransport};
use host_tools::transport::vpcd::{
    serve_with_events, RemovalCause, ServeEvent, ServeOptions, VpcdError,
};
use host_tools::transport::CardTransport;

/// What vpcd expects back for one message.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    Atr,
    Response,
}

/// The replies the messages of `stream` ask for, and whether the stream ended inside a message.
fn expected_replies(stream: &[u8]) -> Vec<Reply> {
    let mut replies = Vec::new();
    let mut rest = stream;
    while let Some((header, after)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*header));
        let Some(message) = after.get(..len) else {
            break;
        };
        rest = after.get(len..).unwrap_or_default();
        match message {
            [0x04] => replies.push(Reply::Atr),
            [] | [_] => {}
            _ => replies.push(Reply::Response),
        }
    }
    replies
}

fn demo_image() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let mut storage = MemoryStorage::erased(file_structures::personalise::IMAGE_SIZE);
        card_os::testing::demo_card(&mut storage).unwrap_or_else(|e| panic!("demo card: {e:?}"));
        storage.as_bytes().to_vec()
    })
}

/// Runs one vpcd stream through the serve loop.
pub fn vpcd_frame(data: &[u8]) {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .unwrap_or_else(|e| panic!("no loopback port for the fuzz vpcd: {e}"));
    let port = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("loopback address: {e}"))
        .port();
    let mut card = SimTransport::in_memory(MemoryStorage::from_bytes(demo_image().to_vec()))
        .unwrap_or_else(|e| panic!("demo card does not power on: {e}"));
    let atr = card.atr();
    let mut options = ServeOptions::new(port);
    options.io_timeout = Duration::from_secs(2);
    let control = options.control.clone();

    let (replies, cause) = std::thread::scope(|scope| {
        let server = scope.spawn(move || {
            let mut cause = None;
            let result = serve_with_events(&mut card, &options, &mut |event| {
                if let ServeEvent::Removed(why) = event {
                    // One insertion per input: stop as the card leaves the reader.
                    cause = Some(why);
                    control.stop();
                }
            });
            (result, cause)
        });
        let (mut stream, _) = listener
            .accept()
            .unwrap_or_else(|e| panic!("the serve loop did not connect: {e}"));
        let mut writer = stream
            .try_clone()
            .unwrap_or_else(|e| panic!("socket clone: {e}"));
        let sender = scope.spawn(move || {
            // The loop may close first (a card error): a failed write is not a finding.
            let _ = writer.write_all(data);
            let _ = writer.shutdown(Shutdown::Write);
        });
        let mut replies = Vec::new();
        let _ = stream.read_to_end(&mut replies);
        let _ = sender.join();
        let (result, cause) = server
            .join()
            .unwrap_or_else(|_| panic!("the serve loop panicked"));
        if let Err(e) = result {
            panic!("the serve loop failed: {e}");
        }
        (replies, cause)
    });

    let expected = expected_replies(data);
    let mut rest = replies.as_slice();
    let mut got = 0;
    while let Some((header, after)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*header));
        let payload = after
            .get(..len)
            .unwrap_or_else(|| panic!("a truncated answer frame: {replies:02X?}"));
        rest = after.get(len..).unwrap_or_default();
        match expected.get(got) {
            Some(Reply::Atr) => assert_eq!(payload, atr.as_slice(), "the ATR answer"),
            Some(Reply::Response) => assert!(payload.len() >= 2, "a response without SW"),
            None => panic!("an answer nobody asked for: {payload:02X?}"),
        }
        got += 1;
    }
    assert!(rest.is_empty(), "a stray byte after the answers");
    let complete = matches!(
        cause,
        Some(RemovalCause::VpcdClosed | RemovalCause::Failed(VpcdError::Truncated))
    );
    if complete {
        assert_eq!(got, expected.len(), "answers missing ({cause:?})");
    }
}

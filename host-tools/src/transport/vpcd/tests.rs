//! The serve loop against a fake vpcd written here, on 127.0.0.1 with an ephemeral port.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::*;
use crate::transport::{CardTransport, ResetKind, TransportError};

/// Safety net for every blocking step of a test: far longer than any of them takes.
const SAFETY: Duration = Duration::from_secs(10);

/// What the card under test was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    PowerOff,
    Reset(ResetKind),
    Transmit(usize),
}

/// A card that logs its calls and answers each command with the command itself and `90 00`,
/// or fails every command when `fail` is set.
struct RecordingCard {
    log: Arc<Mutex<Vec<Call>>>,
    fail: bool,
}

const RECORDING_ATR: [u8; 4] = [0x3B, 0x02, 0x52, 0x43];

impl CardTransport for RecordingCard {
    fn name(&self) -> String {
        "recording card".into()
    }
    fn atr(&self) -> Vec<u8> {
        RECORDING_ATR.to_vec()
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.log.lock().unwrap().push(Call::Transmit(command.len()));
        if self.fail {
            return Err(TransportError::CardUnresponsive);
        }
        let mut response = command.to_vec();
        response.extend_from_slice(&[0x90, 0x00]);
        Ok(response)
    }
    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        self.log.lock().unwrap().push(Call::Reset(kind));
        Ok(self.atr())
    }
    fn power_off(&mut self) -> Result<(), TransportError> {
        self.log.lock().unwrap().push(Call::PowerOff);
        Ok(())
    }
}

/// The vpcd side: a listener on an ephemeral loopback port.
struct FakeVpcd {
    listener: TcpListener,
}

impl FakeVpcd {
    fn new() -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        Self { listener }
    }

    fn port(&self) -> u16 {
        self.listener.local_addr().unwrap().port()
    }

    /// Waits for the card to connect (be inserted).
    fn accept(&self) -> Conn {
        let started = std::time::Instant::now();
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    stream.set_read_timeout(Some(SAFETY)).unwrap();
                    stream.set_nodelay(true).unwrap();
                    return Conn { stream };
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock && started.elapsed() < SAFETY => {
                    thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("the card never connected: {e}"),
            }
        }
    }

    /// Waits for the recording card to connect again and checks it answers with its ATR.
    fn expect_reinserted(&self) -> Conn {
        let mut again = self.accept();
        assert_eq!(again.get_atr(), RECORDING_ATR);
        again
    }
}

struct Conn {
    stream: TcpStream,
}

impl Conn {
    fn send(&mut self, payload: &[u8]) {
        let len = u16::try_from(payload.len()).unwrap().to_be_bytes();
        self.stream.write_all(&len).unwrap();
        self.stream.write_all(payload).unwrap();
    }

    fn recv(&mut self) -> Vec<u8> {
        let mut header = [0u8; 2];
        self.stream.read_exact(&mut header).unwrap();
        let mut payload = vec![0u8; usize::from(u16::from_be_bytes(header))];
        self.stream.read_exact(&mut payload).unwrap();
        payload
    }

    fn exchange(&mut self, payload: &[u8]) -> Vec<u8> {
        self.send(payload);
        self.recv()
    }

    /// Control code 01: power the card on (vpcd expects no reply).
    fn power_on(&mut self) {
        self.send(&[0x01]);
    }

    /// Control code 04: the card's ATR.
    fn get_atr(&mut self) -> Vec<u8> {
        self.exchange(&[0x04])
    }

    /// Waits for the card side to close the connection (the card was removed).
    fn expect_closed(&mut self) {
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(0) => {}
            Ok(_) => panic!("the card sent data instead of closing"),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("the card did not close the connection: {e}"),
        }
    }
}

/// A serve loop running in a thread, stopped and joined when dropped.
struct Served {
    control: ServeControl,
    log: Arc<Mutex<Vec<Call>>>,
    thread: Option<JoinHandle<Result<ServeSummary, VpcdError>>>,
}

impl Served {
    fn start(options: ServeOptions, fail: bool) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let card = RecordingCard {
            log: Arc::clone(&log),
            fail,
        };
        Self::start_card(options, card, log)
    }

    fn start_card(
        options: ServeOptions,
        mut card: impl CardTransport + Send + 'static,
        log: Arc<Mutex<Vec<Call>>>,
    ) -> Self {
        let control = options.control.clone();
        let thread = thread::spawn(move || serve(&mut card, &options));
        Self {
            control,
            log,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> Result<ServeSummary, VpcdError> {
        self.control.stop();
        self.thread.take().unwrap().join().unwrap()
    }

    fn calls(&self) -> Vec<Call> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.control.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn options_for(vpcd: &FakeVpcd) -> ServeOptions {
    ServeOptions {
        retry_initial: Duration::from_millis(10),
        retry_max: Duration::from_millis(50),
        ..ServeOptions::new(vpcd.port())
    }
}

/// A fake vpcd, a recording card (failing every command when `fail`) served to it with the test
/// options, and the card's first connection.
fn recording_card_inserted(fail: bool) -> (FakeVpcd, Served, Conn) {
    let vpcd = FakeVpcd::new();
    let served = Served::start(options_for(&vpcd), fail);
    let conn = vpcd.accept();
    (vpcd, served, conn)
}

/// The calls of a card powered on once and then pulled (or dropped) while powered.
const POWERED_ON_THEN_OFF: [Call; 2] = [Call::Reset(ResetKind::Cold), Call::PowerOff];

/// What serving one insertion that carried one APDU adds up to.
const ONE_INSERTION_ONE_APDU: ServeSummary = ServeSummary {
    insertions: 1,
    apdus: 1,
};

#[test]
fn get_atr_is_answered_with_the_cards_atr_and_apdus_with_its_response() {
    let (_vpcd, served, mut conn) = recording_card_inserted(false);
    conn.power_on();
    assert_eq!(conn.get_atr(), RECORDING_ATR);
    let select = [0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00];
    let mut expected = select.to_vec();
    expected.extend_from_slice(&[0x90, 0x00]);
    assert_eq!(conn.exchange(&select), expected);
    let summary = served.stop().unwrap();
    assert_eq!(summary, ONE_INSERTION_ONE_APDU);
}

#[test]
fn control_codes_power_the_card_off_on_and_reset_it() {
    let (_vpcd, served, mut conn) = recording_card_inserted(false);
    // Codes 00/01/02 have no reply: the ATR request after each one orders them.
    for code in [0x01, 0x02, 0x00, 0x01] {
        conn.send(&[code]);
        assert_eq!(conn.get_atr(), RECORDING_ATR);
    }
    assert_eq!(
        served.calls(),
        [
            Call::Reset(ResetKind::Cold),
            Call::Reset(ResetKind::Warm),
            Call::PowerOff,
            Call::Reset(ResetKind::Cold),
        ]
    );
    drop(conn);
    served.stop().unwrap();
}

#[test]
fn unknown_control_codes_and_empty_messages_are_ignored() {
    let (_vpcd, served, mut conn) = recording_card_inserted(false);
    conn.send(&[0x03]);
    conn.send(&[]);
    assert_eq!(conn.get_atr(), RECORDING_ATR);
    assert_eq!(served.calls(), []);
    served.stop().unwrap();
}

#[test]
fn extended_apdus_up_to_the_largest_message_round_trip() {
    let (_vpcd, served, mut conn) = recording_card_inserted(false);
    // The response is the command plus a status word, so this one fills a whole message.
    let command: Vec<u8> = (0..MAX_MESSAGE_LEN - 2).map(|i| i as u8).collect();
    let response = conn.exchange(&command);
    assert_eq!(response.len(), MAX_MESSAGE_LEN);
    assert_eq!(&response[..command.len()], &command[..]);
    assert_eq!(&response[command.len()..], [0x90, 0x00]);
    served.stop().unwrap();
}

#[test]
fn a_message_arriving_byte_by_byte_is_assembled() {
    let (_vpcd, served, mut conn) = recording_card_inserted(false);
    let command = [0x00, 0xB2, 0x01, 0x2C, 0x00];
    let mut message = vec![0x00, command.len() as u8];
    message.extend_from_slice(&command);
    for byte in message {
        conn.stream.write_all(&[byte]).unwrap();
        conn.stream.flush().unwrap();
    }
    assert_eq!(conn.recv(), [&command[..], &[0x90, 0x00]].concat());
    served.stop().unwrap();
}

#[test]
fn a_response_too_long_for_vpcd_drops_the_card_and_it_comes_back() {
    let (vpcd, served, mut conn) = recording_card_inserted(false);
    conn.send(&vec![0u8; MAX_MESSAGE_LEN]);
    conn.expect_closed();
    vpcd.expect_reinserted();
    let summary = served.stop().unwrap();
    assert_eq!(summary.insertions, 2);
}

#[test]
fn a_failing_card_is_dropped_powered_off_and_reinserted() {
    let (vpcd, served, mut conn) = recording_card_inserted(true);
    conn.power_on();
    conn.send(&[0x00, 0xA4, 0x00, 0x00]);
    conn.expect_closed();
    vpcd.expect_reinserted();
    assert_eq!(
        served.calls(),
        [
            Call::Reset(ResetKind::Cold),
            Call::Transmit(4),
            Call::PowerOff
        ]
    );
    served.stop().unwrap();
}

#[test]
fn when_vpcd_goes_away_the_card_is_powered_off_and_reconnects() {
    let (vpcd, served, mut conn) = recording_card_inserted(false);
    conn.power_on();
    assert_eq!(conn.get_atr(), RECORDING_ATR);
    drop(conn);
    vpcd.expect_reinserted();
    assert_eq!(served.calls(), POWERED_ON_THEN_OFF);
    assert_eq!(served.stop().unwrap().insertions, 2);
}

#[test]
fn vpcd_closing_in_the_middle_of_a_message_is_survived() {
    let (vpcd, served, mut conn) = recording_card_inserted(false);
    conn.stream.write_all(&[0x00, 0x10, 0x00, 0xA4]).unwrap();
    drop(conn);
    vpcd.expect_reinserted();
    served.stop().unwrap();
}

#[test]
fn a_card_started_before_vpcd_connects_once_vpcd_listens() {
    // Find a free port, then leave it closed for a while.
    let port = FakeVpcd::new().port();
    let options = ServeOptions {
        retry_initial: Duration::from_millis(10),
        retry_max: Duration::from_millis(20),
        ..ServeOptions::new(port)
    };
    let events = Arc::new(Mutex::new(0usize));
    let failures = Arc::clone(&events);
    let control = options.control.clone();
    let thread = thread::spawn(move || {
        serve_with_events(&mut EchoCard::new(), &options, &mut |event| {
            if let ServeEvent::ConnectFailed { .. } = event {
                *failures.lock().unwrap() += 1;
            }
        })
    });
    while *events.lock().unwrap() < 2 {
        thread::sleep(Duration::from_millis(5));
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let vpcd = FakeVpcd { listener };
    let mut conn = vpcd.accept();
    assert_eq!(conn.get_atr(), ECHO_ATR);
    assert_eq!(conn.exchange(&[0x00, 0xB2, 0x01, 0x2C, 0x00]), [0x90, 0x00]);
    control.stop();
    let summary = thread.join().unwrap().unwrap();
    assert_eq!(summary, ONE_INSERTION_ONE_APDU);
}

#[test]
fn the_stop_flag_ends_serving_while_vpcd_is_absent() {
    let port = FakeVpcd::new().port();
    let options = ServeOptions::new(port);
    let stop = options.control.stop_flag();
    let thread = thread::spawn(move || serve(&mut EchoCard::new(), &options));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(thread.join().unwrap().unwrap(), ServeSummary::default());
}

#[test]
fn the_stop_flag_removes_the_card_and_ends_serving() {
    let (_vpcd, served, mut conn) = recording_card_inserted(false);
    conn.power_on();
    assert_eq!(conn.get_atr(), RECORDING_ATR);
    let summary = served.stop().unwrap();
    conn.expect_closed();
    assert_eq!(summary.insertions, 1);
}

#[test]
fn giving_up_reports_that_vpcd_is_unreachable() {
    let port = FakeVpcd::new().port();
    let options = ServeOptions {
        retry_initial: Duration::from_millis(10),
        give_up_after: Some(Duration::from_millis(100)),
        ..ServeOptions::new(port)
    };
    let error = serve(&mut EchoCard::new(), &options).unwrap_err();
    assert!(matches!(error, VpcdError::Unreachable { port: p, .. } if p == port));
    assert!(error.to_string().contains(&format!("127.0.0.1:{port}")));
}

#[test]
fn the_card_is_removed_and_reinserted_on_command() {
    let (vpcd, served, mut conn) = recording_card_inserted(false);
    conn.power_on();
    assert_eq!(conn.get_atr(), RECORDING_ATR);
    served.control.remove_card();
    conn.expect_closed();
    served.control.insert_card();
    vpcd.expect_reinserted();
    // Pulled while powered: the card lost power.
    assert_eq!(served.calls(), POWERED_ON_THEN_OFF);
    assert_eq!(served.stop().unwrap().insertions, 2);
}

#[test]
fn a_pull_followed_at_once_by_an_insert_still_pulls_the_card() {
    let (vpcd, served, mut conn) = recording_card_inserted(false);
    served.control.remove_card();
    served.control.insert_card();
    conn.expect_closed();
    vpcd.expect_reinserted();
    assert_eq!(served.stop().unwrap().insertions, 2);
}

#[test]
fn toggling_pulls_the_card_and_toggling_again_puts_it_back() {
    let (vpcd, served, mut conn) = recording_card_inserted(false);
    served.control.toggle_card();
    conn.expect_closed();
    served.control.toggle_card();
    vpcd.expect_reinserted();
    assert_eq!(served.stop().unwrap().insertions, 2);
}

#[test]
fn remove_after_pulls_the_card_once_and_reinserts_it() {
    let vpcd = FakeVpcd::new();
    let options = ServeOptions {
        remove_after: Some(Duration::from_millis(20)),
        ..options_for(&vpcd)
    };
    let served = Served::start(options, false);
    let mut conn = vpcd.accept();
    conn.expect_closed();
    let mut again = vpcd.accept();
    // The second insertion stays: vpcd is answered until the loop is stopped.
    for _ in 0..3 {
        assert_eq!(again.get_atr(), RECORDING_ATR);
    }
    assert_eq!(served.stop().unwrap().insertions, 2);
}

/// A mute chip: in the slot, but no ATR from a power-on (the ATR vpcd's presence polls get before
/// any power-on is the card's own, as FaultyTransport's mute fault gives).
struct MuteCard {
    log: Arc<Mutex<Vec<Call>>>,
    powered: bool,
}

impl CardTransport for MuteCard {
    fn name(&self) -> String {
        "mute card".into()
    }
    fn atr(&self) -> Vec<u8> {
        if self.powered {
            Vec::new()
        } else {
            RECORDING_ATR.to_vec()
        }
    }
    fn transmit(&mut self, _command: &[u8]) -> Result<Vec<u8>, TransportError> {
        Err(TransportError::CardUnresponsive)
    }
    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        self.log.lock().unwrap().push(Call::Reset(kind));
        self.powered = true;
        Ok(Vec::new())
    }
    fn power_off(&mut self) -> Result<(), TransportError> {
        self.log.lock().unwrap().push(Call::PowerOff);
        self.powered = false;
        Ok(())
    }
}

#[test]
fn a_card_giving_no_atr_is_put_back_at_once_for_the_next_presence_poll() {
    let vpcd = FakeVpcd::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let card = MuteCard {
        log: Arc::clone(&log),
        powered: false,
    };
    // A retry delay far beyond the test's safety net: only an immediate re-insertion passes.
    let options = ServeOptions {
        retry_initial: Duration::from_secs(3600),
        retry_max: Duration::from_secs(3600),
        ..options_for(&vpcd)
    };
    let served = Served::start_card(options, card, Arc::clone(&log));
    let mut conn = vpcd.accept();
    assert_eq!(conn.get_atr(), RECORDING_ATR, "presence poll");
    conn.power_on();
    assert_eq!(conn.get_atr(), [0u8; 0], "the power-on's ATR is empty");
    conn.expect_closed();
    let mut again = vpcd.accept();
    assert_eq!(again.get_atr(), RECORDING_ATR, "back for the next poll");
    assert_eq!(
        served.calls(),
        POWERED_ON_THEN_OFF,
        "powered off as it left"
    );
    assert_eq!(served.stop().unwrap().insertions, 2);
}

#[test]
fn a_vpcd_that_says_nothing_is_left_and_connected_to_again() {
    let vpcd = FakeVpcd::new();
    let options = ServeOptions {
        silence_timeout: Duration::from_millis(300),
        ..options_for(&vpcd)
    };
    let served = Served::start(options, false);
    let mut first = vpcd.accept();
    let begun = std::time::Instant::now();
    // Not a word from vpcd: the loop closes the connection after the silence timeout...
    first.expect_closed();
    let waited = begun.elapsed();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    // ...and connects again, where a live vpcd is served as usual.
    let mut second = vpcd.accept();
    second.power_on();
    assert_eq!(second.get_atr(), RECORDING_ATR);
    let summary = served.stop().unwrap();
    assert_eq!(summary.insertions, 2);
}

#[test]
fn a_vpcd_silent_for_longer_than_give_up_after_ends_serving() {
    let vpcd = FakeVpcd::new();
    let options = ServeOptions {
        silence_timeout: Duration::from_millis(200),
        give_up_after: Some(Duration::from_millis(500)),
        ..options_for(&vpcd)
    };
    let control = options.control.clone();
    let thread = thread::spawn(move || {
        let mut card = EchoCard::new();
        serve(&mut card, &options)
    });
    // Accept every connection and never say a word.
    let mut held = Vec::new();
    let begun = std::time::Instant::now();
    while !thread.is_finished() && begun.elapsed() < SAFETY {
        if let Ok((stream, _)) = vpcd.listener.accept() {
            held.push(stream);
        }
        thread::sleep(Duration::from_millis(10));
    }
    control.stop();
    let result = thread.join().unwrap();
    assert!(
        matches!(result, Err(VpcdError::Silent(ms)) if ms >= 500),
        "{result:?}"
    );
    assert!(held.len() >= 2, "reconnected {} time(s)", held.len());
    assert!(begun.elapsed() < Duration::from_secs(3));
}

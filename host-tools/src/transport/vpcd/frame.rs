//! vpcd's framing: every message, both ways, is a 2-byte big-endian length and then the payload.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::VpcdError;

/// The largest payload one message carries: its length must fit the 2-byte header.
pub const MAX_MESSAGE_LEN: usize = u16::MAX as usize;

/// What waiting for the next message gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// A whole message is in the buffer.
    Message,
    /// Nothing arrived within the socket's read timeout (one poll interval): the caller may look at
    /// its stop flag and wait again.
    Idle,
    /// vpcd closed the connection between two messages.
    Closed,
}

/// Reads the next message into `payload`.
///
/// Between messages a read timeout is "idle"; once a message has begun, the rest of it must arrive
/// within `stall_timeout`, or the connection is given up.
pub(crate) fn read_message(
    stream: &mut TcpStream,
    payload: &mut Vec<u8>,
    stall_timeout: Duration,
) -> Result<Incoming, VpcdError> {
    let mut header = [0u8; 2];
    let mut started: Option<Instant> = None;
    match read_full(stream, &mut header, &mut started, stall_timeout)? {
        Fill::Done => {}
        Fill::Nothing => return Ok(Incoming::Idle),
        Fill::Closed => return Ok(Incoming::Closed),
    }
    quick_ack(stream)?;
    let len = usize::from(u16::from_be_bytes(header));
    payload.clear();
    payload.resize(len, 0);
    read_full(stream, payload, &mut started, stall_timeout)?;
    Ok(Incoming::Message)
}

/// Acknowledges what was read at once. Debian's vpcd sends a header and its payload in two send()
/// calls: without an immediate ACK of the header, its Nagle wait and our delayed ACK stall every
/// message by ~40 ms. The kernel leaves quick-ACK mode by itself, hence once per header.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn quick_ack(stream: &TcpStream) -> Result<(), VpcdError> {
    socket2::SockRef::from(stream)
        .set_tcp_quickack(true)
        .map_err(VpcdError::Connection)
}

/// Elsewhere there is no TCP_QUICKACK (and no Debian vpcd).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn quick_ack(_stream: &TcpStream) -> Result<(), VpcdError> {
    Ok(())
}

/// How filling a buffer ended.
enum Fill {
    Done,
    /// A read timeout before the first byte of the message.
    Nothing,
    /// A clean close before the first byte of the message.
    Closed,
}

/// Fills `buf`, part of the message that began at `started` (None: not begun yet). A close or a
/// stall after the first byte of a message is an error.
fn read_full(
    stream: &mut TcpStream,
    buf: &mut [u8],
    started: &mut Option<Instant>,
    stall_timeout: Duration,
) -> Result<Fill, VpcdError> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match stream.read(rest) {
            Ok(0) if started.is_none() => return Ok(Fill::Closed),
            Ok(0) => return Err(VpcdError::Truncated),
            Ok(n) => {
                filled += n;
                started.get_or_insert_with(Instant::now);
            }
            Err(e) if is_timeout(&e) => match started {
                None => return Ok(Fill::Nothing),
                Some(at) if at.elapsed() >= stall_timeout => {
                    return Err(VpcdError::Stalled(millis(stall_timeout)))
                }
                Some(_) => {}
            },
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(VpcdError::Connection(e)),
        }
    }
    Ok(Fill::Done)
}

/// Sends one message, header and payload in a single write so that no Nagle wait splits them.
pub(crate) fn write_message(stream: &mut TcpStream, payload: &[u8]) -> Result<(), VpcdError> {
    let len =
        u16::try_from(payload.len()).map_err(|_| VpcdError::ResponseTooLong(payload.len()))?;
    let mut message = Vec::with_capacity(2 + payload.len());
    message.extend_from_slice(&len.to_be_bytes());
    message.extend_from_slice(payload);
    stream.write_all(&message).map_err(VpcdError::Connection)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

//! Why serving a card to vpcd failed or a connection to it ended.

use std::io;

use crate::transport::TransportError;

/// Each variant is one sentence for a person.
#[derive(Debug, thiserror::Error)]
pub enum VpcdError {
    #[error(
        "nothing is listening on 127.0.0.1:{port} after {waited_ms} ms of trying: \
         start pcscd with vsmartcard-vpcd installed (scripts/pcsc-stack.sh start)"
    )]
    Unreachable {
        port: u16,
        waited_ms: u64,
        #[source]
        source: io::Error,
    },
    #[error("the connection to vpcd failed")]
    Connection(#[source] io::Error),
    #[error("vpcd closed the connection in the middle of a message")]
    Truncated,
    #[error("vpcd sent part of a message and then nothing for {0} ms")]
    Stalled(u64),
    #[error("vpcd sent nothing for {0} ms (it asks for the ATR every 400 ms while it runs): pcscd may be hung")]
    Silent(u64),
    #[error("the card's response of {0} bytes is longer than vpcd can carry (65,535)")]
    ResponseTooLong(usize),
    #[error("the card failed, so it was dropped from the reader")]
    Card(#[source] TransportError),
}

//! Opening the card the global options name: a simulator image or a PC/SC reader, traced on request.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::time::Duration;

use host_tools::protocol::client::Client;
use host_tools::transport::pcsc::{PcscOptions, PcscTransport};
use host_tools::transport::sim::SimTransport;
use host_tools::transport::trace::TracingTransport;
use host_tools::transport::{CardTransport, TransportError};

use super::{CliError, Global};

pub type CardClient = Client<Box<dyn CardTransport>>;

/// The card the global options name, untraced; a failure to open is the transport's own error
/// (diagnose turns "no reader", "no card" and "no ATR" into findings).
pub fn transport(global: &Global) -> Result<Box<dyn CardTransport>, TransportError> {
    Ok(match &global.card {
        Some(path) => Box::new(sim_image(global, path)?),
        None => Box::new(PcscTransport::open(&PcscOptions {
            reader: global.reader.clone(),
            wait: Duration::from_millis(global.timeout_ms),
            answer_timeout: global.answer_timeout,
            ..PcscOptions::default()
        })?),
    })
}

/// The simulated card in a card image, owned by this process for the command's life (waiting for
/// another owner as long as --wait-image says).
pub fn sim_image(global: &Global, path: &Path) -> Result<SimTransport, TransportError> {
    SimTransport::open_image_waiting(path, global.wait_image)
}

pub fn open(global: &Global) -> Result<CardClient, CliError> {
    Ok(Client::new(traced(global, transport(global)?)?))
}

/// The transport wrapped in a trace when --trace asks for one.
pub fn traced(
    global: &Global,
    transport: Box<dyn CardTransport>,
) -> Result<Box<dyn CardTransport>, CliError> {
    Ok(match &global.trace {
        Some(path) => {
            let file = File::create(path).map_err(|source| CliError::CreateFile {
                path: path.display().to_string(),
                source,
            })?;
            Box::new(TracingTransport::new(
                transport,
                Box::new(BufWriter::new(file)),
            ))
        }
        None => transport,
    })
}

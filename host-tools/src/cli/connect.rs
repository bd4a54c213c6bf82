//! Opening the card the global options name: a simulator image or a PC/SC reader, traced on request.

use std::fs::File;
use std::io::BufWriter;
use std::time::Duration;

use host_tools::client::Client;
use host_tools::trace::TracingTransport;
use host_tools::transport::pcsc::{PcscOptions, PcscTransport};
use host_tools::transport::sim::SimTransport;
use host_tools::transport::CardTransport;

use super::{CliError, Global};

pub type CardClient = Client<Box<dyn CardTransport>>;

pub fn open(global: &Global) -> Result<CardClient, CliError> {
    let transport: Box<dyn CardTransport> = match &global.card {
        Some(path) => Box::new(SimTransport::open_image(path)?),
        None => Box::new(PcscTransport::open(&PcscOptions {
            reader: global.reader.clone(),
            wait: Duration::from_millis(global.timeout_ms),
            ..PcscOptions::default()
        })?),
    };
    let transport = match &global.trace {
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
    };
    Ok(Client::new(transport))
}

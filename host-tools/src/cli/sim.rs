//! `sscard sim new` (a personalised card image) and `sscard sim serve` (a card in vpcd's reader).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use host_tools::faults::{faulty_card, parse_list, FaultyTransport, TransportFaults};
use host_tools::simcard::{personalised_card, sample_holder};
use host_tools::transport::sim::SimTransport;
use host_tools::transport::CardTransport;
use host_tools::vpcd::{self, ServeEvent, ServeOptions, FIRST_SLOT_PORT};

use super::inputs::{keys_label, read_record, KeyArgs, LayoutArgs};
use super::{CliError, Global, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum SimCommand {
    /// Make a personalised card image (the sample fictitious holder and TEST keys by default).
    New(NewArgs),
    /// Serve a card to vpcd, so every PC/SC program sees it in the reader "Virtual PCD 00 00".
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The card image file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub layout: LayoutArgs,
    /// The cardholder record (a JSON object of field id to value); default: the sample holder.
    #[arg(long, value_name = "FILE.json")]
    pub record: Option<PathBuf>,
    #[command(flatten)]
    pub keys: KeyArgs,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// vpcd's port: 35963 is the reader "Virtual PCD 00 00", 35964 "Virtual PCD 00 01".
    #[arg(long, default_value_t = FIRST_SLOT_PORT)]
    pub port: u16,
    /// Pull the card out once, this many seconds after it is first inserted.
    #[arg(long, value_name = "SECS")]
    pub remove_after: Option<f64>,
    /// How long a card pulled by --remove-after stays out (at least 1 s).
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub reinsert_after: f64,
    /// Give up when vpcd cannot be reached for this long (default: keep trying until stopped).
    #[arg(long, value_name = "SECS")]
    pub give_up_after: Option<f64>,
    /// How long one connection attempt to vpcd may take.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub connect_timeout: f64,
    /// How long the rest of a message, or a write, may take.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub io_timeout: f64,
    /// Break the card on purpose (docs/diagnostics.md): e.g. `mute`, `6f00,slow`. Faults in the
    /// card's memory (pin-blocked, expired, corrupted, ...) need the built-in sample card (no --card).
    #[arg(long, value_name = "KIND[,KIND]")]
    pub fault: Option<String>,
}

pub fn run(global: &Global, command: &SimCommand) -> Result<Outcome, CliError> {
    match command {
        SimCommand::New(args) => new(args),
        SimCommand::Serve(args) => serve(global, args),
    }
}

fn new(args: &NewArgs) -> Result<Outcome, CliError> {
    let layout = args.layout.load(None)?;
    let record = match &args.record {
        Some(path) => read_record(path)?,
        None => sample_holder(),
    };
    let keys = args
        .keys
        .load(true)?
        .ok_or_else(|| CliError::Usage("no issuer keys".into()))?;
    let (storage, summary) = personalised_card(&layout, &record, &keys.keys)?;
    SimTransport::create_image(&args.out, &storage)?;
    let holder = record.values.get("name").cloned().unwrap_or_default();
    let mut text = format!("Card image written to {}\n", args.out.display());
    let rows = vec![
        vec!["holder".into(), format!("{holder} ({})", record.label)],
        vec!["layout".into(), layout.name.clone()],
        vec![
            "card number".into(),
            summary.card_number.clone().unwrap_or_default(),
        ],
        vec![
            "card identification code".into(),
            summary.card_id_code.clone(),
        ],
        vec!["keys".into(), keys_label(&keys).into()],
        vec![
            "personalisation".into(),
            format!(
                "{} commands, {} bytes of card memory used",
                summary.steps, summary.bytes_used
            ),
        ],
    ];
    text.push_str(&super::table::render(&rows, "  "));
    if keys.test_only {
        text.push_str("  This is a TEST card: its keys are public. Use it with --card FILE.\n");
    }
    Ok(Outcome::new(
        text,
        json!({
            "image": args.out.display().to_string(),
            "layout": layout.name,
            "record": record.label,
            "holder": holder,
            "card_number": summary.card_number,
            "card_id_code": summary.card_id_code,
            "steps": summary.steps,
            "bytes_used": summary.bytes_used,
            "test_keys": keys.test_only,
        }),
    ))
}

fn seconds(value: f64) -> Result<Duration, CliError> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| CliError::Usage(format!("{value} is not a number of seconds")))
}

fn event_line(event: &ServeEvent) -> String {
    match event {
        ServeEvent::Inserted { port } => format!("card inserted (vpcd port {port})"),
        ServeEvent::ConnectFailed {
            port,
            error,
            retry_in,
        } => format!(
            "vpcd is not reachable on port {port} ({error}); trying again in {} ms",
            retry_in.as_millis()
        ),
        ServeEvent::Power(change) => format!("power: {change:?}"),
        ServeEvent::UnknownControl(code) => format!("vpcd sent unknown control code {code:02X}"),
        ServeEvent::Removed(cause) => format!("card removed ({cause:?})"),
        ServeEvent::PowerOffFailed(e) => format!("powering the card off failed: {e}"),
    }
}

fn serve(global: &Global, args: &ServeArgs) -> Result<Outcome, CliError> {
    let faults = match &args.fault {
        Some(list) => parse_list(list).map_err(|e| CliError::Usage(e.to_string()))?,
        None => Vec::new(),
    };
    let mut card: Box<dyn CardTransport> = match &global.card {
        Some(_) if faults.iter().any(|f| !f.is_transport()) => {
            return Err(CliError::Usage(
                "faults in the card's memory are built into the sample card: leave out --card"
                    .into(),
            ))
        }
        Some(path) => Box::new(FaultyTransport::new(
            SimTransport::open_image(path)?,
            TransportFaults::from_kinds(&faults),
        )),
        None if !faults.is_empty() => {
            let layout = file_structures::layout::national("3.0")?;
            let keys =
                file_structures::personalise::IssuerKeys::test_keys().map_err(CliError::Keys)?;
            Box::new(faulty_card(&layout, &keys, &faults)?)
        }
        None => {
            // No image: the sample card, in memory (changes end with the process).
            let layout = file_structures::layout::national("3.0")?;
            let keys =
                file_structures::personalise::IssuerKeys::test_keys().map_err(CliError::Keys)?;
            let (storage, _) = personalised_card(&layout, &sample_holder(), &keys)?;
            Box::new(SimTransport::in_memory(storage)?)
        }
    };
    let mut options = ServeOptions::new(args.port);
    options.remove_after = args.remove_after.map(seconds).transpose()?;
    options.reinsert_after = seconds(args.reinsert_after)?;
    options.give_up_after = args.give_up_after.map(seconds).transpose()?;
    options.connect_timeout = seconds(args.connect_timeout)?;
    options.io_timeout = seconds(args.io_timeout)?;
    let quiet = global.json;
    if !quiet {
        eprintln!(
            "serving {} to vpcd on 127.0.0.1:{} (Ctrl-C stops)",
            card.name(),
            args.port
        );
    }
    let summary = vpcd::serve_with_events(card.as_mut(), &options, &mut |event| {
        if !quiet {
            eprintln!("{}", event_line(&event));
        }
    })?;
    Ok(Outcome::new(
        format!(
            "served: {} insertion(s), {} APDU(s)\n",
            summary.insertions, summary.apdus
        ),
        json!({ "insertions": summary.insertions, "apdus": summary.apdus }),
    ))
}

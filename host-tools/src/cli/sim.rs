//! `sscard sim new` (a personalised card image) and `sscard sim serve` (a card in vpcd's reader).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use host_tools::jobs::activation::psam::psam_image;
use host_tools::transport::faults::{
    faulty_card, parse_list, FaultyTransport, RogueCard, RogueMode, TransportFaults,
};
use host_tools::transport::image::CardImage;
use host_tools::transport::sim::SimTransport;
use host_tools::transport::simcard::{personalised_card, sample_holder};
use host_tools::transport::vpcd::{
    self, RemovalCause, ServeEvent, ServeOptions, FIRST_SLOT_PORT, SECOND_SLOT_PORT,
};
use host_tools::transport::CardTransport;

use super::inputs::{keys_label, read_record, EncodingArg, KeyArgs, Keys, LayoutArgs};
use super::{output, CliError, Global, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum SimCommand {
    /// Make a personalised card image (the sample fictitious holder and TEST keys by default), or
    /// with --psam a simulated PSAM for the activation terminal.
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
    pub encoding: EncodingArg,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Make a simulated PSAM instead (TEST keys only): the activation terminal's security module,
    /// for `sscard activate --psam-card FILE`, or served in the second slot for --psam-reader.
    #[arg(long)]
    pub psam: bool,
    /// The region whose cards the PSAM serves, 6 digits (e.g. 110100); default: the region of
    /// the record's card identification code (the sample holder's: 110100).
    #[arg(long, value_name = "DIGITS", requires = "psam", value_parser = parse_region)]
    pub region: Option<[u8; 3]>,
}

/// A region code: 6 decimal digits, kept as 3 BCD bytes.
fn parse_region(text: &str) -> Result<[u8; 3], String> {
    let bcd = (text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| hex::decode(text).ok())
        .flatten()
        .and_then(|bytes| <[u8; 3]>::try_from(bytes).ok());
    bcd.ok_or_else(|| format!("{text:?} is not a region code (6 digits, e.g. 110100)"))
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
    /// How long vpcd may send nothing at all (it polls every 400 ms) before the connection is made
    /// again; with --give-up-after, a vpcd silent that long ends the command.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub silence_timeout: f64,
    /// Break the card on purpose (docs/diagnostics.md): e.g. `mute`, `6f00,slow`. Faults in the
    /// card's memory (pin-blocked, expired, corrupted, ...) need the built-in sample card (no --card).
    #[arg(long, value_name = "KIND[,KIND]")]
    pub fault: Option<String>,
    /// A hostile card for the tests (docs/reliability.md): random, empty, silence, overlong,
    /// endless-61, endless-6c, changing-atr, escapes.
    #[arg(long, value_name = "MODE", hide = true, conflicts_with = "fault")]
    pub rogue: Option<RogueMode>,
}

pub fn run(global: &Global, command: &SimCommand) -> Result<Outcome, CliError> {
    match command {
        SimCommand::New(args) => new(global, args),
        SimCommand::Serve(args) => serve(global, args),
    }
}

fn new(global: &Global, args: &NewArgs) -> Result<Outcome, CliError> {
    let layout = args.layout.load(None)?;
    let (record, note) = match &args.record {
        Some(path) => {
            let read = read_record(path, args.encoding.encoding)?;
            (read.records, read.note)
        }
        None => (sample_holder(), None),
    };
    let keys = args
        .keys
        .load(true)?
        .ok_or_else(|| CliError::Usage("no issuer keys".into()))?;
    if args.psam {
        return new_psam(global, args, &layout, &record, &keys);
    }
    let (storage, summary) = personalised_card(&layout, &record, &keys.keys)?;
    CardImage::create(&args.out, global.wait_image)?.save(storage.as_bytes())?;
    let holder = record.values.get("name").cloned().unwrap_or_default();
    let mut text = note
        .map(|note| format!("note: {}\n", host_tools::screen::escape(&note)))
        .unwrap_or_default();
    text += &format!(
        "Card image written to {}\n",
        host_tools::screen::escape(&args.out.display().to_string())
    );
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

/// `sim new --psam`: the PSAM for one region's cards, made by the activation library.
fn new_psam(
    global: &Global,
    args: &NewArgs,
    layout: &file_structures::layout::Layout,
    record: &file_structures::personalise::CardRecord,
    keys: &Keys,
) -> Result<Outcome, CliError> {
    let region = match args.region {
        Some(region) => region,
        None => {
            let code = record.values.get("card_id_code").map_or("", String::as_str);
            parse_region(code.get(..6).unwrap_or(code)).map_err(|_| {
                CliError::Usage(format!(
                    "the record {} has no card identification code to take the region from: give --region",
                    record.label
                ))
            })?
        }
    };
    let storage = psam_image(layout, &keys.keys, &region)?;
    CardImage::create(&args.out, global.wait_image)?.save(storage.as_bytes())?;
    let region = hex::encode(region);
    let image = args.out.display().to_string();
    let mut text = format!("PSAM image written to {image}\n");
    let rows = vec![
        vec![
            "kind".into(),
            "simulated PSAM (activation terminal's security module)".into(),
        ],
        vec!["region".into(), region.clone()],
        vec!["layout".into(), layout.name.clone()],
        vec![
            "keys".into(),
            format!(
                "{}, {} region keys of {}",
                keys_label(keys),
                psam_key_count(layout),
                layout.pin.df
            ),
        ],
    ];
    text.push_str(&super::table::render(&rows, "  "));
    text.push_str(&format!(
        "  This is a TEST PSAM: its keys are public. Use it with `sscard activate --psam-card {image}`,\n  or serve it with `sscard sim serve --card {image} --port {SECOND_SLOT_PORT}` for --psam-reader.\n"
    ));
    Ok(Outcome::new(
        text,
        json!({
            "image": image,
            "kind": "psam",
            "layout": layout.name,
            "region": region,
            "keys": psam_key_count(layout),
            "test_keys": keys.test_only,
        }),
    ))
}

/// How many keys the PSAM holds: those of the layout's PIN DF.
fn psam_key_count(layout: &file_structures::layout::Layout) -> usize {
    layout.df(&layout.pin.df).map_or(0, |df| df.keys.len())
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
        ServeEvent::Removed(RemovalCause::Failed(e)) => format!("card removed: {e}"),
        ServeEvent::Removed(cause) => format!("card removed ({cause:?})"),
        ServeEvent::PowerOffFailed(e) => format!("powering the card off failed: {e}"),
    }
}

/// The first line `sim serve` prints: which card, where.
fn serving_line(card: &dyn CardTransport, port: u16) -> String {
    format!(
        "serving {} to vpcd on 127.0.0.1:{port} (Ctrl-C stops)",
        card.name()
    )
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
        Some(path) => {
            // Owned for the whole serve, and refused now if read-only: a served card that could
            // not keep its changes would drop out of the reader at every write.
            let sim = super::connect::sim_image(global, path)?;
            sim.check_image_writable()?;
            if faults.is_empty() {
                Box::new(sim)
            } else {
                // Wrapped only when faults were asked for: its name says "(with faults)".
                Box::new(FaultyTransport::new(
                    sim,
                    TransportFaults::from_kinds(&faults),
                ))
            }
        }
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
    if let Some(mode) = args.rogue {
        card = Box::new(RogueCard::new(card, mode, options.control.stop_flag()));
    }
    options.remove_after = args.remove_after.map(seconds).transpose()?;
    options.reinsert_after = seconds(args.reinsert_after)?;
    options.give_up_after = args.give_up_after.map(seconds).transpose()?;
    options.connect_timeout = seconds(args.connect_timeout)?;
    options.io_timeout = seconds(args.io_timeout)?;
    options.silence_timeout = seconds(args.silence_timeout)?;
    let quiet = global.json;
    if !quiet {
        output::eprint_line(&serving_line(card.as_ref(), args.port));
    }
    let summary = vpcd::serve_with_events(card.as_mut(), &options, &mut |event| {
        if !quiet {
            output::eprint_line(&event_line(&event));
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

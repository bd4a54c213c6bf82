//! `sscard demo`: the main job on the built-in simulator, in memory: a new personalised card,
//! its ATR, the social security application, the card info and a short tour of its files.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::json;

use file_structures::layout;
use file_structures::personalise::IssuerKeys;
use host_tools::card::explore::{explore, DfReport};
use host_tools::card::files::{self, Answer};
use host_tools::card::info::{read_card_info, version_from_atr};
use host_tools::protocol::client::Client;
use host_tools::protocol::{atr, hexstr, sw};
use host_tools::transport::sim::SimTransport;
use host_tools::transport::simcard::{personalised_card, sample_holder};
use host_tools::transport::trace::TracingTransport;
use host_tools::transport::CardTransport;

use super::{info, CliError, Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// The national version of the demo card.
    #[arg(long, value_parser = layout::NATIONAL_VERSIONS, default_value = "3.0")]
    pub version: String,
    /// Show every APDU on stderr (the trace format, secrets redacted).
    #[arg(long)]
    pub verbose: bool,
}

/// Per DF: files, files read, and the refusals by reason.
fn tour(reports: &[DfReport]) -> Vec<serde_json::Value> {
    reports
        .iter()
        .map(|df| {
            let mut refused: BTreeMap<String, usize> = BTreeMap::new();
            for ef in &df.efs {
                if let Some(why) = &ef.unread {
                    *refused.entry(why.clone()).or_default() += 1;
                }
            }
            let read = df.efs.iter().filter(|ef| ef.unread.is_none()).count();
            json!({
                "df": df.name, "zh": df.zh, "en": df.en, "select": df.select,
                "files": df.efs.len(), "read": read, "not_read": refused,
            })
        })
        .collect()
}

/// The demo card's starting purse balance, in fen.
const DEMO_BALANCE_FEN: &str = "50000";
/// The demo's settlement time (the demo's activation day).
const DEMO_SETTLEMENT_TIME: &str = "20240401120000";

pub fn run(global: &Global, args: &DemoArgs) -> Result<Outcome, CliError> {
    let layout = layout::national(&args.version)?;
    let keys = IssuerKeys::test_keys().map_err(CliError::Keys)?;
    let mut holder = sample_holder();
    // The demo card's purse starts with 500.00 yuan so that its settlement can pay.
    holder
        .values
        .insert(layout::PURSE_BALANCE_FIELD.into(), DEMO_BALANCE_FEN.into());
    let (storage, summary) = personalised_card(&layout, &holder, &keys)?;
    let mut transport: Box<dyn CardTransport> = Box::new(SimTransport::in_memory(storage)?);
    if let Some(path) = &global.trace {
        let file = std::fs::File::create(path).map_err(|source| CliError::CreateFile {
            path: path.display().to_string(),
            source,
        })?;
        let sink = Box::new(std::io::BufWriter::new(file));
        transport = Box::new(TracingTransport::new(transport, sink));
    } else if args.verbose {
        transport = Box::new(TracingTransport::new(
            transport,
            Box::new(std::io::stderr()),
        ));
    }
    let mut client = Client::new(transport);
    let mut text = String::new();
    let _ = writeln!(
        text,
        "sscard demo: a social security card (社会保障卡) on the built-in simulator"
    );
    let _ = writeln!(
        text,
        "TEST card: fictitious holder, public TEST issuer keys. Nothing here is a real person or key.\n"
    );

    let _ = writeln!(text, "1. A new card");
    let _ = writeln!(
        text,
        "   personalised for {} with the {} layout: {} commands, {} bytes of card memory\n",
        holder.values.get("name").map_or("", String::as_str),
        layout.name,
        summary.steps,
        summary.bytes_used
    );

    let atr_bytes = client.atr();
    let atr = atr::parse(&atr_bytes)?;
    let _ = writeln!(text, "2. The card answers to reset (ATR)");
    let _ = writeln!(text, "   {}", hexstr::spaced(&atr_bytes));
    let protocols: Vec<String> = atr.protocols.iter().map(|p| format!("T={p}")).collect();
    let mut brief = vec![protocols.join(", ")];
    if let Some(baud) = atr.timing.baud_at_3_5712_mhz {
        brief.push(format!("{baud} baud at 3.5712 MHz"));
    }
    if let Some(ssc) = &atr.ssc {
        let generation = version_from_atr(&atr_bytes).map_or_else(
            || format!("generation byte {:02X}", ssc.generation_byte),
            |v| format!("generation {v}"),
        );
        brief.push(format!(
            "social security card, {generation}, region {}",
            ssc.region
        ));
    }
    let _ = writeln!(text, "   {}\n", brief.join("; "));

    // The social security application is the DF that holds the cardholder's PIN.
    let app = layout
        .df(&layout.pin.df)
        .ok_or_else(|| CliError::Usage(format!("the layout has no DF {}", layout.pin.df)))?;
    let answer = files::select_df(&mut client, &layout.df_path(app), Answer::Fcp)?;
    let _ = writeln!(text, "3. The social security application");
    let _ = writeln!(
        text,
        "   SELECT {} {} {}: {}\n",
        app.name,
        app.zh,
        app.en,
        sw::explain(answer.sw)
    );
    if !sw::is_done(answer.sw) {
        return Err(CliError::NotSelected {
            what: app.name.clone(),
            sw: sw::explain(answer.sw),
        });
    }

    let card_info = read_card_info(&mut client, &layout, Some(&keys))?;
    let _ = writeln!(text, "4. Card information (as `sscard info` shows it)");
    text.push_str(&info::table(&card_info, "   "));
    if !card_info.authenticated.is_empty() {
        let _ = writeln!(
            text,
            "   (external authentication with {} using the TEST keys)",
            card_info.authenticated.join(", ")
        );
    }
    text.push('\n');

    let reports = explore(&mut client, &layout, None)?;
    let summary_rows = tour(&reports);
    let _ = writeln!(
        text,
        "5. Files on the card (as `sscard explore` shows them)"
    );
    let rows: Vec<Vec<String>> = summary_rows
        .iter()
        .map(|df| {
            let not_read = df["not_read"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(why, n)| format!("{n} not read: {why}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            vec![
                df["df"].as_str().unwrap_or_default().to_owned(),
                df["zh"].as_str().unwrap_or_default().to_owned(),
                format!("{} file(s), {} read", df["files"], df["read"]),
                not_read,
            ]
        })
        .collect();
    text.push_str(&super::table::render(&rows, "   "));
    let _ = writeln!(
        text,
        "\n6. Activation at a bank outlet (simulated PSAM with TEST keys, PIN 135790 for the demo)"
    );
    let (receipt_text, receipt) = super::activate::demo_activation(&mut client, &layout, &holder)?;
    for line in receipt_text.lines() {
        let _ = writeln!(text, "   {line}");
    }
    let region: [u8; 3] = holder
        .values
        .get("card_id_code")
        .and_then(|code| hex::decode(code.get(..6)?).ok())
        .and_then(|r| r.try_into().ok())
        .ok_or_else(|| CliError::Usage("the demo holder has no card identification code".into()))?;
    let _ = writeln!(
        text,
        "\n7. A settlement at a pharmacy: 12.50 yuan from the medical purse (simulated PSAM, TEST keys)"
    );
    let (settle_text, settlement) = super::settle::demo_settlement(
        &mut client,
        &layout,
        region,
        "135790",
        DEMO_SETTLEMENT_TIME,
    )?;
    for line in settle_text.lines() {
        let _ = writeln!(text, "   {line}");
    }
    let _ = writeln!(
        text,
        "\nTry it yourself: sscard sim new --out my.card, then sscard --card my.card info --test-keys"
    );
    let mut info_json = info::to_json(&card_info);
    info_json["reader"] = json!(client.transport().name());
    Ok(Outcome::new(
        text,
        json!({
            "test_card": true,
            "card": summary,
            "atr": atr,
            "select": { "df": app.name, "sw": sw::explain(answer.sw) },
            "info": info_json,
            "files": summary_rows,
            "activation": receipt,
            "settlement": settlement,
        }),
    ))
}

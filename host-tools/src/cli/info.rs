//! `sscard info`: the card's identification and cardholder data, decoded through the layout.

use serde_json::{json, Value};

use host_tools::card::info::{read_card_info, version_from_atr, CardInfo};
use host_tools::screen::escape;

use super::connect::CardClient;
use super::inputs::{keys_label, KeyArgs, LayoutArgs};
use super::{connect, CliError, Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub layout: LayoutArgs,
    /// Issuer keys, to read what needs an external authentication (3.0 personal data).
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// The info table for a person: one row per field, Chinese and English names, the value or why
/// there is none.
pub fn table(info: &CardInfo, indent: &str) -> String {
    let mut rows: Vec<Vec<String>> = info
        .fields
        .iter()
        .map(|f| {
            let value = match (&f.shown, &f.missing) {
                (Some(v), _) => v.clone(),
                (None, Some(why)) => format!("- {why}"),
                (None, None) => "-".into(),
            };
            vec![f.zh.clone(), f.en.clone(), value]
        })
        .collect();
    rows.push(vec![
        "激活状态".into(),
        "activation".into(),
        info.activation.words(),
    ]);
    super::table::render(&rows, indent)
}

/// The info as JSON: values by field id for programs, and every detail.
pub fn to_json(info: &CardInfo) -> Value {
    let values: serde_json::Map<String, Value> = info
        .fields
        .iter()
        .map(|f| {
            (
                f.id.clone(),
                f.value.clone().map_or(Value::Null, Value::String),
            )
        })
        .collect();
    json!({
        "layout": info.layout,
        "values": values,
        "fields": info.fields,
        "activation": info.activation,
        "authenticated": info.authenticated,
    })
}

/// Reads the info from an open card, the layout's version taken from the ATR unless given.
pub fn read(
    client: &mut CardClient,
    args: &InfoArgs,
) -> Result<(CardInfo, Option<&'static str>), CliError> {
    let layout = args.layout.load(version_from_atr(&client.atr()))?;
    let keys = args.keys.load(false)?;
    let info = read_card_info(client, &layout, keys.as_ref().map(|k| &k.keys))?;
    Ok((info, keys.as_ref().map(keys_label)))
}

pub fn run(global: &Global, args: &InfoArgs) -> Result<Outcome, CliError> {
    let mut client = connect::open(global)?;
    let (info, keys) = read(&mut client, args)?;
    let reader = client.transport().name();
    let mut text = format!(
        "Social security card 社会保障卡 — {} — {}\n",
        escape(&info.layout),
        escape(&reader)
    );
    text.push_str(&table(&info, "  "));
    if let Some(label) = keys {
        text.push_str(&format!("  (read with {label})\n"));
    }
    let mut json = to_json(&info);
    json["reader"] = json!(reader);
    Ok(Outcome::new(text, json))
}

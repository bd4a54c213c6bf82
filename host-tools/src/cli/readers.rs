//! `sscard readers`: the readers, whether a card is in each, and its ATR.

use serde_json::json;

use host_tools::protocol::hexstr;
use host_tools::transport::pcsc::{self, ReaderInfo};
use host_tools::transport::CardTransport;

use super::{CliError, Global, Outcome};

pub fn run(global: &Global) -> Result<Outcome, CliError> {
    let readers = match &global.card {
        // With a card image the simulator is the one reader, and its card is always present.
        Some(path) => {
            let sim = super::connect::sim_image(global, path)?;
            vec![ReaderInfo {
                index: 0,
                name: sim.name(),
                card_present: true,
                card_mute: false,
                in_use: false,
                atr: Some(sim.atr()),
            }]
        }
        None => pcsc::list_readers(global.answer_timeout)?,
    };
    let mut text = String::new();
    for r in &readers {
        let state = match (r.card_present, r.card_mute, &r.atr) {
            (false, _, _) => "no card".to_string(),
            (true, true, _) => "card present, mute (no ATR)".to_string(),
            (true, false, Some(atr)) => format!("card present, ATR {}", hexstr::spaced(atr)),
            (true, false, None) => "card present".to_string(),
        };
        let in_use = if r.in_use {
            " (in use by another program)"
        } else {
            ""
        };
        text.push_str(&format!(
            "{}  {}: {state}{in_use}\n",
            r.index,
            host_tools::screen::escape(&r.name)
        ));
    }
    Ok(Outcome::new(text, json!({ "readers": readers })))
}

//! `sscard settle --platform`: what the till says about the back office after a settlement (the
//! registry's check is made inside the settlement, `jobs::settlement::registry`): the card
//! approved or the registry away, and the upload of the journal's queued records.

use serde_json::json;

use host_tools::jobs::settlement::registry::{upload_pending, Consulted};
use host_tools::jobs::settlement::SettlementJournal;
use host_tools::screen::escape;

use super::{CliError, Outcome};

/// Uploads the journal's pending records and adds the registry's part to `outcome`. The
/// settlement stands whatever the back office answers; what it did not take stays queued.
pub fn after_settlement(
    client: &sscard_platform::Client,
    consulted: Option<Consulted>,
    journal: &mut SettlementJournal,
    outcome: &mut Outcome,
) -> Result<(), CliError> {
    let report = upload_pending(client, journal)?;
    let check = match &consulted {
        Some(Consulted::Approved) => "the card is in good standing".to_owned(),
        Some(Consulted::Unavailable { detail }) => format!(
            "not asked ({}): settled offline on the card and the lost list",
            escape(detail)
        ),
        None => "not asked (an interrupted transaction was completed)".to_owned(),
    };
    let mut text = format!("  registry: {check}\n");
    for r in &report.results {
        let verdict = serde_json::to_value(r.verdict)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        text.push_str(&format!(
            "  uploaded: card {} serial {}: {}{}\n",
            escape(&r.card_number),
            r.serial,
            verdict.replace('_', " "),
            r.detail
                .as_deref()
                .map(|d| format!(" ({})", escape(d)))
                .unwrap_or_default()
        ));
    }
    if let Some(error) = &report.error {
        text.push_str(&format!(
            "  upload: {} record(s) stay queued in the journal for the next settle --platform ({})\n",
            report.pending,
            escape(error)
        ));
    }
    outcome.text.push_str(&text);
    outcome.json["registry"] = json!({ "check": consulted, "upload": report });
    Ok(())
}

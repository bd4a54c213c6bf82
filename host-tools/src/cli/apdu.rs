//! `sscard apdu HEX...`: raw exchanges, each answer's status word in words.

use serde_json::{json, Value};

use host_tools::protocol::apdu::{self, Response};
use host_tools::protocol::client::LongCommands;
use host_tools::protocol::{hexstr, sw};

use super::{connect, CliError, Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct ApduArgs {
    /// Command APDUs in hex, one per argument (quote an APDU that contains spaces).
    #[arg(required = true, value_name = "HEX")]
    pub apdus: Vec<String>,
    /// Send each APDU exactly as given: no GET RESPONSE after 61xx, no resend after 6Cxx.
    #[arg(long)]
    pub raw: bool,
    /// Send data over 255 bytes by command chaining instead of one extended-length APDU.
    #[arg(long, conflicts_with = "raw")]
    pub chain: bool,
    /// Go on after an APDU the card refuses (by default sscard stops there).
    #[arg(long)]
    pub keep_going: bool,
}

pub fn run(global: &Global, args: &ApduArgs) -> Result<Outcome, CliError> {
    // Every argument is checked before the card sees anything.
    let mut commands = Vec::with_capacity(args.apdus.len());
    for (i, text) in args.apdus.iter().enumerate() {
        let argument = i + 1;
        let bytes = hexstr::parse(text).map_err(|source| CliError::BadHex { argument, source })?;
        apdu::parse(&bytes).map_err(|source| CliError::BadApdu { argument, source })?;
        commands.push(bytes);
    }

    let long = if args.chain {
        LongCommands::Chaining
    } else {
        LongCommands::Extended
    };
    let mut client = connect::open(global)?.with_long_commands(long);
    let mut text = String::new();
    let mut exchanges: Vec<Value> = Vec::new();
    let mut failure = None;
    for (i, bytes) in commands.iter().enumerate() {
        let label = apdu::ins_name(bytes[0], bytes[1]).unwrap_or("unknown instruction");
        let response: Response = if args.raw {
            client.transmit_raw(bytes)?
        } else {
            // Parsed above already; parse again to borrow from `bytes`.
            let command = apdu::parse(bytes).map_err(|source| CliError::BadApdu {
                argument: i + 1,
                source,
            })?;
            client.transmit(&command)?
        };
        text.push_str(&format!("> {}  ({label})\n", hexstr::spaced(bytes)));
        if !response.data.is_empty() {
            text.push_str(&format!("< {}\n", hexstr::spaced(&response.data)));
        }
        text.push_str(&format!("< {}\n", sw::explain(response.sw)));
        exchanges.push(json!({
            "command": hexstr::encode(bytes),
            "label": label,
            "data": hexstr::encode(&response.data),
            "sw": response.sw.to_string(),
            "meaning": sw::meaning(response.sw),
        }));
        if !sw::is_done(response.sw) && failure.is_none() {
            failure = Some(CliError::Refused {
                index: i + 1,
                label: label.to_string(),
                sw: sw::explain(response.sw),
            });
            if !args.keep_going {
                break;
            }
        }
    }
    let json = json!({ "reader": client.transport().name(), "exchanges": exchanges });
    let mut outcome = Outcome::new(text, json);
    outcome.failure = failure;
    Ok(outcome)
}

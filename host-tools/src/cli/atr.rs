//! `sscard atr [HEX]`: ATR analysis of given bytes or of the card's ATR.

use host_tools::protocol::{atr, hexstr};

use super::{connect, CliError, Global, Outcome};

pub fn run(global: &Global, hex: Option<&str>) -> Result<Outcome, CliError> {
    let bytes = match hex {
        Some(hex) => hexstr::parse(hex).map_err(|source| CliError::BadHex {
            argument: 1,
            source,
        })?,
        None => connect::open(global)?.atr(),
    };
    let atr = atr::parse(&bytes)?;
    let json = serde_json::to_value(&atr).map_err(|e| CliError::Output(e.into()))?;
    Ok(Outcome::new(atr.describe(), json))
}

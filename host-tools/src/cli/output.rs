//! What a command produced: text for a person, JSON for a program, and possibly a failure that
//! still comes with output (the exchanges before a refused APDU).

use serde_json::Value;

use super::CliError;

pub struct Outcome {
    pub text: String,
    pub json: Value,
    pub failure: Option<CliError>,
}

impl Outcome {
    pub fn new(text: String, json: Value) -> Self {
        Outcome {
            text,
            json,
            failure: None,
        }
    }

    /// Output that is not JSON (completions, the man page): printed as it is, even with --json.
    pub fn raw(text: String) -> Self {
        Outcome {
            text,
            json: Value::Null,
            failure: None,
        }
    }
}

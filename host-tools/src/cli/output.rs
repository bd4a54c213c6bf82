//! What a command produced, and the one way it reaches the screen: text for a person, JSON for a
//! program, and possibly a failure that still comes with output (the exchanges before a refused
//! APDU).
//!
//! Everything printed here goes through `host_tools::screen`: no character that came from a
//! card or a file (an ESC sequence in a record, a bidi override in a layout) reaches the terminal
//! as it is. Renderers escape each value they take from a card or a file (`screen::escape`, which
//! also keeps a value from breaking its line); the whole output is escaped once more here with its
//! line breaks kept, so a value a renderer forgot still cannot command the terminal.

use std::io::Write;
use std::process::ExitCode;

use host_tools::screen;
use serde_json::Value;

use super::CliError;

pub struct Outcome {
    pub text: String,
    pub json: Value,
    pub failure: Option<CliError>,
    /// Our own generated text (completions, the man page), printed byte for byte.
    pub verbatim: bool,
}

impl Outcome {
    pub fn new(text: String, json: Value) -> Self {
        Outcome {
            text,
            json,
            failure: None,
            verbatim: false,
        }
    }

    /// Output that is not JSON (completions, the man page): printed as it is, even with --json.
    pub fn raw(text: String) -> Self {
        Outcome {
            text,
            json: Value::Null,
            failure: None,
            verbatim: true,
        }
    }
}

/// JSON for a screen and for programs alike: serde_json escapes C0 controls in strings; DEL, C1
/// controls and format characters (which it leaves as they are) become `\uXXXX` escapes too, so
/// the document means exactly the same and shows safely.
pub fn json_text(value: &Value) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    // Outside strings pretty JSON has only spaces and newlines; inside them serde_json has
    // escaped every C0 control already, so any other control character is inside a string.
    if !text.chars().any(|c| c != '\n' && screen::is_control(c)) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c != '\n' && screen::is_control(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One line on stderr (a sentence, an event), escaped whole: one line, nothing obeyed.
pub fn eprint_line(text: &str) {
    eprintln!("{}", screen::escape(text));
}

pub fn print_json(value: &Value) {
    // A closed pipe (`sscard --json ... | head`) is not worth a message, nor a panic.
    let _ = writeln!(std::io::stdout().lock(), "{}", json_text(value));
}

/// A failed command: the JSON error object with --json, the sentence on stderr, its exit code.
pub fn fail(error: &CliError, json: bool) -> ExitCode {
    if json {
        print_json(&serde_json::json!({ "error": error.to_json() }));
    }
    eprintln!("{}", error.for_person());
    ExitCode::from(error.exit_code())
}

/// Prints what a command produced (text, or JSON with --json) and returns its exit code.
pub fn emit(outcome: Outcome, json: bool) -> ExitCode {
    if json && !outcome.json.is_null() {
        let mut value = outcome.json;
        if let Some(failure) = &outcome.failure {
            value["error"] = failure.to_json();
        }
        print_json(&value);
    } else {
        let text = if outcome.verbatim {
            outcome.text.as_str().into()
        } else {
            screen::escape_lines(&outcome.text)
        };
        // A closed pipe (`sscard man | head`) is not worth a message.
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
    match &outcome.failure {
        Some(failure) => {
            eprintln!("{}", failure.for_person());
            ExitCode::from(failure.exit_code())
        }
        None => ExitCode::SUCCESS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_escapes_what_serde_json_leaves_and_means_the_same() {
        let value = json!({ "name": "\u{1b}]0;pwned\u{7}\u{7f}\u{9b}1A\u{202e}张\n", "n": 1 });
        let text = json_text(&value);
        assert!(
            !text.chars().any(|c| c != '\n' && screen::is_control(c)),
            "{text}"
        );
        assert!(
            text.contains("\\u001b]0;pwned\\u0007\\u007f\\u009b1A\\u202e张\\n"),
            "{text}"
        );
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn json_escapes_characters_beyond_the_basic_plane_as_surrogate_pairs() {
        let value = json!(["\u{e0041}"]);
        let text = json_text(&value);
        assert!(text.contains("\\udb40\\udc41"), "{text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
    }
}

//! `--trace FILE`: every exchange as JSON lines, written by a wrapper transport so that it sees
//! exactly what goes over the wire, whichever transport is underneath.
//!
//! One line per event: a command, its response (or the error instead), a reset, a power-off.
//! Secrets never reach the file: the data of PIN and key commands and the cryptograms of
//! authentication are replaced by `*` (two per byte, so lengths stay visible).

use serde::Serialize;
use std::io::Write;
use std::time::Instant;

use card_os::instructions::{Handler, Instruction, Secret};

use crate::protocol::apdu::{self, Status};
use crate::protocol::hexstr;
use crate::transport::{CardTransport, ResetKind, TransportError};

/// Stars for the data of a command APDU, header and length bytes kept.
fn redact_command(command: &[u8]) -> String {
    match apdu::parse(command) {
        Ok(c) => {
            let lc_len = match (c.data.is_empty(), c.needs_extended()) {
                (true, _) => 0,
                (false, false) => 1,
                (false, true) => 3,
            };
            let (start, end) = (4 + lc_len, 4 + lc_len + c.data.len());
            format!(
                "{}{}{}",
                hexstr::encode(&command[..start]),
                "**".repeat(c.data.len()),
                hexstr::encode(&command[end..])
            )
        }
        // Lengths that do not add up: keep only the header.
        Err(_) => {
            let header = command.len().min(4);
            format!(
                "{}{}",
                hexstr::encode(&command[..header]),
                "**".repeat(command.len() - header)
            )
        }
    }
}

/// Stars for response data, the status word kept.
fn redact_response(response: &[u8]) -> String {
    let data_len = response.len().saturating_sub(2);
    format!(
        "{}{}",
        "**".repeat(data_len),
        hexstr::encode(&response[data_len..])
    )
}

#[derive(Serialize)]
struct Line<'a> {
    t_ms: f64,
    dir: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    apdu: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sw: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_us: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    redacted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Line<'_> {
    fn new(t_ms: f64, dir: &'static str) -> Self {
        Line {
            t_ms,
            dir,
            label: None,
            apdu: None,
            sw: None,
            duration_us: None,
            redacted: false,
            error: None,
        }
    }
}

/// A transport that logs every exchange of the one it wraps.
pub struct TracingTransport<T: CardTransport> {
    inner: T,
    sink: Box<dyn Write>,
    start: Instant,
    /// A GET RESPONSE after INTERNAL AUTHENTICATE carries the rest of the cryptogram.
    pending_secret_response: bool,
}

impl<T: CardTransport> TracingTransport<T> {
    pub fn new(inner: T, sink: Box<dyn Write>) -> Self {
        TracingTransport {
            inner,
            sink,
            start: Instant::now(),
            pending_secret_response: false,
        }
    }

    pub fn into_inner(self) -> T {
        self.inner
    }

    fn now_ms(&self) -> f64 {
        // Microsecond resolution is plenty for a person reading a trace.
        (self.start.elapsed().as_micros() as f64) / 1000.0
    }

    fn write(&mut self, line: &Line<'_>) -> Result<(), TransportError> {
        let mut text = serde_json::to_string(line).map_err(|e| TransportError::Trace(e.into()))?;
        text.push('\n');
        // Flushed per line, so a trace is complete up to a crash or a pulled card.
        self.sink
            .write_all(text.as_bytes())
            .and_then(|()| self.sink.flush())
            .map_err(TransportError::Trace)
    }
}

impl<T: CardTransport> CardTransport for TracingTransport<T> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn atr(&self) -> Vec<u8> {
        self.inner.atr()
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let cla = command.first().copied().unwrap_or(0);
        let ins = command.get(1).copied().unwrap_or(0);
        // Which part is secret: card-os's instruction table says (PINs, keys, cryptograms); the
        // GET RESPONSE after a secret answer that did not fit carries the rest of it.
        let instruction = apdu::instruction(cla, ins);
        let label = instruction.map(Instruction::name);
        let secret = match instruction {
            Some(i) if i.handler == Handler::GetResponse && self.pending_secret_response => {
                Secret::ResponseData
            }
            Some(i) => i.secret,
            None => Secret::None,
        };
        let mut line = Line::new(self.now_ms(), "command");
        line.label = label;
        let shown = match secret {
            Secret::CommandData => redact_command(command),
            _ => hexstr::encode(command),
        };
        line.redacted = shown.contains('*');
        line.apdu = Some(shown);
        self.write(&line)?;

        let started = Instant::now();
        let result = self.inner.transmit(command);
        let duration_us = started.elapsed().as_micros() as u64;
        let mut line = Line::new(self.now_ms(), "response");
        line.label = label;
        line.duration_us = Some(duration_us);
        match &result {
            Ok(response) => {
                if let [.., sw1, sw2] = response[..] {
                    line.sw = Some(format!("{sw1:02X}{sw2:02X}"));
                    self.pending_secret_response = secret == Secret::ResponseData
                        && Status::from_u16(u16::from_be_bytes([sw1, sw2])) != Status::Success;
                }
                let shown = match secret {
                    Secret::ResponseData => redact_response(response),
                    _ => hexstr::encode(response),
                };
                line.redacted = shown.contains('*');
                line.apdu = Some(shown);
            }
            Err(e) => {
                line.dir = "error";
                line.error = Some(e.to_string());
                self.pending_secret_response = false;
            }
        }
        self.write(&line)?;
        result
    }

    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        let result = self.inner.reset(kind);
        let mut line = Line::new(self.now_ms(), "reset");
        line.label = Some(match kind {
            ResetKind::Cold => "cold",
            ResetKind::Warm => "warm",
        });
        match &result {
            Ok(atr) => line.apdu = Some(hexstr::encode(atr)),
            Err(e) => line.error = Some(e.to_string()),
        }
        self.pending_secret_response = false;
        self.write(&line)?;
        result
    }

    fn power_off(&mut self) -> Result<(), TransportError> {
        let result = self.inner.power_off();
        let mut line = Line::new(self.now_ms(), "power_off");
        if let Err(e) = &result {
            line.error = Some(e.to_string());
        }
        self.write(&line)?;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::scripted::ScriptedTransport;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A sink the test can read after the transport wrote to it.
    #[derive(Clone, Default)]
    struct Shared(Rc<RefCell<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn run(script: &[(&str, &str)]) -> Vec<serde_json::Value> {
        let sink = Shared::default();
        let mut t = TracingTransport::new(ScriptedTransport::new(script), Box::new(sink.clone()));
        for (command, _) in script {
            let _ = t.transmit(&hexstr::parse(command).unwrap());
        }
        let text = String::from_utf8(sink.0.borrow().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn each_exchange_is_a_command_and_a_response_line() {
        let lines = run(&[("00A4000C023F00", "9000")]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["dir"], "command");
        assert_eq!(lines[0]["label"], "SELECT");
        assert_eq!(lines[0]["apdu"], "00A4000C023F00");
        assert_eq!(lines[1]["dir"], "response");
        assert_eq!(lines[1]["sw"], "9000");
        assert!(lines[1]["duration_us"].is_u64());
        assert!(lines[1]["t_ms"].as_f64().unwrap() >= lines[0]["t_ms"].as_f64().unwrap());
        assert!(lines[0].get("redacted").is_none());
    }

    #[test]
    fn pins_and_keys_never_reach_the_trace() {
        let secrets = [
            ("0020000003123456", "0020000003******"),
            ("805E010007123456FF654321", "805E010007**************"),
            ("842400000812345678AABBCCDD", "8424000008****************"),
            ("002C000003123456", "002C000003******"),
            (
                "80D40000140101010F00112233445566778899AABBCCDDEEFF",
                "80D4000014****************************************",
            ),
            (
                "008200041011223344556677889900AABBCCDDEEFF",
                "0082000410********************************",
            ),
        ];
        for (command, shown) in secrets {
            let lines = run(&[(command, "9000")]);
            assert_eq!(lines[0]["apdu"], shown, "{command}");
            assert_eq!(lines[0]["redacted"], true);
            let text = serde_json::to_string(&lines).unwrap();
            assert!(!text.contains(&command[10..]), "{command} leaked");
        }
        // A PIN status query has no data to hide.
        let lines = run(&[("00200000", "63C3")]);
        assert_eq!(lines[0]["apdu"], "00200000");
    }

    /// A command of `row`'s class with three data bytes and Le, and a response with three.
    fn exchange_of(row: &Instruction) -> (String, String) {
        let cla = match row.class {
            card_os::instructions::ClassRule::Mac => 0x84,
            card_os::instructions::ClassRule::Purse => 0xB0,
            _ => 0x80,
        };
        (
            format!("{cla:02X}{:02X}0000 03 A1B2C3 00", row.ins),
            "D4E5F6 9000".into(),
        )
    }

    #[test]
    fn every_card_instruction_is_labelled_and_redacted_as_the_table_says() {
        for row in card_os::instructions::INSTRUCTIONS {
            let (command, response) = exchange_of(row);
            let lines = run(&[(&command, &response)]);
            assert_eq!(lines[0]["label"], row.name(), "{command}");
            let text = serde_json::to_string(&lines).unwrap();
            assert_eq!(
                !text.contains("A1B2C3"),
                row.secret == Secret::CommandData,
                "{}: {text}",
                row.name()
            );
            assert_eq!(
                !text.contains("D4E5F6"),
                row.secret == Secret::ResponseData,
                "{}: {text}",
                row.name()
            );
        }
    }

    #[test]
    fn le_stays_visible_after_redacted_data() {
        let lines = run(&[("0020000002123400", "9000")]);
        assert_eq!(lines[0]["apdu"], "0020000002****00");
    }

    #[test]
    fn internal_authentication_answers_are_hidden_through_get_response() {
        let lines = run(&[
            ("00880000040102030400", "AABBCCDD6104"),
            ("00C0000004", "11223344 9000"),
            ("00B0000004", "55667788 9000"),
        ]);
        assert_eq!(
            lines[0]["apdu"], "00880000040102030400",
            "the challenge is public"
        );
        assert_eq!(lines[1]["apdu"], "********6104");
        assert_eq!(lines[3]["apdu"], "********9000");
        assert_eq!(
            lines[5]["apdu"], "556677889000",
            "later reads are not hidden"
        );
    }

    #[test]
    fn errors_are_traced_as_sentences() {
        let lines = run(&[("00B0000004", "!removed")]);
        assert_eq!(lines[1]["dir"], "error");
        assert_eq!(lines[1]["error"], TransportError::CardRemoved.to_string());
    }
}

//! Turning what people already have into vector files: pcsc-tools `scriptor` scripts (hex APDU
//! lines, `#` comments, `reset`) and APDU traces (`> command` / `< response` lines, as scriptor
//! prints them). The output is one vector in the suite's format, ready to review and commit.

use crate::limits::{MAX_IMPORT_BYTES, MAX_STEPS_PER_VECTOR};

/// Why a script or trace could not be imported: the line (1-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ImportError {
    pub line: usize,
    pub message: String,
}

/// What the imported vector says about itself.
#[derive(Debug, Clone)]
pub struct ImportHeader {
    pub id: String,
    pub requirement: String,
    pub reference: String,
    /// One of the card names of the format (e.g. "national-2.0").
    pub card: String,
}

enum Imported {
    Reset,
    Comment(String),
    Apdu {
        command: String,
        sw: String,
        data: String,
    },
}

/// An error (at line 0: the whole input) when `text` is larger than an import may be.
fn within_import_limit(text: &str) -> Result<(), ImportError> {
    if text.len() > MAX_IMPORT_BYTES {
        return Err(ImportError {
            line: 0,
            message: format!(
                "the input is {} bytes, more than the limit of {MAX_IMPORT_BYTES}",
                text.len()
            ),
        });
    }
    Ok(())
}

fn hex_of(text: &str, line: usize) -> Result<String, ImportError> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    match hex::decode(&compact) {
        Ok(bytes) if !bytes.is_empty() => Ok(spaced(&bytes)),
        _ => Err(ImportError {
            line,
            message: format!("{:?} is not hex bytes", text.trim()),
        }),
    }
}

fn spaced(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A scriptor script: every APDU line becomes a step expecting `9000` and any data (a script
/// carries no answers: tighten them by hand, or import a trace of a good card instead).
pub fn from_scriptor(header: &ImportHeader, script: &str) -> Result<String, ImportError> {
    within_import_limit(script)?;
    let mut steps = Vec::new();
    for (i, raw) in script.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            steps.push(Imported::Comment(comment.trim().to_owned()));
        } else if line.eq_ignore_ascii_case("reset") {
            steps.push(Imported::Reset);
        } else if line.eq_ignore_ascii_case("exit") || line.eq_ignore_ascii_case("quit") {
            break;
        } else {
            steps.push(Imported::Apdu {
                command: hex_of(line, i + 1)?,
                sw: "9000".into(),
                data: "*".into(),
            });
        }
    }
    render(header, &steps)
}

/// An APDU trace: `> command` lines each followed by a `< response` line (data then SW, an
/// optional ` : text` after it is ignored); `reset` and `#` comments as in scripts. The answers
/// become exact expectations.
pub fn from_trace(header: &ImportHeader, trace: &str) -> Result<String, ImportError> {
    within_import_limit(trace)?;
    let mut steps = Vec::new();
    let mut pending: Option<(String, usize)> = None;
    for (i, raw) in trace.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(command) = line.strip_prefix('>') {
            if let Some((_, at)) = pending {
                return Err(ImportError {
                    line: n,
                    message: format!("the command of line {at} has no response line"),
                });
            }
            pending = Some((hex_of(command, n)?, n));
        } else if let Some(response) = line.strip_prefix('<') {
            let (command, _) = pending.take().ok_or(ImportError {
                line: n,
                message: "a response without a command before it".into(),
            })?;
            let bytes_text = response.split(" : ").next().unwrap_or(response);
            let compact: String = bytes_text.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = hex::decode(&compact)
                .ok()
                .filter(|b| b.len() >= 2)
                .ok_or(ImportError {
                    line: n,
                    message: "a response is hex bytes ending with SW1 SW2".into(),
                })?;
            let (data, sw) = bytes.split_at(bytes.len() - 2);
            steps.push(Imported::Apdu {
                command,
                sw: format!("{:02X}{:02X}", sw[0], sw[1]),
                data: spaced(data),
            });
        } else if let Some(comment) = line.strip_prefix('#') {
            steps.push(Imported::Comment(comment.trim().to_owned()));
        } else if line.eq_ignore_ascii_case("reset") {
            steps.push(Imported::Reset);
        } else {
            return Err(ImportError {
                line: n,
                message: "expected > command, < response, reset or # comment".into(),
            });
        }
    }
    if let Some((_, at)) = pending {
        return Err(ImportError {
            line: at,
            message: "this command has no response line".into(),
        });
    }
    render(header, &steps)
}

fn quoted(text: &str) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

fn render(header: &ImportHeader, steps: &[Imported]) -> Result<String, ImportError> {
    if !steps.iter().any(|s| matches!(s, Imported::Apdu { .. })) {
        return Err(ImportError {
            line: 0,
            message: "no APDU to import".into(),
        });
    }
    let step_count = steps
        .iter()
        .filter(|s| !matches!(s, Imported::Comment(_)))
        .count();
    if step_count > MAX_STEPS_PER_VECTOR {
        return Err(ImportError {
            line: 0,
            message: format!(
                "{step_count} steps are more than the limit of {MAX_STEPS_PER_VECTOR} for one vector: split the script"
            ),
        });
    }
    let mut out = format!(
        "[suite]\ntitle = {}\ncard = {}\nreference = {}\n\n[[vector]]\nid = {}\nrequirement = {}\nsteps = [\n",
        quoted(&header.requirement),
        quoted(&header.card),
        quoted(&header.reference),
        quoted(&header.id),
        quoted(&header.requirement),
    );
    for step in steps {
        match step {
            Imported::Comment(c) => out.push_str(&format!("  # {c}\n")),
            Imported::Reset => out.push_str("  { reset = \"cold\" },\n"),
            Imported::Apdu { command, sw, data } => {
                let data = if data.is_empty() {
                    String::new()
                } else {
                    format!(", data = {}", quoted(data))
                };
                out.push_str(&format!(
                    "  {{ apdu = {}, sw = {}{data} }},\n",
                    quoted(command),
                    quoted(sw)
                ));
            }
        }
    }
    out.push_str("]\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{parse_file, Step};

    fn header() -> ImportHeader {
        ImportHeader {
            id: "imported.one".into(),
            requirement: "a reader's sequence".into(),
            reference: "ssc-card.md".into(),
            card: "national-2.0".into(),
        }
    }

    #[test]
    fn a_scriptor_script_becomes_a_vector_that_loads() {
        let script = "# select SSSE\nreset\n00 A4 04 00 0F 7378312E73682EC9E7BBE1B1A3D5CF\n00B2012C12\nexit\n00\n";
        let text = from_scriptor(&header(), script).unwrap();
        let file = parse_file("imported.toml", &text).unwrap();
        let steps = &file.vectors[0].steps;
        assert_eq!(steps.len(), 3);
        assert!(matches!(steps[0], Step::Reset { cold: true, .. }));
        assert!(text.contains("# select SSSE"));
        assert!(text.contains("apdu = \"00 B2 01 2C 12\", sw = \"9000\", data = \"*\""));
    }

    #[test]
    fn a_trace_keeps_its_exact_answers() {
        let trace = "> 00 B2 01 2C 12\n< 01 10 33 03 00 D1 56 00 00 05 01 00 57 94 E4 B2 CB AC 90 00 : Normal processing.\n> 00A4000002DF09\n< 6A 82\n";
        let text = from_trace(&header(), trace).unwrap();
        assert!(parse_file("t.toml", &text).is_ok());
        assert!(text.contains("sw = \"9000\", data = \"01 10 33 03"));
        assert!(text.contains("apdu = \"00 A4 00 00 02 DF 09\", sw = \"6A82\" }"));
    }

    #[test]
    fn broken_input_names_its_line() {
        let e = from_trace(&header(), "> 00A4\n> 00B0\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = from_scriptor(&header(), "00 A4\nzz\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(from_trace(&header(), "< 9000\n").is_err());
    }
}

//! Reports of a run: a summary table for people, JSON for programs, JUnit XML for CI.

use serde::Serialize;

use crate::runner::{VectorResult, Verdict};

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Where the cards were ("simulator (in process)", a reader's name).
    pub target: String,
    pub summary: Summary,
    pub results: Vec<VectorResult>,
}

/// Counts of a run (or of one file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    /// Vectors that are wrong themselves (see [`Verdict::VectorError`]).
    pub vector_errors: usize,
    pub skipped: usize,
}

impl Summary {
    fn add(&mut self, r: &VectorResult) {
        self.total += 1;
        match r.verdict {
            Verdict::Pass => self.passed += 1,
            Verdict::Fail { .. } => self.failed += 1,
            Verdict::Error { .. } => self.errors += 1,
            Verdict::VectorError { .. } => self.vector_errors += 1,
            Verdict::Skip { .. } => self.skipped += 1,
        }
    }

    pub fn of<'r>(results: impl IntoIterator<Item = &'r VectorResult>) -> Summary {
        let mut s = Summary::default();
        results.into_iter().for_each(|r| s.add(r));
        s
    }
}

impl Report {
    pub fn new(target: impl Into<String>, results: Vec<VectorResult>) -> Self {
        Report {
            target: target.into(),
            summary: Summary::of(&results),
            results,
        }
    }

    /// No failure, no error and no vector error (skips allowed).
    pub fn success(&self) -> bool {
        self.card_passed() && self.summary.vector_errors == 0
    }

    /// The card failed no vector that could be run (vector errors are not the card's).
    pub fn card_passed(&self) -> bool {
        self.summary.failed == 0 && self.summary.errors == 0
    }

    /// Files in the order they first appear, with their counts.
    fn by_file(&self) -> Vec<(&str, Summary)> {
        let mut files: Vec<(&str, Summary)> = Vec::new();
        for r in &self.results {
            match files.iter_mut().find(|(f, _)| *f == r.file) {
                Some((_, s)) => s.add(r),
                None => {
                    let mut s = Summary::default();
                    s.add(r);
                    files.push((&r.file, s));
                }
            }
        }
        files
    }

    /// The summary table, then every failure with its message and exchanges.
    pub fn to_text(&self) -> String {
        let mut out = format!("conformance run against {}\n\n", self.target);
        let rows = self.by_file();
        let width = rows
            .iter()
            .map(|(f, _)| f.len())
            .chain(["file".len(), "total".len()])
            .max()
            .unwrap_or(4);
        out.push_str(&format!(
            "{:<width$}  {:>5}  {:>5}  {:>5}  {:>5}  {:>6}  {:>5}\n",
            "file", "total", "pass", "fail", "error", "vector", "skip"
        ));
        let line = |name: &str, s: &Summary| {
            format!(
                "{name:<width$}  {:>5}  {:>5}  {:>5}  {:>5}  {:>6}  {:>5}\n",
                s.total, s.passed, s.failed, s.errors, s.vector_errors, s.skipped
            )
        };
        for (file, s) in &rows {
            out.push_str(&line(file, s));
        }
        out.push_str(&line("total", &self.summary));
        for r in self
            .results
            .iter()
            .filter(|r| r.failed() || r.vector_error())
        {
            let (kind, step, message) = match &r.verdict {
                Verdict::Fail { step, message } => ("FAIL", step, message),
                Verdict::Error { step, message } => ("ERROR", step, message),
                Verdict::VectorError { step, message } => ("VECTOR ERROR", step, message),
                _ => continue,
            };
            out.push_str(&format!(
                "\n{kind} {} ({}): {}\n  requirement: {} [{}]\n  step {step}: {message}\n",
                r.id, r.file, r.card, r.requirement, r.reference
            ));
            for e in &r.exchanges {
                out.push_str(&format!("  > {}\n  < {}\n", e.command, e.response));
            }
        }
        let skipped: Vec<&VectorResult> = self.results.iter().filter(|r| r.skipped()).collect();
        if !skipped.is_empty() {
            out.push_str(&format!("\nskipped {}:\n", skipped.len()));
            let mut reasons: Vec<(&str, usize)> = Vec::new();
            for r in skipped {
                if let Verdict::Skip { reason } = &r.verdict {
                    match reasons.iter_mut().find(|(why, _)| *why == reason) {
                        Some((_, n)) => *n += 1,
                        None => reasons.push((reason, 1)),
                    }
                }
            }
            for (why, n) in reasons {
                out.push_str(&format!("  {n:>4} × {why}\n"));
            }
        }
        let verdict = if self.success() {
            "PASS"
        } else if self.card_passed() {
            // The card failed nothing, but some vectors could not be run as written.
            "VECTOR ERRORS"
        } else {
            "FAIL"
        };
        let vector_errors = match self.summary.vector_errors {
            0 => String::new(),
            n => format!(", {n} vector errors"),
        };
        out.push_str(&format!(
            "\n{verdict}: {} passed, {} failed, {} errors{vector_errors}, {} skipped of {}\n",
            self.summary.passed,
            self.summary.failed,
            self.summary.errors,
            self.summary.skipped,
            self.summary.total
        ));
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// JUnit XML: one testsuite per file, one testcase per vector.
    pub fn to_junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<testsuites name=\"sscard conformance\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n",
            self.summary.total,
            self.summary.failed,
            self.summary.errors + self.summary.vector_errors,
            self.summary.skipped
        ));
        for (file, s) in self.by_file() {
            out.push_str(&format!(
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n",
                xml(file),
                s.total,
                s.failed,
                s.errors + s.vector_errors,
                s.skipped
            ));
            for r in self.results.iter().filter(|r| r.file == file) {
                out.push_str(&format!(
                    "    <testcase classname=\"{}\" name=\"{}\">\n",
                    xml(file.trim_end_matches(".toml")),
                    xml(&r.id)
                ));
                let transcript: String = r
                    .exchanges
                    .iter()
                    .map(|e| format!("> {}\n< {}\n", e.command, e.response))
                    .collect();
                match &r.verdict {
                    Verdict::Pass => {}
                    Verdict::Skip { reason } => {
                        out.push_str(&format!("      <skipped message=\"{}\"/>\n", xml(reason)))
                    }
                    Verdict::Fail { step, message } => out.push_str(&format!(
                        "      <failure message=\"step {step}: {}\">{}\n{}</failure>\n",
                        xml(message),
                        xml(&format!("{} [{}]", r.requirement, r.reference)),
                        xml(&transcript)
                    )),
                    Verdict::Error { step, message } => out.push_str(&format!(
                        "      <error message=\"step {step}: {}\">{}</error>\n",
                        xml(message),
                        xml(&transcript)
                    )),
                    Verdict::VectorError { step, message } => out.push_str(&format!(
                        "      <error type=\"vector-error\" message=\"vector error in {}, step {step}: {}\">{}</error>\n",
                        xml(&r.file),
                        xml(message),
                        xml(&transcript)
                    )),
                }
                out.push_str("    </testcase>\n");
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, verdict: Verdict) -> VectorResult {
        VectorResult {
            id: id.into(),
            file: "select.toml".into(),
            requirement: "r <&>".into(),
            reference: "ISO".into(),
            card: "demo",
            verdict,
            exchanges: Vec::new(),
        }
    }

    #[test]
    fn junit_has_one_testcase_per_vector_with_escaped_failures() {
        let report = Report::new(
            "sim",
            vec![
                result("a", Verdict::Pass),
                result(
                    "b",
                    Verdict::Fail {
                        step: 2,
                        message: "expected SW 9000, got 6A82 <x>".into(),
                    },
                ),
                result(
                    "c",
                    Verdict::Skip {
                        reason: "no reader".into(),
                    },
                ),
            ],
        );
        let xml = report.to_junit();
        assert_eq!(xml.matches("<testcase ").count(), 3);
        assert!(xml.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""));
        assert!(xml.contains("step 2: expected SW 9000, got 6A82 &lt;x&gt;"));
        assert!(xml.contains("<skipped message=\"no reader\"/>"));
        assert!(!report.success());
        let text = report.to_text();
        assert!(
            text.contains("FAIL b") && text.contains("1 × no reader"),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["summary"]["failed"], 1);
        assert_eq!(json["results"][1]["verdict"], "fail");
    }
}

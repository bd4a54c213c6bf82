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
    /// Results for the card under test: every one but the crypto known answers.
    pub card_vectors: usize,
    /// Of those, the vectors that reached the card: it answered at least one of their steps.
    pub reached_card: usize,
}

impl Summary {
    fn add(&mut self, r: &VectorResult) {
        self.total += 1;
        self.card_vectors += usize::from(!r.is_known_answer());
        self.reached_card += usize::from(r.reached_card);
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

    /// No failure, no error and no vector error (skips allowed), and the card answered: a run in
    /// which no vector reached the card checked nothing about it and is no pass.
    pub fn success(&self) -> bool {
        self.card_passed() && self.summary.vector_errors == 0
    }

    /// The card answered and failed no vector that could be run (vector errors are not the
    /// card's).
    pub fn card_passed(&self) -> bool {
        self.summary.failed == 0 && self.summary.errors == 0 && !self.nothing_reached_card()
    }

    /// Vectors were selected for the card under test and none of them reached it (a dead or mute
    /// card, a card that is none of the vector cards): everything was skipped or stopped before
    /// the card answered.
    pub fn nothing_reached_card(&self) -> bool {
        self.summary.card_vectors > 0 && self.summary.reached_card == 0
    }

    /// Why the run is no pass when [`Report::nothing_reached_card`], in a sentence with the
    /// commonest reason its vectors did not run (for a dead card: "the card answered nothing").
    pub fn nothing_reached_sentence(&self) -> Option<String> {
        if !self.nothing_reached_card() {
            return None;
        }
        let first_error = self.results.iter().find_map(|r| match &r.verdict {
            Verdict::Error { message, .. } if !r.is_known_answer() => Some(message.as_str()),
            _ => None,
        });
        let why = match (
            self.skip_reasons().into_iter().max_by_key(|(_, n)| *n),
            first_error,
        ) {
            (Some((reason, n)), _) => format!("{n} skipped: {reason}"),
            (None, Some(message)) => message.to_owned(),
            (None, None) => "no answer".to_owned(),
        };
        Some(format!(
            "nothing was checked: no vector reached the card (0 of {}); {why}",
            self.summary.card_vectors
        ))
    }

    /// Each reason vectors were skipped, with how many, in order of first appearance.
    fn skip_reasons(&self) -> Vec<(&str, usize)> {
        let mut reasons: Vec<(&str, usize)> = Vec::new();
        for r in &self.results {
            if let Verdict::Skip { reason } = &r.verdict {
                match reasons.iter_mut().find(|(why, _)| *why == reason) {
                    Some((_, n)) => *n += 1,
                    None => reasons.push((reason, 1)),
                }
            }
        }
        reasons
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
        if self.summary.card_vectors > 0 {
            out.push_str(&format!(
                "reached the card: {} of {} vector(s)\n",
                self.summary.reached_card, self.summary.card_vectors
            ));
        }
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
        let reasons = self.skip_reasons();
        if !reasons.is_empty() {
            out.push_str(&format!("\nskipped {}:\n", self.summary.skipped));
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
        if let Some(sentence) = self.nothing_reached_sentence() {
            out.push_str(&format!("{sentence}\n"));
        }
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// JUnit XML: one testsuite per file, one testcase per vector.
    pub fn to_junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        // A card that answered nothing is one more failure, so that CI does not show green.
        let nothing = self.nothing_reached_sentence();
        let extra = usize::from(nothing.is_some());
        out.push_str(&format!(
            "<testsuites name=\"sscard conformance\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n",
            self.summary.total + extra,
            self.summary.failed + extra,
            self.summary.errors + self.summary.vector_errors,
            self.summary.skipped
        ));
        if let Some(sentence) = &nothing {
            out.push_str(&format!(
                "  <testsuite name=\"card under test\" tests=\"1\" failures=\"1\" errors=\"0\" skipped=\"0\">\n\
                 \x20   <properties><property name=\"reached the card\" value=\"0\"/></properties>\n\
                 \x20   <testcase classname=\"card under test\" name=\"the card answered\">\n\
                 \x20     <failure message=\"{}\"/>\n\
                 \x20   </testcase>\n\
                 \x20 </testsuite>\n",
                xml(sentence)
            ));
        }
        for (file, s) in self.by_file() {
            out.push_str(&format!(
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n",
                xml(file),
                s.total,
                s.failed,
                s.errors + s.vector_errors,
                s.skipped
            ));
            if s.card_vectors > 0 {
                out.push_str(&format!(
                    "    <properties><property name=\"reached the card\" value=\"{}\"/></properties>\n",
                    s.reached_card
                ));
            }
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
            reached_card: !matches!(verdict, Verdict::Skip { .. }),
            verdict,
            exchanges: Vec::new(),
        }
    }

    fn known_answer(id: &str) -> VectorResult {
        VectorResult {
            card: crate::kat::KNOWN_ANSWER_CARD,
            file: "crypto/sha256.toml".into(),
            reached_card: false,
            ..result(id, Verdict::Pass)
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

    #[test]
    fn a_card_that_answered_nothing_fails_the_run_in_every_report() {
        let dead = "the card answered nothing (the card could not be reached: no answer)";
        let skip = || Verdict::Skip {
            reason: dead.into(),
        };
        let report = Report::new(
            "reader 0",
            vec![
                known_answer("sha256.empty"),
                result("a", skip()),
                result("b", skip()),
            ],
        );
        assert!(report.nothing_reached_card());
        assert!(!report.success(), "skips and a known answer are no pass");
        let text = report.to_text();
        assert!(
            text.contains("reached the card: 0 of 2 vector(s)"),
            "{text}"
        );
        assert!(
            text.contains("\nFAIL: 1 passed, 0 failed, 0 errors, 2 skipped of 3\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "nothing was checked: no vector reached the card (0 of 2); 2 skipped: {dead}"
            )),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["summary"]["reached_card"], 0);
        assert_eq!(json["summary"]["card_vectors"], 2);
        let xml = report.to_junit();
        assert!(xml.contains("tests=\"4\" failures=\"1\""), "{xml}");
        assert!(xml.contains("<failure message=\"nothing was checked: no vector reached the card (0 of 2); 2 skipped: the card answered nothing"), "{xml}");
        assert!(
            xml.contains("<property name=\"reached the card\" value=\"0\"/>"),
            "{xml}"
        );
    }

    #[test]
    fn known_answers_alone_need_no_card_and_one_answered_vector_is_enough() {
        let alone = Report::new("reader 0", vec![known_answer("sha256.empty")]);
        assert!(!alone.nothing_reached_card());
        assert!(alone.success());
        assert!(!alone.to_text().contains("reached the card"));
        let one = Report::new(
            "reader 0",
            vec![
                result("a", Verdict::Pass),
                result(
                    "b",
                    Verdict::Skip {
                        reason: "needs a blank card".into(),
                    },
                ),
            ],
        );
        assert!(one.success(), "{}", one.to_text());
        assert!(one.to_text().contains("reached the card: 1 of 2 vector(s)"));
        assert!(one
            .to_junit()
            .contains("<property name=\"reached the card\" value=\"1\"/>"));
    }
}

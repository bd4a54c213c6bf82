//! Progress bars for long work: on stderr, and only for a person watching (stderr a terminal,
//! no --json).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `total` steps, hidden when nobody is watching.
pub fn bar(total: usize, message: &str, json: bool) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    if json || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    } else {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
    if let Ok(style) = ProgressStyle::with_template("{msg:12} [{bar:30}] {pos}/{len} {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_owned());
    bar
}

/// A bar that the conformance run sizes when it knows how many vectors it has.
pub struct Bar {
    message: &'static str,
    json: bool,
    bar: Option<ProgressBar>,
}

impl Bar {
    pub fn new(message: &'static str, json: bool) -> Self {
        Bar {
            message,
            json,
            bar: None,
        }
    }
}

impl host_tools::jobs::conformance::Progress for Bar {
    fn start(&mut self, total: usize) {
        self.bar = Some(bar(total, self.message, self.json));
    }
    fn vector_done(&mut self, id: &str) {
        if let Some(bar) = &self.bar {
            // The id comes from a vector file, and the bar draws on the terminal.
            bar.set_message(host_tools::screen::escape(id).into_owned());
            bar.inc(1);
        }
    }
    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

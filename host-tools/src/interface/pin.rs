//! PIN entry: the library asks, no PIN crosses the interface. A pluggable source: the controlling
//! terminal with hidden input (a counter), an external PIN-pad program (a kiosk), a file
//! descriptor or a scripted pad (tests). What is typed is held in zeroizing memory and becomes a
//! [`Pin`] (redacted when printed, zeroized on drop); it is never logged or traced.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use card_os::crypto::Pin;
use zeroize::Zeroizing;

use crate::interface::codes::{Failure, PIN_CANCELLED, PIN_LENGTH, PIN_TIMEOUT};

/// Prompts of the spec.
pub const PROMPT_PIN: &str = "请输入密码";
pub const PROMPT_OLD: &str = "请输入原密码";
pub const PROMPT_NEW: &str = "请输入新密码";
pub const PROMPT_AGAIN: &str = "请再次输入新密码";

/// The environment variable a PIN-pad program finds the prompt in (UTF-8).
pub const PROMPT_ENV: &str = "SSCARD_PIN_PROMPT";
/// The longest line read from a pad (a PIN is at most 16 digits).
const LINE_MAX: usize = 64;

/// Where PINs come from, as the configuration names it.
#[derive(Clone, PartialEq, Eq)]
pub enum PinSourceSpec {
    /// `tty`: the controlling terminal, hidden input.
    Tty,
    /// `command:PROGRAM ARGS...`: a PIN-pad program printing the PIN on its first output line.
    Command(Vec<String>),
    /// `fd:N`: one line per PIN from an open file descriptor.
    Fd(i32),
    /// `script:123456,654321,...`: PINs given in turn (tests); `cancel` and `timeout` entries act
    /// as a holder pressing cancel or walking away.
    Script(Vec<Zeroizing<String>>),
}

impl std::fmt::Debug for PinSourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PinSourceSpec::Tty => f.write_str("tty"),
            PinSourceSpec::Command(argv) => write!(f, "command:{}", argv.join(" ")),
            PinSourceSpec::Fd(n) => write!(f, "fd:{n}"),
            PinSourceSpec::Script(entries) => write!(f, "script:<{} entries>", entries.len()),
        }
    }
}

impl PinSourceSpec {
    pub fn parse(text: &str) -> Result<PinSourceSpec, String> {
        let (kind, rest) = text.split_once(':').unwrap_or((text, ""));
        match kind {
            "tty" if rest.is_empty() => Ok(PinSourceSpec::Tty),
            "command" => {
                let argv: Vec<String> = rest.split_whitespace().map(str::to_owned).collect();
                if argv.is_empty() {
                    return Err("[pin] source = \"command:PROGRAM ARGS\" needs a program".into());
                }
                Ok(PinSourceSpec::Command(argv))
            }
            "fd" => rest
                .parse::<i32>()
                .ok()
                .filter(|n| *n >= 0)
                .map(PinSourceSpec::Fd)
                .ok_or_else(|| "[pin] source = \"fd:N\" needs a descriptor number".into()),
            "script" => Ok(PinSourceSpec::Script(
                rest.split(',')
                    .map(|s| Zeroizing::new(s.trim().to_owned()))
                    .collect(),
            )),
            _ => Err(format!(
                "[pin] source is tty, command:PROGRAM, fd:N or script:PIN,PIN,..., not {:?}",
                kind
            )),
        }
    }
}

/// The pad: a source and, for a script, how far it got (kept across calls).
pub struct PinPad {
    spec: PinSourceSpec,
    timeout: Duration,
    next_scripted: usize,
}

impl PinPad {
    pub fn new(spec: PinSourceSpec, timeout: Duration) -> Self {
        PinPad {
            spec,
            timeout,
            next_scripted: 0,
        }
    }

    pub fn spec(&self) -> &PinSourceSpec {
        &self.spec
    }

    /// Asks the holder for a PIN with `prompt`; 4–16 digits or −33, cancelled −31, timed out −32.
    pub fn ask(&mut self, prompt: &str) -> Result<Pin, Failure> {
        let typed = match &self.spec {
            PinSourceSpec::Tty => from_tty(prompt)?,
            PinSourceSpec::Command(argv) => from_command(argv, prompt, self.timeout)?,
            PinSourceSpec::Fd(fd) => from_fd(*fd, self.timeout)?,
            PinSourceSpec::Script(entries) => {
                let entry = entries.get(self.next_scripted).cloned().ok_or_else(|| {
                    Failure::new(PIN_CANCELLED, "the scripted PIN pad has no more entries")
                })?;
                self.next_scripted += 1;
                match entry.as_str() {
                    "cancel" => return Err(cancelled()),
                    "timeout" => return Err(timed_out()),
                    _ => entry,
                }
            }
        };
        let digits = typed.trim_end_matches(['\r', '\n']);
        if digits.is_empty() {
            return Err(cancelled());
        }
        Pin::from_ascii(digits.as_bytes())
            .map_err(|_| Failure::new(PIN_LENGTH, "a PIN is 4 to 16 digits"))
    }
}

fn cancelled() -> Failure {
    Failure::new(PIN_CANCELLED, "PIN entry was cancelled")
}

fn timed_out() -> Failure {
    Failure::new(PIN_TIMEOUT, "PIN entry timed out")
}

fn from_tty(prompt: &str) -> Result<Zeroizing<String>, Failure> {
    rpassword::prompt_password(format!("{prompt}: "))
        .map(Zeroizing::new)
        .map_err(|e| {
            Failure::new(
                PIN_CANCELLED,
                format!("no terminal to ask the PIN on ({e})"),
            )
        })
}

/// Runs the PIN-pad program; its first output line is the PIN. A non-zero exit is a cancel; no
/// answer within the timeout kills it (−32).
fn from_command(
    argv: &[String],
    prompt: &str,
    timeout: Duration,
) -> Result<Zeroizing<String>, Failure> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| Failure::new(PIN_CANCELLED, "no PIN-pad program configured"))?;
    let mut child = Command::new(program)
        .args(args)
        .env(PROMPT_ENV, prompt)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            Failure::new(
                PIN_CANCELLED,
                format!("the PIN pad {program} does not start: {e}"),
            )
        })?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(timed_out());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Failure::new(
                    PIN_CANCELLED,
                    format!("the PIN pad failed: {e}"),
                ));
            }
        }
    };
    let mut out = Zeroizing::new(Vec::new());
    if let Some(stdout) = child.stdout.take() {
        let _ = stdout.take(LINE_MAX as u64).read_to_end(&mut out);
    }
    if !status.success() {
        return Err(cancelled());
    }
    let line = out.split(|b| *b == b'\n').next().unwrap_or_default();
    Ok(Zeroizing::new(String::from_utf8_lossy(line).into_owned()))
}

/// One line from descriptor `fd`, read a byte at a time (nothing after the line is consumed).
fn from_fd(fd: i32, timeout: Duration) -> Result<Zeroizing<String>, Failure> {
    let deadline = Instant::now() + timeout;
    let mut line = Zeroizing::new(Vec::with_capacity(LINE_MAX));
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out());
        }
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
        // SAFETY: one pollfd on the stack, its count is 1.
        let ready = unsafe { libc::poll(&mut poll, 1, ms) };
        if ready == 0 {
            return Err(timed_out());
        }
        if ready < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Failure::new(
                PIN_CANCELLED,
                format!("PIN descriptor {fd} cannot be read"),
            ));
        }
        let mut byte = 0u8;
        // SAFETY: reads at most one byte into a local.
        let n = unsafe { libc::read(fd, (&mut byte as *mut u8).cast(), 1) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Failure::new(
                PIN_CANCELLED,
                format!("PIN descriptor {fd} cannot be read"),
            ));
        }
        if n == 0 || byte == b'\n' {
            if n == 0 && line.is_empty() {
                return Err(cancelled());
            }
            break;
        }
        if line.len() >= LINE_MAX {
            return Err(Failure::new(PIN_LENGTH, "a PIN is 4 to 16 digits"));
        }
        line.push(byte);
    }
    Ok(Zeroizing::new(String::from_utf8_lossy(&line).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pad(spec: &str) -> PinPad {
        PinPad::new(PinSourceSpec::parse(spec).unwrap(), Duration::from_secs(2))
    }

    #[test]
    fn a_script_gives_its_pins_in_turn_and_then_cancels() {
        let mut pad = pad("script:123456,654321");
        assert_eq!(pad.ask("x").unwrap(), Pin::from_ascii(b"123456").unwrap());
        assert_eq!(pad.ask("x").unwrap(), Pin::from_ascii(b"654321").unwrap());
        assert_eq!(pad.ask("x").unwrap_err().code, PIN_CANCELLED);
    }

    #[test]
    fn wrong_lengths_cancel_and_timeout_have_their_codes() {
        let mut pad = pad("script:12,cancel,timeout,12345678901234567,12a456");
        assert_eq!(pad.ask("x").unwrap_err().code, PIN_LENGTH);
        assert_eq!(pad.ask("x").unwrap_err().code, PIN_CANCELLED);
        assert_eq!(pad.ask("x").unwrap_err().code, PIN_TIMEOUT);
        assert_eq!(pad.ask("x").unwrap_err().code, PIN_LENGTH);
        assert_eq!(pad.ask("x").unwrap_err().code, PIN_LENGTH);
    }

    #[test]
    fn a_pin_pad_program_answers_on_stdout_or_times_out() {
        let mut ok = PinPad::new(
            PinSourceSpec::Command(vec![
                "sh".into(),
                "-c".into(),
                "test \"$SSCARD_PIN_PROMPT\" = 请输入密码 && echo 246810".into(),
            ]),
            Duration::from_secs(5),
        );
        assert_eq!(
            ok.ask(PROMPT_PIN).unwrap(),
            Pin::from_ascii(b"246810").unwrap()
        );
        let mut cancel = PinPad::new(
            PinSourceSpec::Command(vec!["false".into()]),
            Duration::from_secs(5),
        );
        assert_eq!(cancel.ask(PROMPT_PIN).unwrap_err().code, PIN_CANCELLED);
        let mut slow = PinPad::new(
            PinSourceSpec::Command(vec!["sleep".into(), "5".into()]),
            Duration::from_millis(200),
        );
        let started = Instant::now();
        assert_eq!(slow.ask(PROMPT_PIN).unwrap_err().code, PIN_TIMEOUT);
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn a_descriptor_gives_one_line_per_pin() {
        let mut fds = [0i32; 2];
        // SAFETY: pipe fills the two descriptors it is given.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let text = b"123456\n7890\n";
        // SAFETY: writes from a live buffer to the pipe's write end.
        let n = unsafe { libc::write(fds[1], text.as_ptr().cast(), text.len()) };
        assert_eq!(n as usize, text.len());
        // SAFETY: closes the write end this test opened.
        unsafe { libc::close(fds[1]) };
        let mut pad = PinPad::new(PinSourceSpec::Fd(fds[0]), Duration::from_secs(2));
        assert_eq!(pad.ask("x").unwrap(), Pin::from_ascii(b"123456").unwrap());
        assert_eq!(pad.ask("x").unwrap(), Pin::from_ascii(b"7890").unwrap());
        assert_eq!(pad.ask("x").unwrap_err().code, PIN_CANCELLED);
        // SAFETY: closes the read end this test opened.
        unsafe { libc::close(fds[0]) };
    }

    #[test]
    fn the_spec_prints_no_scripted_pin() {
        let spec = PinSourceSpec::parse("script:123456,654321").unwrap();
        assert_eq!(format!("{spec:?}"), "script:<2 entries>");
    }
}

//! A hostile card for the tests: it breaks the protocol on purpose, in the ways a broken or
//! malicious chip (or a card emulator) can, so that every command can be shown to survive it
//! (docs/reliability.md, "The hostile-card matrix"). Served through vpcd with
//! `sscard sim serve --rogue MODE`.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::transport::{CardTransport, ResetKind, TransportError};

/// How the rogue card misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RogueMode {
    /// Every answer is random bytes of random length (seeded, so runs repeat).
    RandomBytes,
    /// Every answer is an empty message (no status word).
    EmptyFrames,
    /// Commands are never answered (until the card is stopped).
    Silence,
    /// Every answer carries the most data vpcd can carry, whatever was asked.
    Overlong,
    /// Every answer is `61xx` with data: GET RESPONSE never ends.
    Endless61,
    /// Every answer is `6Cxx`, each with another length.
    Endless6C,
    /// A new ATR after every reset.
    ChangingAtr,
    /// Record and file data full of terminal escape sequences and control bytes.
    EscapeSequences,
}

impl RogueMode {
    pub const ALL: [RogueMode; 8] = [
        RogueMode::RandomBytes,
        RogueMode::EmptyFrames,
        RogueMode::Silence,
        RogueMode::Overlong,
        RogueMode::Endless61,
        RogueMode::Endless6C,
        RogueMode::ChangingAtr,
        RogueMode::EscapeSequences,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RogueMode::RandomBytes => "random",
            RogueMode::EmptyFrames => "empty",
            RogueMode::Silence => "silence",
            RogueMode::Overlong => "overlong",
            RogueMode::Endless61 => "endless-61",
            RogueMode::Endless6C => "endless-6c",
            RogueMode::ChangingAtr => "changing-atr",
            RogueMode::EscapeSequences => "escapes",
        }
    }
}

impl fmt::Display for RogueMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no rogue mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rogue mode {name:?}: use one of {}", RogueMode::ALL.map(RogueMode::name).join(", "))]
pub struct UnknownRogueMode {
    pub name: String,
}

impl FromStr for RogueMode {
    type Err = UnknownRogueMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        RogueMode::ALL
            .into_iter()
            .find(|m| m.name() == wanted)
            .ok_or_else(|| UnknownRogueMode {
                name: s.to_string(),
            })
    }
}

/// What a terminal would obey: set the title, clear the screen, colour, a C1 CSI, carriage return,
/// backspace, bell; cut to the length of each value it replaces.
pub const HOSTILE_TEXT: &[u8] = b"\x1b]0;owned\x07\x1b[2J\x1b[1;31m\x9b2J\r\x08\x00\x7f";
/// The most data one vpcd message carries, with room for the status word.
const OVERLONG_DATA: usize = u16::MAX as usize - 2;
/// How often a silent card looks whether it is being stopped.
const SILENCE_POLL: Duration = Duration::from_millis(20);

/// A card that breaks the protocol in one way ([`RogueMode`]), over a real card `T` for the modes
/// that need real answers to reach the point of attack (changing ATR, escape sequences).
pub struct RogueCard<T> {
    inner: T,
    mode: RogueMode,
    /// Set when the card is being stopped: a silent card then gives up its silence.
    stop: Arc<AtomicBool>,
    rng: u64,
    resets: u8,
    wrong_le: u8,
}

impl<T: CardTransport> RogueCard<T> {
    /// `stop` ends a silent card's silence (give it the serve loop's stop flag).
    pub fn new(inner: T, mode: RogueMode, stop: Arc<AtomicBool>) -> Self {
        RogueCard {
            inner,
            mode,
            stop,
            rng: 0x524F_4755_4521,
            resets: 0,
            wrong_le: 1,
        }
    }

    /// xorshift64: a fixed sequence, so a failing run repeats.
    fn next(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    fn random_answer(&mut self) -> Vec<u8> {
        let len = 2 + (self.next() % 300) as usize;
        (0..len).map(|_| self.next() as u8).collect()
    }

    fn silence(&self) -> TransportError {
        while !self.stop.load(Ordering::SeqCst) {
            std::thread::sleep(SILENCE_POLL);
        }
        TransportError::CardUnresponsive
    }
}

/// `data` with each BER-TLV value (one-byte tags and lengths, as SSC records are) replaced by the
/// hostile text; data that is no such TLV is replaced whole.
fn poisoned(data: &[u8]) -> Vec<u8> {
    let fill = |out: &mut Vec<u8>, len: usize| {
        out.extend(HOSTILE_TEXT.iter().cycle().take(len));
    };
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while let [tag, len, tail @ ..] = rest {
        let len = usize::from(*len);
        if len > 0x7F || tail.len() < len || matches!(tag, 0x00 | 0xFF) {
            break;
        }
        out.extend_from_slice(&[*tag, len as u8]);
        fill(&mut out, len);
        rest = &tail[len..];
    }
    if !rest.is_empty() {
        out.clear();
        fill(&mut out, data.len());
    }
    out
}

impl<T: CardTransport> CardTransport for RogueCard<T> {
    fn name(&self) -> String {
        format!("rogue card ({})", self.mode)
    }

    fn atr(&self) -> Vec<u8> {
        if self.mode != RogueMode::ChangingAtr {
            return self.inner.atr();
        }
        // T0 = 0x60 + historical count: TB1 and TC1 present; the count and bytes change.
        let historical: Vec<u8> = b"ROGUE"
            .iter()
            .copied()
            .chain([self.resets; 3])
            .take(4 + usize::from(self.resets % 5))
            .collect();
        let mut atr = vec![0x3B, 0x60 | historical.len() as u8, 0x00, 0x00];
        atr.extend(historical);
        atr
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        match self.mode {
            RogueMode::RandomBytes => Ok(self.random_answer()),
            RogueMode::EmptyFrames => Ok(Vec::new()),
            RogueMode::Silence => Err(self.silence()),
            RogueMode::Overlong => {
                let mut answer: Vec<u8> = (0..OVERLONG_DATA).map(|i| i as u8).collect();
                answer.extend_from_slice(&[0x90, 0x00]);
                Ok(answer)
            }
            RogueMode::Endless61 => {
                let mut answer = vec![0x5A; 0xFF];
                answer.extend_from_slice(&[0x61, 0xFF]);
                Ok(answer)
            }
            RogueMode::Endless6C => {
                self.wrong_le = self.wrong_le.wrapping_add(7).max(1);
                Ok(vec![0x6C, self.wrong_le])
            }
            RogueMode::ChangingAtr => self.inner.transmit(command),
            RogueMode::EscapeSequences => {
                let mut answer = self.inner.transmit(command)?;
                let reads_data = matches!(command.get(1), Some(0xB0 | 0xB2 | 0xCA));
                if reads_data && answer.len() > 2 {
                    let data_len = answer.len() - 2;
                    let data = poisoned(&answer[..data_len]);
                    answer.splice(..data_len, data);
                }
                Ok(answer)
            }
        }
    }

    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        self.inner.reset(kind)?;
        self.resets = self.resets.wrapping_add(1);
        Ok(self.atr())
    }

    fn power_off(&mut self) -> Result<(), TransportError> {
        self.inner.power_off()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::vpcd::{EchoCard, ECHO_ATR};

    fn rogue(mode: RogueMode) -> RogueCard<EchoCard> {
        RogueCard::new(EchoCard::new(), mode, Arc::new(AtomicBool::new(false)))
    }

    #[test]
    fn every_mode_has_a_name_that_parses_back() {
        for mode in RogueMode::ALL {
            assert_eq!(mode.name().parse::<RogueMode>(), Ok(mode));
        }
        assert!("polite".parse::<RogueMode>().is_err());
    }

    #[test]
    fn the_atr_changes_on_each_reset_only() {
        let mut card = rogue(RogueMode::ChangingAtr);
        let first = card.atr();
        assert_eq!(card.atr(), first);
        let mut seen = vec![first];
        for _ in 0..4 {
            let atr = card.reset(ResetKind::Warm).unwrap();
            assert!(!seen.contains(&atr), "{atr:02X?} came back");
            assert_eq!(usize::from(atr[1] & 0x0F), atr.len() - 4);
            seen.push(atr);
        }
        assert_eq!(rogue(RogueMode::Overlong).atr(), ECHO_ATR);
    }

    #[test]
    fn the_protocol_breaking_answers() {
        let select = [0x00, 0xA4, 0x04, 0x00, 0x01, 0x00];
        assert!(rogue(RogueMode::EmptyFrames)
            .transmit(&select)
            .unwrap()
            .is_empty());
        let overlong = rogue(RogueMode::Overlong).transmit(&select).unwrap();
        assert_eq!(overlong.len(), u16::MAX as usize);
        assert_eq!(overlong[overlong.len() - 2..], [0x90, 0x00]);
        let more = rogue(RogueMode::Endless61).transmit(&select).unwrap();
        assert_eq!(more[more.len() - 2..], [0x61, 0xFF]);
        let mut card = rogue(RogueMode::Endless6C);
        let a = card.transmit(&select).unwrap();
        let b = card.transmit(&select).unwrap();
        assert_eq!((a[0], b[0]), (0x6C, 0x6C));
        assert_ne!(a[1], b[1]);
        let mut card = rogue(RogueMode::RandomBytes);
        let answers: Vec<Vec<u8>> = (0..20).map(|_| card.transmit(&select).unwrap()).collect();
        assert!(answers.iter().all(|a| a.len() >= 2 && a.len() <= 301));
        assert!(answers.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn silence_lasts_until_the_card_is_stopped() {
        let stop = Arc::new(AtomicBool::new(false));
        let mut card = RogueCard::new(EchoCard::new(), RogueMode::Silence, Arc::clone(&stop));
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            stop.store(true, Ordering::SeqCst);
        });
        let begun = std::time::Instant::now();
        assert!(card.transmit(&[0, 0xA4, 0, 0]).is_err());
        assert!(begun.elapsed() >= Duration::from_millis(100));
        stopper.join().unwrap();
    }

    #[test]
    fn record_values_are_replaced_by_escape_sequences_keeping_the_tlv() {
        let record = [0x01, 0x03, b'A', b'B', b'C', 0x02, 0x02, b'1', b'2'];
        let out = poisoned(&record);
        assert_eq!(out.len(), record.len());
        assert_eq!(out[..2], [0x01, 0x03]);
        assert_eq!(out[2..5], HOSTILE_TEXT[..3]);
        assert_eq!(out[5..7], [0x02, 0x02]);
        assert_eq!(out[7..9], HOSTILE_TEXT[..2]);
        // Not TLV: every byte replaced.
        let out = poisoned(&[0x01, 0x09, 0x41]);
        assert_eq!(out, HOSTILE_TEXT[..3]);
    }
}

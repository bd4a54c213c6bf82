//! The one wrapper transport that makes a card look broken to the reader.

use std::time::Duration;

use super::FaultKind;
use crate::transport::{CardTransport, ResetKind, TransportError};

/// How late a slow card answers each APDU.
pub const SLOW_DELAY: Duration = Duration::from_millis(150);
/// Share of APDUs a lossy card leaves unanswered, in percent.
const LOSS_PERCENT: u64 = 30;
/// The seed of the loss pattern unless one is given.
const DEFAULT_SEED: u64 = 0x5353_4341_5244;
/// The file the `6581` fault makes unreadable: SSSE EF05 (card identification).
const FAILING_FID: u16 = 0xEF05;

/// What the wrapper does to the exchanges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransportFaults {
    pub mute: bool,
    pub garbage_atr: bool,
    pub bad_tck: bool,
    pub no_diagnosis: bool,
    /// FIDs whose READ RECORD / READ BINARY answer `6581`.
    pub failing_files: Vec<u16>,
    pub loss_percent: u64,
    pub delay: Option<Duration>,
    pub seed: u64,
    /// The card pulled at one command (a torn transaction, for the settlement tests).
    pub pull_at: Option<PullAt>,
}

/// The card is pulled at the first command with this CLA and INS: after the card ran it
/// (`delivered`: its answer is lost) or before it reached the card. Every exchange then fails as
/// "card removed" until the card is powered up again (re-inserted); the fault fires once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullAt {
    pub cla: u8,
    pub ins: u8,
    pub delivered: bool,
}

impl TransportFaults {
    /// The transport faults among `kinds` (card-state faults are ignored here).
    pub fn from_kinds(kinds: &[FaultKind]) -> Self {
        let has = |k| kinds.contains(&k);
        TransportFaults {
            mute: has(FaultKind::Mute),
            garbage_atr: has(FaultKind::GarbageAtr),
            bad_tck: has(FaultKind::BadTck),
            no_diagnosis: has(FaultKind::NoDiagnosis),
            failing_files: if has(FaultKind::MemoryFailure) {
                vec![FAILING_FID]
            } else {
                Vec::new()
            },
            loss_percent: if has(FaultKind::Loss) {
                LOSS_PERCENT
            } else {
                0
            },
            delay: has(FaultKind::Slow).then_some(SLOW_DELAY),
            seed: DEFAULT_SEED,
            pull_at: None,
        }
    }
}

/// Any transport, with faults.
pub struct FaultyTransport<T> {
    inner: T,
    faults: TransportFaults,
    rng: u64,
    /// The EF last selected by FID (SELECT P1 `02`), for the `6581` fault.
    selected_ef: Option<u16>,
    /// A mute chip withholds the ATR asked for right after each power-on (the reader's power-up
    /// fails: "unresponsive card"), while the reader's presence probes (vpcd asks for the ATR)
    /// still see a card in the slot.
    withhold_atr: std::cell::Cell<bool>,
    /// The pull fault fired and the card is out until the next power-up.
    pulled: bool,
    pull_fired: bool,
}

impl<T: CardTransport> FaultyTransport<T> {
    pub fn new(inner: T, faults: TransportFaults) -> Self {
        let rng = faults.seed.max(1);
        FaultyTransport {
            inner,
            faults,
            rng,
            selected_ef: None,
            withhold_atr: std::cell::Cell::new(false),
            pulled: false,
            pull_fired: false,
        }
    }

    pub fn inner(&self) -> &T {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// xorshift64: a fixed, seeded sequence, so a lossy run repeats exactly.
    fn next_percent(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x % 100
    }

    fn shown_atr(&self, atr: Vec<u8>) -> Vec<u8> {
        if self.faults.mute && self.withhold_atr.replace(false) {
            Vec::new()
        } else if self.faults.mute {
            atr
        } else if self.faults.garbage_atr {
            garbage(&atr)
        } else if self.faults.bad_tck {
            with_bad_tck(&atr)
        } else {
            atr
        }
    }

    fn track_selection(&mut self, command: &[u8]) {
        if let [_, 0xA4, p1, _, rest @ ..] = command {
            self.selected_ef = match (p1, rest) {
                (0x02, [2, hi, lo, ..]) => Some(u16::from_be_bytes([*hi, *lo])),
                _ => None,
            };
        }
    }
}

/// Bytes that are no ATR: the card's ATR with TS replaced (as a chip with broken contacts gives).
fn garbage(atr: &[u8]) -> Vec<u8> {
    let mut bytes: Vec<u8> = atr.iter().map(|b| b.rotate_left(3) ^ 0x5A).collect();
    match bytes.first_mut() {
        Some(ts) => *ts = 0x12,
        None => bytes.push(0x12),
    }
    bytes
}

/// The ATR rewritten to announce T=1 (TD1 = `01`) and end with a TCK that does not check.
fn with_bad_tck(atr: &[u8]) -> Vec<u8> {
    let (Some(&ts), Some(&t0)) = (atr.first(), atr.get(1)) else {
        return atr.to_vec();
    };
    // Interface bytes TA1..TC1 as announced by T0; a TD1 already there is replaced.
    let present = usize::from(t0 >> 4 & 0x07).count_ones() as usize;
    let interface_end = (2 + present).min(atr.len());
    let historical_len = usize::from(t0 & 0x0F);
    let historical_start = if t0 & 0x80 != 0 {
        // Skip the old TD1 and what it announces: keep this fault simple for ATRs without TD1.
        return atr.to_vec();
    } else {
        interface_end
    };
    let historical_end = (historical_start + historical_len).min(atr.len());
    let mut out = vec![ts, t0 | 0x80];
    out.extend_from_slice(&atr[2..interface_end]);
    out.push(0x01);
    out.extend_from_slice(&atr[historical_start..historical_end]);
    let tck = out[1..].iter().fold(0u8, |x, b| x ^ b);
    out.push(tck ^ 0xFF);
    out
}

impl<T: CardTransport> CardTransport for FaultyTransport<T> {
    fn name(&self) -> String {
        format!("{} (with faults)", self.inner.name())
    }

    fn atr(&self) -> Vec<u8> {
        self.shown_atr(self.inner.atr())
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        if self.faults.mute {
            return Err(TransportError::CardUnresponsive);
        }
        if let Some(delay) = self.faults.delay {
            std::thread::sleep(delay);
        }
        if self.faults.loss_percent > 0 && self.next_percent() < self.faults.loss_percent {
            return Err(TransportError::CardUnresponsive);
        }
        if self.faults.no_diagnosis {
            return Ok(vec![0x6F, 0x00]);
        }
        if self.pulled {
            return Err(TransportError::CardRemoved);
        }
        if let (Some(pull), false, [cla, ins, ..]) = (self.faults.pull_at, self.pull_fired, command)
        {
            if pull.cla == *cla && pull.ins == *ins {
                self.pull_fired = true;
                self.pulled = true;
                if pull.delivered {
                    // The card ran the command; its answer never reaches the terminal.
                    let _ = self.inner.transmit(command);
                }
                let _ = self.inner.power_off();
                return Err(TransportError::CardRemoved);
            }
        }
        self.track_selection(command);
        let is_read = matches!(command.get(1), Some(0xB0 | 0xB2));
        if is_read
            && self
                .selected_ef
                .is_some_and(|fid| self.faults.failing_files.contains(&fid))
        {
            return Ok(vec![0x65, 0x81]);
        }
        self.inner.transmit(command)
    }

    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        self.selected_ef = None;
        self.pulled = false;
        let atr = self.inner.reset(kind)?;
        if self.faults.mute {
            // No ATR from this power-on, nor for the reader's request that follows it.
            self.withhold_atr.set(true);
            return Ok(Vec::new());
        }
        Ok(self.shown_atr(atr))
    }

    fn power_off(&mut self) -> Result<(), TransportError> {
        self.inner.power_off()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::atr;

    const SSC_ATR: [u8; 17] = [
        0x3B, 0x6D, 0x00, 0x00, 0x00, 0x81, 0x54, 0x4C, 0x97, 0x86, 0x84, 0x32, 0x02, 0xAD, 0x93,
        0x2A, 0x48,
    ];

    #[test]
    fn a_bad_tck_atr_still_parses_but_its_tck_fails() {
        let bad = atr::parse(&with_bad_tck(&SSC_ATR)).unwrap();
        assert_eq!(bad.protocols, [1]);
        assert!(!bad.tck.unwrap().valid);
        assert_eq!(bad.historical, SSC_ATR[4..]);
    }

    #[test]
    fn a_garbage_atr_does_not_parse() {
        assert!(atr::parse(&garbage(&SSC_ATR)).is_err());
    }

    #[test]
    fn the_loss_pattern_is_fixed_by_the_seed_and_near_its_share() {
        let faults = TransportFaults::from_kinds(&[FaultKind::Loss]);
        let run = || {
            let mut t = FaultyTransport::new(
                crate::transport::scripted::ScriptedTransport::new(&[]),
                faults.clone(),
            );
            (0..1000)
                .map(|_| t.next_percent() < LOSS_PERCENT)
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let lost = first.iter().filter(|&&l| l).count();
        assert!((200..400).contains(&lost), "{lost} of 1000 lost");
    }
}

//! Answer-to-reset analysis (ISO/IEC 7816-3) plus the social security card's historical-byte profile.
//!
//! A structural fault (bad TS, bytes announced but missing) is an [`AtrError`]; things a working card
//! may still get wrong (a bad TCK, trailing bytes, an over-long ATR) are kept as [`Atr::warnings`] so
//! the analysis of a real card is never lost.

use serde::Serialize;

/// The longest ATR ISO 7816-3 allows.
pub const MAX_ATR_LEN: usize = 33;

/// Why bytes are not an ATR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtrError {
    #[error("an ATR has at least 2 bytes (TS and T0), this one has {0}")]
    TooShort(usize),
    #[error(
        "TS is {0:02X}, but an ATR starts with 3B (direct convention) or 3F (inverse convention)"
    )]
    BadTs(u8),
    #[error("the ATR ends at byte {at} but {what} was announced there")]
    Truncated { at: usize, what: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Convention {
    Direct,
    Inverse,
}

/// One group of interface bytes TAi, TBi, TCi, TDi (i from 1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InterfaceGroup {
    pub index: usize,
    pub ta: Option<u8>,
    pub tb: Option<u8>,
    pub tc: Option<u8>,
    pub td: Option<u8>,
    /// The protocol the bytes of this group apply to (from the previous TD; T=0 for group 1 and 2's defaults).
    pub protocol: u8,
    /// What each present byte means, in words.
    pub meanings: Vec<String>,
}

/// Clock rate conversion and baud rate from TA1 (or the defaults Fi=372, Di=1 without TA1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    pub fi_index: u8,
    pub di_index: u8,
    /// None where the table entry is reserved for future use.
    pub fi: Option<u32>,
    pub f_max_mhz: Option<f64>,
    pub di: Option<u32>,
    /// Bits per second at the card's maximum clock frequency.
    pub baud_at_f_max: Option<u32>,
    /// Bits per second at 3.5712 MHz, the clock most readers use.
    pub baud_at_3_5712_mhz: Option<u32>,
}

/// The TCK check byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tck {
    pub value: u8,
    /// XOR of T0 through TCK is zero.
    pub valid: bool,
}

/// The social security card's historical bytes: `00 xx 54 4C gg 86 84` + region (2) + 4 card bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SscProfile {
    /// The byte after the category indicator (81 on the cards seen).
    pub byte_2: u8,
    /// The byte card-os uses for the card generation.
    pub generation_byte: u8,
    /// Two packed-BCD bytes as printed on documents: the first four digits of the GB/T 2260 region code.
    pub region: String,
    /// True when both region bytes are valid BCD.
    pub region_is_bcd: bool,
    /// Four bytes that identify the card (often bytes 9..12 of the card identification code).
    pub card_bytes: String,
}

/// A parsed ATR.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Atr {
    #[serde(serialize_with = "as_hex")]
    pub bytes: Vec<u8>,
    pub ts: u8,
    pub convention: Convention,
    pub t0: u8,
    pub groups: Vec<InterfaceGroup>,
    /// Protocols the card offers, in the order announced (T=0 when no TD announces any).
    pub protocols: Vec<u8>,
    pub timing: Timing,
    #[serde(serialize_with = "as_hex")]
    pub historical: Vec<u8>,
    pub historical_category: String,
    pub ssc: Option<SscProfile>,
    /// Present exactly when a protocol other than T=0 is announced.
    pub tck: Option<Tck>,
    pub warnings: Vec<String>,
}

fn as_hex<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::protocol::hexstr::encode(bytes))
}

/// Fi and f max (MHz) by the FI nibble; None = reserved.
fn fi_table(index: u8) -> Option<(u32, f64)> {
    Some(match index {
        0x0 => (372, 4.0),
        0x1 => (372, 5.0),
        0x2 => (558, 6.0),
        0x3 => (744, 8.0),
        0x4 => (1116, 12.0),
        0x5 => (1488, 16.0),
        0x6 => (1860, 20.0),
        0x9 => (512, 5.0),
        0xA => (768, 7.5),
        0xB => (1024, 10.0),
        0xC => (1536, 15.0),
        0xD => (2048, 20.0),
        _ => return None,
    })
}

/// Di by the DI nibble; None = reserved.
fn di_table(index: u8) -> Option<u32> {
    Some(match index {
        0x1 => 1,
        0x2 => 2,
        0x3 => 4,
        0x4 => 8,
        0x5 => 16,
        0x6 => 32,
        0x7 => 64,
        0x8 => 12,
        0x9 => 20,
        _ => return None,
    })
}

fn timing(ta1: Option<u8>) -> Timing {
    let (fi_index, di_index) = ta1.map_or((1, 1), |ta| (ta >> 4, ta & 0x0F));
    let fi = fi_table(fi_index);
    let di = di_table(di_index);
    let baud = |clock_hz: f64| match (fi, di) {
        (Some((fi, _)), Some(di)) => {
            Some((clock_hz * f64::from(di) / f64::from(fi)).round() as u32)
        }
        _ => None,
    };
    Timing {
        fi_index,
        di_index,
        fi: fi.map(|(f, _)| f),
        f_max_mhz: fi.map(|(_, m)| m),
        di,
        baud_at_f_max: fi.and_then(|(_, m)| baud(m * 1e6)),
        baud_at_3_5712_mhz: baud(3.5712e6),
    }
}

/// Words for one interface byte; `kind` is 'A', 'B' or 'C', `index` the group number.
fn meaning(kind: char, index: usize, protocol: u8, value: u8) -> String {
    match (kind, index, protocol) {
        ('A', 1, _) => format!(
            "TA1 = {value:02X}: FI = {:X}, DI = {:X} (see timing)",
            value >> 4,
            value & 0x0F
        ),
        ('B', 1, _) => format!("TB1 = {value:02X}: programming voltage (deprecated)"),
        ('C', 1, _) => {
            if value == 0xFF {
                "TC1 = FF: minimum guard time (12 etu for T=0, 11 etu for T=1)".to_string()
            } else {
                format!("TC1 = {value:02X}: extra guard time N = {value} etu")
            }
        }
        ('A', 2, _) => format!(
            "TA2 = {value:02X}: specific mode, protocol T={}{}",
            value & 0x0F,
            if value & 0x10 != 0 {
                ", implicit Fi/Di"
            } else {
                ", Fi/Di from TA1"
            }
        ),
        ('B', 2, _) => format!("TB2 = {value:02X}: programming voltage (deprecated)"),
        ('C', 2, 0) => format!("TC2 = {value:02X}: T=0 work waiting integer WI = {value}"),
        ('A', i, 1) if i >= 3 => format!("TA{i} = {value:02X}: T=1 IFSC = {value} bytes"),
        ('B', i, 1) if i >= 3 => format!(
            "TB{i} = {value:02X}: T=1 BWI = {}, CWI = {}",
            value >> 4,
            value & 0x0F
        ),
        ('C', i, 1) if i >= 3 => format!(
            "TC{i} = {value:02X}: T=1 error detection {}",
            if value & 1 != 0 { "CRC" } else { "LRC" }
        ),
        ('A', i, 15) if i >= 3 => {
            let clock =
                ["not supported", "state L", "state H", "no preference"][usize::from(value >> 6)];
            let classes: Vec<&str> = [(1, "A (5 V)"), (2, "B (3 V)"), (4, "C (1.8 V)")]
                .iter()
                .filter(|(bit, _)| value & 0x3F & bit != 0)
                .map(|(_, name)| *name)
                .collect();
            format!(
                "TA{i} = {value:02X}: clock stop {clock}; classes {}",
                if classes.is_empty() {
                    "none given".to_string()
                } else {
                    classes.join(", ")
                }
            )
        }
        ('B', i, 15) if i >= 3 => {
            format!("TB{i} = {value:02X}: standard or proprietary use of contact C6")
        }
        (k, i, t) => format!("T{k}{i} = {value:02X}: for T={t}"),
    }
}

fn historical_category(historical: &[u8]) -> String {
    match historical.first() {
        None => "none".to_string(),
        Some(0x00) => {
            "00: COMPACT-TLV objects then a 3-byte status indicator (or proprietary)".to_string()
        }
        Some(0x10) => "10: DIR data reference".to_string(),
        Some(0x80) => "80: COMPACT-TLV objects, the last may be a status indicator".to_string(),
        Some(c @ 0x81..=0x8F) => format!("{c:02X}: reserved for future use"),
        Some(c) => format!("{c:02X}: proprietary"),
    }
}

fn is_bcd(b: u8) -> bool {
    b >> 4 <= 9 && b & 0x0F <= 9
}

/// The SSC profile of 13 historical bytes, when they have its fixed markers.
pub fn ssc_profile(historical: &[u8]) -> Option<SscProfile> {
    let [0x00, byte_2, 0x54, 0x4C, generation_byte, 0x86, 0x84, r1, r2, c1, c2, c3, c4] =
        *historical
    else {
        return None;
    };
    Some(SscProfile {
        byte_2,
        generation_byte,
        region: format!("{r1:02X}{r2:02X}"),
        region_is_bcd: is_bcd(r1) && is_bcd(r2),
        card_bytes: crate::protocol::hexstr::encode(&[c1, c2, c3, c4]),
    })
}

/// Parses an ATR as bytes from a reader (for inverse convention, already converted by the reader).
pub fn parse(bytes: &[u8]) -> Result<Atr, AtrError> {
    let (&ts, rest) = bytes.split_first().ok_or(AtrError::TooShort(0))?;
    let convention = match ts {
        0x3B => Convention::Direct,
        0x3F => Convention::Inverse,
        other => return Err(AtrError::BadTs(other)),
    };
    let &t0 = rest.first().ok_or(AtrError::TooShort(bytes.len()))?;
    let mut at = 2;
    let take = |at: &mut usize, what: String| -> Result<u8, AtrError> {
        let b = *bytes
            .get(*at)
            .ok_or(AtrError::Truncated { at: *at, what })?;
        *at += 1;
        Ok(b)
    };

    let mut groups = Vec::new();
    let mut protocols: Vec<u8> = Vec::new();
    let mut y = t0 >> 4;
    let mut protocol = 0u8;
    let mut index = 1;
    loop {
        let mut group = InterfaceGroup {
            index,
            protocol,
            ..InterfaceGroup::default()
        };
        for (bit, kind) in [(0x1, 'A'), (0x2, 'B'), (0x4, 'C'), (0x8, 'D')] {
            if y & bit == 0 {
                continue;
            }
            let value = take(&mut at, format!("T{kind}{index}"))?;
            match kind {
                'A' => group.ta = Some(value),
                'B' => group.tb = Some(value),
                'C' => group.tc = Some(value),
                _ => group.td = Some(value),
            }
            if kind != 'D' {
                group.meanings.push(meaning(kind, index, protocol, value));
            }
        }
        let td = group.td;
        if let Some(td) = td {
            let t = td & 0x0F;
            group
                .meanings
                .push(format!("TD{index} = {td:02X}: protocol T={t} follows"));
            // T=15 is not a transmission protocol but global interface bytes.
            if t != 15 && !protocols.contains(&t) {
                protocols.push(t);
            }
            protocol = t;
            y = td >> 4;
        }
        groups.push(group);
        if td.is_none() {
            break;
        }
        index += 1;
    }
    if protocols.is_empty() {
        protocols.push(0);
    }

    let k = usize::from(t0 & 0x0F);
    let historical_start = at;
    if bytes.len() < historical_start + k {
        return Err(AtrError::Truncated {
            at: bytes.len(),
            what: format!("{k} historical byte(s)"),
        });
    }
    let historical = bytes[historical_start..historical_start + k].to_vec();
    at = historical_start + k;

    let mut warnings = Vec::new();
    // TCK is required exactly when some TDi announces a protocol other than T=0.
    let tck_required = groups.iter().filter_map(|g| g.td).any(|td| td & 0x0F != 0);
    let tck = if tck_required {
        let value = take(
            &mut at,
            "TCK (a protocol other than T=0 is offered)".to_string(),
        )?;
        let valid = bytes[1..at].iter().fold(0u8, |x, b| x ^ b) == 0;
        if !valid {
            warnings.push(format!(
                "TCK {value:02X} is wrong: the XOR of T0 through TCK is not 00"
            ));
        }
        Some(Tck { value, valid })
    } else {
        None
    };
    if at < bytes.len() {
        warnings.push(format!(
            "{} byte(s) after the end of the ATR: {}",
            bytes.len() - at,
            crate::protocol::hexstr::spaced(&bytes[at..])
        ));
    }
    if bytes.len() > MAX_ATR_LEN {
        warnings.push(format!(
            "the ATR has {} bytes, more than the {MAX_ATR_LEN} allowed",
            bytes.len()
        ));
    }
    let ta1 = groups.first().and_then(|g| g.ta);
    let timing = timing(ta1);
    if timing.fi.is_none() || timing.di.is_none() {
        warnings.push("TA1 uses a reserved FI or DI value".to_string());
    }

    Ok(Atr {
        bytes: bytes.to_vec(),
        ts,
        convention,
        t0,
        groups,
        protocols,
        timing,
        historical_category: historical_category(&historical),
        ssc: ssc_profile(&historical),
        historical,
        tck,
        warnings,
    })
}

impl Atr {
    /// A multi-line analysis for people.
    pub fn describe(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let hx = crate::protocol::hexstr::spaced;
        let _ = writeln!(s, "ATR: {}", hx(&self.bytes));
        let convention = match self.convention {
            Convention::Direct => "direct convention",
            Convention::Inverse => "inverse convention",
        };
        let _ = writeln!(s, "TS = {:02X}: {convention}", self.ts);
        let _ = writeln!(
            s,
            "T0 = {:02X}: Y1 = {:X}, K = {} historical byte(s)",
            self.t0,
            self.t0 >> 4,
            self.t0 & 0x0F
        );
        for g in &self.groups {
            for m in &g.meanings {
                let _ = writeln!(s, "  {m}");
            }
        }
        let protocols: Vec<String> = self.protocols.iter().map(|t| format!("T={t}")).collect();
        let _ = writeln!(s, "protocols: {}", protocols.join(", "));
        let t = &self.timing;
        let num = |v: Option<u32>| v.map_or("reserved".to_string(), |v| v.to_string());
        let _ = writeln!(
            s,
            "Fi = {} (f max {} MHz), Di = {}, baud rate {} bit/s at f max, {} bit/s at 3.5712 MHz",
            num(t.fi),
            t.f_max_mhz
                .map_or("reserved".to_string(), |m| m.to_string()),
            num(t.di),
            num(t.baud_at_f_max),
            num(t.baud_at_3_5712_mhz),
        );
        let _ = writeln!(
            s,
            "historical bytes: {}",
            if self.historical.is_empty() {
                "none".to_string()
            } else {
                hx(&self.historical)
            }
        );
        let _ = writeln!(s, "  category {}", self.historical_category);
        if let Some(ssc) = &self.ssc {
            let _ = writeln!(
                s,
                "  social security card profile: region {}{}, card bytes {}, generation byte {:02X}",
                ssc.region,
                if ssc.region_is_bcd { "" } else { " (not BCD)" },
                ssc.card_bytes,
                ssc.generation_byte
            );
        }
        match &self.tck {
            None => {
                let _ = writeln!(s, "TCK: absent (only T=0 offered, as ISO 7816-3 requires)");
            }
            Some(tck) => {
                let _ = writeln!(
                    s,
                    "TCK = {:02X}: {}",
                    tck.value,
                    if tck.valid { "correct" } else { "WRONG" }
                );
            }
        }
        for w in &self.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes(s: &str) -> Vec<u8> {
        crate::protocol::hexstr::parse(s).unwrap()
    }

    #[test]
    fn the_design_notes_ssc_atr() {
        let atr = parse(&bytes("3B 6D 00 00 00 81 54 4C 97 86 84 32 02 AD 93 2A 48")).unwrap();
        assert_eq!(atr.convention, Convention::Direct);
        assert_eq!(atr.protocols, vec![0]);
        assert_eq!(atr.groups.len(), 1);
        assert_eq!(
            (atr.groups[0].tb, atr.groups[0].tc),
            (Some(0x00), Some(0x00))
        );
        assert_eq!(atr.historical.len(), 13);
        assert_eq!(atr.tck, None);
        assert!(atr.warnings.is_empty(), "{:?}", atr.warnings);
        // No TA1: Fi = 372, Di = 1, 9600 bit/s at 3.5712 MHz.
        assert_eq!((atr.timing.fi, atr.timing.di), (Some(372), Some(1)));
        assert_eq!(atr.timing.baud_at_3_5712_mhz, Some(9600));
        assert_eq!(atr.timing.baud_at_f_max, Some(13441));
        let ssc = atr.ssc.unwrap();
        assert_eq!(ssc.region, "3202");
        assert!(ssc.region_is_bcd);
        assert_eq!(ssc.card_bytes, "AD932A48");
        assert_eq!(ssc.generation_byte, 0x97);
    }

    #[test]
    fn a_t1_atr_with_a_correct_tck() {
        // A YubiKey 5's ATR: TA1 = 13, T=1 twice (TD1 81, TD2 31), IFSC FE, "YubiKey" in the historical bytes.
        let atr = parse(&bytes(
            "3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40",
        ))
        .unwrap();
        assert_eq!(atr.protocols, vec![1]);
        assert_eq!(
            atr.tck,
            Some(Tck {
                value: 0x40,
                valid: true
            })
        );
        assert_eq!(&atr.historical[6..], b"YubiKey");
        assert_eq!((atr.timing.fi, atr.timing.di), (Some(372), Some(4)));
        assert!(atr.warnings.is_empty(), "{:?}", atr.warnings);

        // TD1 = 80 offers T=0, TD2 = 01 offers T=1: both protocols, and TCK because of T=1.
        let b = bytes("3B 88 80 01 00 00 00 00 00 00 00 00 09");
        let atr = parse(&b).unwrap();
        assert_eq!(atr.protocols, vec![0, 1]);
        assert_eq!(
            atr.tck,
            Some(Tck {
                value: 0x09,
                valid: true
            })
        );
        assert!(atr.warnings.is_empty());
        assert!(atr.ssc.is_none());
    }

    #[test]
    fn t1_timing_and_meanings() {
        // TA1 = 96: Fi 512 (5 MHz), Di 32; TD1 = 81 -> TD2 = 31 (T=1) -> TA3 FE, TB3 45.
        let mut b = bytes("3B F8 96 00 00 81 31 FE 45 41 42 43 44 45 46 47 48");
        let tck = b[1..].iter().fold(0, |x, y| x ^ y);
        b.push(tck);
        let atr = parse(&b).unwrap();
        assert_eq!(atr.protocols, vec![1]);
        assert_eq!(atr.timing.fi, Some(512));
        assert_eq!(atr.timing.di, Some(32));
        assert_eq!(atr.timing.baud_at_f_max, Some(312_500));
        assert_eq!(atr.tck.as_ref().map(|t| t.valid), Some(true));
        let meanings: Vec<&String> = atr.groups.iter().flat_map(|g| &g.meanings).collect();
        assert!(
            meanings.iter().any(|m| m.contains("IFSC = 254")),
            "{meanings:?}"
        );
        assert!(
            meanings.iter().any(|m| m.contains("BWI = 4, CWI = 5")),
            "{meanings:?}"
        );
    }

    #[test]
    fn a_wrong_tck_is_a_warning_not_an_error() {
        let atr = parse(&bytes("3B 88 80 01 00 00 00 00 00 00 00 00 08")).unwrap();
        assert_eq!(
            atr.tck,
            Some(Tck {
                value: 0x08,
                valid: false
            })
        );
        assert_eq!(atr.warnings.len(), 1);
    }

    #[test]
    fn a_missing_tck_is_a_truncation() {
        let e = parse(&bytes("3B 88 80 01 00 00 00 00 00 00 00 00")).unwrap_err();
        assert!(matches!(e, AtrError::Truncated { at: 12, .. }), "{e:?}");
    }

    #[test]
    fn structural_errors() {
        assert_eq!(parse(&[]).unwrap_err(), AtrError::TooShort(0));
        assert_eq!(parse(&[0x3B]).unwrap_err(), AtrError::TooShort(1));
        assert_eq!(parse(&[0x3A, 0x00]).unwrap_err(), AtrError::BadTs(0x3A));
        assert!(matches!(
            parse(&[0x3B, 0x10]).unwrap_err(),
            AtrError::Truncated { at: 2, .. }
        ));
        let trailing = parse(&bytes("3B 00 AA")).unwrap();
        assert_eq!(trailing.warnings.len(), 1);
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse(&b);
        }

        #[test]
        fn well_formed_atrs_parse_back(
            hist in proptest::collection::vec(any::<u8>(), 0..15),
            ta1 in proptest::option::of(any::<u8>()),
            t1 in any::<bool>(),
        ) {
            let mut b = vec![0x3B];
            let mut y = 0u8;
            if ta1.is_some() { y |= 0x1; }
            if t1 { y |= 0x8; }
            b.push(y << 4 | hist.len() as u8);
            if let Some(ta) = ta1 { b.push(ta); }
            if t1 { b.push(0x01); }
            b.extend_from_slice(&hist);
            if t1 { let x = b[1..].iter().fold(0, |x, y| x ^ y); b.push(x); }
            let atr = parse(&b).unwrap();
            prop_assert_eq!(atr.historical, hist);
            prop_assert_eq!(atr.tck.is_some(), t1);
            prop_assert!(atr.tck.iter().all(|t| t.valid));
            prop_assert_eq!(atr.protocols, vec![u8::from(t1)]);
        }
    }
}

//! Answer to reset: a builder that adds TCK whenever a protocol other than T=0 is announced, and
//! the social security card's ATR.

use crate::response::Writer;
use crate::sw::Status;

/// The interface bytes and historical bytes of an ATR (direct convention, `TS = 3B`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtrParams<'a> {
    pub ta1: Option<u8>,
    pub tb1: Option<u8>,
    pub tc1: Option<u8>,
    /// Protocols announced in TD1, TD2, ... (empty = T=0 only, implicitly).
    pub protocols: &'a [u8],
    pub historical: &'a [u8],
}

/// Writes the ATR into `out`, returning its length. `6A80` for more than 15 historical bytes or a
/// protocol above 15, `6A84` when `out` is too small.
pub fn build(params: &AtrParams<'_>, out: &mut [u8]) -> Result<usize, Status> {
    let k = params.historical.len();
    if k > 15 || params.protocols.iter().any(|p| *p > 15) {
        return Err(Status::IncorrectDataParameters);
    }
    let mut writer = Writer::new(out);
    writer.push(0x3B)?;
    let y1 = (u8::from(params.ta1.is_some()))
        | (u8::from(params.tb1.is_some()) << 1)
        | (u8::from(params.tc1.is_some()) << 2)
        | (u8::from(!params.protocols.is_empty()) << 3);
    writer.push((y1 << 4) | k as u8)?;
    for byte in [params.ta1, params.tb1, params.tc1].into_iter().flatten() {
        writer.push(byte)?;
    }
    let mut protocols = params.protocols.iter().peekable();
    while let Some(protocol) = protocols.next() {
        let more = if protocols.peek().is_some() { 0x80 } else { 0 };
        writer.push(more | protocol)?;
    }
    writer.extend(params.historical)?;
    // ISO 7816-3: TCK is present unless only T=0 is indicated.
    if params.protocols.iter().any(|p| *p != 0) {
        let tck = writer.written().iter().skip(1).fold(0u8, |acc, b| acc ^ b);
        writer.push(tck)?;
    }
    Ok(writer.len())
}

/// The SSC ATR: `3B 6D 00 00` + 13 historical bytes (T=0, TB1 = TC1 = 0, no TCK). Other lengths of
/// historical bytes give the same shape with their own K.
pub fn ssc(historical: &[u8], out: &mut [u8]) -> Result<usize, Status> {
    build(
        &AtrParams {
            ta1: None,
            tb1: Some(0),
            tc1: Some(0),
            protocols: &[],
            historical,
        },
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssc_atr_matches_a_field_card() {
        let historical = [
            0x00, 0x81, 0x54, 0x4C, 0x97, 0x86, 0x84, 0x32, 0x02, 0xAD, 0x93, 0x2A, 0x48,
        ];
        let mut out = [0u8; 33];
        let n = ssc(&historical, &mut out).unwrap();
        assert_eq!(
            &out[..n],
            &[
                0x3B, 0x6D, 0x00, 0x00, 0x00, 0x81, 0x54, 0x4C, 0x97, 0x86, 0x84, 0x32, 0x02, 0xAD,
                0x93, 0x2A, 0x48
            ]
        );
    }

    #[test]
    fn t1_atr_gets_a_tck_that_xors_to_zero() {
        let mut out = [0u8; 33];
        let params = AtrParams {
            ta1: Some(0x96),
            tb1: None,
            tc1: None,
            protocols: &[0, 1],
            historical: b"SSC",
        };
        let n = build(&params, &mut out).unwrap();
        assert_eq!(&out[..4], &[0x3B, 0x93, 0x96, 0x80]);
        assert_eq!(out[4], 0x01);
        assert_eq!(out[1..n].iter().fold(0, |a, b| a ^ b), 0);
    }

    #[test]
    fn refuses_too_many_historical_bytes() {
        let mut out = [0u8; 40];
        assert_eq!(
            ssc(&[0; 16], &mut out),
            Err(Status::IncorrectDataParameters)
        );
        assert_eq!(ssc(&[0; 13], &mut [0u8; 5]), Err(Status::NotEnoughMemory));
    }
}

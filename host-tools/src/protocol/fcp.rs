//! File control parameters (`62` template of a SELECT answer, docs/card-os.md) as facts a person
//! reads: FID, SFI, structure, size, life cycle and access rules in words.

use card_os::fs::fcp::{
    FCI_TAG, FCP_TAG, TAG_ACCESS, TAG_DESCRIPTOR, TAG_DF_NAME, TAG_FID, TAG_LIFE_CYCLE, TAG_SFI,
    TAG_SIZE,
};
use card_os::fs::{LCS_ACTIVATED, LCS_DEACTIVATED, LCS_INITIALISED, LCS_TERMINATED};
use card_os::tlv::{self, Reader};
use file_structures::layout::{AccessRule, AccessRules, Condition};
use serde::Serialize;

/// What an FCP says about a file. Absent tags are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileFacts {
    pub fid: Option<String>,
    /// "DF", "transparent", "linear-fixed", "linear-variable", "cyclic" or the descriptor in hex.
    pub structure: String,
    /// Bytes of data (transparent EFs) or of record space.
    pub size: Option<u16>,
    pub max_record_len: Option<u16>,
    pub record_slots: Option<u8>,
    pub sfi: Option<u8>,
    /// The DF name in hex.
    pub df_name: Option<String>,
    pub life_cycle: Option<String>,
    /// Read, update, append, admin: each in words.
    pub access: Option<Vec<AccessText>>,
}

/// One access rule in words, with the rule as a layout writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessText {
    pub operation: &'static str,
    /// "key:0A" as a layout file writes it; the bytes in hex when they are no rule.
    pub rule: String,
    pub words: String,
}

/// Why bytes are not an FCP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FcpError {
    #[error("the answer is not a file control parameter template (62)")]
    NotFcp,
    #[error("the file control parameters are not valid BER-TLV")]
    Malformed,
}

/// The life cycle of FCP tag `8A` in words.
pub fn life_cycle_words(byte: u8) -> String {
    match byte {
        // ISO 7816-4: creation state (the card never reports it).
        0x01 => "creation".into(),
        LCS_INITIALISED => "initialised".into(),
        LCS_ACTIVATED | 0x07 => "activated".into(),
        LCS_DEACTIVATED | 0x06 => "deactivated".into(),
        LCS_TERMINATED..=0x0F => "terminated".into(),
        other => format!("{other:02X} (unknown)"),
    }
}

/// A rule in words: "free", "PIN", "external authentication with key 0A", ...
pub fn rule_words(rule: AccessRule) -> String {
    let words = match rule.condition {
        Condition::Free => "free".to_owned(),
        Condition::Never => "never".to_owned(),
        Condition::Pin => "PIN".to_owned(),
        Condition::Key(k) => format!("external authentication with key {k:02X}"),
        Condition::PinOrKey(k) => format!("PIN or external authentication with key {k:02X}"),
        Condition::PinAndKey(k) => format!("PIN and external authentication with key {k:02X}"),
    };
    if rule.secure_messaging {
        format!("{words}, with secure messaging (MAC)")
    } else {
        words
    }
}

/// The four access rules of FCP tag `86` in words.
pub fn access_words(bytes: &[u8; 8]) -> Vec<AccessText> {
    let names = ["read", "update", "append", "admin"];
    names
        .iter()
        .zip(AccessRules::from_bytes(bytes))
        .enumerate()
        .map(|(i, (operation, rule))| match rule {
            Some(rule) => AccessText {
                operation,
                rule: rule.to_string(),
                words: rule_words(rule),
            },
            None => AccessText {
                operation,
                rule: hex::encode_upper(&bytes[2 * i..2 * i + 2]),
                words: "a condition this card does not define (denied)".into(),
            },
        })
        .collect()
}

fn structure_name(descriptor: u8) -> String {
    match descriptor & 0x3F {
        0x38 => "DF".into(),
        0x01 => "transparent".into(),
        0x02 => "linear-fixed".into(),
        0x04 => "linear-variable".into(),
        0x06 => "cyclic".into(),
        _ => format!("descriptor {descriptor:02X}"),
    }
}

/// Parses the `62` template a SELECT with P2 `04` answers.
pub fn parse(bytes: &[u8]) -> Result<FileFacts, FcpError> {
    let template = tlv::single(bytes).map_err(|_| FcpError::Malformed)?;
    if template.tag != FCP_TAG && template.tag != FCI_TAG {
        return Err(FcpError::NotFcp);
    }
    let mut facts = FileFacts {
        fid: None,
        structure: "unknown".into(),
        size: None,
        max_record_len: None,
        record_slots: None,
        sfi: None,
        df_name: None,
        life_cycle: None,
        access: None,
    };
    for object in Reader::new(template.value) {
        let object = object.map_err(|_| FcpError::Malformed)?;
        let v = object.value;
        match (object.tag, v.len()) {
            (TAG_DESCRIPTOR, 1) => facts.structure = structure_name(v[0]),
            (TAG_DESCRIPTOR, 5) => {
                facts.structure = structure_name(v[0]);
                facts.max_record_len = Some(u16::from_be_bytes([v[2], v[3]]));
                facts.record_slots = Some(v[4]);
            }
            (TAG_FID, 2) => facts.fid = Some(hex::encode_upper(v)),
            (TAG_DF_NAME, _) => facts.df_name = Some(hex::encode_upper(v)),
            (TAG_SIZE, 2) => facts.size = Some(u16::from_be_bytes([v[0], v[1]])),
            (TAG_SFI, 1) => facts.sfi = Some(v[0] >> 3),
            (TAG_LIFE_CYCLE, 1) => facts.life_cycle = Some(life_cycle_words(v[0])),
            (TAG_ACCESS, 8) => {
                let mut access = [0; 8];
                access.copy_from_slice(v);
                facts.access = Some(access_words(&access));
            }
            // Proprietary data (A5) and tags this card does not send are left out.
            _ => {}
        }
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_file_fcp_reads_as_facts() {
        // EF06 of SSSE: linear variable, 7 slots of 64 bytes, SFI 6, activated, read key 0A.
        let mut body = Vec::new();
        body.extend_from_slice(&[0x82, 5, 0x04, 0x21, 0x00, 0x40, 0x07]);
        body.extend_from_slice(&[0x83, 2, 0xEF, 0x06]);
        body.extend_from_slice(&[0x80, 2, 0x01, 0xC0]);
        body.extend_from_slice(&[0x88, 1, 6 << 3]);
        body.extend_from_slice(&[0x8A, 1, 0x05]);
        body.extend_from_slice(&[0x86, 8, 0x02, 0x0A, 0x02, 0x04, 0xFF, 0x00, 0x13, 0x05]);
        let mut bytes = vec![0x62, body.len() as u8];
        bytes.extend_from_slice(&body);
        let facts = parse(&bytes).unwrap();
        assert_eq!(facts.fid.as_deref(), Some("EF06"));
        assert_eq!(facts.structure, "linear-variable");
        assert_eq!(
            (facts.max_record_len, facts.record_slots),
            (Some(64), Some(7))
        );
        assert_eq!(facts.sfi, Some(6));
        assert_eq!(facts.life_cycle.as_deref(), Some("activated"));
        let access = facts.access.unwrap();
        assert_eq!(access[0].rule, "key:0A");
        assert_eq!(access[0].words, "external authentication with key 0A");
        assert_eq!(access[2].words, "never");
        assert_eq!(access[3].rule, "pin&key:05+sm");
        assert_eq!(
            access[3].words,
            "PIN and external authentication with key 05, with secure messaging (MAC)"
        );
    }

    #[test]
    fn a_non_template_is_refused() {
        assert_eq!(parse(&[0x6F, 0x00]).map(|f| f.fid), Ok(None));
        assert_eq!(parse(&[0x90, 0x00]), Err(FcpError::NotFcp));
        assert_eq!(parse(&[0x62, 0x05, 0x83]), Err(FcpError::Malformed));
    }
}

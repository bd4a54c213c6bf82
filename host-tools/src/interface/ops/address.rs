//! The pFileAddr grammar and the write data that mirrors it.
//!
//! ```text
//! pFileAddr := file+            file := DFEF '|' (item '|')+ '$'
//! DFEF      := DF EF            DF := 4 hex digits (the DF's FID, e.g. DF01) or "SSSE"; EF := 4 hex digits
//! item      := TT               a field by its tag (2 hex digits): READ RECORD by identifier
//!            | TT ':' n         the n-th record (1..255) carrying tag TT in the EF
//!            | '^' | '^' n      a cyclic file's record n (1 = the newest, the default)
//! ```
//!
//! e.g. `DF01EF0A|37|$DF01EF07|29|2A|$`, `DF04EF08|^1|^2|$`. iReadCard answers the same shape
//! with each item replaced by its value; iWriteCard's pWriteData is that answer's shape (the
//! leading `DFEF|` of each file may be left out).

use crate::interface::codes::{self, Failure};
use crate::interface::ops::check_chars;
use crate::interface::text::split_list;

/// One item of a file address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// The `occurrence`-th (from 1) record carrying `tag`.
    Tag { tag: u8, occurrence: u8 },
    /// A cyclic file's record (1 = newest).
    Cyclic { record: u8 },
}

/// One file of pFileAddr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileAddr {
    /// `DF01EF0A` as given (upper-cased): the answer repeats it.
    pub label: String,
    /// The DF as written: a FID or "SSSE".
    pub df: DfRef,
    pub ef: u16,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DfRef {
    Fid(u16),
    Ssse,
}

fn bad(message: impl Into<String>) -> Failure {
    Failure::new(codes::BAD_PARAMETER, message)
}

fn hex_u16(text: &str, what: &str) -> Result<u16, Failure> {
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Failure::new(
            codes::ILLEGAL_CHARACTERS,
            format!("{what} {text:?} in pFileAddr is not hex"),
        ));
    }
    u16::from_str_radix(text, 16)
        .map_err(|_| Failure::new(codes::ILLEGAL_LENGTH, format!("{what} is 4 hex digits")))
}

fn item(text: &str) -> Result<Item, Failure> {
    let number = |digits: &str, what: &str| -> Result<u8, Failure> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Failure::new(
                codes::ILLEGAL_CHARACTERS,
                format!("{what} in pFileAddr item {text:?} is a decimal number"),
            ));
        }
        digits
            .parse::<u8>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| Failure::new(codes::ILLEGAL_LENGTH, format!("{what} is 1 to 255")))
    };
    if let Some(rest) = text.strip_prefix('^') {
        let record = if rest.is_empty() {
            1
        } else {
            number(rest, "the record")?
        };
        return Ok(Item::Cyclic { record });
    }
    let (tag, occurrence) = match text.split_once(':') {
        Some((tag, n)) => (tag, number(n, "the occurrence")?),
        None => (text, 1),
    };
    if !tag.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Failure::new(
            codes::ILLEGAL_CHARACTERS,
            format!("item {text:?} of pFileAddr is not a hex tag"),
        ));
    }
    if tag.len() != 2 {
        return Err(Failure::new(
            codes::ILLEGAL_LENGTH,
            format!("item {text:?} of pFileAddr: a tag is 2 hex digits"),
        ));
    }
    let tag = u8::from_str_radix(tag, 16).unwrap_or_default();
    Ok(Item::Tag { tag, occurrence })
}

/// Parses pFileAddr.
pub fn parse(text: &str) -> Result<Vec<FileAddr>, Failure> {
    check_chars(text, "pFileAddr", false)?;
    let body = text
        .strip_suffix('$')
        .ok_or_else(|| bad("pFileAddr ends each file with '$'"))?;
    let mut files = Vec::new();
    for segment in body.split('$') {
        let items = split_list(segment).ok_or_else(|| {
            bad(format!(
                "file {segment:?} of pFileAddr: each item ends with '|'"
            ))
        })?;
        let (label, rest) = items
            .split_first()
            .ok_or_else(|| bad("an empty file in pFileAddr"))?;
        if rest.is_empty() {
            return Err(bad(format!("file {label:?} of pFileAddr names no item")));
        }
        if label.len() != 8 {
            return Err(Failure::new(
                codes::ILLEGAL_LENGTH,
                format!("{label:?} of pFileAddr: a file is 8 characters, DF then EF (DF01EF0A)"),
            ));
        }
        let label = label.to_ascii_uppercase();
        let (df_text, ef_text) = label.split_at(4);
        let df = if df_text == "SSSE" {
            DfRef::Ssse
        } else {
            DfRef::Fid(hex_u16(df_text, "the DF")?)
        };
        let ef = hex_u16(ef_text, "the EF")?;
        let items = rest.iter().map(|i| item(i)).collect::<Result<_, _>>()?;
        files.push(FileAddr {
            label,
            df,
            ef,
            items,
        });
    }
    Ok(files)
}

/// The answer's shape: each file's label and its values.
pub fn render(files: &[FileAddr], values: &[Vec<String>]) -> String {
    let mut out = String::new();
    for (file, values) in files.iter().zip(values) {
        out.push_str(&file.label);
        out.push('|');
        for v in values {
            out.push_str(v);
            out.push('|');
        }
        out.push('$');
    }
    out
}

/// pWriteData: for each file of `files`, one value per item (a leading `DFEF|` is allowed).
pub fn parse_write_data(files: &[FileAddr], text: &str) -> Result<Vec<Vec<String>>, Failure> {
    check_chars(text, "pWriteData", true)?;
    let body = text
        .strip_suffix('$')
        .ok_or_else(|| bad("pWriteData ends each file with '$', as pFileAddr does"))?;
    let segments: Vec<&str> = body.split('$').collect();
    if segments.len() != files.len() {
        return Err(bad(format!(
            "pWriteData has {} files, pFileAddr {}",
            segments.len(),
            files.len()
        )));
    }
    files
        .iter()
        .zip(segments)
        .map(|(file, segment)| {
            let mut items =
                split_list(segment).ok_or_else(|| bad("pWriteData: each value ends with '|'"))?;
            if items.len() == file.items.len() + 1
                && items
                    .first()
                    .is_some_and(|l| l.eq_ignore_ascii_case(&file.label))
            {
                items.remove(0);
            }
            if items.len() != file.items.len() {
                return Err(bad(format!(
                    "pWriteData has {} values for {}, which names {} items",
                    items.len(),
                    file.label,
                    file.items.len()
                )));
            }
            Ok(items.into_iter().map(str::to_owned).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_spec_example_parses() {
        let files = parse("DF01EF0A|37|$DF01EF07|29|2A:2|$DF04EF08|^|^3|$SSSEEF06|09|$").unwrap();
        assert_eq!(files.len(), 4);
        assert_eq!(files[0].df, DfRef::Fid(0xDF01));
        assert_eq!(files[0].ef, 0xEF0A);
        assert_eq!(
            files[0].items,
            [Item::Tag {
                tag: 0x37,
                occurrence: 1
            }]
        );
        assert_eq!(
            files[1].items[1],
            Item::Tag {
                tag: 0x2A,
                occurrence: 2
            }
        );
        assert_eq!(
            files[2].items,
            [Item::Cyclic { record: 1 }, Item::Cyclic { record: 3 }]
        );
        assert_eq!(files[3].df, DfRef::Ssse);
        assert_eq!(render(&files[..1], &[vec!["CHN".into()]]), "DF01EF0A|CHN|$");
    }

    #[test]
    fn malformed_addresses_get_parameter_codes() {
        for (text, code) in [
            ("DF01EF0A|37|", -14),
            ("DF01EF0A|37$", -14),
            ("DF01EF0A|$", -14),
            ("$", -14),
            ("DF01EF0|37|$", -42),
            ("DF01EF0AX|37|$", -42),
            ("DG01EF0A|37|$", -41),
            ("DF01EF0A|3G|$", -41),
            ("DF01EF0A|371|$", -42),
            ("DF01EF0A|37:0|$", -42),
            ("DF01EF0A|37:x|$", -41),
            ("DF04EF08|^999|$", -42),
            ("DF01EF0A|37|\n$", -41),
            ("DF01EF0A|张|$", -41),
        ] {
            assert_eq!(parse(text).unwrap_err().code, code, "{text:?}");
        }
    }

    #[test]
    fn write_data_mirrors_the_address() {
        let files = parse("DF01EF0A|37|38|$SSSEEF06|09|$").unwrap();
        let values = parse_write_data(&files, "CHN|01|$张三|$").unwrap();
        assert_eq!(values, [vec!["CHN", "01"], vec!["张三"]]);
        let values = parse_write_data(&files, "DF01EF0A|CHN|01|$SSSEEF06|张三|$").unwrap();
        assert_eq!(values[1], ["张三"]);
        assert_eq!(
            parse_write_data(&files, "CHN|$张三|$").unwrap_err().code,
            -14
        );
        assert_eq!(parse_write_data(&files, "CHN|01|$").unwrap_err().code, -14);
    }

    proptest! {
        #[test]
        fn no_address_panics(text in "[DFE0-9A-F|$:^S]{0,40}") {
            let _ = parse(&text);
        }
    }
}

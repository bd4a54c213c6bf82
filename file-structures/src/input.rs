//! Files from people, read with a bound and decoded with a named encoding: UTF-8, or the GBK /
//! GB18030 that spreadsheets in this field write. A file past its bound is refused before it is
//! read whole; text that is not in its encoding is refused with its line, byte and how to convert.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

/// Why an input file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("could not read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is larger than {limit} bytes, the limit for {what}")]
    TooLarge {
        path: String,
        what: &'static str,
        limit: usize,
    },
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Reads at most `limit` bytes of `path` (`what` names the kind of file in the error); a longer
/// file is an error, found without reading more than one byte past the limit.
pub fn read_bounded(path: &Path, limit: usize, what: &'static str) -> Result<Vec<u8>, InputError> {
    let display = path.display().to_string();
    let read_error = |source| InputError::Read {
        path: display.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    file.take(cap).read_to_end(&mut bytes).map_err(read_error)?;
    if bytes.len() > limit {
        return Err(InputError::TooLarge {
            path: display,
            what,
            limit,
        });
    }
    Ok(bytes)
}

/// As [`read_bounded`], as UTF-8 text (a leading byte-order mark is dropped).
pub fn read_text_bounded(
    path: &Path,
    limit: usize,
    what: &'static str,
) -> Result<String, InputError> {
    let bytes = read_bounded(path, limit, what)?;
    let name = path.display().to_string();
    Ok(decode(&name, &bytes, TextEncoding::Utf8)?.text)
}

/// The encoding of a text file (`--encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextEncoding {
    Utf8,
    Gbk,
    Gb18030,
    /// UTF-8 when the bytes are valid UTF-8, otherwise GB18030 (a superset of GBK).
    #[default]
    Auto,
}

impl TextEncoding {
    /// The names `--encoding` takes.
    pub const NAMES: [&'static str; 4] = ["utf-8", "gbk", "gb18030", "auto"];

    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Gbk => "gbk",
            TextEncoding::Gb18030 => "gb18030",
            TextEncoding::Auto => "auto",
        }
    }
}

impl fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TextEncoding {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(TextEncoding::Utf8),
            "gbk" => Ok(TextEncoding::Gbk),
            "gb18030" => Ok(TextEncoding::Gb18030),
            "auto" => Ok(TextEncoding::Auto),
            other => Err(format!(
                "unknown encoding {other:?}: use one of {}",
                Self::NAMES.join(", ")
            )),
        }
    }
}

/// Text decoded from a file, and the encoding it was read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// The encoding used (never `Auto`).
    pub encoding: TextEncoding,
    /// Set when `Auto` chose GB18030: a sentence for the person, who may want to know.
    pub note: Option<String>,
}

/// Bytes that are not text in the encoding they were read in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file} is not valid {encoding} text at line {line} (byte {offset} of the file, 0x{byte:02X}): {}", self.advice())]
pub struct DecodeError {
    pub file: String,
    /// The encoding that was tried (for `Auto`, the last one: GB18030).
    pub encoding: TextEncoding,
    /// 1-based line of the first byte that does not decode.
    pub line: usize,
    /// 0-based offset of that byte in the file.
    pub offset: usize,
    pub byte: u8,
}

impl DecodeError {
    fn advice(&self) -> String {
        match self.encoding {
            TextEncoding::Utf8 => format!(
                "if it is GBK, read it with --encoding gbk, or convert it with `iconv -f GBK -t UTF-8 {0} > {0}.utf8`",
                self.file
            ),
            _ => format!(
                "the file is neither UTF-8 nor GB18030/GBK; find its encoding (`file {0}`) and convert it with `iconv -f ENCODING -t UTF-8 {0} > {0}.utf8`",
                self.file
            ),
        }
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Decodes `bytes` (the contents of `file`) in `encoding`.
pub fn decode(file: &str, bytes: &[u8], encoding: TextEncoding) -> Result<Decoded, DecodeError> {
    let error = |encoding, offset: usize| DecodeError {
        file: file.to_owned(),
        encoding,
        line: bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1,
        offset,
        byte: bytes.get(offset).copied().unwrap_or(0),
    };
    let utf8 = || {
        let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
        let skipped = bytes.len() - body.len();
        std::str::from_utf8(body)
            .map(str::to_owned)
            .map_err(|e| skipped + e.valid_up_to())
    };
    match encoding {
        TextEncoding::Utf8 => utf8()
            .map(|text| Decoded {
                text,
                encoding,
                note: None,
            })
            .map_err(|at| error(TextEncoding::Utf8, at)),
        TextEncoding::Gbk | TextEncoding::Gb18030 => gb18030(bytes)
            .map(|text| Decoded {
                text,
                encoding,
                note: None,
            })
            .map_err(|at| error(encoding, at)),
        TextEncoding::Auto => match utf8() {
            Ok(text) => Ok(Decoded {
                text,
                encoding: TextEncoding::Utf8,
                note: None,
            }),
            Err(utf8_at) => {
                let text = gb18030(bytes).map_err(|at| error(TextEncoding::Gb18030, at))?;
                let first = error(TextEncoding::Utf8, utf8_at);
                Ok(Decoded {
                    text,
                    encoding: TextEncoding::Gb18030,
                    note: Some(format!(
                        "{file} is not UTF-8 (line {}, byte {}): read as GB18030/GBK; say --encoding to choose",
                        first.line, first.offset
                    )),
                })
            }
        },
    }
}

/// GB18030 (GBK's superset; encoding_rs decodes GBK labels with the same decoder), or the offset
/// of the first byte that is not part of a valid sequence.
fn gb18030(bytes: &[u8]) -> Result<String, usize> {
    let mut decoder = encoding_rs::GB18030.new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len().saturating_mul(4));
    let mut text = String::with_capacity(capacity);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut text, true);
    match result {
        encoding_rs::DecoderResult::InputEmpty => Ok(text),
        encoding_rs::DecoderResult::Malformed(bad, after) => {
            Err(read.saturating_sub(usize::from(after) + usize::from(bad)))
        }
        // The buffer holds the worst case, so this does not happen; report the stop as the fault.
        encoding_rs::DecoderResult::OutputFull => Err(read),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_reads_utf8_as_utf8_and_gbk_as_gb18030_with_a_note() {
        let utf8 = decode("a.csv", "name\n张三\n".as_bytes(), TextEncoding::Auto).unwrap();
        assert_eq!(
            (utf8.text.as_str(), utf8.encoding, utf8.note),
            ("name\n张三\n", TextEncoding::Utf8, None)
        );
        let (gbk, _, _) = encoding_rs::GBK.encode("name\n张三\n");
        let read = decode("a.csv", &gbk, TextEncoding::Auto).unwrap();
        assert_eq!(read.text, "name\n张三\n");
        assert_eq!(read.encoding, TextEncoding::Gb18030);
        assert!(read.note.unwrap().contains("line 2"));
        assert_eq!(
            decode("a.csv", &gbk, TextEncoding::Gbk).unwrap().text,
            "name\n张三\n"
        );
    }

    #[test]
    fn a_bom_is_dropped() {
        let read = decode("a.csv", b"\xEF\xBB\xBFid\n", TextEncoding::Auto).unwrap();
        assert_eq!(read.text, "id\n");
    }

    #[test]
    fn bytes_that_do_not_decode_are_named_by_line_and_offset() {
        let (gbk, _, _) = encoding_rs::GBK.encode("id,name\n1,张三\n");
        let e = decode("b.csv", &gbk, TextEncoding::Utf8).unwrap_err();
        assert_eq!((e.line, e.offset, e.byte), (2, 10, gbk[10]));
        let sentence = e.to_string();
        assert!(
            sentence.contains("iconv -f GBK -t UTF-8 b.csv"),
            "{sentence}"
        );
        assert!(sentence.contains("--encoding gbk"), "{sentence}");
        // 0xFF never starts a GB18030 sequence.
        let e = decode("c.csv", b"id\nab\xFF\n", TextEncoding::Auto).unwrap_err();
        assert_eq!(
            (e.encoding, e.line, e.offset, e.byte),
            (TextEncoding::Gb18030, 2, 5, 0xFF)
        );
        assert!(e.to_string().contains("iconv"), "{e}");
    }

    #[test]
    fn encodings_parse_by_name() {
        for name in TextEncoding::NAMES {
            assert_eq!(name.parse::<TextEncoding>().unwrap().name(), name);
        }
        assert!("latin1".parse::<TextEncoding>().is_err());
    }
}

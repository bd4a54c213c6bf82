//! BER-TLV without allocation: a reader over a byte slice and writers into a [`Writer`].
//!
//! Tags of one or two bytes, lengths in the short form or `81 xx` / `82 xx xx`.

use crate::response::Writer;
use crate::sw::Status;

/// One data object borrowing its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag as written (`0x62`, `0x9F0C`, ...).
    pub tag: u16,
    pub value: &'a [u8],
}

/// Iterates the data objects of a byte string; a malformed object yields one error (`6A80`) and
/// ends the iteration.
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    fn next_object(&mut self) -> Result<Tlv<'a>, Status> {
        let bad = Status::IncorrectDataParameters;
        let (&first, rest) = self.rest.split_first().ok_or(bad)?;
        let (tag, rest) = if first & 0x1F == 0x1F {
            let (&second, rest) = rest.split_first().ok_or(bad)?;
            if second & 0x80 != 0 {
                // Three-byte tags are not used by the card.
                return Err(bad);
            }
            (u16::from_be_bytes([first, second]), rest)
        } else {
            (u16::from(first), rest)
        };
        let (&len0, rest) = rest.split_first().ok_or(bad)?;
        let (len, rest) = match len0 {
            0x00..=0x7F => (usize::from(len0), rest),
            0x81 => {
                let (&l, rest) = rest.split_first().ok_or(bad)?;
                (usize::from(l), rest)
            }
            0x82 => {
                let (l, rest) = rest.split_first_chunk::<2>().ok_or(bad)?;
                (usize::from(u16::from_be_bytes(*l)), rest)
            }
            _ => return Err(bad),
        };
        let value = rest.get(..len).ok_or(bad)?;
        self.rest = rest.get(len..).unwrap_or(&[]);
        Ok(Tlv { tag, value })
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Tlv<'a>, Status>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = self.next_object();
        if item.is_err() {
            self.rest = &[];
        }
        Some(item)
    }
}

/// The single data object that makes up all of `bytes` (e.g. the `62` template of CREATE FILE).
pub fn single(bytes: &[u8]) -> Result<Tlv<'_>, Status> {
    let mut reader = Reader::new(bytes);
    let object = reader.next().ok_or(Status::IncorrectDataParameters)??;
    if reader.next().is_some() {
        return Err(Status::IncorrectDataParameters);
    }
    Ok(object)
}

/// Writes a tag and a length.
pub fn write_header(writer: &mut Writer<'_>, tag: u16, len: usize) -> Result<(), Status> {
    let [t1, t2] = tag.to_be_bytes();
    if t1 != 0 {
        writer.push(t1)?;
    }
    writer.push(t2)?;
    match len {
        0..=0x7F => writer.push(len as u8),
        0x80..=0xFF => writer.extend(&[0x81, len as u8]),
        _ => {
            let len = u16::try_from(len).map_err(|_| Status::NotEnoughMemory)?;
            writer.push(0x82)?;
            writer.extend(&len.to_be_bytes())
        }
    }
}

/// Writes a whole data object.
pub fn write(writer: &mut Writer<'_>, tag: u16, value: &[u8]) -> Result<(), Status> {
    write_header(writer, tag, value.len())?;
    writer.extend(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    #[test]
    fn reads_nested_fcp() {
        let bytes = [0x62, 0x07, 0x82, 0x01, 0x38, 0x83, 0x02, 0xDF, 0x01, 0x9F];
        // A trailing byte after the template is not one object.
        assert_eq!(single(&bytes), Err(Status::IncorrectDataParameters));
        let fcp = single(&bytes[..9]).unwrap();
        assert_eq!(fcp.tag, 0x62);
        let inner: Vec<_> = Reader::new(fcp.value).map(|t| t.unwrap()).collect();
        assert_eq!(
            inner[1],
            Tlv {
                tag: 0x83,
                value: &[0xDF, 0x01]
            }
        );
    }

    proptest! {
        #[test]
        fn written_objects_read_back_like_the_oracle(
            objects in proptest::collection::vec((prop_oneof![1u16..=0x1E, 0x9F01u16..=0x9F7F], proptest::collection::vec(any::<u8>(), 0..300)), 0..4)
        ) {
            let mut buf = [0u8; 1400];
            let mut writer = Writer::new(&mut buf);
            for (tag, value) in &objects {
                write(&mut writer, *tag, value).unwrap();
            }
            let written = writer.written().to_vec();
            let ours: Vec<_> = Reader::new(&written).map(|t| t.unwrap()).collect();
            prop_assert_eq!(ours.len(), objects.len());
            // The iso7816-tlv crate (alloc) is the oracle for both tags and values.
            let oracle = iso7816_tlv::ber::Tlv::parse_all(&written);
            prop_assert_eq!(oracle.len(), objects.len());
            for ((ours, theirs), (tag, value)) in ours.iter().zip(oracle.iter()).zip(objects.iter()) {
                prop_assert_eq!(ours.tag, *tag);
                prop_assert_eq!(ours.value, &value[..]);
                let their_tag = theirs.tag().to_bytes().iter().fold(0u16, |acc, b| (acc << 8) | u16::from(*b));
                prop_assert_eq!(their_tag, *tag);
                match theirs.value() {
                    iso7816_tlv::ber::Value::Primitive(v) => prop_assert_eq!(&v[..], &value[..]),
                    iso7816_tlv::ber::Value::Constructed(_) => {}
                }
            }
        }

        #[test]
        fn reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            for object in Reader::new(&bytes).flatten() {
                prop_assert!(object.value.len() <= bytes.len());
            }
        }
    }
}

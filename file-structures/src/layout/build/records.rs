//! What an EF holds: its record fields, the tags it reserves and its structure (transparent,
//! linear-variable or cyclic), each checked against the card's limits.

use std::collections::HashMap;

use super::{Builder, MAX_FIELD_LEN, MAX_TRANSPARENT_SIZE};
use crate::codec::{self, Encoding};
use crate::layout::model::{Clash, Field, Structure};
use crate::layout::source::{Problem, RawEf, RawField, Source, S};

impl Builder<'_> {
    pub(super) fn reserved_tags(&mut self, src: &Source, raw: &RawEf) -> Option<Vec<u8>> {
        let Some(text) = &raw.reserved_tags else {
            return Some(Vec::new());
        };
        let bounds: Option<Vec<u8>> = text
            .get_ref()
            .split('-')
            .map(|t| u8::from_str_radix(t.trim(), 16).ok())
            .collect();
        match bounds.as_deref() {
            Some([one]) => Some(vec![*one]),
            Some([low, high]) if low <= high => Some((*low..=*high).collect()),
            _ => {
                self.report(
                    src,
                    text.span(),
                    format!(
                        "reserved_tags {:?} must be a tag or a range like \"7D-8F\"",
                        text.get_ref()
                    ),
                );
                None
            }
        }
    }

    pub(super) fn fields(&mut self, src: &Source, raw: &RawEf) -> Option<Vec<Field>> {
        let mut fields = Vec::new();
        let mut ok = true;
        for f in &raw.field {
            match self.field(src, f.get_ref()) {
                Some(field) => fields.push(field),
                None => ok = false,
            }
        }
        // Record numbers are the order on the card: 1, 2, 3, ... with no gap.
        fields.sort_by_key(|f| f.rec);
        let mut tags: HashMap<u8, &Field> = HashMap::new();
        for (i, f) in fields.iter().enumerate() {
            let expected = i + 1;
            if usize::from(f.rec) != expected {
                self.report_at(&f.origin, format!("field {} has record number {} but records must be numbered 1, 2, 3, ... without gaps or repeats (expected {expected})", f.id, f.rec));
                ok = false;
            }
            if let Some(first) = tags.insert(f.tag, f) {
                let message = format!("duplicate tag {:02X}: field {} already uses it ({}); tags must be unique in their EF", f.tag, first.id, first.origin);
                let clash = Clash {
                    item: format!("field {}", first.id),
                    origin: first.origin.clone(),
                };
                self.problems
                    .push(Problem::at(&f.origin, message).clashing_with(clash));
                ok = false;
            }
        }
        ok.then_some(fields)
    }

    pub(super) fn field(&mut self, src: &Source, raw: &RawField) -> Option<Field> {
        let at = self.origin(src, raw.tag.span());
        let rec = self
            .int(src, &raw.rec, 1..=254, "record number")
            .map(|r| r as u8);
        let tag = self.hex(src, &raw.tag, 2, "tag").map(|t| t as u8);
        let id = raw.id.get_ref();
        let id_ok = !id.is_empty()
            && id
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
        if !id_ok {
            self.report(src, raw.id.span(), format!("field id {id:?} must be lower-case letters, digits and _ (it is a record column name)"));
        }
        let len = self
            .int(src, &raw.len, 1..=MAX_FIELD_LEN, "len")
            .map(|l| l as u8);
        let encoding = self.named(src, &raw.encoding, &Encoding::ALL, "encoding");
        let (Some(rec), Some(tag), Some(len), Some(encoding)) = (rec, tag, len, encoding) else {
            return None;
        };
        if !id_ok {
            return None;
        }
        if tag == 0x00 || tag == 0xFF {
            self.report(
                src,
                raw.tag.span(),
                format!("tag {tag:02X} cannot identify a record (00 and FF are not tags)"),
            );
            return None;
        }
        if let Some(required) = encoding.required_len() {
            if usize::from(len) != required {
                self.report(src, raw.len.span(), format!("len {len} does not fit encoding {encoding}, which is always {required} bytes"));
                return None;
            }
        }
        let default = raw.default.as_ref().map(|d| d.get_ref().clone());
        if let (Some(d), Some(value)) = (&raw.default, &default) {
            if let Err(e) = codec::encode(encoding, usize::from(len), value) {
                self.report(
                    src,
                    d.span(),
                    format!("default {value:?} is not a valid {encoding} of {len} bytes: {e}"),
                );
                return None;
            }
        }
        Some(Field {
            rec,
            tag,
            id: id.clone(),
            zh: raw.zh.clone(),
            en: raw.en.clone(),
            len,
            encoding,
            mandatory: raw.mandatory,
            default,
            origin: at,
        })
    }

    pub(super) fn structure(
        &mut self,
        src: &Source,
        raw: &RawEf,
        fields: Option<&[Field]>,
    ) -> Option<Structure> {
        let span = raw.structure.span();
        let no = |b: &mut Self, what: Option<&S<i64>>, name: &str, structure: &str| {
            if let Some(v) = what {
                b.report(
                    src,
                    v.span(),
                    format!("{name} has no meaning for a {structure} file"),
                );
            }
        };
        match raw.structure.get_ref().as_str() {
            "transparent" => {
                no(self, raw.records.as_ref(), "records", "transparent");
                no(self, raw.record_len.as_ref(), "record_len", "transparent");
                if !raw.field.is_empty() {
                    self.report(
                        src,
                        span.clone(),
                        "a transparent file has no record fields: use linear-variable",
                    );
                }
                let Some(size) = &raw.size else {
                    self.report(src, span, "a transparent file needs size = <bytes>");
                    return None;
                };
                self.int(src, size, 1..=MAX_TRANSPARENT_SIZE, "size")
                    .map(|s| Structure::Transparent { size: s as u16 })
            }
            "linear-variable" => {
                no(self, raw.size.as_ref(), "size", "linear-variable");
                let fields = fields?;
                let longest = fields.iter().map(|f| f.len).max().unwrap_or(0);
                let (mut records, mut max_len) = (fields.len() as i64, i64::from(longest) + 2);
                if let Some(r) = &raw.records {
                    records = self.int(src, r, fields.len().max(1) as i64..=254, "records")?;
                }
                if let Some(l) = &raw.record_len {
                    max_len =
                        self.int(src, l, (i64::from(longest) + 2).max(3)..=255, "record_len")?;
                }
                if records == 0 {
                    self.report(src, span, "a record file needs fields or records = <count>");
                    return None;
                }
                Some(Structure::LinearVariable {
                    records: records as u8,
                    max_len: max_len as u8,
                })
            }
            "cyclic" => {
                no(self, raw.size.as_ref(), "size", "cyclic");
                if !raw.field.is_empty() {
                    self.report(
                        src,
                        span.clone(),
                        "a cyclic file (a journal) has no personalised fields",
                    );
                }
                match (&raw.records, &raw.record_len) {
                    (Some(r), Some(l)) => {
                        let records = self.int(src, r, 1..=254, "records");
                        let len = self.int(src, l, 1..=255, "record_len");
                        Some(Structure::Cyclic {
                            records: records? as u8,
                            record_len: len? as u8,
                        })
                    }
                    _ => {
                        self.report(
                            src,
                            span,
                            "a cyclic file needs records = <count> and record_len = <bytes>",
                        );
                        None
                    }
                }
            }
            other => {
                self.report(
                    src,
                    span,
                    format!(
                        "unknown structure {other:?}: use transparent, linear-variable or cyclic"
                    ),
                );
                None
            }
        }
    }
}

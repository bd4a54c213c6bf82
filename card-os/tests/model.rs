//! Model-based test: long random command sequences run against the card and against a small
//! reference model of the demo card's file system written here; every response must match
//! byte for byte.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::*;

use card_os::testing::{exchange, DEMO_EF05, DEMO_EF06, DEMO_RECORD_MAX, SSSE_NAME};
use card_os::Card;
use proptest::prelude::*;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Df,
    Transparent,
    Linear,
    Cyclic,
}

#[derive(Clone, Debug)]
struct File {
    fid: u16,
    parent: Option<usize>,
    kind: Kind,
    sfi: u8,
    name: Vec<u8>,
    data: Vec<u8>,
    /// Record 1 first (for a cyclic file: the newest first).
    records: Vec<Vec<u8>>,
    max_record_len: usize,
    slots: usize,
}

struct Model {
    files: Vec<File>,
    df: usize,
    ef: Option<usize>,
    record: Option<usize>,
}

type Reply = (Vec<u8>, u16);

fn err(sw: u16) -> Reply {
    (Vec::new(), sw)
}

impl Model {
    fn demo() -> Self {
        let file = |fid, parent: Option<usize>, kind, sfi| File {
            fid,
            parent,
            kind,
            sfi,
            name: vec![],
            data: vec![],
            records: vec![],
            max_record_len: 0,
            slots: 0,
        };
        let records = |mut f: File, slots: usize, max: usize, content: &[&[u8]]| {
            f.slots = slots;
            f.max_record_len = max;
            f.records = content.iter().map(|r| r.to_vec()).collect();
            f
        };
        let mut ssse = file(0xDDF1, Some(0), Kind::Df, 0);
        ssse.name = SSSE_NAME.to_vec();
        let mut df01 = file(0xDF01, Some(0), Kind::Df, 0);
        df01.name = hex("D15600000500");
        let mut df04 = file(0xDF04, Some(0), Kind::Df, 0);
        df04.name = hex("D15600000503");
        let mut ef07 = file(0xEF07, Some(1), Kind::Transparent, 7);
        ef07.data = vec![0; 1024];
        let mut ef08 = file(0xEF08, Some(1), Kind::Transparent, 8);
        ef08.data = vec![0; 4096];
        let max = usize::from(DEMO_RECORD_MAX);
        Model {
            files: vec![
                file(0x3F00, None, Kind::Df, 0),
                ssse,
                records(file(0xEF05, Some(1), Kind::Linear, 5), 7, max, &DEMO_EF05),
                records(file(0xEF06, Some(1), Kind::Linear, 6), 7, max, &DEMO_EF06),
                ef07,
                ef08,
                df01,
                records(file(0xEF05, Some(6), Kind::Linear, 5), 3, max, &[]),
                df04,
                records(file(0xEF08, Some(8), Kind::Cyclic, 8), 4, 16, &[]),
            ],
            df: 0,
            ef: None,
            record: None,
        }
    }

    fn child(&self, parent: usize, fid: u16) -> Option<usize> {
        self.files
            .iter()
            .position(|f| f.parent == Some(parent) && f.fid == fid)
    }

    fn select_fid(&mut self, fid: u16) -> Reply {
        let current = self.df;
        let parent = self.files[current].parent;
        let found = if fid == 0x3F00 {
            Some(0)
        } else {
            self.child(current, fid)
                .or((self.files[current].fid == fid).then_some(current))
                .or(parent.filter(|p| self.files[*p].fid == fid))
                .or(parent.and_then(|p| self.child(p, fid)))
                .or(self.child(0, fid))
        };
        match found {
            Some(i) => {
                self.select(i);
                err(0x9000)
            }
            None => err(0x6A82),
        }
    }

    fn select(&mut self, i: usize) {
        if self.files[i].kind == Kind::Df {
            self.df = i;
            self.ef = None;
        } else {
            self.df = self.files[i].parent.unwrap();
            self.ef = Some(i);
        }
        self.record = None;
    }

    fn select_name(&mut self, name: &[u8]) -> Reply {
        match self
            .files
            .iter()
            .position(|f| f.kind == Kind::Df && f.name.starts_with(name))
        {
            Some(i) => {
                self.select(i);
                err(0x9000)
            }
            None => err(0x6A82),
        }
    }

    /// The EF addressed by an SFI (0 = current).
    fn target(&mut self, sfi: u8) -> Result<usize, u16> {
        if sfi == 0 {
            return self.ef.ok_or(0x6986);
        }
        let df = self.df;
        let i = self
            .files
            .iter()
            .position(|f| f.parent == Some(df) && f.sfi == sfi && f.kind != Kind::Df)
            .ok_or(0x6A82u16)?;
        if self.ef != Some(i) {
            self.ef = Some(i);
            self.record = None;
        }
        Ok(i)
    }

    fn binary_target(&mut self, sfi: u8, offset: usize) -> Result<usize, u16> {
        let i = self.target(sfi)?;
        if self.files[i].kind != Kind::Transparent {
            return Err(0x6981);
        }
        if offset > self.files[i].data.len() {
            return Err(0x6B00);
        }
        Ok(i)
    }

    fn read_binary(&mut self, sfi: u8, offset: usize, ne: usize) -> Reply {
        match self.binary_target(sfi, offset) {
            Err(sw) => err(sw),
            Ok(i) => {
                let data = &self.files[i].data;
                let available = data.len() - offset;
                let n = ne.min(available);
                (
                    data[offset..offset + n].to_vec(),
                    if ne > available { 0x6282 } else { 0x9000 },
                )
            }
        }
    }

    fn update_binary(&mut self, sfi: u8, offset: usize, bytes: &[u8]) -> Reply {
        match self.binary_target(sfi, offset) {
            Err(sw) => err(sw),
            Ok(i) => {
                let data = &mut self.files[i].data;
                if offset + bytes.len() > data.len() {
                    return err(0x6A84);
                }
                data[offset..offset + bytes.len()].copy_from_slice(bytes);
                err(0x9000)
            }
        }
    }

    fn record_target(&mut self, sfi: u8) -> Result<usize, u16> {
        let i = self.target(sfi)?;
        if !matches!(self.files[i].kind, Kind::Linear | Kind::Cyclic) {
            return Err(0x6981);
        }
        Ok(i)
    }

    fn locate(&self, i: usize, p1: u8, mode: u8) -> Result<usize, u16> {
        let count = self.files[i].records.len();
        match mode {
            4 if p1 == 0 => self.record.ok_or(0x6A83),
            4 => (usize::from(p1) <= count)
                .then_some(usize::from(p1))
                .ok_or(0x6A83),
            0..=3 => {
                let numbers: Vec<usize> = match (mode, self.record) {
                    (0, _) | (2, None) => (1..=count).collect(),
                    (1, _) | (_, None) => (1..=count).rev().collect(),
                    (2, Some(c)) => (c + 1..=count).collect(),
                    (_, Some(c)) => (1..c).rev().collect(),
                };
                numbers
                    .into_iter()
                    .find(|n| p1 == 0 || self.files[i].records[n - 1].first() == Some(&p1))
                    .ok_or(0x6A83)
            }
            _ => Err(0x6A86),
        }
    }

    fn read_record(&mut self, p1: u8, sfi: u8, mode: u8, ne: Option<usize>) -> Reply {
        let result = self
            .record_target(sfi)
            .and_then(|i| Ok((i, self.locate(i, p1, mode)?)));
        match result {
            Err(sw) => err(sw),
            Ok((i, number)) => {
                let record = self.files[i].records[number - 1].clone();
                if record.len() > ne.unwrap_or(0) {
                    return err(0x6C00 | record.len() as u16);
                }
                self.record = Some(number);
                (record, 0x9000)
            }
        }
    }

    fn length_ok(&self, i: usize, data: &[u8]) -> Result<(), u16> {
        let file = &self.files[i];
        match file.kind {
            Kind::Linear if data.is_empty() => Err(0x6700),
            Kind::Linear if data.len() > file.max_record_len => Err(0x6A84),
            Kind::Linear => Ok(()),
            _ if data.len() != file.max_record_len => Err(0x6700),
            _ => Ok(()),
        }
    }

    fn update_record(&mut self, p1: u8, sfi: u8, mode: u8, data: &[u8]) -> Reply {
        let result = self.record_target(sfi).and_then(|i| {
            let number = self.locate(i, p1, mode)?;
            self.length_ok(i, data)?;
            Ok((i, number))
        });
        match result {
            Err(sw) => err(sw),
            Ok((i, number)) => {
                self.files[i].records[number - 1] = data.to_vec();
                self.record = Some(number);
                err(0x9000)
            }
        }
    }

    fn append_record(&mut self, sfi: u8, data: &[u8]) -> Reply {
        let result = self.record_target(sfi).and_then(|i| {
            self.length_ok(i, data)?;
            Ok(i)
        });
        match result {
            Err(sw) => err(sw),
            Ok(i) => {
                let file = &mut self.files[i];
                if file.kind == Kind::Cyclic {
                    file.records.insert(0, data.to_vec());
                    file.records.truncate(file.slots);
                    self.record = Some(1);
                } else {
                    if file.records.len() >= file.slots {
                        return err(0x6A84);
                    }
                    file.records.push(data.to_vec());
                    self.record = Some(file.records.len());
                }
                err(0x9000)
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    SelectFid(u16),
    SelectName(bool, usize),
    ReadBinary {
        sfi: u8,
        offset: usize,
        ne: usize,
    },
    UpdateBinary {
        sfi: u8,
        offset: usize,
        data: Vec<u8>,
    },
    ReadRecord {
        p1: u8,
        sfi: u8,
        mode: u8,
        ne: Option<usize>,
    },
    UpdateRecord {
        p1: u8,
        sfi: u8,
        mode: u8,
        data: Vec<u8>,
    },
    AppendRecord {
        sfi: u8,
        data: Vec<u8>,
    },
}

fn sfi() -> impl Strategy<Value = u8> {
    prop::sample::select(vec![0u8, 5, 6, 7, 8, 9])
}

/// Offsets near the start and the ends of the transparent files (1024 and 4096 bytes).
fn offset() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..=255, 960usize..=1030, 4030usize..=4100]
}

fn record_p1() -> impl Strategy<Value = u8> {
    prop_oneof![
        prop::sample::select(vec![
            0u8, 1, 2, 3, 4, 7, 8, 0x01, 0x07, 0x08, 0x09, 0x0A, 0x0D, 0x4E, 0x20, 0x21
        ]),
        any::<u8>(),
    ]
}

fn record_data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 16),
        prop::collection::vec(
            prop::sample::select(vec![0x01u8, 0x08, 0x09, 0x20, 0x21, 0x55]),
            1..4
        ),
        prop::collection::vec(any::<u8>(), 1..80),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let fids = vec![
        0x3F00u16, 0xDDF1, 0xDF01, 0xDF04, 0xEF05, 0xEF06, 0xEF07, 0xEF08, 0xEF09, 0x1234,
    ];
    prop_oneof![
        3 => prop::sample::select(fids).prop_map(Op::SelectFid),
        1 => (any::<bool>(), 1usize..=16).prop_map(|(ssse, len)| Op::SelectName(ssse, len)),
        2 => (sfi(), offset(), 1usize..=256)
            .prop_map(|(sfi, offset, ne)| Op::ReadBinary { sfi, offset: if sfi == 0 { offset } else { offset % 256 }, ne }),
        1 => (sfi(), offset(), prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(sfi, offset, data)| Op::UpdateBinary { sfi, offset: if sfi == 0 { offset } else { offset % 256 }, data }),
        4 => (record_p1(), sfi(), 0u8..=5, prop::option::weighted(0.9, 1usize..=256))
            .prop_map(|(p1, sfi, mode, ne)| Op::ReadRecord { p1, sfi, mode, ne }),
        2 => (record_p1(), sfi(), 0u8..=4, record_data()).prop_map(|(p1, sfi, mode, data)| Op::UpdateRecord { p1, sfi, mode, data }),
        2 => (sfi(), record_data()).prop_map(|(sfi, data)| Op::AppendRecord { sfi, data }),
    ]
}

fn apdu(header: [u8; 4], data: &[u8], ne: Option<usize>) -> Vec<u8> {
    let mut out = header.to_vec();
    if !data.is_empty() {
        out.push(data.len() as u8);
        out.extend_from_slice(data);
    }
    if let Some(ne) = ne {
        out.push((ne % 256) as u8);
    }
    out
}

fn run(op: &Op, model: &mut Model) -> (Vec<u8>, Reply) {
    match op {
        Op::SelectFid(fid) => (
            apdu([0, 0xA4, 0, 0x0C], &fid.to_be_bytes(), None),
            model.select_fid(*fid),
        ),
        Op::SelectName(ssse, len) => {
            let name = if *ssse {
                SSSE_NAME.to_vec()
            } else {
                hex("D15600000503")
            };
            let name = &name[..(*len).min(name.len())];
            (
                apdu([0, 0xA4, 4, 0x0C], name, None),
                model.select_name(name),
            )
        }
        Op::ReadBinary { sfi, offset, ne } => {
            let (p1, p2) = binary_p1p2(*sfi, *offset);
            (
                apdu([0, 0xB0, p1, p2], &[], Some(*ne)),
                model.read_binary(*sfi, *offset, *ne),
            )
        }
        Op::UpdateBinary { sfi, offset, data } => {
            let (p1, p2) = binary_p1p2(*sfi, *offset);
            (
                apdu([0, 0xD6, p1, p2], data, None),
                model.update_binary(*sfi, *offset, data),
            )
        }
        Op::ReadRecord { p1, sfi, mode, ne } => (
            apdu([0, 0xB2, *p1, sfi << 3 | mode], &[], *ne),
            model.read_record(*p1, *sfi, *mode, *ne),
        ),
        Op::UpdateRecord {
            p1,
            sfi,
            mode,
            data,
        } => (
            apdu([0, 0xDC, *p1, sfi << 3 | mode], data, None),
            model.update_record(*p1, *sfi, *mode, data),
        ),
        Op::AppendRecord { sfi, data } => (
            apdu([0, 0xE2, 0, sfi << 3], data, None),
            model.append_record(*sfi, data),
        ),
    }
}

fn binary_p1p2(sfi: u8, offset: usize) -> (u8, u8) {
    if sfi == 0 {
        ((offset >> 8) as u8, offset as u8)
    } else {
        (0x80 | sfi, offset as u8)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn card_matches_the_reference_model(ops in prop::collection::vec(op(), 1..400)) {
        let mut storage = demo_storage();
        let mut card = Card::power_on(&mut *storage).unwrap();
        let mut model = Model::demo();
        for (step, op) in ops.iter().enumerate() {
            let (bytes, expected) = run(op, &mut model);
            let response = exchange(&mut card, &bytes);
            let actual = (response.data().to_vec(), response.status().to_u16());
            prop_assert_eq!(&actual, &expected, "step {} {:?} apdu {:02X?}", step, op, bytes);
        }
    }
}

//! Corrupted memory (docs/card-os.md, "Corrupted memory"): whatever the card finds in its own
//! descriptors, header, journal and security objects, it answers with a status word, never panics
//! (these tests also run in debug builds, where an overflow would panic), and never writes outside
//! the area the write belongs to: a file's data, a descriptor, the journal or the header's
//! mutable fields. The card header's identity (magic, version, serial, historical bytes) survives.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use card_os::fs::Descriptor;
use card_os::memory_map::{
    DATA_OFFSET, DESCRIPTOR_SIZE, FILE_TABLE_OFFSET, HDR_ALLOC, HDR_LIFE_CYCLE, HDR_PIN_DF,
    JOURNAL_OFFSET, MAX_FILES,
};
use card_os::{Card, RamStorage, Status, StorageError};
use common::secured::personalised_storage;
use common::*;
use proptest::prelude::*;

/// Every write the card makes, with where it landed.
#[derive(Debug)]
struct Recording {
    inner: Box<RamStorage<65536>>,
    writes: Vec<(u32, usize)>,
}

impl card_os::Storage for Recording {
    fn capacity(&self) -> u32 {
        self.inner.capacity()
    }
    fn read(&self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        self.inner.read(offset, buf)
    }
    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        self.writes.push((offset, data.len()));
        self.inner.write(offset, data)
    }
}

/// Who owns each byte of the data area.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Owner {
    File(u8),
    Free,
}

/// The healthy card's map of the data area: each file's area, free space above the allocation
/// pointer.
fn file_map(storage: &RamStorage<65536>) -> Vec<Owner> {
    let capacity = storage.as_bytes().len();
    let mut owners = vec![Owner::Free; capacity - DATA_OFFSET as usize];
    for i in 0..MAX_FILES as u8 {
        if let Ok(file) = Descriptor::read(storage, i) {
            let start = (file.data_offset - DATA_OFFSET) as usize;
            for owner in &mut owners[start..start + usize::from(file.data_size)] {
                *owner = Owner::File(i);
            }
        }
    }
    owners
}

/// The kind byte of every descriptor.
fn kinds(image: &[u8]) -> Vec<u8> {
    (0..MAX_FILES)
        .map(|i| image[FILE_TABLE_OFFSET as usize + i * DESCRIPTOR_SIZE as usize])
        .collect()
}

/// After a DELETE FILE: the areas of the files whose descriptors it freed (kind byte set to 0
/// by the command, not by a corruption) are free space.
fn free_deleted(owners: &mut [Owner], before: &[u8], after: &[u8]) {
    for owner in owners.iter_mut() {
        if let Owner::File(i) = *owner {
            let i = usize::from(i);
            if before[i] != 0 && after[i] == 0 {
                *owner = Owner::Free;
            }
        }
    }
}

/// Where a write may land: the header's mutable fields (life cycle; allocation pointer, PIN DF,
/// challenge counter and seed), the journal, one descriptor, or in the data area bytes of at most
/// one file. Free space may be among them: a descriptor corrupted to name a free gap next to its
/// file cannot be told from a sound one (DFs carry no CRC), but it never reaches another file.
fn check_write(owners: &[Owner], (offset, len): (u32, usize)) -> Result<(), String> {
    let (start, end) = (offset as usize, offset as usize + len);
    let header_ok = (start == HDR_LIFE_CYCLE as usize && end == start + 1)
        || (start >= HDR_ALLOC as usize && end <= JOURNAL_OFFSET as usize);
    let journal_ok = start >= JOURNAL_OFFSET as usize && end <= FILE_TABLE_OFFSET as usize;
    let descriptor = |at: usize| (at - FILE_TABLE_OFFSET as usize) / DESCRIPTOR_SIZE as usize;
    let table_ok = start >= FILE_TABLE_OFFSET as usize
        && end <= DATA_OFFSET as usize
        && descriptor(start) == descriptor(end - 1);
    let data_ok = start >= DATA_OFFSET as usize && end - DATA_OFFSET as usize <= owners.len() && {
        let area = &owners[start - DATA_OFFSET as usize..end - DATA_OFFSET as usize];
        let mut files = area.iter().filter(|o| **o != Owner::Free);
        let first = files.next();
        files.all(|o| Some(o) == first)
    };
    if len == 0 || header_ok || journal_ok || table_ok || data_ok {
        Ok(())
    } else {
        Err(format!(
            "a write of {len} bytes at {offset} leaves its area"
        ))
    }
}

/// A write into the data area by a command lands in a file the command addressed (its EF, its
/// DF before or after it, the holder PIN's DF) or in free space, never in another file: each
/// case corrupts one descriptor, so every other file's descriptor still says where it lies.
fn addressed_only(
    owners: &[Owner],
    addressed: &[Option<u8>],
    (offset, len): (u32, usize),
) -> Result<(), String> {
    let Some(start) = (offset as usize).checked_sub(DATA_OFFSET as usize) else {
        return Ok(());
    };
    for owner in owners.iter().skip(start).take(len) {
        if let Owner::File(i) = owner {
            if !addressed.contains(&Some(*i)) {
                return Err(format!(
                    "a write of {len} bytes at {offset} lands in file {i}, which the command did not address"
                ));
            }
        }
    }
    Ok(())
}

/// Bytes of the card header that no command may change: magic, version, serial number and
/// historical bytes.
fn identity(storage: &RamStorage<65536>) -> Vec<u8> {
    let header = &storage.as_bytes()[..HDR_ALLOC as usize];
    header
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != HDR_LIFE_CYCLE as usize)
        .map(|(_, b)| *b)
        .collect()
}

/// A well-formed answer: a status word of the ISO classes, no data with an execution or checking
/// error (`64xx`-`6Fxx`). A `9xxx` may carry data: SELECT of a permanently blocked application
/// answers its FCI with `9303` (docs/security.md), and a corrupted state byte can make it so.
fn well_formed(answer: &[u8]) -> Result<(), String> {
    let [.., sw1, sw2] = answer else {
        return Err("no status word".into());
    };
    let sw = Status::from_u16(u16::from_be_bytes([*sw1, *sw2]));
    if !matches!(sw1, 0x61..=0x6F | 0x90..=0x9F) {
        return Err(format!("status word {sw}"));
    }
    if matches!(sw1, 0x64..=0x6F) && answer.len() != 2 {
        return Err(format!("an error with data: {answer:02X?}"));
    }
    Ok(())
}

/// One corruption: a byte of the storage replaced.
#[derive(Clone, Debug)]
struct Corruption {
    at: u32,
    value: u8,
}

/// The places the card trusts: descriptor `victim` (its geometry and the fields the file index
/// keeps above all), the card header, the journal header and entries, and the DF security areas
/// (key slots and the PIN object). During a session (`in_session`), the header's identity and the
/// journal are left alone: the card cannot power on from a header or journal destroyed behind
/// its back, and that is not what the test is about. One descriptor at a time: a descriptor
/// carries no checksum, so when one is damaged beyond knowing where its file lies, a second one
/// corrupted to name that same place cannot be told from a sound one (docs/card-os.md).
fn corruption(
    security_areas: Vec<u32>,
    victim: u32,
    in_session: bool,
) -> impl Strategy<Value = Corruption> {
    let descriptor = FILE_TABLE_OFFSET + victim * DESCRIPTOR_SIZE;
    let any_byte = (0..DESCRIPTOR_SIZE).prop_map(move |b| descriptor + b);
    let geometry = prop::sample::select(vec![4u32, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41])
        .prop_map(move |b| descriptor + b);
    let (header, journal) = if in_session {
        (32..37u32, 32..64u32)
    } else {
        (0..64u32, JOURNAL_OFFSET..JOURNAL_OFFSET + 24)
    };
    let header = prop_oneof![header, 32..37u32];
    let security = (prop::sample::select(security_areas), 0..288u32).prop_map(|(a, b)| a + b);
    let at = prop_oneof![
        3 => any_byte,
        4 => geometry,
        2 => header,
        1 => journal,
        2 => security,
    ];
    (at, any::<u8>()).prop_map(|(at, value)| Corruption { at, value })
}

/// Corruptions before power-on and during the session, all of one descriptor.
fn corruptions() -> impl Strategy<Value = (Vec<Corruption>, Vec<Corruption>)> {
    let areas = security_areas(&personalised_storage());
    (0..16u32).prop_flat_map(move |victim| {
        (
            prop::collection::vec(corruption(areas.clone(), victim, false), 1..5),
            prop::collection::vec(corruption(areas.clone(), victim, true), 0..3),
        )
    })
}

const FIDS: [u16; 9] = [
    0x3F00, 0xDDF1, 0xEF05, 0xEF06, 0xEF07, 0xEF08, 0xDF01, 0xDF04, 0xEF20,
];

/// Commands that reach every use of stored offsets: selection, binary and record reads and
/// writes, PIN and key commands, file creation and deletion, life cycle, GET DATA.
fn command() -> impl Strategy<Value = Vec<u8>> {
    let fid = prop::sample::select(FIDS.to_vec());
    prop_oneof![
        fid.clone().prop_map(|f| {
            let mut a = hex("00A4000002");
            a.extend(f.to_be_bytes());
            a
        }),
        Just(hex(&format!("{SELECT_SSSE}00"))),
        (
            prop::sample::select(vec![0x87u8, 0x88, 0x00]),
            any::<u8>(),
            any::<u8>()
        )
            .prop_map(|(p1, p2, le)| vec![0x00, 0xB0, p1, p2, le]),
        (
            prop::sample::select(vec![0x87u8, 0x88, 0x00, 0x03, 0x0F]),
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 1..40)
        )
            .prop_map(|(p1, p2, data)| {
                let mut a = vec![0x00, 0xD6, p1, p2, data.len() as u8];
                a.extend(data);
                a
            }),
        (
            any::<u8>(),
            prop::sample::select(vec![0x2Cu8, 0x34, 0x44, 0x04, 0x2C | 1, 0x28])
        )
            .prop_map(|(p1, p2)| vec![0x00, 0xB2, p1, p2, 0x00]),
        (
            any::<u8>(),
            prop::sample::select(vec![0x2Cu8, 0x34, 0x44, 0x04, 0x28]),
            prop::collection::vec(any::<u8>(), 1..20)
        )
            .prop_map(|(p1, p2, data)| {
                let mut a = vec![0x00, 0xDC, p1, p2, data.len() as u8];
                a.extend(data);
                a
            }),
        (
            prop::sample::select(vec![0x28u8, 0x30, 0x40, 0x00]),
            prop::collection::vec(any::<u8>(), 1..20)
        )
            .prop_map(|(p2, data)| {
                let mut a = vec![0x00, 0xE2, 0x00, p2, data.len() as u8];
                a.extend(data);
                a
            }),
        Just(hex("0020000003 123456")),
        Just(hex("0020000003 654321")),
        Just(hex("805E000007 123456 FF 111111")),
        Just(hex("0084000008")),
        Just(hex(
            "80D4000014 2A 01 01 03 00112233445566778899AABBCCDDEEFF"
        )),
        Just(hex("80D4010004 06 123456")),
        Just(hex("801E000004 00000000")),
        (any::<u8>(), 1u16..600).prop_map(|(fid, size)| {
            let [hi, lo] = size.to_be_bytes();
            vec![
                0x00, 0xE0, 0x00, 0x00, 0x0D, 0x62, 0x0B, 0x82, 0x01, 0x01, 0x83, 0x02, 0xEE, fid,
                0x80, 0x02, hi, lo,
            ]
        }),
        any::<u8>().prop_map(|fid| hex(&format!("00E000000A 6208 820138 8302DE{fid:02X}"))),
        fid.clone().prop_map(|f| {
            let mut a = hex("00E4000002");
            a.extend(f.to_be_bytes());
            a
        }),
        Just(hex("00E40000")),
        fid.prop_map(|f| {
            let mut a = hex("0044000002");
            a.extend(f.to_be_bytes());
            a
        }),
        Just(hex("0004000000")),
        Just(hex("00E6000000")),
        prop::sample::select(vec![0xDF7Fu16, 0x0066, 0x005A, 0xDF41]).prop_map(|t| {
            let [p1, p2] = t.to_be_bytes();
            vec![0x00, 0xCA, p1, p2, 0x00]
        }),
    ]
}

/// The DF security areas of the healthy card.
fn security_areas(storage: &RamStorage<65536>) -> Vec<u32> {
    (0..MAX_FILES as u8)
        .filter_map(|i| Descriptor::read(storage, i).ok())
        .filter(|d| d.kind == card_os::fs::FileKind::Df)
        .map(|d| d.data_offset)
        .collect()
}

/// Corrupts a personalised card, powers it on and runs the commands; checks every write and
/// answer, that the header's identity survives and that the card powers on again afterwards.
fn run(
    corruptions: &[Corruption],
    commands: &[Vec<u8>],
    later: &[Corruption],
) -> Result<(), String> {
    let healthy = personalised_storage();
    let mut owners = file_map(&healthy);
    let mut storage = Recording {
        inner: healthy,
        writes: Vec::new(),
    };
    for c in corruptions {
        card_os::Storage::write(&mut storage, c.at, &[c.value]).unwrap();
    }
    storage.writes.clear();
    let mut identity_before = identity(&storage.inner);
    let powered = match Card::power_on(&mut storage) {
        Ok(mut card) => {
            let mut response = vec![0u8; 4098];
            for (n, apdu) in commands.iter().enumerate() {
                if n == commands.len() / 2 && !later.is_empty() {
                    // Memory that changes during a session, then a reset as `Card::storage_mut`
                    // asks (the card checks its table again).
                    let stored = card.storage_mut();
                    for c in later {
                        card_os::Storage::write(&mut *stored.inner, c.at, &[c.value]).unwrap();
                    }
                    identity_before = identity(&stored.inner);
                    card.warm_reset();
                }
                let before = kinds(card.storage().inner.as_bytes());
                let (writes_before, df_before) =
                    (card.storage().writes.len(), card.volatile().selection.df);
                let n = card.process(apdu, &mut response);
                well_formed(&response[..n]).map_err(|e| format!("{apdu:02X?}: {e}"))?;
                let selection = card.volatile().selection;
                let pin_df = card.storage().inner.as_bytes()[HDR_PIN_DF as usize].wrapping_sub(1);
                let addressed = [
                    Some(df_before),
                    Some(selection.df),
                    selection.ef,
                    Some(pin_df),
                ];
                for &write in &card.storage().writes[writes_before..] {
                    addressed_only(&owners, &addressed, write)
                        .map_err(|e| format!("{apdu:02X?}: {e}"))?;
                }
                if apdu[1] == 0xE4 && response[..n] == [0x90, 0x00] {
                    let after = kinds(card.storage().inner.as_bytes());
                    free_deleted(&mut owners, &before, &after);
                }
            }
            true
        }
        Err(_) => false,
    };
    for write in &storage.writes {
        check_write(&owners, *write)?;
    }
    if identity(&storage.inner) != identity_before {
        return Err("the card header's identity changed".into());
    }
    if powered {
        Card::power_on(&mut storage)
            .map_err(|e| format!("no power-on afterwards: {:?}", e.error))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn corrupted_metadata_never_leads_a_write_out_of_its_area(
        (corruptions, later) in corruptions(),
        commands in prop::collection::vec(command(), 1..40),
    ) {
        run(&corruptions, &commands, &later).map_err(TestCaseError::fail)?;
    }
}

/// Descriptor index of `fid` in the personalised card.
fn index_of(storage: &RamStorage<65536>, fid: u16) -> (u8, Descriptor) {
    (0..MAX_FILES as u8)
        .filter_map(|i| Descriptor::read(storage, i).ok().map(|d| (i, d)))
        .find(|(_, d)| d.fid == fid)
        .unwrap()
}

/// The regression: EF07's data offset corrupted so that offset + P1P2 wraps around to the
/// card header. UPDATE BINARY must answer 6581 (not 9000), write nothing, and the card must still
/// power on.
#[test]
fn an_update_binary_that_would_wrap_onto_the_header_is_refused() {
    let mut storage = personalised_storage();
    let (index, _) = index_of(&storage, 0xEF07);
    let at = FILE_TABLE_OFFSET + u32::from(index) * DESCRIPTOR_SIZE + 32;
    // data offset = 2^32 - 16: offset 16 of the file is address 0, the magic.
    let wrapped = (u32::MAX - 15).to_be_bytes();
    card_os::Storage::write(&mut *storage, at, &wrapped).unwrap();
    let header_before = storage.as_bytes()[..64].to_vec();
    let owners = file_map(&personalised_storage());
    let mut recording = Recording {
        inner: storage,
        writes: Vec::new(),
    };
    {
        let mut card = Card::power_on(&mut recording).unwrap();
        assert_eq!(sw(&mut card, "00A4000C02DDF1"), 0x9000);
        assert_eq!(sw(&mut card, "00A4000C02EF07"), 0x6581);
        // By SFI, from the SSSE: the magic would be overwritten by "XXXX".
        assert_eq!(sw(&mut card, "00D6871004 58585858"), 0x6581);
        assert_eq!(sw(&mut card, "00B0871004"), 0x6581);
        // The other files still work.
        assert_eq!(sw(&mut card, "00D6880004 01020304"), 0x9000);
    }
    for write in &recording.writes {
        check_write(&owners, *write).unwrap();
    }
    assert_eq!(recording.inner.as_bytes()[..64], header_before[..]);
    Card::power_on(&mut recording).expect("the card still powers on");
}

/// A descriptor moved into its neighbour (a data offset a few bytes off): the card must not write
/// across into the other file.
#[test]
fn a_file_moved_onto_its_neighbour_is_not_written() {
    let mut storage = personalised_storage();
    let (index, ef05) = index_of(&storage, 0xEF05);
    let at = FILE_TABLE_OFFSET + u32::from(index) * DESCRIPTOR_SIZE + 32;
    card_os::Storage::write(&mut *storage, at, &(ef05.data_offset + 100).to_be_bytes()).unwrap();
    let owners = file_map(&personalised_storage());
    let mut recording = Recording {
        inner: storage,
        writes: Vec::new(),
    };
    {
        let mut card = Card::power_on(&mut recording).unwrap();
        assert_eq!(sw(&mut card, "00A4000C02DDF1"), 0x9000);
        assert_eq!(sw(&mut card, "00E2002803 F90141"), 0x6581);
        assert_eq!(sw(&mut card, "00DC072C03 070141"), 0x6581);
    }
    for write in &recording.writes {
        check_write(&owners, *write).unwrap();
    }
}

/// A journal whose entry names a range outside the card's memory (or over the journal itself) is
/// not replayed: nothing is written, and power-on reports the memory failure.
#[test]
fn a_journal_entry_out_of_range_is_not_replayed() {
    for target in [u32::MAX - 3, JOURNAL_OFFSET, 70_000] {
        let mut storage = personalised_storage();
        let mut journal = vec![0xA5, 0, 0, 1, 0, 0, 0, 10];
        journal.extend(target.to_be_bytes());
        journal.extend([0, 4, 0x58, 0x58, 0x58, 0x58]);
        card_os::Storage::write(&mut *storage, JOURNAL_OFFSET, &journal).unwrap();
        let mut recording = Recording {
            inner: storage,
            writes: Vec::new(),
        };
        let failure = Card::power_on(&mut recording)
            .err()
            .expect("a refused journal");
        assert!(matches!(failure.error, card_os::PowerOnError::Storage(_)));
        assert!(recording.writes.is_empty(), "{:?}", recording.writes);
    }
}

/// A file whose kind byte was lost looks free, but its descriptor still names its area: the card
/// keeps that area (and the slot) for it, so deleting the files above it and creating a new one
/// never overwrites it.
#[test]
fn a_file_whose_kind_byte_is_lost_keeps_its_area() {
    let mut storage = personalised_storage();
    let (index, ef20) = index_of(&storage, 0xEF20);
    card_os::Storage::write(
        &mut *storage,
        FILE_TABLE_OFFSET + u32::from(index) * DESCRIPTOR_SIZE,
        &[0],
    )
    .unwrap();
    let mut recording = Recording {
        inner: storage,
        writes: Vec::new(),
    };
    {
        let mut card = Card::power_on(&mut recording).unwrap();
        assert_eq!(sw(&mut card, "00A4000C02DDF1"), 0x9000);
        assert_eq!(sw(&mut card, "00E4000002EF22"), 0x9000);
        assert_eq!(sw(&mut card, "00E4000002EF21"), 0x9000);
        assert_eq!(
            sw(&mut card, "00E000000D 620B 820101 8302EE01 80020100"),
            0x9000
        );
        assert_eq!(sw(&mut card, "00D6000004 58585858"), 0x9000);
    }
    let (start, end) = (
        ef20.data_offset,
        ef20.data_offset + u32::from(ef20.data_size),
    );
    for &(offset, len) in &recording.writes {
        assert!(
            offset + len as u32 <= start || offset >= end,
            "a write of {len} bytes at {offset} lands in EF20 ({start}..{end})"
        );
    }
}

/// An allocation pointer corrupted to lie inside the files: CREATE FILE answers 6581 and writes
/// nothing, rather than zeroing a file with the new one.
#[test]
fn an_allocation_pointer_below_a_file_is_refused() {
    let mut storage = personalised_storage();
    card_os::Storage::write(&mut *storage, HDR_ALLOC, &(DATA_OFFSET + 300).to_be_bytes()).unwrap();
    let mut recording = Recording {
        inner: storage,
        writes: Vec::new(),
    };
    let mut card = Card::power_on(&mut recording).unwrap();
    assert_eq!(
        sw(&mut card, "00E000000D 620B 820101 8302EE01 80020010"),
        0x6581
    );
    drop(card);
    assert!(recording.writes.is_empty(), "{:?}", recording.writes);
}

/// The MF's area is known whatever its descriptor says: with the MF's descriptor destroyed and
/// SSSE's moved into the MF's area, WRITE KEY in SSSE answers 6581 instead of writing there.
#[test]
fn a_df_moved_into_the_mf_area_is_refused() {
    let mut storage = personalised_storage();
    let (ssse, _) = index_of(&storage, 0xDDF1);
    let mf_offset = FILE_TABLE_OFFSET + 32;
    card_os::Storage::write(&mut *storage, mf_offset, &[1]).unwrap();
    let ssse_offset = FILE_TABLE_OFFSET + u32::from(ssse) * DESCRIPTOR_SIZE + 32;
    card_os::Storage::write(
        &mut *storage,
        ssse_offset,
        &(DATA_OFFSET + 257).to_be_bytes(),
    )
    .unwrap();
    let owners = file_map(&personalised_storage());
    let mut recording = Recording {
        inner: storage,
        writes: Vec::new(),
    };
    {
        let mut card = Card::power_on(&mut recording).unwrap();
        assert_eq!(sw(&mut card, "00A4000C02DDF1"), 0x6581);
        assert_eq!(
            sw(
                &mut card,
                "80D4000014 2A 01 01 03 00112233445566778899AABBCCDDEEFF"
            ),
            0x6581
        );
    }
    for write in &recording.writes {
        check_write(&owners, *write).unwrap();
    }
}

//! The card under fuzzing: APDU sequences, resets and power cuts on the demo card, national 2.0
//! and 3.0 cards and the PSAM, and (target `card_corrupted`) on memory corrupted behind the card.
//!
//! An input is a program. Byte 0 picks the card ([`CardKind`]); then operations follow, each an
//! opcode byte (taken modulo 6) and its arguments:
//!
//! | op | arguments | what |
//! |---|---|---|
//! | 0 | `n`, `n` bytes | send a short APDU |
//! | 1 | `n` (u16, modulo 1100), `n` bytes | send a long APDU (extended lengths, chains) |
//! | 2 | | warm reset |
//! | 3 | | cold reset: the card must power on again |
//! | 4 | `k`, `n`, `n` bytes | send the APDU with power lost after `k & 0x3F` writes (`k & 0x40`: the first lost write lands half) |
//! | 5 | `offset` (u16), `m`, `m % 4 + 1` bytes | `card_corrupted` only: overwrite the memory `offset` bytes into the file table and data area with them (else ignored) |
//!
//! What must hold, beyond "no panic": every answer carries a status word of the ISO 7816 ranges
//! (`61`–`6F`, `90`–`9F`); a power cut during a command leaves, after power-on, the memory either
//! as before the command or as after it (the journal region aside); a card whose memory was
//! corrupted keeps its header (magic, version, serial, historical bytes) and powers on again.

use std::sync::OnceLock;

use card_os::memory_map::{
    FILE_TABLE_OFFSET, HDR_LIFE_CYCLE, HEADER_SIZE, JOURNAL_OFFSET, JOURNAL_SIZE,
};
use card_os::testing::TearingStorage;
use card_os::{Card, Storage, MAX_RESPONSE};
use file_structures::personalise::{IssuerKeys, IMAGE_SIZE};
use host_tools::transport::sim::MemoryStorage;

use crate::input::Cursor;

/// Operations per input: bounds the time one input takes.
pub const MAX_OPERATIONS: usize = 48;
/// The longest APDU a program sends (above the card's 1024-byte chain limit plus headers).
pub const MAX_APDU: usize = 1100;

/// The cards a program can start from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardKind {
    Demo,
    National20,
    National30,
    Psam,
}

impl CardKind {
    pub const ALL: [CardKind; 4] = [
        CardKind::Demo,
        CardKind::National20,
        CardKind::National30,
        CardKind::Psam,
    ];

    fn from_byte(b: u8) -> CardKind {
        CardKind::ALL[usize::from(b) % CardKind::ALL.len()]
    }

    pub fn to_byte(self) -> u8 {
        match self {
            CardKind::Demo => 0,
            CardKind::National20 => 1,
            CardKind::National30 => 2,
            CardKind::Psam => 3,
        }
    }

    /// The card's memory, built once per process (personalising is the slow part).
    fn image(self) -> &'static [u8] {
        static IMAGES: [OnceLock<Vec<u8>>; 4] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        IMAGES[usize::from(self.to_byte())].get_or_init(|| build_image(self))
    }
}

/// Builds a card's memory the way the tools do. A failure here is a defect of the builders, not
/// of the input: it panics so that the fuzzer reports it at once.
fn build_image(kind: CardKind) -> Vec<u8> {
    let keys = || IssuerKeys::test_keys().unwrap_or_else(|e| panic!("test keys: {e}"));
    let national = |version: &str| {
        file_structures::layout::national(version)
            .unwrap_or_else(|e| panic!("national layout {version}: {e}"))
    };
    match kind {
        CardKind::Demo => {
            let mut storage = MemoryStorage::erased(IMAGE_SIZE);
            card_os::testing::demo_card(&mut storage)
                .unwrap_or_else(|e| panic!("demo card: {e:?}"));
            storage.as_bytes().to_vec()
        }
        CardKind::National20 | CardKind::National30 => {
            let version = if kind == CardKind::National20 {
                "2.0"
            } else {
                "3.0"
            };
            let holder = host_tools::transport::simcard::sample_holder();
            let (storage, _) = host_tools::transport::simcard::personalised_card(
                &national(version),
                &holder,
                &keys(),
            )
            .unwrap_or_else(|e| panic!("national {version} card: {e}"));
            storage.as_bytes().to_vec()
        }
        CardKind::Psam => {
            let storage = host_tools::jobs::activation::psam::psam_image(
                &national("3.0"),
                &keys(),
                &[0x33, 0x03, 0x00],
            )
            .unwrap_or_else(|e| panic!("PSAM: {e}"));
            storage.as_bytes().to_vec()
        }
    }
}

/// Which variant of the card target runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// APDUs, resets and power cuts on intact memory.
    Intact,
    /// Also memory corrupted behind the card's back.
    Corrupted,
}

type Powered = Card<TearingStorage<MemoryStorage>>;

/// Runs one program (see the module documentation).
pub fn run(data: &[u8], mode: Mode) {
    let mut input = Cursor::new(data);
    let Some(kind) = input.byte().map(CardKind::from_byte) else {
        return;
    };
    let image = kind.image();
    let mut card = power_on(MemoryStorage::from_bytes(image.to_vec()));
    let mut corrupted = false;
    let mut response = vec![0u8; MAX_RESPONSE];
    for _ in 0..MAX_OPERATIONS {
        let Some(op) = input.byte() else { break };
        match op % 6 {
            0 => {
                let n = input.byte().map_or(0, usize::from);
                transmit(&mut card, input.take(n), &mut response);
            }
            1 => {
                let n = input.u16().map_or(0, |n| usize::from(n) % MAX_APDU);
                transmit(&mut card, input.take(n), &mut response);
            }
            2 => card.warm_reset(),
            3 => card = power_on(card.into_storage().into_inner()),
            4 => {
                let plan = input.byte().unwrap_or(0);
                let n = input.byte().map_or(0, usize::from);
                let apdu = input.take(n);
                card = if corrupted {
                    // Atomicity is promised for intact memory; on corrupted memory the cut only
                    // has to be survived.
                    cut_during(card, apdu, plan, &mut response).0
                } else {
                    cut_checked(card, apdu, plan, &mut response)
                };
            }
            _ => {
                let offset = input.u16().unwrap_or(0);
                let m = input.byte().map_or(1, |m| usize::from(m % 4) + 1);
                let bytes = input.take(m);
                if mode == Mode::Corrupted {
                    corrupt(&mut card, offset, bytes);
                    corrupted = true;
                }
            }
        }
        if mode == Mode::Corrupted {
            assert_header_kept(image, card.storage().inner().as_bytes());
        }
    }
    // Whatever happened, the card comes back at the next power-on with its header.
    let storage = card.into_storage().into_inner();
    assert_header_kept(image, storage.as_bytes());
    drop(power_on(storage));
}

/// Powers a card on; it must succeed: the programs never touch the header or the journal.
fn power_on(storage: MemoryStorage) -> Powered {
    match Card::power_on(TearingStorage::new(storage)) {
        Ok(card) => card,
        Err(failure) => panic!("the card no longer powers on: {:?}", failure.error),
    }
}

/// Sends one APDU and checks that the answer carries a status word of the ISO ranges.
fn transmit(card: &mut Powered, apdu: &[u8], response: &mut [u8]) -> usize {
    let n = card.process(apdu, response);
    let answer = response.get(..n).unwrap_or_default();
    if tracing() {
        eprintln!("> {apdu:02X?}\n< {answer:02X?}");
    }
    let Some([sw1, _]) = answer.last_chunk::<2>() else {
        panic!("no status word for {apdu:02X?}: {answer:02X?}");
    };
    assert!(
        matches!(sw1, 0x61..=0x6F | 0x90..=0x9F),
        "status word {answer:02X?} outside ISO 7816 ranges for {apdu:02X?}"
    );
    n
}

/// `SSCARD_FUZZ_TRACE=1`: print every exchange (to see what a crash or a seed does).
fn tracing() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("SSCARD_FUZZ_TRACE").is_some_and(|v| v == "1"))
}

/// Sends `apdu` with power lost as `plan` says, then powers the card on again.
fn cut_during(card: Powered, apdu: &[u8], plan: u8, response: &mut [u8]) -> (Powered, bool) {
    let mut card = card;
    card.storage_mut()
        .cut_after(usize::from(plan & 0x3F), plan & 0x40 != 0);
    transmit(&mut card, apdu, response);
    let was_cut = card.storage().is_cut();
    let mut storage = card.into_storage();
    storage.restore_power();
    (power_on(storage.into_inner()), was_cut)
}

/// [`cut_during`], checking atomicity against the same command run without a cut from the same
/// state: after recovery the memory is one of the states the uncut run passed through with its
/// journal idle, i.e. before the command, after it, or (for the commands that commit twice, such
/// as a PIN check that spends a try before comparing) between two of its transactions.
fn cut_checked(card: Powered, apdu: &[u8], plan: u8, response: &mut [u8]) -> Powered {
    let before = card.storage().inner().clone();
    let volatile = card.volatile().clone();
    // The reference run: the same card state, no cut, every committed state kept.
    let mut reference = match Card::power_on(Committed::new(before.clone())) {
        Ok(card) => card,
        Err(failure) => panic!("the card no longer powers on: {:?}", failure.error),
    };
    *reference.volatile_mut() = volatile.clone();
    let n = reference.process(apdu, response);
    assert!(n >= 2, "no status word for {apdu:02X?}");
    let committed = reference.into_storage().states;

    let mut cut_card = power_on(before);
    *cut_card.volatile_mut() = volatile;
    drop(card);
    let (recovered, _) = cut_during(cut_card, apdu, plan, response);
    let got = recovered.storage().inner().as_bytes();
    assert!(
        committed.iter().any(|state| same_outside_journal(got, state)),
        "a power cut ({plan:02X}) during {apdu:02X?} left the memory in a state the command never committed"
    );
    recovered
}

/// A memory that keeps a copy of itself whenever its journal is idle after a write: the states a
/// command commits (its first entry is the state before the command).
struct Committed {
    memory: MemoryStorage,
    states: Vec<Vec<u8>>,
}

impl Committed {
    fn new(memory: MemoryStorage) -> Self {
        let states = vec![memory.as_bytes().to_vec()];
        Committed { memory, states }
    }
}

impl Storage for Committed {
    fn capacity(&self) -> u32 {
        self.memory.capacity()
    }

    fn read(&self, offset: u32, buf: &mut [u8]) -> Result<(), card_os::StorageError> {
        self.memory.read(offset, buf)
    }

    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), card_os::StorageError> {
        self.memory.write(offset, data)?;
        let bytes = self.memory.as_bytes();
        // card-os' journal: state byte A5 = a transaction in progress (docs/card-os.md).
        if bytes.get(JOURNAL_OFFSET as usize) != Some(&0xA5) {
            self.states.push(bytes.to_vec());
        }
        Ok(())
    }
}

/// Equal memories, the journal's own region aside (its entries stay behind after a commit).
fn same_outside_journal(a: &[u8], b: &[u8]) -> bool {
    let journal = JOURNAL_OFFSET as usize..(JOURNAL_OFFSET + JOURNAL_SIZE) as usize;
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .enumerate()
            .all(|(i, (x, y))| x == y || journal.contains(&i))
}

/// Changes bytes of the file table or data area behind the card's back, as worn cells would:
/// up to four bytes are overwritten, so one operation can set a stored offset or size to any
/// value (the fuzzer's "interesting" values such as FFFFFFF0 included). The header and the
/// journal are left alone: the card cannot tell a corrupted journal entry from a real one, so
/// that is not a promise it makes.
fn corrupt(card: &mut Powered, offset: u16, bytes: &[u8]) {
    let capacity = card.storage().capacity();
    let span = capacity.saturating_sub(FILE_TABLE_OFFSET + 4);
    if span == 0 || bytes.is_empty() {
        return;
    }
    let at = FILE_TABLE_OFFSET + u32::from(offset) % span;
    let _ = card.storage_mut().write(at, bytes);
    card.warm_reset();
}

/// The header bytes no command may change: magic, version, serial number, historical bytes.
fn assert_header_kept(image: &[u8], now: &[u8]) {
    let fixed = |bytes: &[u8]| -> Vec<u8> {
        bytes
            .iter()
            .take(HEADER_SIZE as usize)
            .enumerate()
            .filter(|(i, _)| *i < HDR_LIFE_CYCLE as usize || (8..32).contains(i))
            .map(|(_, b)| *b)
            .collect()
    };
    assert_eq!(
        fixed(image),
        fixed(now),
        "the card header (magic, version, serial, historical bytes) was overwritten"
    );
}

/// Encodes programs: for seeds and tests.
#[derive(Default)]
pub struct Program {
    bytes: Vec<u8>,
}

impl Program {
    pub fn new(kind: CardKind) -> Self {
        Program {
            bytes: vec![kind.to_byte()],
        }
    }

    pub fn apdu(mut self, apdu: &[u8]) -> Self {
        match u8::try_from(apdu.len()) {
            Ok(n) => {
                self.bytes.extend([0, n]);
            }
            Err(_) => {
                self.bytes.push(1);
                self.bytes
                    .extend(u16::try_from(apdu.len()).unwrap_or(0).to_be_bytes());
            }
        }
        self.bytes.extend_from_slice(apdu);
        self
    }

    pub fn warm_reset(mut self) -> Self {
        self.bytes.push(2);
        self
    }

    pub fn cold_reset(mut self) -> Self {
        self.bytes.push(3);
        self
    }

    /// `apdu` with power lost after `writes` writes (at most 63), the lost one torn if `tear`.
    pub fn cut(mut self, writes: u8, tear: bool, apdu: &[u8]) -> Self {
        let plan = (writes & 0x3F) | if tear { 0x40 } else { 0 };
        self.bytes.extend([4, plan, apdu.len().min(255) as u8]);
        self.bytes.extend(apdu.iter().take(255));
        self
    }

    /// Overwrites the memory `offset` bytes into the file table (modulo the size of the file
    /// table and data area) with `bytes` (1 to 4 of them).
    pub fn corrupt(mut self, offset: u16, bytes: &[u8]) -> Self {
        let bytes = bytes.get(..bytes.len().clamp(1, 4)).unwrap_or(&[0xFF]);
        self.bytes.push(5);
        self.bytes.extend(offset.to_be_bytes());
        self.bytes.push(bytes.len() as u8 - 1);
        self.bytes.extend_from_slice(bytes);
        self
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

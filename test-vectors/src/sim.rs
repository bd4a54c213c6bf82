//! The in-process target: card-os in memory, a fresh card for every vector, built the way the
//! vector's precondition says (blank, demo, or personalised with file-structures' Personaliser,
//! the test issuer keys and the sample holder). Each kind is built once and copied per vector.

use std::collections::HashMap;

use card_os::{Card, Storage, StorageError, MAX_RESPONSE};
use file_structures::personalise::{
    format_params, record_from_json, run_script, CardRecord, CardStorage, IssuerKeys, Personaliser,
};

use crate::facts::CardFacts;
use crate::format::{CardKind, Vector};
use crate::target::{CardError, CardUnderTest, NotPrepared, Prepared, Target};

/// The sample fictitious cardholder of file-structures (张测试), embedded.
pub const SAMPLE_HOLDER_JSON: &str = file_structures::samples::HOLDER_JSON;

/// The simulator's memory on the heap (32 KiB is too much to move around on the stack).
#[derive(Clone)]
pub struct HeapStorage(Box<CardStorage>);

impl Storage for HeapStorage {
    fn capacity(&self) -> u32 {
        self.0.capacity()
    }
    fn read(&self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        self.0.read(offset, buf)
    }
    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        self.0.write(offset, data)
    }
}

/// One simulated card: card-os over a RAM storage.
pub struct SimCard {
    /// `None` only while a power cycle is in progress.
    card: Option<Card<HeapStorage>>,
    response: Vec<u8>,
}

impl SimCard {
    /// Powers on a card over `storage`.
    pub fn power_on(storage: HeapStorage) -> Result<SimCard, CardError> {
        let card = Card::power_on(storage).map_err(|f| CardError::PowerOn(f.error))?;
        Ok(SimCard {
            card: Some(card),
            response: vec![0; MAX_RESPONSE],
        })
    }

    fn atr(card: &Card<HeapStorage>) -> Vec<u8> {
        let mut atr = [0u8; 33];
        let n = card.atr(&mut atr);
        atr[..n].to_vec()
    }
}

impl CardUnderTest for SimCard {
    fn reset(&mut self, cold: bool) -> Result<Vec<u8>, CardError> {
        let card = self.card.take().ok_or(CardError::ShortResponse(0))?;
        let card = if cold {
            Card::power_on(card.into_storage()).map_err(|f| CardError::PowerOn(f.error))?
        } else {
            let mut card = card;
            card.warm_reset();
            card
        };
        let atr = SimCard::atr(&card);
        self.card = Some(card);
        Ok(atr)
    }

    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        let card = self.card.as_mut().ok_or(CardError::ShortResponse(0))?;
        let n = card.process(apdu, &mut self.response);
        if n < 2 {
            return Err(CardError::ShortResponse(n));
        }
        Ok(self.response[..n].to_vec())
    }
}

/// A built card of one kind: its memory and what vectors may compute with.
struct Built {
    storage: HeapStorage,
    facts: CardFacts,
}

/// Fresh simulated cards in the state each vector needs.
#[derive(Default)]
pub struct SimulatorTarget {
    built: HashMap<CardKind, Built>,
    current: Option<SimCard>,
}

impl SimulatorTarget {
    pub fn new() -> Self {
        SimulatorTarget::default()
    }

    /// The sample holder as a record.
    pub fn sample_holder() -> Result<CardRecord, CardError> {
        record_from_json("sample holder", SAMPLE_HOLDER_JSON).map_err(|e| CardError::Build {
            kind: "sample holder",
            reason: e.to_string(),
        })
    }

    /// The memory and facts of a card of `kind`, built the first time.
    fn built(&mut self, kind: CardKind) -> Result<&Built, CardError> {
        Ok(match self.built.entry(kind) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(build(kind)?),
        })
    }

    /// A fresh card of `kind`, powered on (for tests that drive a card by hand).
    pub fn fresh(&mut self, kind: CardKind) -> Result<(SimCard, &CardFacts), CardError> {
        let built = self.built(kind)?;
        Ok((SimCard::power_on(built.storage.clone())?, &built.facts))
    }
}

fn build(kind: CardKind) -> Result<Built, CardError> {
    let fail = |reason: String| CardError::Build {
        kind: kind.name(),
        reason,
    };
    let mut storage = HeapStorage(Box::new(CardStorage::new()));
    let facts = match kind.layout_version() {
        None => {
            if kind == CardKind::Demo {
                card_os::demo::demo_card(&mut storage).map_err(|e| fail(format!("{e:?}")))?;
            } else {
                card_os::format(&mut storage, &card_os::demo::demo_params())
                    .map_err(|e| fail(format!("{e:?}")))?;
            }
            CardFacts::none()
        }
        Some(version) => {
            let layout =
                file_structures::layout::national(version).map_err(|e| fail(e.to_string()))?;
            let keys = IssuerKeys::test_keys().map_err(|e| fail(e.to_string()))?;
            let holder = SimulatorTarget::sample_holder()?;
            let script = Personaliser::new(&layout, &keys)
                .script(&holder)
                .map_err(|e| fail(e.to_string()))?;
            run_script(
                &mut storage,
                &format_params(&layout, &script.card_id_code),
                &script,
            )
            .map_err(|e| fail(e.to_string()))?;
            CardFacts {
                card_id_code: Some(script.card_id_code),
                layout: Some(layout),
                keys: Some(keys),
                holder: Some(holder),
            }
        }
    };
    Ok(Built { storage, facts })
}

impl Target for SimulatorTarget {
    fn name(&self) -> String {
        "simulator (in process)".into()
    }

    fn prepare(&mut self, vector: &Vector) -> Result<Prepared<'_>, NotPrepared> {
        let storage = self
            .built(vector.card)
            .map_err(NotPrepared::Error)?
            .storage
            .clone();
        self.current = Some(SimCard::power_on(storage).map_err(NotPrepared::Error)?);
        let facts = &self
            .built
            .get(&vector.card)
            .ok_or(NotPrepared::Skip("card not built".into()))?
            .facts;
        match self.current.as_mut() {
            Some(card) => Ok(Prepared { card, facts }),
            None => Err(NotPrepared::Skip("card not built".into())),
        }
    }
}

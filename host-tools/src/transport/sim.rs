//! The in-process simulator: card-os over memory, optionally backed by a card image file.
//!
//! With an image, every APDU that changed the card's memory is followed by an atomic save, so
//! the file always holds the card as of its last completed command (card-os's journal makes each
//! command all-or-nothing in memory; the save makes it durable). The transport owns the image for
//! its whole life ([`image::CardImage`]): no other process or thread can open it meanwhile, so no
//! one else's stale copy of the card can overwrite a change this one acknowledged.

use std::path::Path;
use std::time::Duration;

use card_os::storage::{Storage, StorageError};
use card_os::Card;

use super::{image, CardTransport, ResetKind, TransportError};

/// Card memory in a `Vec`, remembering whether anything was written since it was last saved.
#[derive(Clone)]
pub struct MemoryStorage {
    bytes: Vec<u8>,
    dirty: bool,
}

impl MemoryStorage {
    /// An erased memory (every byte `FF`, like flash) of `capacity` bytes.
    pub fn erased(capacity: usize) -> Self {
        MemoryStorage {
            bytes: vec![0xFF; capacity],
            dirty: false,
        }
    }

    /// A memory holding these bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        MemoryStorage {
            bytes,
            dirty: false,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// True when a write happened since the last [`MemoryStorage::mark_saved`].
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub fn mark_saved(&mut self) {
        self.dirty = false;
    }

    fn range(&self, offset: u32, len: usize) -> Result<std::ops::Range<usize>, StorageError> {
        let start = offset as usize;
        let end = start.checked_add(len).ok_or(StorageError::OutOfBounds)?;
        if end > self.bytes.len() {
            return Err(StorageError::OutOfBounds);
        }
        Ok(start..end)
    }
}

impl std::fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bytes hold keys and PINs: never print them.
        write!(
            f,
            "MemoryStorage({} bytes, dirty: {})",
            self.bytes.len(),
            self.dirty
        )
    }
}

impl Storage for MemoryStorage {
    fn capacity(&self) -> u32 {
        self.bytes.len() as u32
    }

    fn read(&self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        let range = self.range(offset, buf.len())?;
        buf.copy_from_slice(&self.bytes[range]);
        Ok(())
    }

    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        let range = self.range(offset, data.len())?;
        self.bytes[range].copy_from_slice(data);
        self.dirty = true;
        Ok(())
    }
}

/// The card's power state: a powered card, or its memory alone.
enum Slot {
    Powered(SimCard),
    Off(MemoryStorage),
}

impl Slot {
    /// Takes the slot's content, leaving an empty memory (no allocation) for the moment of switching.
    fn take(&mut self) -> Slot {
        std::mem::replace(self, Slot::Off(MemoryStorage::from_bytes(Vec::new())))
    }
}

/// card-os in this process, as a card in a reader.
pub struct SimTransport {
    slot: Slot,
    image: Option<image::CardImage>,
    atr: Vec<u8>,
}

/// A powered card (boxed: its RAM state is large).
type SimCard = Box<Card<MemoryStorage>>;

/// Powers a memory on as a card; a card that does not start gives its memory back.
fn power_on(storage: MemoryStorage) -> Result<SimCard, (MemoryStorage, TransportError)> {
    Card::power_on(storage).map(Box::new).map_err(|failure| {
        (
            failure.storage,
            TransportError::SimulatorPowerOn(failure.error),
        )
    })
}

fn atr_of(card: &SimCard) -> Vec<u8> {
    let mut atr = [0u8; crate::protocol::atr::MAX_ATR_LEN];
    let n = card.atr(&mut atr);
    atr[..n.min(atr.len())].to_vec()
}

impl SimTransport {
    /// A card whose memory lives only in this process.
    pub fn in_memory(storage: MemoryStorage) -> Result<Self, TransportError> {
        let card = power_on(storage).map_err(|(_, e)| e)?;
        let atr = atr_of(&card);
        Ok(SimTransport {
            slot: Slot::Powered(card),
            image: None,
            atr,
        })
    }

    /// The card in an image file, owned by this transport until it is dropped; changes are saved
    /// back to it. An image another owner has open is refused at once
    /// ([`TransportError::ImageInUse`]).
    pub fn open_image(path: &Path) -> Result<Self, TransportError> {
        Self::open_image_waiting(path, Duration::ZERO)
    }

    /// [`SimTransport::open_image`], waiting at most `wait` for the image's current owner.
    pub fn open_image_waiting(path: &Path, wait: Duration) -> Result<Self, TransportError> {
        let (owned, memory) = image::CardImage::open(path, wait)?;
        let mut transport = Self::in_memory(MemoryStorage::from_bytes(memory))?;
        transport.image = Some(owned);
        // Power-on may have rolled back an interrupted command: keep the file in step.
        transport.save_if_changed()?;
        Ok(transport)
    }

    /// Saves a memory as a new card image (for `sim new` and tests), refused while another owner
    /// has the image open.
    pub fn create_image(path: &Path, storage: &MemoryStorage) -> Result<(), TransportError> {
        image::save(path, storage.as_bytes())
    }

    /// Refuses an image this process may not change ([`TransportError::ImageReadOnly`]); without an
    /// image there is nothing to refuse. A read-only image can still be read: the first command
    /// that changes the card is the one refused.
    pub fn check_image_writable(&self) -> Result<(), TransportError> {
        self.image
            .as_ref()
            .map_or(Ok(()), image::CardImage::check_writable)
    }

    /// The card's memory as of now.
    pub fn storage(&self) -> &MemoryStorage {
        match &self.slot {
            Slot::Powered(card) => card.storage(),
            Slot::Off(storage) => storage,
        }
    }

    fn save_if_changed(&mut self) -> Result<(), TransportError> {
        let Some(image) = &self.image else {
            return Ok(());
        };
        let storage = match &mut self.slot {
            Slot::Powered(card) => card.storage_mut(),
            Slot::Off(storage) => storage,
        };
        // A failed save leaves the memory dirty, so every later command is refused too.
        if storage.is_dirty() {
            image.save(storage.as_bytes())?;
            storage.mark_saved();
        }
        Ok(())
    }
}

impl CardTransport for SimTransport {
    fn name(&self) -> String {
        match &self.image {
            Some(image) => format!("simulator ({})", image.path().display()),
            None => "simulator (in memory)".to_string(),
        }
    }

    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let Slot::Powered(card) = &mut self.slot else {
            return Err(TransportError::NoCard);
        };
        let mut response = vec![0u8; card_os::MAX_RESPONSE];
        let n = card.process(command, &mut response);
        response.truncate(n);
        self.save_if_changed()?;
        if response.len() < 2 {
            return Err(TransportError::ShortResponse(response.len()));
        }
        Ok(response)
    }

    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        let storage = match (self.slot.take(), kind) {
            (Slot::Powered(mut card), ResetKind::Warm) => {
                card.warm_reset();
                self.slot = Slot::Powered(card);
                return Ok(self.atr.clone());
            }
            (Slot::Powered(card), ResetKind::Cold) => card.into_storage(),
            (Slot::Off(storage), _) => storage,
        };
        // A card that does not start keeps its memory: the slot stays powered off.
        match power_on(storage) {
            Ok(card) => {
                self.atr = atr_of(&card);
                self.slot = Slot::Powered(card);
            }
            Err((storage, e)) => {
                self.slot = Slot::Off(storage);
                return Err(e);
            }
        }
        // Recovery at power-on may have written (a journal rollback).
        self.save_if_changed()?;
        Ok(self.atr.clone())
    }

    fn power_off(&mut self) -> Result<(), TransportError> {
        self.slot = match self.slot.take() {
            Slot::Powered(card) => Slot::Off(card.into_storage()),
            off => off,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::apdu::{self, Command, Status};
    use crate::protocol::client::Client;
    use crate::testdir::TestDir;
    use card_os::testing::{demo_card, DEMO_EF06, SSSE_NAME};

    /// Memory for the demo card and room to spare.
    const CAPACITY: usize = 64 * 1024;

    fn demo_storage() -> MemoryStorage {
        let mut storage = MemoryStorage::erased(CAPACITY);
        demo_card(&mut storage).unwrap();
        storage.mark_saved();
        storage
    }

    fn select_ssse() -> Command<'static> {
        Command {
            data: &SSSE_NAME,
            ..apdu::command(0x00, 0xA4, 0x04, 0x0C)
        }
    }

    fn read_record(p1: u8, p2: u8) -> Command<'static> {
        Command {
            ne: Some(256),
            ..apdu::command(0x00, 0xB2, p1, p2)
        }
    }

    #[test]
    fn the_demo_card_answers_through_the_client() {
        let sim = SimTransport::in_memory(demo_storage()).unwrap();
        assert_eq!(
            crate::protocol::atr::parse(&sim.atr())
                .unwrap()
                .ssc
                .unwrap()
                .region,
            "3303"
        );
        let mut client = Client::new(sim);
        assert_eq!(client.transmit(&select_ssse()).unwrap().sw, Status::Success);
        // EF06 record 2 by number and by tag 09: the name, tag and length included.
        let by_number = client.transmit(&read_record(2, 6 << 3 | 4)).unwrap();
        let by_tag = client.transmit(&read_record(0x09, 6 << 3)).unwrap();
        assert_eq!(by_number.data, DEMO_EF06[1]);
        assert_eq!(by_tag, by_number);
        // Reads write nothing, so an image would not be rewritten for them.
        assert!(!client.transport().storage().is_dirty());
    }

    #[test]
    fn a_short_le_is_corrected_by_the_client() {
        let mut client = Client::new(SimTransport::in_memory(demo_storage()).unwrap());
        client.transmit(&select_ssse()).unwrap();
        // Le 5 is shorter than the record: the card says 6Cxx, the client asks again.
        let r = client
            .transmit(&Command {
                ne: Some(5),
                ..read_record(1, 6 << 3 | 4)
            })
            .unwrap();
        assert_eq!((r.sw, r.data.as_slice()), (Status::Success, DEMO_EF06[0]));
    }

    #[test]
    fn changes_persist_in_the_image_file() {
        let dir = TestDir::new("sim-persist");
        let path = dir.path().join("demo.card");
        SimTransport::create_image(&path, &demo_storage()).unwrap();
        let before = std::fs::read(&path).unwrap();

        let mut client = Client::new(SimTransport::open_image(&path).unwrap());
        client.transmit(&select_ssse()).unwrap();
        let reads = client.transmit(&read_record(1, 5 << 3 | 4)).unwrap();
        assert_eq!(reads.sw, Status::Success);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "reading does not rewrite the image"
        );

        // UPDATE RECORD of the gender field (EF06, tag 0A) to '2'.
        let update = Command {
            data: &[0x0A, 0x01, b'2'],
            ..apdu::command(0x00, 0xDC, 0x0A, 6 << 3)
        };
        assert_eq!(client.transmit(&update).unwrap().sw, Status::Success);
        drop(client);

        let mut again = Client::new(SimTransport::open_image(&path).unwrap());
        again.transmit(&select_ssse()).unwrap();
        let r = again.transmit(&read_record(0x0A, 6 << 3)).unwrap();
        assert_eq!(r.data, [0x0A, 0x01, b'2']);
    }

    #[test]
    fn the_image_has_one_owner_for_the_transports_life() {
        let dir = TestDir::new("sim-owner");
        let path = dir.path().join("demo.card");
        SimTransport::create_image(&path, &demo_storage()).unwrap();
        let first = SimTransport::open_image(&path).unwrap();
        let second = SimTransport::open_image(&path).err().unwrap();
        assert!(
            matches!(second, TransportError::ImageInUse { owner: Some(pid), .. } if pid == std::process::id()),
            "{second:?}"
        );
        drop(first);
        SimTransport::open_image(&path).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_read_only_image_answers_reads_and_refuses_the_first_change() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TestDir::new("sim-read-only");
        let path = dir.path().join("demo.card");
        SimTransport::create_image(&path, &demo_storage()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        let before = std::fs::read(&path).unwrap();
        let mut client = Client::new(SimTransport::open_image(&path).unwrap());
        assert!(client.transport().check_image_writable().is_err());
        client.transmit(&select_ssse()).unwrap();
        assert_eq!(
            client.transmit(&read_record(1, 5 << 3 | 4)).unwrap().sw,
            Status::Success
        );
        let update = Command {
            data: &[0x0A, 0x01, b'2'],
            ..apdu::command(0x00, 0xDC, 0x0A, 6 << 3)
        };
        let e = client.transmit(&update).unwrap_err();
        assert!(
            matches!(
                e,
                crate::protocol::client::ClientError::Transport(
                    TransportError::ImageReadOnly { .. }
                )
            ),
            "{e:?}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn resets_keep_memory_and_power_off_refuses_commands() {
        let mut sim = SimTransport::in_memory(demo_storage()).unwrap();
        let atr = sim.atr();
        assert_eq!(sim.reset(ResetKind::Warm).unwrap(), atr);
        sim.power_off().unwrap();
        assert!(matches!(
            sim.transmit(&[0x00, 0xA4, 0x00, 0x00]),
            Err(TransportError::NoCard)
        ));
        sim.power_off().unwrap();
        assert_eq!(sim.reset(ResetKind::Cold).unwrap(), atr);
        let r = sim
            .transmit(&apdu::encode(&select_ssse()).unwrap())
            .unwrap();
        assert_eq!(r, [0x90, 0x00]);
    }

    #[test]
    fn an_unformatted_memory_does_not_start() {
        let e = SimTransport::in_memory(MemoryStorage::erased(CAPACITY))
            .err()
            .unwrap();
        assert!(matches!(e, TransportError::SimulatorPowerOn(_)), "{e:?}");
    }

    #[test]
    fn a_damaged_image_is_refused() {
        let dir = TestDir::new("sim-damaged");
        let path = dir.path().join("demo.card");
        SimTransport::create_image(&path, &demo_storage()).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&path, bytes).unwrap();
        let e = SimTransport::open_image(&path).err().unwrap();
        assert!(matches!(e, TransportError::DamagedImage { .. }), "{e:?}");
    }

    #[test]
    fn storage_refuses_out_of_bounds_access() {
        let mut s = MemoryStorage::erased(16);
        assert_eq!(s.write(15, &[1, 2]), Err(StorageError::OutOfBounds));
        assert_eq!(s.write(u32::MAX, &[1]), Err(StorageError::OutOfBounds));
        assert!(!s.is_dirty());
        s.write(14, &[1, 2]).unwrap();
        assert!(s.is_dirty());
        let mut buf = [0; 2];
        s.read(14, &mut buf).unwrap();
        assert_eq!(buf, [1, 2]);
        assert_eq!(format!("{s:?}"), "MemoryStorage(16 bytes, dirty: true)");
    }
}

//! The readers a [`crate::interface::Driver`] keeps between calls, so that a call does not pay again
//! for what the last one set up (docs/performance.md, "The reader interface"):
//!
//! - the card's reader: its PC/SC context and worker thread. The card itself is powered down at the
//!   end of every call and connected (powered) again at the next, as the spec wants; between calls
//!   the reader is not held, so other programs may use the card;
//! - the PSAM (the terminal's own card): its connection, powered, exclusive, with its application
//!   selected (`[psam] keep_connected`, on by default; off, it is opened and closed by each call).
//!
//! What is kept is checked before each use: the card by connecting again on the kept context (which
//! also asks the reader list again), the PSAM by SCardStatus. Any failure drops what was kept and
//! opens afresh, so a restarted pcscd, a pulled card or PSAM and an unplugged reader give the codes a
//! first open gives. Card images are never kept: one program at a time owns an image.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::interface::codes::{self, Failure};
use crate::interface::config::{Config, Slot};
use crate::interface::session::{open_slot, security_failure, PsamModuleBox, Transport};
use crate::jobs::activation::security::PsamModule;
use crate::transport::pcsc::{PcscOptions, PcscTransport, ReaderChoice};
use crate::transport::{CardTransport, ResetKind, TransportError};

/// The card reader and PSAM kept by one driver; clones share them. Dropped with the driver (and
/// with every call's lease), they disconnect.
#[derive(Clone, Default)]
pub struct Readers {
    card: Home<KeptCard>,
    psam: Home<KeptPsam>,
}

type Home<T> = Arc<Mutex<Option<T>>>;

fn lock<T>(home: &Home<T>) -> MutexGuard<'_, Option<T>> {
    // A panic while the slot was locked left nothing half-done in it: an Option is whole.
    home.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The card reader between calls: its card powered down, not held.
struct KeptCard {
    choice: ReaderChoice,
    transport: PcscTransport,
}

/// The PSAM between calls: connected, powered, its application selected.
struct KeptPsam {
    choice: ReaderChoice,
    module: PsamModuleBox,
}

impl Readers {
    /// The card in `slot`, powered (a cold ATR), for one call; waits for a card up to `wait`.
    pub fn open_card(&self, slot: &Slot, wait: Duration) -> Result<Transport, Failure> {
        let Slot::Reader(choice) = slot else {
            return open_slot(slot, wait);
        };
        let kept = lock(&self.card)
            .take()
            .filter(|kept| kept.choice == *choice)
            .and_then(|mut kept| kept.transport.reconnect().is_ok().then_some(kept.transport));
        let transport = match kept {
            Some(transport) => transport,
            // Nothing kept, another reader, or the kept one failed (dropped: it disconnects): a
            // first open says why.
            None => PcscTransport::open(&PcscOptions {
                reader: Some(choice.clone()),
                wait,
                ..PcscOptions::default()
            })?,
        };
        Ok(Box::new(LentCard {
            transport: Some(transport),
            choice: choice.clone(),
            home: self.card.clone(),
            connected: true,
        }))
    }

    /// The configured PSAM for one call, application selected; `None` without one.
    pub fn open_psam(&self, config: &Config) -> Result<Option<PsamLease>, Failure> {
        let Some(slot) = &config.psam else {
            return Ok(None);
        };
        let keep = match slot {
            Slot::Reader(choice) if config.psam_keep_connected => Some(choice),
            _ => None,
        };
        if let Some(mut kept) = lock(&self.psam).take() {
            if Some(&kept.choice) == keep && kept.module.transport_mut().check().is_ok() {
                // The key a previous call delivered is delivered again for this one.
                kept.module.forget_delivered_key();
                return Ok(Some(PsamLease {
                    module: Some(kept.module),
                    home: Some((self.psam.clone(), kept.choice)),
                }));
            }
            // Gone, or no longer what the configuration names: dropped here, which disconnects
            // it before a PSAM is opened.
        }
        let home = keep.map(|choice| (self.psam.clone(), choice.clone()));
        let transport = open_slot(slot, Duration::ZERO).map_err(|f| {
            Failure::new(
                codes::NO_PSAM,
                format!("the PSAM is not available: {}", f.message),
            )
        })?;
        let module = PsamModule::open(transport).map_err(security_failure)?;
        Ok(Some(PsamLease {
            module: Some(module),
            home,
        }))
    }
}

/// The card's reader lent to one call: when the call drops it, the card is powered down (if the
/// call did not) and the reader goes back to its [`Readers`] for the next call.
struct LentCard {
    /// Always Some until dropped.
    transport: Option<PcscTransport>,
    choice: ReaderChoice,
    home: Home<KeptCard>,
    /// Whether the card may be connected now (not powered down since it was opened or reset).
    connected: bool,
}

impl LentCard {
    fn transport(&mut self) -> Result<&mut PcscTransport, TransportError> {
        self.transport.as_mut().ok_or(TransportError::CardRemoved)
    }
}

impl CardTransport for LentCard {
    fn name(&self) -> String {
        self.transport
            .as_ref()
            .map(PcscTransport::name)
            .unwrap_or_default()
    }
    fn atr(&self) -> Vec<u8> {
        self.transport
            .as_ref()
            .map(PcscTransport::atr)
            .unwrap_or_default()
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.transport()?.transmit(command)
    }
    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        self.connected = true;
        self.transport()?.reset(kind)
    }
    fn power_off(&mut self) -> Result<(), TransportError> {
        self.transport()?.power_off()?;
        self.connected = false;
        Ok(())
    }
    fn check(&mut self) -> Result<(), TransportError> {
        self.transport()?.check()
    }
}

impl Drop for LentCard {
    fn drop(&mut self) {
        let Some(mut transport) = self.transport.take() else {
            return;
        };
        // A reader whose card cannot be powered down (its worker stuck, pcscd gone) is not kept.
        if self.connected && transport.power_off().is_err() {
            return;
        }
        *lock(&self.home) = Some(KeptCard {
            choice: self.choice.clone(),
            transport,
        });
    }
}

/// The PSAM lent to one call (a [`PsamModule`] by deref); kept connected for the next call when
/// dropped, unless `[psam] keep_connected = false` or the PSAM is a card image.
pub struct PsamLease {
    /// Always Some until dropped.
    module: Option<PsamModuleBox>,
    home: Option<(Home<KeptPsam>, ReaderChoice)>,
}

const HELD: &str = "a lease holds its PSAM until it is dropped";

impl std::ops::Deref for PsamLease {
    type Target = PsamModuleBox;
    fn deref(&self) -> &PsamModuleBox {
        self.module.as_ref().expect(HELD)
    }
}

impl std::ops::DerefMut for PsamLease {
    fn deref_mut(&mut self) -> &mut PsamModuleBox {
        self.module.as_mut().expect(HELD)
    }
}

impl Drop for PsamLease {
    fn drop(&mut self) {
        if let (Some(module), Some((home, choice))) = (self.module.take(), self.home.take()) {
            *lock(&home) = Some(KeptPsam { choice, module });
        }
    }
}

//! Commands to a running [`serve`](super::serve) loop from other threads or signal handlers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A handle to stop the serve loop and to pull or re-insert its card. Clones share one state.
///
/// The flags are plain `Arc<AtomicBool>`s so that a signal handler can set them directly, e.g.
/// `signal_hook::flag::register(SIGTERM, control.stop_flag())` and `(SIGUSR1, control.toggle_flag())`.
#[derive(Debug, Clone, Default)]
pub struct ServeControl {
    stop: Arc<AtomicBool>,
    toggle: Arc<AtomicBool>,
    held_out: Arc<AtomicBool>,
    /// Counts pulls, so that a pull followed at once by an insert still takes the card out.
    pulls: Arc<AtomicU64>,
}

impl ServeControl {
    pub fn new() -> Self {
        Self::default()
    }

    /// A control whose stop flag is `stop` (set it to end the loop).
    pub fn with_stop_flag(stop: Arc<AtomicBool>) -> Self {
        Self {
            stop,
            ..Self::default()
        }
    }

    /// Ends the serve loop: the card is removed from the reader and `serve` returns.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// The flag [`stop`](Self::stop) sets.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Pulls the card out of the reader (even if `insert_card` follows at once); it stays out until
    /// [`insert_card`](Self::insert_card).
    pub fn remove_card(&self) {
        self.held_out.store(true, Ordering::SeqCst);
        self.pulls.fetch_add(1, Ordering::SeqCst);
    }

    /// Lets the card back in, but not sooner than 1 s after it was pulled: a faster re-insertion
    /// can leave pcscd's reader stuck at "card removed".
    pub fn insert_card(&self) {
        self.held_out.store(false, Ordering::SeqCst);
    }

    /// Pulls the card if it is in, lets it back in if it is out.
    pub fn toggle_card(&self) {
        self.toggle.store(true, Ordering::SeqCst);
    }

    /// The flag [`toggle_card`](Self::toggle_card) sets; the loop clears it when it acts on it.
    pub fn toggle_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.toggle)
    }

    /// Whether the card is held out of the reader by command (acting on a pending toggle first).
    pub(crate) fn held_out(&self) -> bool {
        if self.toggle.swap(false, Ordering::SeqCst) {
            if self.held_out.load(Ordering::SeqCst) {
                self.insert_card();
            } else {
                self.remove_card();
            }
        }
        self.held_out.load(Ordering::SeqCst)
    }

    /// How many pulls were commanded so far: taken at insertion, for [`pulled_since`](Self::pulled_since).
    pub(crate) fn pulls(&self) -> u64 {
        self.pulls.load(Ordering::SeqCst)
    }

    /// Whether the card inserted when [`pulls`](Self::pulls) was `pulls_at_insertion` must come out.
    pub(crate) fn pulled_since(&self, pulls_at_insertion: u64) -> bool {
        self.held_out() || self.pulls() != pulls_at_insertion
    }
}

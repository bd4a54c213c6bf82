//! Bank-outlet activation (docs/activation.md): read the card, check the holder's identity,
//! authenticate terminal and card to each other, let the holder set a PIN, write the activation
//! record under secure messaging, and keep a journal so that a card pulled or a power failure at
//! any step is found and finished on the next run.

pub mod journal;
pub mod psam;
pub mod registry;
pub mod rules;
pub mod security;
pub(crate) mod steps;

use card_os::crypto::Pin;
use file_structures::layout::Layout;
use serde::Serialize;

use crate::card::info::{Activation, InfoError};
use crate::protocol::apdu::Status;
use crate::protocol::client::{Client, ClientError};
use crate::transport::CardTransport;
pub use journal::{Entry, Journal, JournalError, Step};
pub use rules::{Identity, InputError, LostList};
pub use security::{KeyRef, PsamModule, SecurityError, SecurityModule, SoftwareModule};

/// Where the holder's new PIN comes from; asked only when the activation needs it (a resumed
/// activation whose PIN was already changed does not ask).
pub trait PinSource {
    fn new_pin(&mut self, initial: &str) -> Result<Pin, InputError>;
}

/// Two entries given in advance (tests, programs that did their own prompting).
pub struct GivenPins(pub String, pub String);

impl PinSource for GivenPins {
    fn new_pin(&mut self, initial: &str) -> Result<Pin, InputError> {
        rules::new_pin(&self.0, &self.1, initial)
    }
}

/// The terminal: who activates, when, and against which lost list.
#[derive(Debug, Clone)]
pub struct Terminal {
    /// The outlet code (written on the card, at most the layout's field length).
    pub outlet: String,
    /// The terminal id (written on the card).
    pub terminal_id: String,
    /// Today, `YYYYMMDD`: the card has no clock.
    pub date: String,
    pub lost: LostList,
}

/// What the holder gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub card_number: String,
    pub name: String,
    pub activation_date: String,
    pub outlet: String,
    pub terminal: String,
    pub attempt: String,
    /// This run finished an activation an earlier run had started.
    pub resumed: bool,
    /// The medical insurance function as the card reports it after activation.
    pub medical_insurance: String,
    pub security_module: String,
}

/// Why an activation did not happen (or could not be finished now).
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("the layout has no activation file ({0})")]
    Layout(String),
    #[error("the card could not be read: {0}")]
    Unreadable(String),
    #[error("the card is not issued yet (still in personalisation)")]
    NotIssued,
    #[error("the card is blocked ({0}): it cannot be activated")]
    Blocked(String),
    #[error("card {card} is on the lost/cancelled list: its application has been blocked and the card must be kept")]
    Lost { card: String },
    /// The back office's registry says the card may not be activated (`code`: `replaced`,
    /// `unknown-card`, `sealed`, ...); nothing was written to the card.
    #[error("the registry refuses card {card}: {reason}; nothing was written")]
    RegistryRefused {
        card: String,
        code: String,
        reason: String,
    },
    /// The back office refused the terminal itself (its credential or role), in its words.
    #[error(transparent)]
    Registry(sscard_platform::ClientError),
    #[error("card {card} expired on {expiry}")]
    Expired { card: String, expiry: String },
    #[error("card {card} is already activated ({details})")]
    AlreadyActivated { card: String, details: String },
    #[error("the {what} on the document does not match the card: nothing was written")]
    IdentityMismatch { what: &'static str },
    #[error("the card did not prove it is genuine (wrong INTERNAL AUTHENTICATE answer): a fake or damaged card")]
    FakeCard,
    #[error("the card refused {command}: {}", crate::protocol::sw::explain(*.sw))]
    Refused { command: &'static str, sw: Status },
    #[error("the card's PIN was already changed, and the PIN entered now is not it")]
    PinAlreadyChanged,
    #[error("the security module failed")]
    Security(#[from] SecurityError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl ActivationError {
    /// A failure of the link (card pulled, reader gone) or of the journal: the attempt stays open
    /// and the next run resumes it. Everything else is a decision, journalled as `failed`.
    pub fn is_resumable(&self) -> bool {
        matches!(
            self,
            ActivationError::Client(_)
                | ActivationError::Journal(_)
                | ActivationError::Security(SecurityError::PsamLink(_))
        )
    }
}

impl From<InfoError> for ActivationError {
    fn from(e: InfoError) -> Self {
        match e {
            InfoError::Client(c)
            | InfoError::Auth {
                source: crate::card::auth::AuthError::Client(c),
                ..
            } => ActivationError::Client(c),
            InfoError::Auth { df, id, source } => ActivationError::Unreadable(format!(
                "authentication with {df} key {id:02X}: {source}"
            )),
        }
    }
}

/// Activates the card behind `client` (see the module text). The journal is written at every
/// step; a rerun after a failure of the link continues where the card and the journal say the
/// last run stopped.
pub fn activate<T, M, P>(
    client: &mut Client<T>,
    module: &mut M,
    layout: &Layout,
    terminal: &Terminal,
    identity: &Identity,
    pins: &mut P,
    journal: &mut Journal,
) -> Result<Receipt, ActivationError>
where
    T: CardTransport,
    M: SecurityModule + ?Sized,
    P: PinSource + ?Sized,
{
    activate_approved(
        client,
        module,
        layout,
        terminal,
        identity,
        pins,
        journal,
        &mut |_| Ok(()),
    )
}

/// [`activate`], with `approve` (the back office's registry) asked with the card number read
/// from the card, after the lost list and before anything is written; an activation the card
/// shows finished is recorded without asking.
#[allow(clippy::too_many_arguments)]
pub fn activate_approved<T, M, P>(
    client: &mut Client<T>,
    module: &mut M,
    layout: &Layout,
    terminal: &Terminal,
    identity: &Identity,
    pins: &mut P,
    journal: &mut Journal,
    approve: &mut dyn FnMut(&str) -> Result<(), ActivationError>,
) -> Result<Receipt, ActivationError>
where
    T: CardTransport,
    M: SecurityModule + ?Sized,
    P: PinSource + ?Sized,
{
    let plan = steps::Plan::new(layout)?;
    steps::check_blocking(client, &plan)?;
    let card = steps::read_card(client, layout, &mut *module)?;
    let open = journal.open_attempt(&card.number);
    let resumed = open.is_some();
    let attempt = open
        .as_ref()
        .map(|o| o.attempt.clone())
        .unwrap_or_else(|| journal.new_attempt(&card.number));
    let done: Vec<Step> = open.map(|o| o.steps).unwrap_or_default();
    let entry = |step: Step, reason: Option<String>| Entry {
        card: card.number.clone(),
        attempt: attempt.clone(),
        step,
        date: terminal.date.clone(),
        reason,
    };
    let mut run = steps::Run {
        client,
        module,
        plan: &plan,
        card: &card,
        terminal,
    };
    let result = (|| -> Result<Receipt, ActivationError> {
        if let Activation::Activated { fields } = &card.activation {
            if resumed {
                // The card was written; the journal line after it was lost.
                journal.record(entry(Step::Activated, None))?;
                return run.receipt(fields.clone(), &attempt, true);
            }
            return Err(ActivationError::AlreadyActivated {
                card: card.number.clone(),
                details: card.activation.words(),
            });
        }
        if let Activation::Unknown { reason } = &card.activation {
            return Err(ActivationError::Unreadable(format!(
                "activation state: {reason}"
            )));
        }
        journal.record(entry(
            if resumed {
                Step::Resumed
            } else {
                Step::Started
            },
            None,
        ))?;
        if terminal.lost.contains(&card.number) {
            run.block_application()?;
            return Err(ActivationError::Lost {
                card: card.number.clone(),
            });
        }
        approve(&card.number)?;
        if card.expiry.as_str() < terminal.date.as_str() {
            return Err(ActivationError::Expired {
                card: card.number.clone(),
                expiry: card.expiry.clone(),
            });
        }
        steps::check_identity(&card, identity)?;
        if !done.contains(&Step::IdentityChecked) {
            journal.record(entry(Step::IdentityChecked, None))?;
        }
        run.authenticate()?;
        if !done.contains(&Step::Authenticated) {
            journal.record(entry(Step::Authenticated, None))?;
        }
        if !done.contains(&Step::PinChanged) {
            let pin = pins.new_pin(&layout.pin.initial)?;
            run.change_pin(&layout.pin.initial, &pin)?;
            journal.record(entry(Step::PinChanged, None))?;
        }
        let written = run.write_activation()?;
        journal.record(entry(Step::Activated, None))?;
        run.receipt(written, &attempt, resumed)
    })();
    if let Err(e) = &result {
        if !e.is_resumable() {
            journal.record(entry(Step::Failed, Some(e.to_string())))?;
        }
    }
    result
}

//! A card in a PC/SC reader (pcsc-lite's pcscd on Linux, the platform service elsewhere).
//!
//! The card is opened in exclusive mode for as long as the transport lives: one sscard command is
//! one operation, and no other program may slip an APDU between its commands (a SELECT followed by
//! another program's SELECT would read the wrong file). A card reset by someone else is reconnected
//! at once and reported, since the card's selected files and security state are gone.

use std::ffi::CString;
use std::time::{Duration, Instant};

use ::pcsc::{
    Card, Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State, MAX_ATR_SIZE,
    MAX_BUFFER_SIZE_EXTENDED,
};

use super::bounded::{self, Unfinished, Worker};
use super::{CardTransport, ResetKind, TransportError};

/// How the reader is chosen: its position in the reader list or (part of) its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderChoice {
    Index(usize),
    Name(String),
}

impl std::str::FromStr for ReaderChoice {
    type Err = std::convert::Infallible;

    /// All digits: an index; anything else: a name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.parse::<usize>() {
            Ok(index) => ReaderChoice::Index(index),
            Err(_) => ReaderChoice::Name(s.to_string()),
        })
    }
}

/// A reader and what is in it, as `sscard readers` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReaderInfo {
    pub index: usize,
    pub name: String,
    pub card_present: bool,
    /// The card is there but gave no ATR.
    pub card_mute: bool,
    /// Another program holds the card exclusively.
    pub in_use: bool,
    #[serde(serialize_with = "atr_hex")]
    pub atr: Option<Vec<u8>>,
}

fn atr_hex<S: serde::Serializer>(atr: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match atr {
        Some(atr) => s.serialize_str(&crate::protocol::hexstr::encode(atr)),
        None => s.serialize_none(),
    }
}

/// The one mapping from PC/SC errors to what a person can act on.
pub fn map_error(error: ::pcsc::Error) -> TransportError {
    use ::pcsc::Error as E;
    match error {
        E::NoService | E::ServiceStopped => TransportError::ServiceUnavailable,
        E::NoReadersAvailable => TransportError::NoReader,
        E::NoSmartcard => TransportError::NoCard,
        // pcsc-lite answers NotTransacted first when the card went away under an open handle.
        E::RemovedCard | E::NotTransacted => TransportError::CardRemoved,
        E::ResetCard => TransportError::CardReset,
        // pcscd 1.9.9 answers SCardConnect with UnpoweredCard when it cannot power a present card
        // up (a mute chip: no ATR); other versions and readers say UnresponsiveCard.
        E::UnresponsiveCard | E::UnpoweredCard | E::UnsupportedCard => {
            TransportError::CardUnresponsive
        }
        E::ReaderUnavailable | E::UnknownReader | E::CommError => TransportError::ReaderGone,
        E::SharingViolation => TransportError::CardInUse,
        // pcscd cannot agree a protocol with a card whose ATR is garbage: the card is there, its
        // answer to reset is unusable.
        E::ProtoMismatch | E::InvalidAtr => TransportError::UnusableAtr,
        other => TransportError::Pcsc(other),
    }
}

fn establish() -> Result<Context, TransportError> {
    Context::establish(Scope::User).map_err(map_error)
}

fn reader_names(context: &Context) -> Result<Vec<CString>, TransportError> {
    let names = context.list_readers_owned().map_err(map_error)?;
    if names.is_empty() {
        return Err(TransportError::NoReader);
    }
    Ok(names)
}

/// The current state of each reader, without waiting.
fn states(context: &Context, names: &[CString]) -> Result<Vec<ReaderState>, TransportError> {
    let mut states: Vec<ReaderState> = names
        .iter()
        .map(|n| ReaderState::new(n.clone(), State::UNAWARE))
        .collect();
    context
        .get_status_change(Duration::ZERO, &mut states)
        .map_err(map_error)?;
    Ok(states)
}

fn info(index: usize, state: &ReaderState) -> ReaderInfo {
    let event = state.event_state();
    let card_present = event.contains(State::PRESENT);
    let atr = (card_present && !state.atr().is_empty()).then(|| state.atr().to_vec());
    ReaderInfo {
        index,
        name: state.name().to_string_lossy().into_owned(),
        card_present,
        card_mute: event.contains(State::MUTE),
        in_use: event.contains(State::EXCLUSIVE),
        atr,
    }
}

/// Every reader with its card state, or an error when pcscd gives no answer within `timeout`.
pub fn list_readers(timeout: Duration) -> Result<Vec<ReaderInfo>, TransportError> {
    bounded::run("pcsc-readers", timeout, list_readers_now).map_err(
        |unfinished| match unfinished {
            Unfinished::Expired => TransportError::ServiceNoAnswer(timeout.as_millis() as u64),
            lost => no_answer(timeout)(lost),
        },
    )?
}

fn list_readers_now() -> Result<Vec<ReaderInfo>, TransportError> {
    let context = establish()?;
    let names = reader_names(&context)?;
    Ok(states(&context, &names)?
        .iter()
        .enumerate()
        .map(|(i, s)| info(i, s))
        .collect())
}

/// The reader a choice names: an index into the list, an exact name, or the one name containing it.
pub fn choose(names: &[String], choice: &ReaderChoice) -> Result<usize, TransportError> {
    let not_found = || {
        TransportError::ReaderNotFound(match choice {
            ReaderChoice::Index(i) => i.to_string(),
            ReaderChoice::Name(n) => n.clone(),
        })
    };
    match choice {
        ReaderChoice::Index(i) if *i < names.len() => Ok(*i),
        ReaderChoice::Index(_) => Err(not_found()),
        ReaderChoice::Name(wanted) => {
            if let Some(i) = names.iter().position(|n| n == wanted) {
                return Ok(i);
            }
            let lower = wanted.to_lowercase();
            let matching: Vec<usize> = (0..names.len())
                .filter(|&i| names[i].to_lowercase().contains(&lower))
                .collect();
            match matching[..] {
                [one] => Ok(one),
                [] => Err(not_found()),
                _ => Err(TransportError::ReaderAmbiguous(wanted.clone())),
            }
        }
    }
}

/// How long an exchange may take by default: a real card answers in well under a second, its
/// slowest commands (key generation, a long write) in a few.
pub const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Options for opening a card.
#[derive(Debug, Clone)]
pub struct PcscOptions {
    pub reader: Option<ReaderChoice>,
    /// How long to wait for a card to be inserted.
    pub wait: Duration,
    /// How long one exchange (connect, transmit, reset, disconnect) may take before the card is
    /// reported as not answering.
    pub answer_timeout: Duration,
    /// Exclusive (the default) or shared access.
    pub share: ShareMode,
}

impl Default for PcscOptions {
    fn default() -> Self {
        PcscOptions {
            reader: None,
            wait: Duration::from_secs(5),
            answer_timeout: DEFAULT_ANSWER_TIMEOUT,
            share: ShareMode::Exclusive,
        }
    }
}

/// Waits until one of the readers has a card, up to `wait`; returns its index. A card present but
/// mute (pcscd could not power it up: no ATR) ends the wait at once as
/// [`TransportError::CardUnresponsive`]: it is a card, a dead one, and will not come to life.
fn wait_for_card(
    context: &Context,
    names: &[CString],
    wait: Duration,
) -> Result<usize, TransportError> {
    let deadline = Instant::now() + wait;
    let mut states = states(context, names)?;
    loop {
        for (i, state) in states.iter().enumerate() {
            let event = state.event_state();
            if event.contains(State::MUTE) {
                return Err(TransportError::CardUnresponsive);
            }
            if event.contains(State::PRESENT) {
                return Ok(i);
            }
            if event.intersects(State::UNKNOWN | State::UNAVAILABLE) {
                return Err(TransportError::ReaderGone);
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TransportError::Timeout(wait.as_millis() as u64));
        }
        for state in &mut states {
            state.sync_current_state();
        }
        match context.get_status_change(left, &mut states) {
            Ok(()) => {}
            Err(::pcsc::Error::Timeout) => {
                return Err(TransportError::Timeout(wait.as_millis() as u64))
            }
            Err(e) => return Err(map_error(e)),
        }
    }
}

/// The PC/SC context and the card handle, owned by the worker thread that makes every PC/SC call
/// (see [`bounded`]).
struct Link {
    context: Context,
    reader: CString,
    /// How the reader was chosen (None: the first with a card).
    choice: Option<ReaderChoice>,
    card: Option<Card>,
    share: ShareMode,
}

impl Link {
    /// Connects to the card in the chosen reader (or the first reader with a card), waiting for one
    /// up to `options.wait`.
    fn open(options: &PcscOptions) -> Result<Self, TransportError> {
        let context = establish()?;
        let names = reader_names(&context)?;
        let readable: Vec<String> = names
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        let candidates: Vec<CString> = match &options.reader {
            Some(choice) => vec![names[choose(&readable, choice)?].clone()],
            None => names,
        };
        let deadline = Instant::now() + options.wait;
        let (reader, card) = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let index = wait_for_card(&context, &candidates, left).map_err(|e| match e {
                TransportError::Timeout(_) => {
                    TransportError::Timeout(options.wait.as_millis() as u64)
                }
                e => e,
            })?;
            let reader = candidates[index].clone();
            match context.connect(&reader, options.share, Protocols::ANY) {
                Ok(card) => break (reader, card),
                // The card left between the wait and the connect (a mute card in vsmartcard's
                // virtual reader can be out for a moment after a failed power-up): wait again.
                Err(::pcsc::Error::NoSmartcard) if !left.is_zero() => {
                    std::thread::sleep(Duration::from_millis(50).min(left));
                }
                Err(e) => return Err(map_error(e)),
            }
        };
        Ok(Link {
            context,
            reader,
            choice: options.reader.clone(),
            card: Some(card),
            share: options.share,
        })
    }

    fn card(&self) -> Result<&Card, TransportError> {
        self.card.as_ref().ok_or(TransportError::CardRemoved)
    }

    fn read_atr(&self) -> Result<Vec<u8>, TransportError> {
        let card = self.card()?;
        let mut names = [0u8; 2048];
        let mut atr = [0u8; MAX_ATR_SIZE];
        let status = card.status2(&mut names, &mut atr).map_err(map_error)?;
        Ok(status.atr().to_vec())
    }

    /// Reconnects (after someone else reset the card, or to reset it), keeping our exclusive hold;
    /// returns the ATR.
    fn reconnect(&mut self, disposition: Disposition) -> Result<Vec<u8>, TransportError> {
        match self.card.as_mut() {
            Some(card) => card
                .reconnect(self.share, Protocols::ANY, disposition)
                .map_err(map_error)?,
            None => {
                let card = self
                    .context
                    .connect(&self.reader, self.share, Protocols::ANY)
                    .map_err(map_error)?;
                self.card = Some(card);
                if disposition != Disposition::LeaveCard {
                    return self.reconnect(disposition);
                }
            }
        }
        self.read_atr()
    }

    /// Connects again, on this context, to the card in the reader chosen at the open, after
    /// [`Link::power_off`]; returns the ATR. The reader list is asked again, so the choice must still
    /// name this reader (a reader unplugged, or another one now matching the name, is an error).
    fn connect_again(&mut self) -> Result<Vec<u8>, TransportError> {
        let Some(choice) = &self.choice else {
            // "The first reader with a card" is a choice to make again: not here.
            return Err(TransportError::ReaderGone);
        };
        if self.card.is_some() {
            return Err(TransportError::CardInUse);
        }
        let names = reader_names(&self.context)?;
        let readable: Vec<String> = names
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        if names[choose(&readable, choice)?] != self.reader {
            return Err(TransportError::ReaderGone);
        }
        let card = self
            .context
            .connect(&self.reader, self.share, Protocols::ANY)
            .map_err(map_error)?;
        self.card = Some(card);
        self.read_atr()
    }

    /// One exchange; the ATR comes back too when the card was reset under us and reconnected.
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, (TransportError, Option<Vec<u8>>)> {
        let mut buffer = vec![0u8; MAX_BUFFER_SIZE_EXTENDED];
        let result = self
            .card()
            .map_err(|e| (e, None))?
            .transmit(command, &mut buffer)
            .map(|r| r.to_vec());
        match result {
            // A card that drops mid-APDU can make the transmit "succeed" with no bytes.
            Ok(response) if response.len() < 2 => {
                Err((TransportError::ShortResponse(response.len()), None))
            }
            Ok(response) => Ok(response),
            Err(::pcsc::Error::ResetCard) => match self.reconnect(Disposition::LeaveCard) {
                Ok(atr) => Err((TransportError::CardReset, Some(atr))),
                Err(e) => Err((e, None)),
            },
            Err(e) => {
                let e = map_error(e);
                if matches!(e, TransportError::CardRemoved | TransportError::ReaderGone) {
                    // The handle is dead; a later cold reset connects to whatever card is there.
                    self.card = None;
                }
                Err((e, None))
            }
        }
    }

    fn power_off(&mut self) -> Result<(), TransportError> {
        if let Some(card) = self.card.take() {
            card.disconnect(Disposition::UnpowerCard)
                .map_err(|(_, e)| map_error(e))?;
        }
        Ok(())
    }

    /// Leaves the card powered for the next program (pcscd powers it down when idle).
    fn release(&mut self) {
        if let Some(card) = self.card.take() {
            let _ = card.disconnect(Disposition::LeaveCard);
        }
    }
}

/// A card in a PC/SC reader, held exclusively (by default) while this value lives.
///
/// Every PC/SC call runs on a worker thread and is awaited up to `answer_timeout`: a card (or
/// reader, or pcscd) that does not answer in time is reported as [`TransportError::NoAnswer`] and
/// abandoned, so the command ends on time. Its reader stays held until the blocked call returns
/// (see docs/reliability.md, "Bounds on every wait").
pub struct PcscTransport {
    link: Worker<Link>,
    reader: String,
    answer_timeout: Duration,
    atr: Vec<u8>,
}

fn no_answer(timeout: Duration) -> impl Fn(Unfinished) -> TransportError {
    move |unfinished| match unfinished {
        Unfinished::Expired => TransportError::NoAnswer(timeout.as_millis() as u64),
        Unfinished::WorkerLost => TransportError::Io(std::io::Error::other(
            "the PC/SC worker thread stopped without an answer",
        )),
    }
}

impl PcscTransport {
    /// Connects to the card in the chosen reader (or the first reader with a card), waiting for one
    /// up to `options.wait`, and for pcscd's answers up to `options.answer_timeout` more.
    pub fn open(options: &PcscOptions) -> Result<Self, TransportError> {
        let answer_timeout = options.answer_timeout;
        let to_open = options.clone();
        let mut link = Worker::start("pcsc", options.wait + answer_timeout, move || {
            Link::open(&to_open)
        })
        .map_err(no_answer(answer_timeout))??;
        let (reader, atr) = link
            .call(answer_timeout, |link| {
                let reader = link.reader.to_string_lossy().into_owned();
                link.read_atr().map(|atr| (reader, atr))
            })
            .map_err(no_answer(answer_timeout))??;
        Ok(PcscTransport {
            link,
            reader,
            answer_timeout,
            atr,
        })
    }
}

impl PcscTransport {
    /// Connects again to the card in the same reader after [`CardTransport::power_off`] (powering
    /// it up: a cold ATR), on this transport's PC/SC context and worker thread, without opening
    /// new ones: for a program that powers the card down between operations. It does not wait for
    /// a card; on any failure (no card, the reader or pcscd gone) the caller opens afresh with
    /// [`PcscTransport::open`], which waits and says why as a first open does.
    pub fn reconnect(&mut self) -> Result<(), TransportError> {
        self.atr = self
            .link
            .call(self.answer_timeout, Link::connect_again)
            .map_err(no_answer(self.answer_timeout))??;
        Ok(())
    }
}

impl CardTransport for PcscTransport {
    fn name(&self) -> String {
        self.reader.clone()
    }

    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let command = command.to_vec();
        let answer = self
            .link
            .call(self.answer_timeout, move |link| link.transmit(&command))
            .map_err(no_answer(self.answer_timeout))?;
        answer.map_err(|(e, atr)| {
            if let Some(atr) = atr {
                self.atr = atr;
            }
            e
        })
    }

    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        let disposition = match kind {
            ResetKind::Cold => Disposition::UnpowerCard,
            ResetKind::Warm => Disposition::ResetCard,
        };
        self.atr = self
            .link
            .call(self.answer_timeout, move |link| link.reconnect(disposition))
            .map_err(no_answer(self.answer_timeout))??;
        Ok(self.atr.clone())
    }

    fn power_off(&mut self) -> Result<(), TransportError> {
        self.link
            .call(self.answer_timeout, Link::power_off)
            .map_err(no_answer(self.answer_timeout))?
    }

    /// SCardStatus on the handle: the card removed, reset by someone else, powered down, or pcscd
    /// restarted is an error.
    fn check(&mut self) -> Result<(), TransportError> {
        self.link
            .call(self.answer_timeout, |link| link.read_atr().map(drop))
            .map_err(no_answer(self.answer_timeout))?
    }
}

impl Drop for PcscTransport {
    fn drop(&mut self) {
        // Disconnect before the process can end. A worker stuck in a call that missed its deadline
        // is left there: waiting for it could take for ever.
        let _ = self.link.call(self.answer_timeout, Link::release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::pcsc::Error as E;

    #[test]
    fn pcsc_errors_map_to_what_a_person_can_act_on() {
        let cases = [
            (E::NoService, "ServiceUnavailable"),
            (E::ServiceStopped, "ServiceUnavailable"),
            (E::NoReadersAvailable, "NoReader"),
            (E::NoSmartcard, "NoCard"),
            (E::RemovedCard, "CardRemoved"),
            (E::NotTransacted, "CardRemoved"),
            (E::ResetCard, "CardReset"),
            (E::UnresponsiveCard, "CardUnresponsive"),
            (E::UnpoweredCard, "CardUnresponsive"),
            (E::ReaderUnavailable, "ReaderGone"),
            (E::UnknownReader, "ReaderGone"),
            (E::SharingViolation, "CardInUse"),
            (E::InvalidHandle, "Pcsc"),
        ];
        for (error, expected) in cases {
            let mapped = format!("{:?}", map_error(error));
            assert!(mapped.starts_with(expected), "{error:?} -> {mapped}");
        }
    }

    #[test]
    fn the_underlying_error_is_kept() {
        let e = map_error(E::InvalidHandle);
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn readers_are_chosen_by_index_exact_name_or_unique_part() {
        let names = vec![
            "Virtual PCD 00 00".to_string(),
            "Virtual PCD 00 01".to_string(),
            "ACS ACR39U 01 00".to_string(),
        ];
        assert_eq!(choose(&names, &"1".parse().unwrap()).unwrap(), 1);
        assert_eq!(
            choose(&names, &"Virtual PCD 00 01".parse().unwrap()).unwrap(),
            1
        );
        assert_eq!(choose(&names, &"acr39".parse().unwrap()).unwrap(), 2);
        assert!(matches!(
            choose(&names, &"virtual".parse().unwrap()),
            Err(TransportError::ReaderAmbiguous(_))
        ));
        assert!(
            matches!(choose(&names, &"3".parse().unwrap()), Err(TransportError::ReaderNotFound(s)) if s == "3")
        );
        assert!(matches!(
            choose(&names, &"Gemalto".parse().unwrap()),
            Err(TransportError::ReaderNotFound(_))
        ));
    }
}

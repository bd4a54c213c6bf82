//! The CLI's one error type: a sentence for a person, a class for the exit code, an object for --json.

use serde_json::{json, Value};

use file_structures::input::InputError;
use file_structures::layout::LayoutError;
use file_structures::personalise::{BatchError, KeyError, PersoError, RecordError};
use host_tools::card::auth::AuthError;
use host_tools::card::explore::ExploreError;
use host_tools::card::info::InfoError;
use host_tools::protocol::apdu::ApduError;
use host_tools::protocol::atr::AtrError;
use host_tools::protocol::client::ClientError;
use host_tools::protocol::hexstr::HexError;
use host_tools::screen;
use host_tools::transport::vpcd::VpcdError;
use host_tools::transport::TransportError;

/// Exit codes, one per class of failure (the table in docs/host-tools.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitClass {
    /// An unexpected failure (an unusual PC/SC error, a simulator fault).
    Failure = 1,
    /// Bad command line (clap's own code).
    Usage = 2,
    /// The PC/SC service is not running.
    Service = 3,
    /// No reader, the named reader is not there, or it was unplugged.
    Reader = 4,
    /// No card in the reader (including: none arrived before the timeout).
    NoCard = 5,
    /// The card was removed, or lost power, during the command.
    CardRemoved = 6,
    /// The card does not answer, or does not speak ISO 7816 properly.
    CardUnresponsive = 7,
    /// Another program holds or reset the card.
    CardBusy = 8,
    /// The card answered with an error status word.
    Refused = 9,
    /// Bad input: hex, an ATR, an APDU.
    BadInput = 10,
    /// The card image is damaged or not a card image.
    ImageDamaged = 11,
    /// A file could not be read or written (card image, trace, layout, records, keys).
    Io = 12,
    /// A layout file breaks the layout rules.
    InvalidLayout = 13,
    /// Cardholder records break the layout's field rules.
    BadRecords = 14,
    /// The card image is read-only: sscard does not change it.
    ImageReadOnly = 15,
    /// A service cannot listen on its address (in use, not permitted).
    Listen = 16,
    /// A conformance run found vectors the card fails.
    ConformanceFailed = 20,
    /// A conformance run found vectors that are wrong themselves (and no card failure).
    VectorErrors = 21,
    /// Activation: the identity document does not match the card.
    IdentityMismatch = 30,
    /// Activation: the card is already activated.
    AlreadyActivated = 31,
    /// Activation: the card or its application is blocked.
    CardBlocked = 32,
    /// Activation: the card has expired.
    CardExpired = 33,
    /// Activation: the card is on the lost/cancelled list (and has just been blocked).
    CardLost = 34,
    /// Activation: the card failed INTERNAL AUTHENTICATE (not a genuine card).
    FakeCard = 35,
    /// Activation: the holder's new PIN entries were refused (differ, trivial, initial).
    PinRejected = 36,
    /// Activation: the card is not issued yet.
    NotIssued = 37,
    /// The back office refused the request (a card's state, a rule, a credential).
    PlatformRefused = 50,
    /// The back office (or its database) did not answer.
    PlatformUnavailable = 51,
    /// The back office does not know the card (or person).
    PlatformUnknownCard = 52,
    /// Online payment: the back office refused the QR code (malformed, forged, expired,
    /// replayed, an identity code, a level 1 e-card).
    QrCodeRefused = 54,
    /// Online payment: the settlement token was refused (unknown, expired, spent).
    SettlementTokenRefused = 55,
    /// Online payment: sent, but no answer: rerun the same command (never charged twice).
    PaymentUnconfirmed = 56,
    /// Settlement: the purse's balance is below the account amount (9401).
    BalanceTooLow = 40,
    /// Settlement: a wrong PIN (the tries left in the message).
    WrongPin = 41,
    /// Settlement: the PIN is blocked.
    PinBlocked = 42,
    /// Settlement: the card still has its initial PIN, which cannot pay.
    InitialPin = 43,
    /// Settlement: the card does not support the PSAM's purchase key index (9403).
    KeyIndexNotSupported = 44,
    /// Settlement: the card is of another region than the terminal's PSAM.
    OtherRegion = 45,
    /// Settlement: the card is not in a purchase (6901): a replayed or out-of-order DEBIT.
    NotInPurchase = 46,
    /// Settlement: a MAC refused (MAC1 by the card, MAC2 by the PSAM, a load's MACs): the keys
    /// are not this card's.
    MacRefused = 47,
    /// Settlement: the card's medical function is restricted (six-month rule, 9302).
    MedicalRestricted = 48,
    /// Settlement: a bad amount or trade time (negative, malformed, too large).
    BadAmount = 49,
    /// A terminal (settlement, activation): the back office's registry refuses the card
    /// (suspended, lost, cancelled, sealed, replaced, unknown); nothing was written to it. The
    /// settlement range 40–49 is full, so it follows the back office's codes.
    RegistryRefused = 53,
    /// E-card code: expired (or not valid yet, or claiming too long a validity).
    CodeExpired = 57,
    /// E-card code: used before.
    CodeReplayed = 58,
    /// E-card code: altered, malformed, or not signed by the platform.
    CodeTampered = 59,
    /// E-card code: its card is reported lost, cancelled, sealed or otherwise not working.
    CodeCardBlocked = 60,
    /// E-card code: signed with a key, or naming an e-card, nobody here knows.
    CodeUnknown = 61,
    /// E-card code: not for this use (an identity code paying, a level 1 e-card paying).
    CodeNotForThisUse = 62,
    /// E-card application: no consent to the privacy terms.
    ConsentRequired = 63,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("argument {argument} is not hex: {source}")]
    BadHex { argument: usize, source: HexError },
    #[error("argument {argument} is not a command APDU: {source}")]
    BadApdu { argument: usize, source: ApduError },
    #[error("this is not an ATR: {0}")]
    BadAtr(#[from] AtrError),
    #[error("the card refused command {index} ({label}): {sw}")]
    Refused {
        index: usize,
        label: String,
        sw: String,
    },
    #[error("could not create {path}: {source}")]
    CreateFile {
        path: String,
        source: std::io::Error,
    },
    #[error("could not write the output: {0}")]
    Output(#[source] std::io::Error),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("{invalid} of {total} layout file(s) are invalid")]
    LayoutsInvalid { invalid: usize, total: usize },
    #[error("the key file cannot be used: {0}")]
    Keys(#[source] KeyError),
    #[error("the cardholder record cannot be used: {0}")]
    Record(#[source] RecordError),
    #[error(transparent)]
    Perso(#[from] PersoError),
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{} output file(s) exist already and --force was not given, so no card was written: {}", .paths.len(), .paths.join(", "))]
    OutputExists { paths: Vec<String> },
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("the card did not answer the SELECT of {what}: {sw}")]
    NotSelected { what: String, sw: String },
    #[error(transparent)]
    Explore(#[from] ExploreError),
    #[error(transparent)]
    Vpcd(#[from] VpcdError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Activation(#[from] host_tools::jobs::activation::ActivationError),
    #[error(transparent)]
    Settle(#[from] host_tools::jobs::settlement::SettleError),
    #[error(transparent)]
    QrSettle(#[from] host_tools::jobs::settlement::online::QrSettleError),
    #[error(transparent)]
    PsamImage(#[from] host_tools::jobs::activation::psam::PsamImageError),
    #[error("the faulty card could not be made: {0}")]
    Fault(#[from] host_tools::transport::faults::FaultError),
    #[error("the confusion matrix could not be run: {0}")]
    Matrix(#[from] host_tools::jobs::diagnose::matrix::MatrixError),
    #[error(transparent)]
    Conformance(#[from] host_tools::jobs::conformance::ConformanceError),
    #[error("the card failed the conformance suite (see the failed vectors above)")]
    ConformanceFailed,
    #[error("{count} vector(s) could not be run as written (see the vector errors above): fix the vector files; the card was not judged on them")]
    VectorErrors { count: usize },
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Token(#[from] host_tools::services::auth::TokenError),
    #[error("{0}")]
    DriverConfig(String),
    /// A conformance run in which no vector reached the card: the sentence of the report.
    #[error("{0}")]
    NothingChecked(String),
    #[error(transparent)]
    Platform(#[from] sscard_platform::PlatformError),
    #[error(transparent)]
    PlatformClient(#[from] sscard_platform::ClientError),
    #[error(transparent)]
    Serve(#[from] sscard_platform::ServeError),
    #[error("card {card} is activated, but the registry did not record it ({source}); run the same activation again to record it")]
    NotRecorded {
        card: String,
        #[source]
        source: sscard_platform::ClientError,
    },
    #[error(transparent)]
    BlacklistCache(#[from] sscard_platform::client::CacheError),
    #[error("the registry refused {refused} card(s) of the batch (see above)")]
    PlatformRefusedCards { refused: usize },
    #[error("{wrong} of {total} diagnoses in the confusion matrix named the wrong cause")]
    MatrixMismatch { wrong: usize, total: usize },
    #[error("the code is refused: {0}")]
    EcardCodeRefused(#[source] sscard_ecard::Refusal),
    #[error("the back office refuses the code: {reason}")]
    EcardCodeRefusedOnline {
        reason: String,
        #[source]
        source: sscard_platform::ClientError,
    },
    #[error("an e-card is issued only with consent to the privacy terms (version {0}): read them, then give --consent")]
    ConsentRequired(&'static str),
    #[error("the e-card password is not accepted: {0}")]
    EcardPasswordRejected(String),
    #[error("no terminal to ask the e-card password on: give --password-file FILE")]
    EcardPasswordNoTerminal,
    #[error("cannot read the e-card password from {path}: {source}")]
    EcardPasswordFile {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not {what}: {source}")]
    EcardFile {
        path: String,
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("the platform's key cannot be used: {0}")]
    EcardKey(#[from] sscard_ecard::KeyError),
    #[error("the QR code cannot be drawn: {0}")]
    Render(#[from] sscard_ecard::render::RenderError),
}

fn code_refusal_class(code: &str) -> (ExitClass, &'static str) {
    use super::ecard::CodeRefusal as R;
    match R::of_code(code) {
        Some(R::Expired) => (ExitClass::CodeExpired, "code_expired"),
        Some(R::Replayed) => (ExitClass::CodeReplayed, "code_replayed"),
        Some(R::Tampered) => (ExitClass::CodeTampered, "code_tampered"),
        Some(R::CardBlocked) => (ExitClass::CodeCardBlocked, "code_card_blocked"),
        Some(R::Unknown) => (ExitClass::CodeUnknown, "code_unknown"),
        Some(R::NotForThisUse) => (ExitClass::CodeNotForThisUse, "code_not_for_this_use"),
        None => (ExitClass::PlatformRefused, "platform_refused"),
    }
}

fn transport_class(e: &TransportError) -> (ExitClass, &'static str) {
    use TransportError as T;
    match e {
        T::ServiceUnavailable => (ExitClass::Service, "service_unavailable"),
        T::NoReader => (ExitClass::Reader, "no_reader"),
        T::ReaderNotFound(_) => (ExitClass::Reader, "reader_not_found"),
        T::ReaderAmbiguous(_) => (ExitClass::Reader, "reader_ambiguous"),
        T::ReaderGone => (ExitClass::Reader, "reader_gone"),
        T::NoCard => (ExitClass::NoCard, "no_card"),
        T::Timeout(_) => (ExitClass::NoCard, "timeout"),
        T::CardRemoved => (ExitClass::CardRemoved, "card_removed"),
        // A card that drops mid-APDU shows up as an answer without a status word.
        T::ShortResponse(_) => (ExitClass::CardRemoved, "short_response"),
        T::CardUnresponsive => (ExitClass::CardUnresponsive, "card_unresponsive"),
        T::UnusableAtr => (ExitClass::CardUnresponsive, "unusable_atr"),
        T::NoAnswer(_) => (ExitClass::CardUnresponsive, "no_answer"),
        T::ServiceNoAnswer(_) => (ExitClass::Service, "service_no_answer"),
        T::CardInUse => (ExitClass::CardBusy, "card_in_use"),
        T::CardReset => (ExitClass::CardBusy, "card_reset"),
        T::DamagedImage { .. } => (ExitClass::ImageDamaged, "image_damaged"),
        T::ImageIo { .. } => (ExitClass::Io, "image_io"),
        // Another process owns the image: the simulator's "card in use by another program".
        T::ImageInUse { .. } => (ExitClass::CardBusy, "image_in_use"),
        T::ImageReadOnly { .. } => (ExitClass::ImageReadOnly, "image_read_only"),
        T::Trace(_) => (ExitClass::Io, "trace_io"),
        T::Io(_) => (ExitClass::Io, "io"),
        T::Pcsc(_) => (ExitClass::Failure, "pcsc"),
        T::SimulatorPowerOn(_) => (ExitClass::CardUnresponsive, "simulator_power_on"),
    }
}

fn conformance_class(
    e: &host_tools::jobs::conformance::ConformanceError,
) -> (ExitClass, &'static str) {
    use host_tools::jobs::conformance::ConformanceError as C;
    match e {
        C::Read(e) => input_class(e),
        C::Write { .. } => (ExitClass::Io, "io"),
        C::Holder { .. } => (ExitClass::BadRecords, "bad_record"),
        C::Keys { .. } => (ExitClass::BadInput, "bad_key_file"),
        C::Import { .. } | C::UnknownCard(_) | C::Suite(_) => (ExitClass::BadInput, "bad_vectors"),
    }
}

fn input_class(e: &InputError) -> (ExitClass, &'static str) {
    match e {
        InputError::Read { .. } => (ExitClass::Io, "io"),
        InputError::TooLarge { .. } => (ExitClass::BadInput, "input_too_large"),
        InputError::Decode(_) => (ExitClass::BadInput, "not_text"),
    }
}

fn perso_class(e: &PersoError) -> (ExitClass, &'static str) {
    match e {
        PersoError::Record { .. } => (ExitClass::BadRecords, "bad_record"),
        PersoError::Keys { .. } | PersoError::NoCardIdCode { .. } => {
            (ExitClass::BadInput, "bad_key_file")
        }
        PersoError::Step { .. } => (ExitClass::InvalidLayout, "invalid_layout"),
        // The simulated card refused its own personalisation: a defect, not the user's input.
        PersoError::Card { .. } | PersoError::Format { .. } => {
            (ExitClass::Failure, "personalisation_failed")
        }
    }
}

impl From<InfoError> for CliError {
    fn from(e: InfoError) -> Self {
        match e {
            InfoError::Client(c) => CliError::Client(c),
            InfoError::Auth { source, .. } => CliError::Auth(source),
        }
    }
}

fn activation_class(
    e: &host_tools::jobs::activation::ActivationError,
) -> (ExitClass, &'static str) {
    use host_tools::jobs::activation::{ActivationError as A, InputError as I, SecurityError as S};
    match e {
        A::Input(I::PinsDiffer | I::PinForm | I::PinInitial | I::PinTrivial(_)) => {
            (ExitClass::PinRejected, "pin_rejected")
        }
        A::Input(I::LostList { .. }) => (ExitClass::Io, "io"),
        A::Input(_) => (ExitClass::BadInput, "bad_input"),
        A::Layout(_) => (ExitClass::InvalidLayout, "invalid_layout"),
        A::Unreadable(_) | A::Refused { .. } | A::PinAlreadyChanged => {
            (ExitClass::Refused, "card_refused")
        }
        A::NotIssued => (ExitClass::NotIssued, "not_issued"),
        A::Blocked(_) => (ExitClass::CardBlocked, "card_blocked"),
        A::Lost { .. } => (ExitClass::CardLost, "card_lost"),
        A::RegistryRefused { .. } => (ExitClass::RegistryRefused, "registry_refused"),
        A::Registry(c) => platform_client_class(c),
        A::Expired { .. } => (ExitClass::CardExpired, "card_expired"),
        A::AlreadyActivated { .. } => (ExitClass::AlreadyActivated, "already_activated"),
        A::IdentityMismatch { .. } => (ExitClass::IdentityMismatch, "identity_mismatch"),
        A::FakeCard => (ExitClass::FakeCard, "fake_card"),
        A::Security(S::PsamLink(c)) | A::Client(c) => CliError::class_of_client(c),
        A::Security(S::NotTestKeys | S::Key { .. }) => (ExitClass::BadInput, "bad_key_file"),
        A::Security(_) => (ExitClass::Refused, "security_module_refused"),
        A::Journal(_) => (ExitClass::Io, "journal_io"),
    }
}

fn settle_class(e: &host_tools::jobs::settlement::SettleError) -> (ExitClass, &'static str) {
    use host_tools::jobs::activation::SecurityError as S;
    use host_tools::jobs::settlement::SettleError as E;
    match e {
        E::Amount(_) => (ExitClass::BadAmount, "bad_amount"),
        E::NoPurse(_) => (ExitClass::InvalidLayout, "invalid_layout"),
        E::Unreadable(_) | E::Refused { .. } | E::CounterAtMaximum | E::KeyBlocked => {
            (ExitClass::Refused, "card_refused")
        }
        E::NotIssued => (ExitClass::NotIssued, "not_issued"),
        E::Blocked(_) => (ExitClass::CardBlocked, "card_blocked"),
        E::Lost { .. } => (ExitClass::CardLost, "card_lost"),
        E::RegistryRefused { .. } => (ExitClass::RegistryRefused, "registry_refused"),
        E::Registry(c) => platform_client_class(c),
        E::Expired { .. } => (ExitClass::CardExpired, "card_expired"),
        E::FakeCard => (ExitClass::FakeCard, "fake_card"),
        E::OtherRegion { .. } => (ExitClass::OtherRegion, "other_region"),
        E::PinForm => (ExitClass::PinRejected, "pin_rejected"),
        E::WrongPin { .. } => (ExitClass::WrongPin, "wrong_pin"),
        E::PinBlocked => (ExitClass::PinBlocked, "pin_blocked"),
        E::InitialPin => (ExitClass::InitialPin, "initial_pin"),
        E::BalanceTooLow { .. } | E::BalanceOverflow => {
            (ExitClass::BalanceTooLow, "balance_too_low")
        }
        E::KeyIndexNotSupported { .. } => {
            (ExitClass::KeyIndexNotSupported, "key_index_not_supported")
        }
        E::Restricted => (ExitClass::MedicalRestricted, "medical_restricted"),
        E::Mac1Refused | E::LoadMacRefused | E::LoadMac1Wrong | E::Mac2Refused { .. } => {
            (ExitClass::MacRefused, "mac_refused")
        }
        E::WrongState => (ExitClass::NotInPurchase, "not_in_purchase"),
        E::Security(S::PsamLink(c)) | E::Client(c) => CliError::class_of_client(c),
        E::Security(S::NotTestKeys | S::Key { .. }) | E::Keys(_) => {
            (ExitClass::BadInput, "bad_key_file")
        }
        E::Security(_) | E::Crypto(_) => (ExitClass::Refused, "security_module_refused"),
        E::Journal(_) => (ExitClass::Io, "journal_io"),
    }
}

fn qr_settle_class(
    e: &host_tools::jobs::settlement::online::QrSettleError,
) -> (ExitClass, &'static str) {
    use host_tools::jobs::settlement::online::QrSettleError as Q;
    match e {
        Q::Amount(_) => (ExitClass::BadAmount, "bad_amount"),
        Q::NotACode | Q::CodeRefused { .. } | Q::NotPaymentCode => {
            (ExitClass::QrCodeRefused, "qr_code_refused")
        }
        Q::CardRefused { code, .. } if code == "card-expired" => {
            (ExitClass::CardExpired, "card_expired")
        }
        Q::CardRefused { .. } => (ExitClass::CardLost, "card_lost"),
        Q::TokenRefused { .. } => (
            ExitClass::SettlementTokenRefused,
            "settlement_token_refused",
        ),
        Q::BalanceTooLow { .. } => (ExitClass::BalanceTooLow, "balance_too_low"),
        Q::Refused(c) | Q::VerifyFailed(c) => platform_client_class(c),
        Q::Unconfirmed { .. } => (ExitClass::PaymentUnconfirmed, "payment_unconfirmed"),
        Q::Journal(_) => (ExitClass::Io, "journal_io"),
        Q::NoRandomness(_) => (ExitClass::Failure, "no_randomness"),
    }
}

fn psam_image_class(
    e: &host_tools::jobs::activation::psam::PsamImageError,
) -> (ExitClass, &'static str) {
    use host_tools::jobs::activation::psam::PsamImageError as P;
    match e {
        P::NotTestKeys | P::Key(_) => (ExitClass::BadInput, "bad_key_file"),
        P::NoPinDf(_) => (ExitClass::InvalidLayout, "invalid_layout"),
        // The simulated PSAM refused its own making: a defect, not the user's input.
        P::Format(_) | P::Command { .. } => (ExitClass::Failure, "psam_image_failed"),
    }
}

fn platform_class(e: &sscard_platform::PlatformError) -> (ExitClass, &'static str) {
    use sscard_platform::PlatformError as P;
    match e {
        P::UnknownCard(_) | P::UnknownPerson(_) => (ExitClass::PlatformUnknownCard, "unknown_card"),
        P::Invalid { .. } | P::BadUrl(_) => (ExitClass::BadInput, "bad_input"),
        P::Refused { .. } | P::IdempotencyMismatch | P::Conflict => {
            (ExitClass::PlatformRefused, "platform_refused")
        }
        P::Database(_) | P::Unavailable { .. } | P::Migration { .. } | P::Corrupt(_) => {
            (ExitClass::PlatformUnavailable, "platform_unavailable")
        }
    }
}

fn platform_client_class(e: &sscard_platform::ClientError) -> (ExitClass, &'static str) {
    use sscard_platform::ClientError as C;
    match e {
        C::Refused { code, .. } if code == "unknown-card" => {
            (ExitClass::PlatformUnknownCard, "unknown_card")
        }
        C::Refused { status, .. } if *status >= 500 => {
            (ExitClass::PlatformUnavailable, "platform_unavailable")
        }
        C::Refused { .. } => (ExitClass::PlatformRefused, "platform_refused"),
        C::Unreachable { .. } | C::BadAnswer(_) => {
            (ExitClass::PlatformUnavailable, "platform_unavailable")
        }
    }
}

impl CliError {
    /// The exit class and a stable name for programs.
    pub fn class(&self) -> (ExitClass, &'static str) {
        match self {
            CliError::Transport(e) => transport_class(e),
            CliError::Client(e) => Self::class_of_client(e),
            CliError::BadHex { .. } => (ExitClass::BadInput, "bad_hex"),
            CliError::BadApdu { .. } => (ExitClass::BadInput, "bad_apdu"),
            CliError::BadAtr(_) => (ExitClass::BadInput, "bad_atr"),
            CliError::Refused { .. } => (ExitClass::Refused, "card_refused"),
            CliError::CreateFile { .. } | CliError::Output(_) => (ExitClass::Io, "io"),
            CliError::Usage(_) => (ExitClass::Usage, "usage"),
            CliError::Activation(e) => activation_class(e),
            CliError::Settle(e) => settle_class(e),
            CliError::QrSettle(e) => qr_settle_class(e),
            CliError::PsamImage(e) => psam_image_class(e),
            CliError::Layout(LayoutError::Read { source, .. }) | CliError::Input(source) => {
                input_class(source)
            }
            CliError::OutputExists { .. } => (ExitClass::Io, "output_exists"),
            CliError::Layout(LayoutError::Invalid { .. }) | CliError::LayoutsInvalid { .. } => {
                (ExitClass::InvalidLayout, "invalid_layout")
            }
            CliError::Keys(_) => (ExitClass::BadInput, "bad_key_file"),
            CliError::Record(_) => (ExitClass::BadRecords, "bad_record"),
            CliError::Perso(e) | CliError::Batch(BatchError::Card { source: e, .. }) => {
                perso_class(e)
            }
            CliError::Batch(BatchError::Rejected { .. }) => {
                (ExitClass::BadRecords, "records_rejected")
            }
            CliError::Batch(BatchError::Sink { .. }) => (ExitClass::Io, "io"),
            CliError::Batch(BatchError::Empty) => (ExitClass::BadRecords, "empty_batch"),
            CliError::Batch(BatchError::Duplicates { .. }) => {
                (ExitClass::BadRecords, "duplicate_records")
            }
            CliError::Batch(BatchError::TooManyRecords { .. }) => {
                (ExitClass::BadInput, "input_too_large")
            }
            CliError::Auth(AuthError::Client(e)) | CliError::Explore(ExploreError::Client(e)) => {
                CliError::class_of_client(e)
            }
            CliError::Auth(AuthError::UnknownKey { .. } | AuthError::Key(_)) => {
                (ExitClass::BadInput, "bad_key_file")
            }
            CliError::Auth(_) => (ExitClass::Refused, "authentication_failed"),
            CliError::NotSelected { .. } => (ExitClass::Refused, "card_refused"),
            CliError::Explore(ExploreError::UnknownPath(_)) => {
                (ExitClass::BadInput, "unknown_path")
            }
            CliError::Vpcd(VpcdError::Unreachable { .. }) => {
                (ExitClass::Service, "vpcd_unreachable")
            }
            CliError::Vpcd(VpcdError::Silent(_)) => (ExitClass::Service, "vpcd_silent"),
            CliError::Vpcd(VpcdError::Card(e)) => transport_class(e),
            CliError::Vpcd(_) => (ExitClass::Failure, "vpcd"),
            CliError::Fault(_) | CliError::Matrix(_) => (ExitClass::Failure, "fault_injection"),
            CliError::MatrixMismatch { .. } => (ExitClass::Failure, "matrix_mismatch"),
            CliError::Listen { .. } => (ExitClass::Listen, "cannot_listen"),
            CliError::Token(host_tools::services::auth::TokenError::Read { .. }) => {
                (ExitClass::Io, "io")
            }
            CliError::Token(_) => (ExitClass::BadInput, "bad_token"),
            CliError::DriverConfig(_) => (ExitClass::BadInput, "bad_driver_config"),
            CliError::Conformance(e) => conformance_class(e),
            CliError::ConformanceFailed => (ExitClass::ConformanceFailed, "conformance_failed"),
            CliError::VectorErrors { .. } => (ExitClass::VectorErrors, "vector_errors"),
            CliError::NothingChecked(_) => (ExitClass::ConformanceFailed, "nothing_checked"),
            CliError::Platform(e) => platform_class(e),
            CliError::PlatformClient(e) => platform_client_class(e),
            CliError::Serve(sscard_platform::ServeError::Platform(e)) => platform_class(e),
            CliError::Serve(_) => (ExitClass::Io, "listen_failed"),
            CliError::NotRecorded { source, .. } => platform_client_class(source),
            CliError::BlacklistCache(_) => (ExitClass::Io, "blacklist_cache"),
            CliError::PlatformRefusedCards { .. } => (ExitClass::PlatformRefused, "cards_refused"),
            CliError::EcardCodeRefused(r) => code_refusal_class(r.code()),
            CliError::EcardCodeRefusedOnline { source, .. } => {
                code_refusal_class(source.code().unwrap_or_default())
            }
            CliError::ConsentRequired(_) => (ExitClass::ConsentRequired, "consent_required"),
            CliError::EcardPasswordRejected(_) | CliError::EcardPasswordNoTerminal => {
                (ExitClass::PinRejected, "password_rejected")
            }
            CliError::EcardPasswordFile { .. } => (ExitClass::Io, "io"),
            CliError::EcardFile { .. } | CliError::EcardKey(_) => {
                (ExitClass::BadInput, "bad_ecard_file")
            }
            CliError::Render(_) => (ExitClass::Failure, "render_failed"),
        }
    }

    fn class_of_client(e: &ClientError) -> (ExitClass, &'static str) {
        match e {
            ClientError::Transport(t) => transport_class(t),
            ClientError::Apdu(_) => (ExitClass::BadInput, "bad_apdu"),
            ClientError::GetResponseLimit(_) => (ExitClass::CardUnresponsive, "get_response_limit"),
        }
    }

    pub fn exit_code(&self) -> u8 {
        self.class().0 as u8
    }

    /// What goes to stderr: the sentence, plus a caret line under a bad hex character. The
    /// sentence may quote a card or a file, so it is escaped for the screen, on one line.
    pub fn for_person(&self) -> String {
        let sentence = screen::escape(&self.to_string()).into_owned();
        match self {
            CliError::BadHex { source, .. } => format!(
                "sscard: {sentence}\n{}",
                screen::escape_lines(&source.caret())
            ),
            _ => format!("sscard: {sentence}"),
        }
    }

    /// The `--json` error object.
    pub fn to_json(&self) -> Value {
        let (class, kind) = self.class();
        let mut error = json!({
            "kind": kind,
            "exit_code": class as u8,
            "message": self.to_string(),
        });
        if let CliError::Settle(host_tools::jobs::settlement::SettleError::RegistryRefused {
            code,
            ..
        })
        | CliError::Activation(
            host_tools::jobs::activation::ActivationError::RegistryRefused { code, .. },
        ) = self
        {
            error["reason_code"] = json!(code);
        }
        if let CliError::BadHex { argument, source } = self {
            error["argument"] = json!(argument);
            error["position"] = json!(source.position);
        }
        if let CliError::Transport(TransportError::ImageInUse {
            owner: Some(pid), ..
        }) = self
        {
            error["owner_pid"] = json!(pid);
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_has_its_own_code() {
        let classes = [
            ExitClass::Failure,
            ExitClass::Usage,
            ExitClass::Service,
            ExitClass::Reader,
            ExitClass::NoCard,
            ExitClass::CardRemoved,
            ExitClass::CardUnresponsive,
            ExitClass::CardBusy,
            ExitClass::Refused,
            ExitClass::BadInput,
            ExitClass::ImageDamaged,
            ExitClass::Io,
            ExitClass::InvalidLayout,
            ExitClass::BadRecords,
            ExitClass::ImageReadOnly,
            ExitClass::ConformanceFailed,
            ExitClass::VectorErrors,
            ExitClass::IdentityMismatch,
            ExitClass::AlreadyActivated,
            ExitClass::CardBlocked,
            ExitClass::CardExpired,
            ExitClass::CardLost,
            ExitClass::FakeCard,
            ExitClass::PinRejected,
            ExitClass::NotIssued,
            ExitClass::PlatformRefused,
            ExitClass::PlatformUnavailable,
            ExitClass::PlatformUnknownCard,
            ExitClass::QrCodeRefused,
            ExitClass::SettlementTokenRefused,
            ExitClass::PaymentUnconfirmed,
            ExitClass::BalanceTooLow,
            ExitClass::WrongPin,
            ExitClass::PinBlocked,
            ExitClass::InitialPin,
            ExitClass::KeyIndexNotSupported,
            ExitClass::OtherRegion,
            ExitClass::NotInPurchase,
            ExitClass::MacRefused,
            ExitClass::MedicalRestricted,
            ExitClass::BadAmount,
            ExitClass::RegistryRefused,
            ExitClass::CodeExpired,
            ExitClass::CodeReplayed,
            ExitClass::CodeTampered,
            ExitClass::CodeCardBlocked,
            ExitClass::CodeUnknown,
            ExitClass::CodeNotForThisUse,
            ExitClass::ConsentRequired,
        ];
        let mut codes: Vec<u8> = classes.iter().map(|c| *c as u8).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), classes.len());
        assert!(!codes.contains(&0));
    }

    #[test]
    fn transport_failures_keep_their_class_through_the_client() {
        let direct = CliError::from(TransportError::CardRemoved);
        let through = CliError::from(ClientError::Transport(TransportError::CardRemoved));
        assert_eq!(direct.exit_code(), ExitClass::CardRemoved as u8);
        assert_eq!(direct.class(), through.class());
        assert_eq!(
            CliError::from(TransportError::ServiceUnavailable).exit_code(),
            3
        );
    }

    #[test]
    fn bad_hex_points_at_the_character() {
        let source = host_tools::protocol::hexstr::parse("00A4 0X").unwrap_err();
        let e = CliError::BadHex {
            argument: 1,
            source,
        };
        assert_eq!(e.for_person(), "sscard: argument 1 is not hex: character 7 ('X') is not a hex digit\n  00A4 0X\n        ^");
        assert_eq!(e.to_json()["position"], 6);
        assert_eq!(e.exit_code(), 10);
    }
}

//! ISO 7816-4 status words: every interindustry SW by name, anything else carried verbatim.

/// A status word (SW1-SW2). `from_u16(x).to_u16() == x` for every `x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// 9000
    Success,
    /// 61XX: XX more bytes available through GET RESPONSE (`00` = 256 or more).
    BytesRemaining(u8),
    /// 6200
    WarningNoInformation,
    /// 6281
    DataMayBeCorrupted,
    /// 6282
    EndOfFileReached,
    /// 6283
    SelectedFileDeactivated,
    /// 6284
    FciNotFormatted,
    /// 6285
    SelectedFileTerminated,
    /// 6286
    NoSensorInput,
    /// 6287
    RecordDeactivated,
    /// 6300
    WarningNvmChanged,
    /// 6381
    FileFilledUp,
    /// 63CX: counter X (0-15), e.g. PIN tries left.
    Counter(u8),
    /// 6400
    ExecutionError,
    /// 6401
    ImmediateResponseRequired,
    /// 6500
    ExecutionErrorNvmChanged,
    /// 6581
    MemoryFailure,
    /// 6700
    WrongLength,
    /// 6800
    ClaFunctionNotSupported,
    /// 6881
    LogicalChannelNotSupported,
    /// 6882
    SecureMessagingNotSupported,
    /// 6883
    LastCommandOfChainExpected,
    /// 6884
    CommandChainingNotSupported,
    /// 6900
    CommandNotAllowed,
    /// 6981
    IncompatibleFileStructure,
    /// 6982
    SecurityStatusNotSatisfied,
    /// 6983
    AuthenticationMethodBlocked,
    /// 6984
    ReferenceDataNotUsable,
    /// 6985
    ConditionsOfUseNotSatisfied,
    /// 6986
    NoCurrentEf,
    /// 6987
    SmDataObjectsMissing,
    /// 6988
    SmDataObjectsIncorrect,
    /// 6A00
    WrongP1P2NoInformation,
    /// 6A80
    IncorrectDataParameters,
    /// 6A81
    FunctionNotSupported,
    /// 6A82
    FileNotFound,
    /// 6A83
    RecordNotFound,
    /// 6A84
    NotEnoughMemory,
    /// 6A85
    NcInconsistentWithTlv,
    /// 6A86
    IncorrectP1P2,
    /// 6A87
    NcInconsistentWithP1P2,
    /// 6A88
    ReferencedDataNotFound,
    /// 6A89
    FileAlreadyExists,
    /// 6A8A
    DfNameAlreadyExists,
    /// 6B00
    WrongParameters,
    /// 6CXX: wrong Le; XX is the exact number of bytes available.
    WrongLe(u8),
    /// 6D00
    InstructionNotSupported,
    /// 6E00
    ClassNotSupported,
    /// 6F00
    NoPreciseDiagnosis,
    /// Any other (proprietary) status word, e.g. 9303.
    Other(u16),
}

/// The fixed-value status words, in one table so both directions agree.
const NAMED: &[(u16, Status)] = &[
    (0x9000, Status::Success),
    (0x6200, Status::WarningNoInformation),
    (0x6281, Status::DataMayBeCorrupted),
    (0x6282, Status::EndOfFileReached),
    (0x6283, Status::SelectedFileDeactivated),
    (0x6284, Status::FciNotFormatted),
    (0x6285, Status::SelectedFileTerminated),
    (0x6286, Status::NoSensorInput),
    (0x6287, Status::RecordDeactivated),
    (0x6300, Status::WarningNvmChanged),
    (0x6381, Status::FileFilledUp),
    (0x6400, Status::ExecutionError),
    (0x6401, Status::ImmediateResponseRequired),
    (0x6500, Status::ExecutionErrorNvmChanged),
    (0x6581, Status::MemoryFailure),
    (0x6700, Status::WrongLength),
    (0x6800, Status::ClaFunctionNotSupported),
    (0x6881, Status::LogicalChannelNotSupported),
    (0x6882, Status::SecureMessagingNotSupported),
    (0x6883, Status::LastCommandOfChainExpected),
    (0x6884, Status::CommandChainingNotSupported),
    (0x6900, Status::CommandNotAllowed),
    (0x6981, Status::IncompatibleFileStructure),
    (0x6982, Status::SecurityStatusNotSatisfied),
    (0x6983, Status::AuthenticationMethodBlocked),
    (0x6984, Status::ReferenceDataNotUsable),
    (0x6985, Status::ConditionsOfUseNotSatisfied),
    (0x6986, Status::NoCurrentEf),
    (0x6987, Status::SmDataObjectsMissing),
    (0x6988, Status::SmDataObjectsIncorrect),
    (0x6A00, Status::WrongP1P2NoInformation),
    (0x6A80, Status::IncorrectDataParameters),
    (0x6A81, Status::FunctionNotSupported),
    (0x6A82, Status::FileNotFound),
    (0x6A83, Status::RecordNotFound),
    (0x6A84, Status::NotEnoughMemory),
    (0x6A85, Status::NcInconsistentWithTlv),
    (0x6A86, Status::IncorrectP1P2),
    (0x6A87, Status::NcInconsistentWithP1P2),
    (0x6A88, Status::ReferencedDataNotFound),
    (0x6A89, Status::FileAlreadyExists),
    (0x6A8A, Status::DfNameAlreadyExists),
    (0x6B00, Status::WrongParameters),
    (0x6D00, Status::InstructionNotSupported),
    (0x6E00, Status::ClassNotSupported),
    (0x6F00, Status::NoPreciseDiagnosis),
];

/// The social security card's own status words (docs/status-words.md): proprietary, so carried
/// as [`Status::Other`], named here once for the card and the host tools.
impl Status {
    /// `9302`: a settlement-type operation on the medical insurance application of a card that is
    /// restricted (not activated, six months after issue or no date supplied).
    pub const MEDICAL_RESTRICTED: Status = Status::from_u16(0x9302);
    /// `9302` in the medical purse: MAC1 of a DEBIT or MAC2 of a CREDIT is wrong (the same word
    /// as [`Status::MEDICAL_RESTRICTED`]: the specification gives both meanings).
    pub const PURSE_MAC_WRONG: Status = Status::from_u16(0x9302);
    /// `9303`: the application is permanently blocked.
    pub const APPLICATION_PERMANENTLY_BLOCKED: Status = Status::from_u16(0x9303);
    /// `9401`: the balance is too low (settlement).
    pub const BALANCE_TOO_LOW: Status = Status::from_u16(0x9401);
    /// `9402`: a transaction counter is at its maximum (settlement).
    pub const COUNTER_AT_MAXIMUM: Status = Status::from_u16(0x9402);
    /// `9403`: the key index is not supported (settlement).
    pub const KEY_INDEX_NOT_SUPPORTED: Status = Status::from_u16(0x9403);
    /// `9406`: the MAC or TAC is not available (settlement).
    pub const MAC_NOT_AVAILABLE: Status = Status::from_u16(0x9406);
    /// `6901`: the command is not accepted in this state (settlement).
    pub const WRONG_STATE: Status = Status::from_u16(0x6901);
}

impl Status {
    /// The status word for two bytes; never fails.
    pub const fn from_u16(sw: u16) -> Self {
        let [sw1, sw2] = sw.to_be_bytes();
        match sw1 {
            0x61 => return Status::BytesRemaining(sw2),
            0x6C => return Status::WrongLe(sw2),
            0x63 if sw2 & 0xF0 == 0xC0 => return Status::Counter(sw2 & 0x0F),
            _ => {}
        }
        let mut rest = NAMED;
        while let [(value, status), tail @ ..] = rest {
            if *value == sw {
                return *status;
            }
            rest = tail;
        }
        Status::Other(sw)
    }

    /// The two bytes of this status word. `Counter` keeps only its low four bits.
    pub fn to_u16(self) -> u16 {
        match self {
            Status::BytesRemaining(n) => 0x6100 | u16::from(n),
            Status::WrongLe(n) => 0x6C00 | u16::from(n),
            Status::Counter(n) => 0x63C0 | u16::from(n & 0x0F),
            Status::Other(sw) => sw,
            named => {
                for (value, status) in NAMED {
                    if *status == named {
                        return *value;
                    }
                }
                // Every named variant is in the table (checked by a test).
                0x6F00
            }
        }
    }

    /// SW1 and SW2.
    pub fn to_bytes(self) -> [u8; 2] {
        self.to_u16().to_be_bytes()
    }

    /// 9000 or 61XX: the command completed normally.
    pub fn is_success(self) -> bool {
        matches!(self, Status::Success | Status::BytesRemaining(_))
    }

    /// 62XX or 63XX: completed with a warning.
    pub fn is_warning(self) -> bool {
        matches!(self.to_bytes(), [0x62 | 0x63, _])
    }
}

impl From<u16> for Status {
    fn from(sw: u16) -> Self {
        Status::from_u16(sw)
    }
}

impl From<Status> for u16 {
    fn from(status: Status) -> Self {
        status.to_u16()
    }
}

impl core::fmt::Display for Status {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:04X}", self.to_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_named_status_round_trips_through_its_value() {
        for (value, status) in NAMED {
            assert_eq!(status.to_u16(), *value);
            assert_eq!(Status::from_u16(*value), *status);
        }
    }

    #[test]
    fn parametrised_words_carry_their_byte() {
        assert_eq!(Status::from_u16(0x6110), Status::BytesRemaining(0x10));
        assert_eq!(Status::from_u16(0x6C12), Status::WrongLe(0x12));
        assert_eq!(Status::from_u16(0x63C2), Status::Counter(2));
        assert_eq!(Status::from_u16(0x9303), Status::Other(0x9303));
        assert_eq!(Status::Counter(3).to_bytes(), [0x63, 0xC3]);
    }

    #[test]
    fn the_cards_own_words_keep_their_values() {
        for (status, sw) in [
            (Status::MEDICAL_RESTRICTED, 0x9302),
            (Status::APPLICATION_PERMANENTLY_BLOCKED, 0x9303),
            (Status::BALANCE_TOO_LOW, 0x9401),
            (Status::COUNTER_AT_MAXIMUM, 0x9402),
            (Status::KEY_INDEX_NOT_SUPPORTED, 0x9403),
            (Status::MAC_NOT_AVAILABLE, 0x9406),
            (Status::WRONG_STATE, 0x6901),
        ] {
            assert_eq!(status, Status::Other(sw));
            assert_eq!(Status::from_u16(sw), status);
        }
    }

    proptest! {
        #[test]
        fn every_u16_round_trips(sw in any::<u16>()) {
            prop_assert_eq!(Status::from_u16(sw).to_u16(), sw);
        }
    }
}

//! Status words in words: card-os's `Status` (the one table of status words) as a phrase for
//! people.

use crate::protocol::apdu::Status;

/// What a status word means, as a phrase (no hex). Every word card-os names has its own phrase
/// here (the match is exhaustive, so a new one cannot go without).
pub fn meaning(sw: Status) -> String {
    let phrase = match sw {
        Status::Success => "success",
        Status::BytesRemaining(0) => {
            return "256 or more bytes still available (GET RESPONSE)".to_string()
        }
        Status::BytesRemaining(n) => return format!("{n} bytes still available (GET RESPONSE)"),
        Status::WrongLe(n) => return format!("wrong Le: {n} bytes available"),
        Status::Counter(n) => return format!("counter {n} (for a PIN: {n} tries left)"),
        Status::WarningNoInformation => "warning, no information given",
        Status::DataMayBeCorrupted => "part of the returned data may be corrupted",
        Status::EndOfFileReached => "end of file or record reached before Le bytes",
        Status::SelectedFileDeactivated => "selected file deactivated",
        Status::FciNotFormatted => "file control information not formatted",
        Status::SelectedFileTerminated => "selected file terminated",
        Status::NoSensorInput => "no input data available from a sensor",
        Status::RecordDeactivated => "record deactivated",
        Status::WarningNvmChanged => "warning, non-volatile memory changed",
        Status::FileFilledUp => "file filled up by the last write",
        Status::ExecutionError => "execution error, non-volatile memory unchanged",
        Status::ImmediateResponseRequired => "immediate response required by the card",
        Status::ExecutionErrorNvmChanged => "execution error, non-volatile memory changed",
        Status::MemoryFailure => "memory failure",
        Status::WrongLength => "wrong length",
        Status::ClaFunctionNotSupported => "function in CLA not supported",
        Status::LogicalChannelNotSupported => "logical channel not supported",
        Status::SecureMessagingNotSupported => "secure messaging not supported",
        Status::LastCommandOfChainExpected => "last command of the chain expected",
        Status::CommandChainingNotSupported => "command chaining not supported",
        Status::CommandNotAllowed => "command not allowed, no information given",
        Status::IncompatibleFileStructure => "command incompatible with file structure",
        Status::SecurityStatusNotSatisfied => "security status not satisfied",
        Status::AuthenticationMethodBlocked => "authentication method blocked",
        Status::ReferenceDataNotUsable => "reference data not usable",
        Status::ConditionsOfUseNotSatisfied => "conditions of use not satisfied",
        Status::NoCurrentEf => "no current EF",
        Status::SmDataObjectsMissing => "SM data objects missing",
        Status::SmDataObjectsIncorrect => "SM data objects incorrect",
        Status::WrongP1P2NoInformation => "wrong parameters P1-P2, no information given",
        Status::IncorrectDataParameters => "incorrect parameters in the command data",
        Status::FunctionNotSupported => "function not supported",
        Status::FileNotFound => "file not found",
        Status::RecordNotFound => "record not found",
        Status::NotEnoughMemory => "not enough memory space in the file",
        Status::NcInconsistentWithTlv => "Nc inconsistent with the TLV structure",
        Status::IncorrectP1P2 => "incorrect parameters P1-P2",
        Status::NcInconsistentWithP1P2 => "Nc inconsistent with parameters P1-P2",
        Status::ReferencedDataNotFound => "referenced data or reference data not found",
        Status::FileAlreadyExists => "file already exists",
        Status::DfNameAlreadyExists => "DF name already exists",
        Status::WrongParameters => "wrong parameters P1-P2",
        Status::InstructionNotSupported => "instruction not supported",
        Status::ClassNotSupported => "class not supported",
        Status::NoPreciseDiagnosis => "no precise diagnosis",
        // The social security card's own words (docs/status-words.md).
        Status::MEDICAL_RESTRICTED => {
            "medical insurance restricted (card not activated within six months of issue)"
        }
        Status::APPLICATION_PERMANENTLY_BLOCKED => "application permanently locked",
        Status::BALANCE_TOO_LOW => "balance too low",
        Status::COUNTER_AT_MAXIMUM => "transaction counter at its maximum",
        Status::KEY_INDEX_NOT_SUPPORTED => "key index not supported",
        Status::MAC_NOT_AVAILABLE => "MAC or TAC not available",
        Status::WRONG_STATE => "command not accepted in this state",
        Status::Other(_) => "proprietary status word",
    };
    phrase.to_string()
}

/// "6A82 file not found".
pub fn explain(sw: Status) -> String {
    format!("{sw} {}", meaning(sw))
}

/// True when the card did what was asked: 9000, or a 62xx warning that still returned the data
/// (end of file reached, ...). Everything else, including 63Cx (wrong PIN), is a refusal.
pub fn is_done(sw: Status) -> bool {
    sw == Status::Success || sw.to_bytes()[0] == 0x62
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_words_read_as_english() {
        assert_eq!(explain(Status::from_u16(0x6A82)), "6A82 file not found");
        assert_eq!(
            meaning(Status::from_u16(0x6982)),
            "security status not satisfied"
        );
        assert_eq!(
            meaning(Status::from_u16(0x6A86)),
            "incorrect parameters P1-P2"
        );
        assert_eq!(
            meaning(Status::from_u16(0x6A00)),
            "wrong parameters P1-P2, no information given"
        );
        assert_eq!(meaning(Status::from_u16(0x6987)), "SM data objects missing");
        assert_eq!(meaning(Status::from_u16(0x6986)), "no current EF");
    }

    #[test]
    fn parametrised_and_proprietary_words() {
        assert_eq!(
            meaning(Status::from_u16(0x63C2)),
            "counter 2 (for a PIN: 2 tries left)"
        );
        assert_eq!(
            meaning(Status::from_u16(0x6C10)),
            "wrong Le: 16 bytes available"
        );
        assert_eq!(
            explain(Status::from_u16(0x9303)),
            "9303 application permanently locked"
        );
        assert_eq!(meaning(Status::from_u16(0x9F00)), "proprietary status word");
        assert_eq!(
            meaning(Status::BALANCE_TOO_LOW),
            "balance too low",
            "the settlement words have their own phrases"
        );
    }

    #[test]
    fn every_status_word_has_a_phrase() {
        for sw in 0..=u16::MAX {
            let phrase = meaning(Status::from_u16(sw));
            // No Rust variant syntax leaks through ("Other(37635)", "BytesRemaining(3)").
            assert!(!phrase.is_empty(), "{sw:04X}");
            assert!(
                !phrase.chars().any(|c| c.is_ascii_digit()) || phrase.contains(' '),
                "{sw:04X}: {phrase}"
            );
            assert!(
                !phrase.contains("Other") && !phrase.contains("Remaining"),
                "{sw:04X}: {phrase}"
            );
        }
    }

    #[test]
    fn done_means_success_or_a_data_warning() {
        assert!(is_done(Status::Success));
        assert!(is_done(Status::from_u16(0x6282)));
        assert!(!is_done(Status::from_u16(0x63C1)));
        assert!(!is_done(Status::from_u16(0x6A82)));
    }
}

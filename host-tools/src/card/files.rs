//! The card's files through the client: SELECT, READ RECORD and READ BINARY as every
//! layout-backed command (info, explore, demo) sends them. A refusal is an answer with its
//! status word, not an error; errors are what the transport or the client failed to do.

use crate::protocol::apdu::{self, Command, Response, Status};
use crate::protocol::client::{Client, ClientError};
use crate::transport::CardTransport;

/// What a SELECT asks the card to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The file control parameters (`62`), for explore.
    Fcp,
    /// Nothing: only the selection.
    Nothing,
}

impl Answer {
    fn p2(self) -> u8 {
        match self {
            Answer::Fcp => 0x04,
            Answer::Nothing => 0x0C,
        }
    }

    fn ne(self) -> Option<usize> {
        match self {
            Answer::Fcp => Some(256),
            Answer::Nothing => None,
        }
    }
}

/// SELECT by path from the MF (P1 `08`): `df_path` are the FIDs below the MF, as in
/// `file_structures::layout::ReadPlan::df_path`. An empty path selects the MF.
pub fn select_df<T: CardTransport>(
    client: &mut Client<T>,
    df_path: &[u16],
    answer: Answer,
) -> Result<Response, ClientError> {
    let path: Vec<u8> = if df_path.is_empty() {
        vec![0x3F, 0x00]
    } else {
        df_path.iter().flat_map(|fid| fid.to_be_bytes()).collect()
    };
    client.transmit(&Command {
        data: &path,
        ne: answer.ne(),
        ..apdu::command(0x00, 0xA4, 0x08, answer.p2())
    })
}

/// SELECT of an EF under the current DF (P1 `02`).
pub fn select_ef<T: CardTransport>(
    client: &mut Client<T>,
    fid: u16,
    answer: Answer,
) -> Result<Response, ClientError> {
    let fid = fid.to_be_bytes();
    client.transmit(&Command {
        data: &fid,
        ne: answer.ne(),
        ..apdu::command(0x00, 0xA4, 0x02, answer.p2())
    })
}

/// READ RECORD `number` of the current EF (the client answers a 6Cxx with the record's length).
pub fn read_record<T: CardTransport>(
    client: &mut Client<T>,
    number: u8,
) -> Result<Response, ClientError> {
    client.transmit(&Command {
        ne: Some(256),
        ..apdu::command(0x00, 0xB2, number, 0x04)
    })
}

/// Records 1..=`count` of the current EF, stopping at the first refusal (returned with the
/// records read before it). `6A83` (no such record) ends a file that holds fewer records.
pub fn read_records<T: CardTransport>(
    client: &mut Client<T>,
    count: u8,
) -> Result<(Vec<Vec<u8>>, Status), ClientError> {
    let mut records = Vec::new();
    for number in 1..=count {
        let answer = read_record(client, number)?;
        if answer.sw != Status::Success {
            return Ok((records, answer.sw));
        }
        records.push(answer.data);
    }
    Ok((records, Status::Success))
}

/// Reads `size` bytes of the current transparent EF, 256 bytes per READ BINARY. Stops at a
/// refusal or at the end of the file (`6282`), returning what was read and the last status.
pub fn read_binary<T: CardTransport>(
    client: &mut Client<T>,
    size: u16,
) -> Result<(Vec<u8>, Status), ClientError> {
    let mut data = Vec::with_capacity(usize::from(size));
    while data.len() < usize::from(size) {
        let offset = data.len() as u16;
        let want = (usize::from(size) - data.len()).min(256);
        let [hi, lo] = offset.to_be_bytes();
        let answer = client.transmit(&Command {
            ne: Some(want),
            ..apdu::command(0x00, 0xB0, hi & 0x7F, lo)
        })?;
        let done = answer.sw != Status::Success || answer.data.is_empty();
        data.extend_from_slice(&answer.data);
        if done {
            return Ok((data, answer.sw));
        }
    }
    Ok((data, Status::Success))
}

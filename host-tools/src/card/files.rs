//! The card's files through the client: SELECT, READ RECORD and READ BINARY as every
//! layout-backed command (info, explore, demo) sends them. A refusal is an answer with its
//! status word, not an error; errors are what the transport or the client failed to do.

use crate::protocol::apdu::{build, Response, Status};
use crate::protocol::client::{Client, ClientError};
use crate::transport::CardTransport;

/// What a SELECT asks the card to answer with.
pub use crate::protocol::apdu::SelectReply as Answer;

/// SELECT by path from the MF (P1 `08`): `df_path` are the FIDs below the MF, as in
/// `file_structures::layout::ReadPlan::df_path`. An empty path selects the MF.
pub fn select_df<T: CardTransport>(
    client: &mut Client<T>,
    df_path: &[u16],
    answer: Answer,
) -> Result<Response, ClientError> {
    client.send(&build::select_path(df_path, answer))
}

/// SELECT of an EF under the current DF (P1 `02`).
pub fn select_ef<T: CardTransport>(
    client: &mut Client<T>,
    fid: u16,
    answer: Answer,
) -> Result<Response, ClientError> {
    client.send(&build::select_ef(fid, answer))
}

/// READ RECORD `number` of the current EF (the client answers a 6Cxx with the record's length).
pub fn read_record<T: CardTransport>(
    client: &mut Client<T>,
    number: u8,
) -> Result<Response, ClientError> {
    client.send(&build::read_record(number))
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
        let answer = client.send(&build::read_binary(offset, want))?;
        let done = answer.sw != Status::Success || answer.data.is_empty();
        data.extend_from_slice(&answer.data);
        if done {
            return Ok((data, answer.sw));
        }
    }
    Ok((data, Status::Success))
}

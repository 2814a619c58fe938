//! The record channel every client-server hop runs over (TLS 1.3's record layer), in every
//! stack: sealing and opening one payload.

use conclave_schemes::channel::RecordChannel;

use super::{Bytes, Case, Prepared, Ran};

/// Payloads: a chat message and one full record (16 KiB).
pub const PAYLOADS: [usize; 2] = [64, 16 << 10];

const KEY: [u8; 32] = [7; 32];
const IV: [u8; 12] = [9; 12];

fn seal(len: usize) -> Prepared {
    let payload = vec![0x5a; len];
    let mut channel = RecordChannel::new(&KEY, IV);
    Prepared::new(move || {
        let mut records = Vec::new();
        channel
            .seal(&payload, &mut records)
            .unwrap_or_else(|e| panic!("tls seal: {e}"));
        Ran {
            bytes: Bytes::from([("records", records.len() as u64)]),
            state: Box::new((channel, records)),
        }
    })
}

fn open(len: usize) -> Prepared {
    let mut records = Vec::new();
    RecordChannel::new(&KEY, IV)
        .seal(&vec![0x5a; len], &mut records)
        .unwrap_or_else(|e| panic!("tls seal: {e}"));
    let mut channel = RecordChannel::new(&KEY, IV);
    Prepared::new(move || {
        let payload = channel
            .open(&records)
            .unwrap_or_else(|e| panic!("tls open: {e}"));
        Ran {
            bytes: Bytes::from([("records", records.len() as u64)]),
            state: Box::new((channel, payload)),
        }
    })
}

/// Adds the record channel's cases.
pub fn cases(all: &mut Vec<Case>) {
    for len in PAYLOADS {
        all.push(Case::new(format!("tls/record/seal/{len}"), move || {
            seal(len)
        }));
    }
    for len in PAYLOADS {
        all.push(Case::new(format!("tls/record/open/{len}"), move || {
            open(len)
        }));
    }
}

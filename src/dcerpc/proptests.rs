//! Property: the calls decoded from a DCE-RPC byte stream do not depend on how the
//! transport cut the stream into chunks (segments, SMB reads and writes).

use super::pdu::tests::{NDR, ack_body, bind_body, build, request_body, response_body};
use super::pdu::{BIND, BIND_ACK, REQUEST, RESPONSE, parse_pdu};
use super::{Association, CallStatus, Framer, Limits, Recovery};
use crate::capture::Timestamp;
use crate::stats::Counters;
use proptest::prelude::*;

const FIRST: u8 = 1;
const LAST: u8 = 2;

/// A client stream (bind, then requests, some split into fragments) and the server's.
fn streams(le: bool, calls: &[(u16, Vec<u8>, usize)]) -> [Vec<u8>; 2] {
    let mut client = build(
        BIND,
        FIRST | LAST,
        le,
        1,
        &bind_body(le, &[(0, NDR, 1)]),
        None,
    );
    let mut server = build(
        BIND_ACK,
        FIRST | LAST,
        le,
        1,
        &ack_body(le, b"\\PIPE\\x\0", &[0]),
        None,
    );
    for (i, (opnum, stub, frags)) in calls.iter().enumerate() {
        let call_id = i as u32 + 2;
        let per = stub.len().div_ceil(*frags).max(1);
        let pieces: Vec<&[u8]> = if stub.is_empty() {
            vec![&[][..]]
        } else {
            stub.chunks(per).collect()
        };
        for (k, piece) in pieces.iter().enumerate() {
            let mut flags = 0;
            if k == 0 {
                flags |= FIRST;
            }
            if k + 1 == pieces.len() {
                flags |= LAST;
            }
            let body = request_body(le, 0, *opnum, piece);
            client.extend(build(REQUEST, flags, le, call_id, &body, None));
        }
        let reply = build(
            RESPONSE,
            FIRST | LAST,
            le,
            call_id,
            &response_body(le, 0, &stub[..stub.len().min(7)]),
            None,
        );
        server.extend(reply);
    }
    [client, server]
}

type Summary = Vec<(u32, u16, Vec<u8>, u32, bool)>;

/// Feed each direction cut at the given offsets (client first, then server) and list
/// what was decoded: (call_id, opnum, request stub, fragments, answered).
fn decode(streams: &[Vec<u8>; 2], cuts: [&[usize]; 2]) -> (Summary, Counters) {
    let mut counters = Counters::default();
    let mut assoc = Association::new(Limits::default());
    for dir in 0..2 {
        let data = &streams[dir];
        let mut framer = Framer::new(Recovery::Scan);
        let mut offsets: Vec<usize> = cuts[dir].iter().map(|c| c % (data.len() + 1)).collect();
        offsets.push(0);
        offsets.push(data.len());
        offsets.sort_unstable();
        offsets.dedup();
        let mut pdus: Vec<Vec<u8>> = Vec::new();
        for w in offsets.windows(2) {
            framer.feed(&data[w[0]..w[1]], &mut counters, &mut |p| {
                pdus.push(p.to_vec())
            });
        }
        for (i, p) in pdus.iter().enumerate() {
            let pdu = parse_pdu(p).expect("builder PDUs parse");
            assoc.on_pdu(
                dir,
                Timestamp::new(dir as i64 * 1000 + i as i64, 0),
                &pdu,
                &mut counters,
            );
        }
    }
    let calls = assoc
        .finish(&mut counters)
        .into_iter()
        .map(|c| {
            (
                c.call_id,
                c.opnum,
                c.stub,
                c.req_frags,
                c.status == CallStatus::Ok,
            )
        })
        .collect();
    (calls, counters)
}

fn call_strategy() -> impl Strategy<Value = (u16, Vec<u8>, usize)> {
    (
        0u16..80,
        prop::collection::vec(any::<u8>(), 0..300),
        1usize..5,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn calls_do_not_depend_on_how_the_stream_was_cut(
        le in any::<bool>(),
        calls in prop::collection::vec(call_strategy(), 1..6),
        client_cuts in prop::collection::vec(any::<usize>(), 0..40),
        server_cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let s = streams(le, &calls);
        let (whole, _) = decode(&s, [&[], &[]]);
        // The uncut stream gives exactly the calls that were built.
        prop_assert_eq!(whole.len(), calls.len());
        for (i, (got, (opnum, stub, _))) in whole.iter().zip(&calls).enumerate() {
            prop_assert_eq!(got.0, i as u32 + 2);
            prop_assert_eq!(got.1, *opnum);
            prop_assert_eq!(&got.2, stub);
            prop_assert!(got.4, "call {} answered", got.0);
        }
        let (cut, counters) = decode(&s, [&client_cuts, &server_cuts]);
        prop_assert_eq!(cut, whole);
        prop_assert_eq!(counters.dcerpc_calls, calls.len() as u64);
    }
}

#![no_main]
//! NetBIOS/SMB1/SMB2 framing and pipe tracking over arbitrary bytes. The first byte splits
//! the rest into the two directions, the second sets the chunk size; chunks of the two
//! directions alternate, and a one-byte chunk 0xff is a gap instead of data. Checks that
//! every pipe byte handed out is counted and that buffering stays within its bounds.
use libfuzzer_sys::fuzz_target;
use rpcsift::auth::ntlmssp::MAX_FIELD_CHARS;
use rpcsift::smb::{
    MAX_DEFERRED_BYTES, MAX_MESSAGE_LEN, MAX_NAME_LEN, PEEK_LEN, PipeEvent, SmbConn, SmbCounters,
};

fuzz_target!(|data: &[u8]| {
    let [split, stride, rest @ ..] = data else {
        return;
    };
    let (a, b) = rest.split_at(rest.len() * *split as usize / 256);
    let stride = *stride as usize + 1;
    let mut chunks = [a.chunks(stride), b.chunks(stride)];
    let mut conn = SmbConn::new();
    let mut c = SmbCounters::default();
    let mut pipe_bytes = 0u64;
    loop {
        let mut fed = false;
        for (dir, it) in chunks.iter_mut().enumerate() {
            let Some(chunk) = it.next() else { continue };
            fed = true;
            if chunk == [0xff] {
                conn.gap(dir, &mut c);
                continue;
            }
            conn.feed(dir, chunk, &mut c, &mut |e| match e {
                PipeEvent::Data { data, dir: d, .. } => {
                    assert!(d < 2);
                    pipe_bytes += data.len() as u64;
                }
                PipeEvent::Open { context, .. } => {
                    let tree = context.tree.unwrap_or_default();
                    assert!(tree.chars().count() <= MAX_NAME_LEN);
                    if let Some(u) = context.user {
                        assert!(u.user.chars().count() <= MAX_FIELD_CHARS);
                    }
                }
                _ => {}
            });
            assert!(
                conn.buffered() <= 2 * (4 + MAX_MESSAGE_LEN.max(PEEK_LEN)) + MAX_DEFERRED_BYTES
            );
        }
        if !fed {
            break;
        }
    }
    assert_eq!(pipe_bytes, c.pipe_bytes);
});

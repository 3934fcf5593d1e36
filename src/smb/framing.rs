//! Cuts one direction's byte stream into NBSS messages. Whole messages found in a delivered
//! chunk are handed out without copying; a message split across chunks is buffered, and only
//! the bytes it still needs are copied. Large messages are first offered by their opening
//! bytes so that a non-pipe READ/WRITE body can be skipped as it streams past.

use super::records::{self, NBSS_HEADER_LEN, NBSS_SESSION_MESSAGE, Protocol};
use super::{LARGE_MESSAGE_LEN, MAX_MESSAGE_LEN, PEEK_LEN, SmbCounters};

/// Zeek-visibility tag of a message: the Zeek sync epoch in force when its first byte
/// arrived, or None when Zeek was waiting to resync then.
pub type Tag = Option<u64>;

/// The consumer of the framed messages.
pub trait FrameSink {
    /// One whole session message (its payload, without the 4-byte NBSS header).
    fn message(&mut self, payload: &[u8], tag: Tag);
    /// A session message over [`LARGE_MESSAGE_LEN`] of which `prefix` (at least
    /// [`PEEK_LEN`] bytes) has arrived. Return true when the message has been dealt with from
    /// its prefix and the rest can be skipped unread; false to have it buffered whole.
    fn large(&mut self, prefix: &[u8], total: usize, tag: Tag) -> bool;
    /// An NBSS message other than a session message (session request/response, keepalive).
    fn control(&mut self, msg_type: u8);
    /// The stream stopped making sense here (a binpac exception for Zeek).
    fn framing_error(&mut self);
    fn counters(&mut self) -> &mut SmbCounters;
}

#[derive(Debug)]
enum Step {
    /// Need at least this many bytes of the message (header included) to go on.
    Need(usize),
    /// Consumed this many bytes; discard `skip` more.
    Done { consumed: usize, skip: usize },
    /// Not a message boundary.
    Bad,
}

/// Framer for one direction.
#[derive(Debug, Default)]
pub struct Framer {
    /// Start of a message that is not complete yet, or (hunting) the tail of the last chunk
    /// where a header might begin.
    buf: Vec<u8>,
    /// Bytes `buf` must reach before the message can be looked at again.
    need: usize,
    buf_tag: Tag,
    /// Bytes of the current message still to be discarded.
    skip: usize,
    /// Looking for the next plausible header (after a gap, garbage, or a mid-stream start).
    hunting: bool,
    started: bool,
    /// The large message being buffered was offered and must now be buffered whole.
    whole: bool,
}

/// Shortest session message for each protocol (header plus the smallest body).
fn min_len(p: Protocol) -> usize {
    match p {
        Protocol::Smb1 => records::SMB1_HEADER_LEN + 3,
        Protocol::Smb2 => records::SMB2_HEADER_LEN + 2,
        Protocol::Transform => records::TRANSFORM_HEADER_LEN,
        Protocol::Compressed => 16,
        Protocol::Other => usize::MAX,
    }
}

/// Could a session message start at `b[0]`? Looks at the first 8 bytes only, so that the
/// answer for a message start never changes as more of it arrives.
fn candidate(b: &[u8]) -> bool {
    if b.len() < 8 || b[0] != NBSS_SESSION_MESSAGE {
        return false;
    }
    let len = u32::from_be_bytes([0, b[1], b[2], b[3]]) as usize;
    let p = records::protocol(&b[4..]);
    if p == Protocol::Other || len < min_len(p) {
        return false;
    }
    true
}

/// Stricter test for resynchronisation inside arbitrary bytes: the SMB2 StructureSize must be
/// 64 too when those bytes are there.
fn resync_candidate(b: &[u8]) -> bool {
    candidate(b)
        && match (records::protocol(&b[4..]), b.get(8..10)) {
            (Protocol::Smb2, Some(ss)) => ss == [64, 0],
            _ => true,
        }
}

/// Does a direction's first chunk start at a message boundary?
fn plausible_start(b: &[u8]) -> bool {
    match records::nbss_header(b) {
        Ok((_, h)) if h.msg_type != NBSS_SESSION_MESSAGE => true,
        Ok(_) => b.len() < 8 || candidate(b),
        Err(_) => {
            b.len() < NBSS_HEADER_LEN
                && b.first()
                    .is_none_or(|&t| t == 0 || (0x81..=0x85).contains(&t))
        }
    }
}

impl Framer {
    pub fn new() -> Self {
        Framer::default()
    }

    /// Bytes held for a message that is not complete yet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes were lost: forget the partial message and hunt for the next header.
    pub fn gap(&mut self) {
        self.buf.clear();
        self.skip = 0;
        self.whole = false;
        self.hunting = true;
        self.started = true;
    }

    /// `len` bytes were lost. Inside a message being skipped nothing is lost that was
    /// needed: stay in step and return true. Otherwise the same as [`Framer::gap`].
    pub fn gap_len(&mut self, len: u64) -> bool {
        if self.skip > 0 && !self.hunting && len <= self.skip as u64 {
            self.skip -= len as usize;
            return true;
        }
        self.gap();
        false
    }

    pub fn feed(&mut self, data: &[u8], tag: Tag, sink: &mut dyn FrameSink) {
        if !self.started && !data.is_empty() {
            self.started = true;
            self.hunting = !plausible_start(data);
        }
        self.run(data, tag, sink);
    }

    fn run(&mut self, mut data: &[u8], tag: Tag, sink: &mut dyn FrameSink) {
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = &data[n..];
                continue;
            }
            if self.hunting {
                match self.hunt(data, sink) {
                    Some(used) => data = &data[used..],
                    None => return,
                }
                continue;
            }
            if self.buf.is_empty() {
                match self.decide(data, tag, sink) {
                    Step::Done { consumed, skip } => {
                        data = &data[consumed.min(data.len())..];
                        self.skip = skip;
                    }
                    Step::Need(n) => {
                        self.need = n;
                        self.buf_tag = tag;
                        self.buf.extend_from_slice(data);
                        return;
                    }
                    Step::Bad => self.bad(sink),
                }
                continue;
            }
            // Complete the buffered start of a message, copying only what it needs.
            let take = self.need.saturating_sub(self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() < self.need {
                return;
            }
            let buf = std::mem::take(&mut self.buf);
            match self.decide(&buf, self.buf_tag, sink) {
                Step::Done { consumed, skip } => {
                    self.skip = skip;
                    // `need` is exact except after a resync inside the buffered bytes,
                    // which can leave the start of the next message behind.
                    if let Some(rest) = buf.get(consumed..).filter(|r| !r.is_empty()) {
                        self.run(rest, self.buf_tag, sink);
                    }
                }
                Step::Need(n) => {
                    self.need = n;
                    self.buf = buf;
                }
                Step::Bad => {
                    self.bad(sink);
                    // Look for a header inside what was buffered (at most 8 bytes).
                    self.buf = buf.get(1..).unwrap_or_default().to_vec();
                }
            }
        }
    }

    fn bad(&mut self, sink: &mut dyn FrameSink) {
        sink.counters().smb_bad_messages += 1;
        sink.framing_error();
        self.hunting = true;
        self.whole = false;
    }

    /// Look at the start of a message (`v` may be incomplete).
    fn decide(&mut self, v: &[u8], tag: Tag, sink: &mut dyn FrameSink) -> Step {
        if v.len() < NBSS_HEADER_LEN {
            return Step::Need(NBSS_HEADER_LEN);
        }
        let Ok((_, h)) = records::nbss_header(v) else {
            return Step::Bad;
        };
        let total = NBSS_HEADER_LEN + h.length as usize;
        if h.msg_type != NBSS_SESSION_MESSAGE {
            sink.control(h.msg_type);
            let consumed = total.min(v.len());
            return Step::Done {
                consumed,
                skip: total - consumed,
            };
        }
        if v.len() < 8 {
            return Step::Need(8);
        }
        if !candidate(v) {
            return Step::Bad;
        }
        if v.len() >= total {
            self.whole = false;
            sink.message(&v[NBSS_HEADER_LEN..total], tag);
            return Step::Done {
                consumed: total,
                skip: 0,
            };
        }
        let len = h.length as usize;
        if len > LARGE_MESSAGE_LEN && !self.whole {
            let peek = NBSS_HEADER_LEN + PEEK_LEN;
            if v.len() < peek {
                return Step::Need(peek);
            }
            if sink.large(&v[NBSS_HEADER_LEN..], len, tag) {
                sink.counters().smb_streamed_skips += 1;
                return Step::Done {
                    consumed: v.len(),
                    skip: total - v.len(),
                };
            }
            if len > MAX_MESSAGE_LEN {
                sink.counters().smb_oversize += 1;
                return Step::Done {
                    consumed: v.len(),
                    skip: total - v.len(),
                };
            }
            self.whole = true;
        }
        Step::Need(total)
    }

    /// Hunting: find the next plausible session-message header in the tail kept from the
    /// last chunk followed by `data`. Returns how much of `data` was used up, or None when
    /// all of it was (the possible start of a header is kept as the new tail).
    fn hunt(&mut self, data: &[u8], sink: &mut dyn FrameSink) -> Option<usize> {
        let tail = std::mem::take(&mut self.buf);
        if !tail.is_empty() {
            // Headers that start in the tail: at most 7 + 8 bytes to look at.
            let mut joined = tail.clone();
            joined.extend_from_slice(&data[..data.len().min(10)]);
            for i in 0..tail.len() {
                if resync_candidate(&joined[i..]) {
                    self.found(sink);
                    self.buf = tail[i..].to_vec();
                    self.need = 8;
                    self.buf_tag = None;
                    return Some(0);
                }
            }
            if data.len() < 8 {
                // Not enough to decide for every start in the tail: keep the last 7 bytes.
                let keep = joined.len().saturating_sub(7);
                self.buf = keep_from_zero(&joined[keep..]);
                return None;
            }
        }
        let mut i = 0;
        while i + 8 <= data.len() {
            match data[i..].iter().position(|&b| b == NBSS_SESSION_MESSAGE) {
                Some(off) => i += off,
                None => return None,
            }
            if i + 8 > data.len() {
                break;
            }
            if resync_candidate(&data[i..]) {
                self.found(sink);
                return Some(i);
            }
            i += 1;
        }
        let keep = data.len().saturating_sub(7).max(i.min(data.len()));
        self.buf = keep_from_zero(&data[keep..]);
        None
    }

    fn found(&mut self, sink: &mut dyn FrameSink) {
        sink.counters().smb_resyncs += 1;
        self.hunting = false;
        self.whole = false;
    }
}

/// The part of a hunting tail that could still begin a header (from its first zero byte).
fn keep_from_zero(t: &[u8]) -> Vec<u8> {
    match t.iter().position(|&b| b == NBSS_SESSION_MESSAGE) {
        Some(p) => t[p..].to_vec(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::testutil::*;

    #[derive(Default)]
    struct Rec {
        msgs: Vec<Vec<u8>>,
        controls: Vec<u8>,
        larges: Vec<(usize, usize)>,
        skip_large: bool,
        errors: usize,
        c: SmbCounters,
    }

    impl FrameSink for Rec {
        fn message(&mut self, payload: &[u8], _tag: Tag) {
            self.msgs.push(payload.to_vec());
        }
        fn large(&mut self, prefix: &[u8], total: usize, _tag: Tag) -> bool {
            self.larges.push((prefix.len(), total));
            self.skip_large
        }
        fn control(&mut self, t: u8) {
            self.controls.push(t);
        }
        fn framing_error(&mut self) {
            self.errors += 1;
        }
        fn counters(&mut self) -> &mut SmbCounters {
            &mut self.c
        }
    }

    fn smb2_msg(n: usize) -> Vec<u8> {
        let mut body = vec![9, 0];
        body.extend(std::iter::repeat_n(n as u8, n));
        Smb2::new(13).build(&body)
    }

    fn run_cuts(stream: &[u8], cuts: &[usize]) -> Rec {
        let mut f = Framer::new();
        let mut r = Rec::default();
        let mut prev = 0;
        for &c in cuts.iter().chain(std::iter::once(&stream.len())) {
            f.feed(&stream[prev..c], Some(0), &mut r);
            prev = c;
        }
        r
    }

    #[test]
    fn every_two_cuts_give_the_same_messages() {
        let a = smb2_msg(3);
        let b = smb2_msg(10);
        let keepalive = vec![0x85, 0, 0, 0];
        let stream = [nbss(&a), keepalive, nbss(&b)].concat();
        for c1 in 0..=stream.len() {
            for c2 in c1..=stream.len() {
                let r = run_cuts(&stream, &[c1, c2]);
                assert_eq!(r.msgs, vec![a.clone(), b.clone()], "cuts {c1} {c2}");
                assert_eq!(r.controls, vec![0x85]);
                assert_eq!(r.c.smb_bad_messages, 0);
            }
        }
    }

    #[test]
    fn garbage_then_resync() {
        let a = smb2_msg(5);
        let mut stream = b"\x00\x01garbage\x00\x00".to_vec();
        stream.extend_from_slice(&nbss(&a));
        for cut in 0..=stream.len() {
            let r = run_cuts(&stream, &[cut]);
            assert_eq!(r.msgs, vec![a.clone()], "cut {cut}");
            assert_eq!(r.c.smb_resyncs, 1, "cut {cut}");
        }
    }

    #[test]
    fn bad_header_mid_stream_hunts() {
        let a = smb2_msg(5);
        let mut stream = nbss(&a);
        stream.extend_from_slice(b"\x00\x00\x00\x50XXXX"); // session message, not SMB
        stream.extend_from_slice(&nbss(&a));
        for cut in 0..=stream.len() {
            let r = run_cuts(&stream, &[cut]);
            assert_eq!(r.msgs, vec![a.clone(), a.clone()], "cut {cut}");
            assert_eq!(r.c.smb_bad_messages, 1);
            assert_eq!(r.errors, 1);
        }
    }

    #[test]
    fn gap_drops_partial_message() {
        let a = smb2_msg(20);
        let b = smb2_msg(4);
        let mut f = Framer::new();
        let mut r = Rec::default();
        let sa = nbss(&a);
        f.feed(&sa[..30], Some(0), &mut r);
        assert_eq!(f.buffered(), 30);
        f.gap();
        assert_eq!(f.buffered(), 0);
        let mut rest = sa[50..].to_vec();
        rest.extend_from_slice(&nbss(&b));
        f.feed(&rest, Some(0), &mut r);
        assert_eq!(r.msgs, vec![b]);
        assert_eq!(r.c.smb_resyncs, 1);
    }

    #[test]
    fn midstream_start_hunts() {
        let a = smb2_msg(5);
        let mut stream = vec![0x41; 13];
        stream.extend_from_slice(&nbss(&a));
        let r = run_cuts(&stream, &[]);
        assert_eq!(r.msgs, vec![a]);
        assert_eq!(
            r.c.smb_bad_messages, 0,
            "a mid-stream start is not an error"
        );
    }

    #[test]
    fn large_message_skipped_or_buffered() {
        let big = smb2_msg(LARGE_MESSAGE_LEN + 100);
        let small = smb2_msg(2);
        let stream = [nbss(&big), nbss(&small)].concat();
        let lens = |r: &Rec| r.msgs.iter().map(Vec::len).collect::<Vec<_>>();
        for cuts in [
            vec![10],
            vec![300],
            vec![1000, 60_000],
            vec![4 + PEEK_LEN],
            vec![4 + PEEK_LEN - 1],
        ] {
            let mut f = Framer::new();
            let mut r = Rec {
                skip_large: true,
                ..Default::default()
            };
            let mut prev = 0;
            for &c in cuts.iter().chain(std::iter::once(&stream.len())) {
                f.feed(&stream[prev..c], None, &mut r);
                prev = c;
                assert!(f.buffered() <= 4 + PEEK_LEN, "never buffered whole");
            }
            assert_eq!(lens(&r), vec![small.len()], "{cuts:?}");
            assert_eq!(r.larges.len(), 1);
            assert!(r.larges[0].0 >= PEEK_LEN);
            assert_eq!(r.larges[0].1, big.len());
            assert_eq!(r.c.smb_streamed_skips, 1);
            // Buffered whole when the sink says so.
            let r = run_cuts(&stream, &cuts);
            assert_eq!(lens(&r), vec![big.len(), small.len()], "{cuts:?}");
            assert!(r.msgs[0] == big);
            assert_eq!(r.larges.len(), 1);
        }
        // Whole in one chunk: handed out without copying, never offered.
        let mut f = Framer::new();
        let mut r = Rec {
            skip_large: true,
            ..Default::default()
        };
        f.feed(&stream, None, &mut r);
        assert_eq!(lens(&r), vec![big.len(), small.len()]);
        assert!(r.larges.is_empty());
    }

    #[test]
    fn gap_inside_skipped_message_keeps_step() {
        let big = smb2_msg(LARGE_MESSAGE_LEN + 100);
        let small = smb2_msg(2);
        let sb = nbss(&big);
        let mut f = Framer::new();
        let mut r = Rec {
            skip_large: true,
            ..Default::default()
        };
        f.feed(&sb[..1000], None, &mut r);
        assert!(f.gap_len(2000));
        let mut rest = sb[3000..].to_vec();
        rest.extend_from_slice(&nbss(&small));
        f.feed(&rest, None, &mut r);
        assert_eq!(r.msgs, vec![small]);
        assert_eq!(r.c.smb_resyncs, 0);
        // A gap longer than what is left to skip is a real gap.
        assert!(!f.gap_len(1));
    }

    #[test]
    fn oversize_is_counted_and_skipped() {
        // Declared length over the limit, not skippable by the sink: discarded by length.
        let len = MAX_MESSAGE_LEN + 1;
        let mut head = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        head.extend_from_slice(&Smb2::new(13).build(&[9, 0]));
        head.resize(4 + PEEK_LEN, 0);
        let mut f = Framer::new();
        let mut r = Rec::default();
        f.feed(&head, None, &mut r);
        assert_eq!(r.c.smb_oversize, 1);
        let remaining = 4 + len - head.len();
        f.feed(&vec![0u8; remaining], None, &mut r);
        let small = smb2_msg(2);
        f.feed(&nbss(&small), None, &mut r);
        assert_eq!(r.msgs, vec![small]);
        assert_eq!(r.c.smb_resyncs, 0);
    }

    #[test]
    fn framing_decision_does_not_change_as_bytes_arrive() {
        // A large message with a bad SMB2 StructureSize: framed by its NBSS length (the
        // SMB layer rejects it), whatever the cuts; found again after garbage only when it is
        // a plausible header.
        let mut bad = smb2_msg(LARGE_MESSAGE_LEN + 10);
        bad[4] = 0x41;
        let small = smb2_msg(2);
        let stream = [nbss(&bad), nbss(&small)].concat();
        for cuts in [vec![6], vec![8, 9], vec![9, 300], vec![100]] {
            let r = run_cuts(&stream, &cuts);
            assert_eq!(r.msgs.len(), 2, "{cuts:?}");
            assert!(r.msgs[1] == small);
            assert_eq!(r.c.smb_bad_messages, 0);
        }
        let mut garbage = b"xx".to_vec();
        garbage.extend_from_slice(&stream);
        let r = run_cuts(&garbage, &[5]);
        assert_eq!(r.msgs.len(), 1, "the bad header is not a resync point");
        assert!(r.msgs[0] == small);
    }

    #[test]
    fn control_messages_are_skipped() {
        let mut req = vec![0x81, 0, 0, 68];
        req.extend_from_slice(&[0x20; 68]);
        let a = smb2_msg(1);
        let stream = [req, vec![0x82, 0, 0, 0], nbss(&a)].concat();
        for cut in 0..=stream.len() {
            let r = run_cuts(&stream, &[cut]);
            assert_eq!(r.controls, vec![0x81, 0x82]);
            assert_eq!(r.msgs, vec![a.clone()]);
        }
    }
}

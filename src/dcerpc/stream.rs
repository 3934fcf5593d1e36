//! Cuts one direction's byte stream into whole PDUs. Whole PDUs found in a delivered
//! chunk are handed out without copying; only a PDU split across chunks is buffered.

use super::pdu::{self, HEADER_LEN};
use crate::stats::Counters;

/// How to recover when the stream stops making sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Scan forward for the next plausible PDU header (the accurate path).
    Scan,
    /// Drop what is buffered and try again at the start of the next chunk (binpac's way,
    /// used by the Zeek emulation).
    NextChunk,
}

/// PDU framer for one direction.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    /// Looking for a header after a gap or garbage.
    hunting: bool,
    recovery: Recovery,
}

impl Framer {
    pub fn new(recovery: Recovery) -> Self {
        Framer {
            buf: Vec::new(),
            hunting: false,
            recovery,
        }
    }

    /// Bytes held for a PDU that is not complete yet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes were lost: forget the partial PDU and look for the next header.
    pub fn gap(&mut self) {
        self.buf.clear();
        self.hunting = true;
    }

    /// End of the stream: a PDU still incomplete here was cut off (its declared length
    /// never arrived). Counted, never silently dropped.
    pub fn finish(&mut self, counters: &mut Counters) {
        if !self.buf.is_empty() {
            counters.dcerpc_truncated_pdus += 1;
            self.buf.clear();
        }
    }

    /// Start in hunting mode (capture began mid-stream).
    pub fn hunt(&mut self) {
        self.hunting = true;
    }

    /// Feed bytes; `out` receives each complete PDU (exactly `frag_len` bytes).
    pub fn feed(&mut self, data: &[u8], counters: &mut Counters, out: &mut dyn FnMut(&[u8])) {
        if self.buf.is_empty() {
            let used = self.run(data, counters, out);
            self.keep(&data[used..]);
            return;
        }
        // Complete the buffered PDU first, copying only what it needs.
        let need = self.need();
        match need {
            Some(total) if total <= self.buf.len() + data.len() => {
                let take = total - self.buf.len();
                self.buf.extend_from_slice(&data[..take]);
                let pdu = std::mem::take(&mut self.buf);
                self.emit(&pdu, counters, out);
                let rest = &data[take..];
                let used = self.run(rest, counters, out);
                self.keep(&rest[used..]);
            }
            Some(_) => self.buf.extend_from_slice(data),
            None => {
                // Header not complete yet: join and retry.
                let mut joined = std::mem::take(&mut self.buf);
                joined.extend_from_slice(data);
                let used = self.run(&joined, counters, out);
                self.keep(&joined[used..]);
            }
        }
    }

    fn keep(&mut self, rest: &[u8]) {
        self.buf.clear();
        if !rest.is_empty() {
            self.buf.extend_from_slice(rest);
        }
    }

    /// Total length of the buffered PDU, when its header is complete and sane.
    fn need(&self) -> Option<usize> {
        if self.buf.len() < HEADER_LEN {
            return None;
        }
        pdu::plausible_header(&self.buf).map(|h| h.frag_len as usize)
    }

    fn emit(&mut self, pdu: &[u8], counters: &mut Counters, out: &mut dyn FnMut(&[u8])) {
        counters.dcerpc_pdus += 1;
        out(pdu);
    }

    /// Emit every whole PDU in `data`; return how many bytes were consumed.
    fn run(&mut self, data: &[u8], counters: &mut Counters, out: &mut dyn FnMut(&[u8])) -> usize {
        let mut pos = 0;
        while pos < data.len() {
            let rest = &data[pos..];
            if self.hunting {
                match find_header(rest) {
                    Some(off) => {
                        counters.dcerpc_resyncs += 1;
                        self.hunting = false;
                        pos += off;
                        continue;
                    }
                    None => {
                        // Keep a short tail: a header may straddle the chunk boundary.
                        let keep = rest.len().min(HEADER_LEN - 1);
                        return data.len() - keep;
                    }
                }
            }
            if rest.len() < HEADER_LEN {
                return pos;
            }
            let Some(h) = pdu::plausible_header(rest) else {
                counters.dcerpc_bad_pdus += 1;
                match self.recovery {
                    Recovery::Scan => {
                        self.hunting = true;
                        pos += 1;
                        continue;
                    }
                    Recovery::NextChunk => return data.len(),
                }
            };
            let len = h.frag_len as usize;
            if rest.len() < len {
                return pos;
            }
            self.emit(&rest[..len], counters, out);
            pos += len;
        }
        pos
    }
}

/// Offset of the first plausible PDU header in `b`.
pub fn find_header(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 2 <= b.len() {
        let off = b[i..].iter().position(|&x| x == 5)?;
        i += off;
        if b.len() - i < HEADER_LEN {
            // Might be a header cut by the chunk end: only accept if the visible prefix fits.
            return None;
        }
        if pdu::plausible_header(&b[i..]).is_some() {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dcerpc::pdu::REQUEST;
    use crate::dcerpc::pdu::tests::{build, request_body};

    fn collect(f: &mut Framer, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut c = Counters::default();
        let mut v = Vec::new();
        for ch in chunks {
            f.feed(ch, &mut c, &mut |p| v.push(p.to_vec()));
        }
        v
    }

    #[test]
    fn any_segmentation_gives_same_pdus() {
        let a = build(
            REQUEST,
            3,
            true,
            1,
            &request_body(true, 0, 1, b"hello"),
            None,
        );
        let b = build(
            REQUEST,
            3,
            true,
            2,
            &request_body(true, 0, 2, b"world!!"),
            None,
        );
        let stream: Vec<u8> = [a.clone(), b.clone()].concat();
        for cut1 in 0..stream.len() {
            for cut2 in cut1..stream.len() {
                let mut f = Framer::new(Recovery::Scan);
                let got = collect(
                    &mut f,
                    &[&stream[..cut1], &stream[cut1..cut2], &stream[cut2..]],
                );
                assert_eq!(got, vec![a.clone(), b.clone()], "cuts {cut1} {cut2}");
            }
        }
    }

    #[test]
    fn resync_after_gap() {
        let a = build(
            REQUEST,
            3,
            true,
            1,
            &request_body(true, 0, 1, b"hello"),
            None,
        );
        let b = build(
            REQUEST,
            3,
            true,
            2,
            &request_body(true, 0, 2, b"world"),
            None,
        );
        let mut f = Framer::new(Recovery::Scan);
        let mut c = Counters::default();
        let mut v = Vec::new();
        f.feed(&a[..10], &mut c, &mut |p| v.push(p.to_vec()));
        f.gap();
        let mut tail = a[20..].to_vec();
        tail.extend_from_slice(&b);
        f.feed(&tail, &mut c, &mut |p| v.push(p.to_vec()));
        assert_eq!(v, vec![b]);
        assert_eq!(c.dcerpc_resyncs, 1);
    }

    #[test]
    fn garbage_between_pdus_is_skipped() {
        let a = build(REQUEST, 3, true, 1, &request_body(true, 0, 1, b"x"), None);
        let mut s = b"garbage!".to_vec();
        s.extend_from_slice(&a);
        let mut f = Framer::new(Recovery::Scan);
        assert_eq!(collect(&mut f, &[&s]), vec![a.clone()]);
        let mut z = Framer::new(Recovery::NextChunk);
        assert_eq!(collect(&mut z, &[&s, &a]), vec![a]);
    }

    #[test]
    fn a_pdu_cut_off_at_stream_end_is_counted() {
        let p = build(
            REQUEST,
            3,
            true,
            1,
            &request_body(true, 0, 1, &[0; 40]),
            None,
        );
        let mut f = Framer::new(Recovery::Scan);
        let mut c = Counters::default();
        let mut n = 0;
        f.feed(&p, &mut c, &mut |_| n += 1);
        f.feed(&p[..30], &mut c, &mut |_| n += 1);
        assert_eq!(n, 1);
        f.finish(&mut c);
        assert_eq!(c.dcerpc_truncated_pdus, 1);
        // Nothing buffered: nothing to count.
        f.finish(&mut c);
        assert_eq!(c.dcerpc_truncated_pdus, 1);
    }
}

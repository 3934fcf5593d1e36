//! The flow table: TCP connections keyed by their 4-tuple, each with two reassembled
//! directions and a slot for whatever protocol state the caller attaches.

use super::tcp::{HalfLimits, HalfStream, StreamEvent};
use crate::FastMap;
use crate::capture::{TcpSegment, Timestamp};
use crate::stats::Counters;
use std::net::IpAddr;

/// Direction-independent connection key (lower endpoint first).
#[derive(Debug, Clone, Copy)]
pub struct ConnKey {
    pub a: (IpAddr, u16),
    pub b: (IpAddr, u16),
    /// `a` and `b` as fixed-size words (addresses, then ports and address families): the
    /// key is hashed and compared once or twice per packet, and comparing two `IpAddr`
    /// enums field by field costs several times more.
    words: (u128, u128, u64),
}

impl ConnKey {
    pub fn new(x: (IpAddr, u16), y: (IpAddr, u16)) -> Self {
        let (a, b) = if x <= y { (x, y) } else { (y, x) };
        fn bits(ip: IpAddr) -> (u128, u64) {
            match ip {
                IpAddr::V4(v) => (u128::from(u32::from(v)), 0),
                IpAddr::V6(v) => (u128::from(v), 1),
            }
        }
        let (wa, fa) = bits(a.0);
        let (wb, fb) = bits(b.0);
        let tail = u64::from(a.1) << 32 | u64::from(b.1) << 16 | fa << 1 | fb;
        ConnKey {
            a,
            b,
            words: (wa, wb, tail),
        }
    }
}

// Equality, hash and order all follow (a, b): `words` encodes exactly that pair.
impl PartialEq for ConnKey {
    fn eq(&self, o: &Self) -> bool {
        self.words == o.words
    }
}
impl Eq for ConnKey {}

impl std::hash::Hash for ConnKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(self.words.0);
        state.write_u128(self.words.1);
        state.write_u64(self.words.2);
    }
}

impl PartialOrd for ConnKey {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for ConnKey {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.a, self.b).cmp(&(o.a, o.b))
    }
}

/// Limits of the flow table; every one has a counter in [`Counters`].
#[derive(Debug, Clone, Copy)]
pub struct FlowLimits {
    pub half: HalfLimits,
    /// Concurrent connections; past it the least recently active ones are evicted.
    pub max_flows: usize,
    /// Out-of-order bytes buffered across all connections.
    pub max_reassembly_bytes: usize,
    /// A connection idle this long (packet time) is closed.
    pub idle_timeout_secs: i64,
    /// When an ACK for bytes never seen declares them lost: `None` never (only the
    /// out-of-order limits and the end of stream do), `Some(0)` at once (Zeek's rule, for
    /// `--zeek-compat`), `Some(n)` once `n` more segments of the connection have passed
    /// without the bytes turning up (the accurate mode: tolerant of capture reordering,
    /// yet the data after a lost segment is delivered in step with the other direction).
    pub ack_gap_after: Option<u8>,
}

/// Segments the accurate mode waits, after an ACK for unseen bytes, before calling them
/// lost: mirrored captures reorder by a few packets at most.
pub const ACK_GAP_GRACE: u8 = 8;

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            half: HalfLimits::default(),
            max_flows: 1_000_000,
            max_reassembly_bytes: 512 << 20,
            idle_timeout_secs: 3600,
            ack_gap_after: Some(ACK_GAP_GRACE),
        }
    }
}

/// Connection facts the protocol layer may need.
#[derive(Debug, Clone)]
pub struct ConnMeta {
    /// Originator as Zeek would name it (first packet's sender, flipped by Zeek's
    /// likely-server-port heuristic for partial connections).
    pub orig: (IpAddr, u16),
    pub resp: (IpAddr, u16),
    /// The ordinal of the connection's first packet in its input (the packet's frame
    /// number, with the file's rank among rotated files in the high bits): stable, and the
    /// same whichever engine or worker decodes the connection, for uids and sorting.
    pub seq: u64,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// The three-way handshake's SYN was seen.
    pub syn_seen: bool,
}

/// What the table tells the connection's consumer. `dir` is 0 for orig→resp, 1 for resp→orig.
#[derive(Debug)]
pub enum FlowEvent<'a> {
    Data {
        dir: usize,
        ts: Timestamp,
        data: &'a [u8],
    },
    Gap {
        dir: usize,
        ts: Timestamp,
        len: u64,
    },
    /// The connection ended (FIN both ways, RST, idle timeout, eviction or end of input).
    Close {
        ts: Timestamp,
    },
}

/// Segments a table processes between two idle sweeps. Sweeps only reclaim memory:
/// a connection idle past the timeout is also closed when its next segment arrives, so
/// results do not depend on when (or whether) a sweep runs.
pub const SWEEP_EVERY: u32 = 65536;

/// Application state attached to a connection.
pub trait FlowApp {
    /// Handle one event. Returning false tells the table to stop reassembling this
    /// connection's payload (the cheap "not interesting" decision).
    fn event(&mut self, meta: &ConnMeta, ev: FlowEvent<'_>) -> bool;
}

struct Conn<A> {
    meta: ConnMeta,
    halves: [HalfStream; 2],
    fin: [bool; 2],
    /// Per direction: an ACK from the peer for bytes not seen yet, and how many more
    /// segments to wait before declaring them lost (see [`FlowLimits::ack_gap_after`]).
    ack_wait: [Option<(u32, u8)>; 2],
    closed: bool,
    ignored: bool,
    app: A,
}

/// Ports that Zeek's default scripts register analyzers for; Zeek uses them to guess the
/// responder of a connection whose start it did not see.
pub fn zeek_likely_server_port(port: u16) -> bool {
    matches!(
        port,
        21 | 22
            | 23
            | 25
            | 53
            | 80
            | 81
            | 88
            | 102
            | 110
            | 111
            | 135
            | 137
            | 139
            | 143
            | 161
            | 162
            | 389
            | 443
            | 445
            | 465
            | 502
            | 514
            | 563
            | 585
            | 587
            | 614
            | 636
            | 989
            | 990
            | 992
            | 993
            | 995
            | 1080
            | 1194
            | 1812
            | 1813
            | 1883
            | 2123
            | 2152
            | 3128
            | 3268
            | 3269
            | 3306
            | 3389
            | 3544
            | 4789
            | 5060
            | 5061
            | 5072
            | 5223
            | 5353
            | 5355
            | 5432
            | 5900
            | 6379
            | 6666
            | 6667
            | 6668
            | 6669
            | 8000
            | 8080
            | 8443
            | 8888
            | 9200
            | 20000
    )
}

/// One segment of a known connection: reassembly, ACK-gap bookkeeping, delivery to the app.
/// Returns whether the connection is over (RST, or FIN both ways); `None` for a connection
/// already closed, whose stray packets are absorbed.
fn segment<A: FlowApp>(
    c: &mut Conn<A>,
    seg: &TcpSegment<'_>,
    src: (IpAddr, u16),
    limits: &FlowLimits,
    ooo_total: &mut usize,
    counters: &mut Counters,
) -> Option<bool> {
    if c.closed {
        return None;
    }
    c.meta.last_ts = c.meta.last_ts.max(seg.ts);
    let dir = if src == c.meta.orig { 0 } else { 1 };
    if seg.flags.syn() {
        c.halves[dir].set_isn(seg.seq);
        if !seg.flags.ack() && dir == 0 {
            c.meta.syn_seen = true;
        }
    }
    let seq = if seg.flags.syn() {
        seg.seq.wrapping_add(1)
    } else {
        seg.seq
    };
    if let Some(grace) = limits.ack_gap_after
        && !c.ignored
    {
        let other = 1 - dir;
        // Waits already running count this segment; an expired one fires.
        for h in 0..2 {
            let fire = match &mut c.ack_wait[h] {
                Some((ack, left)) if *left == 0 => Some(*ack),
                Some((_, left)) => {
                    *left -= 1;
                    None
                }
                None => None,
            };
            if let Some(ack) = fire {
                c.ack_wait[h] = None;
                *ooo_total = ack_gap(c, h, seg.ts, ack, *ooo_total, counters);
            }
        }
        if seg.flags.ack() && c.ack_wait[other].is_none() && c.halves[other].acks_unseen(seg.ack) {
            if grace == 0 {
                *ooo_total = ack_gap(c, other, seg.ts, seg.ack, *ooo_total, counters);
            } else {
                c.ack_wait[other] = Some((seg.ack, grace));
            }
        }
    }
    let before = c.halves[dir].buffered();
    if !c.ignored {
        let Conn {
            meta,
            halves,
            app,
            ignored,
            ..
        } = c;
        let mut keep = true;
        halves[dir].push(
            seg.ts,
            seq,
            seg.payload,
            seg.flags.fin(),
            &limits.half,
            counters,
            &mut |ev| {
                if keep {
                    keep = app.event(meta, to_flow_event(dir, ev));
                }
            },
        );
        if !keep {
            *ignored = true;
        }
    }
    let after = c.halves[dir].buffered();
    *ooo_total = (*ooo_total + after).saturating_sub(before);
    if seg.flags.fin() {
        c.fin[dir] = true;
    }
    Some(seg.flags.rst() || (c.fin[0] && c.fin[1]))
}

/// Apply an ACK for unseen bytes to direction `h` of `c` (gaps, then delivery); returns
/// the updated total of buffered out-of-order bytes.
fn ack_gap<A: FlowApp>(
    c: &mut Conn<A>,
    h: usize,
    ts: Timestamp,
    ack: u32,
    ooo_total: usize,
    counters: &mut Counters,
) -> usize {
    let before = c.halves[h].buffered();
    let Conn {
        meta,
        halves,
        app,
        ignored,
        ..
    } = c;
    let mut keep = true;
    halves[h].ack_received(ts, ack, counters, &mut |ev| {
        if keep {
            keep = app.event(meta, to_flow_event(h, ev));
        }
    });
    if !keep {
        *ignored = true;
    }
    let after = c.halves[h].buffered();
    (ooo_total + after).saturating_sub(before)
}

pub struct FlowTable<A, F: FnMut(&ConnMeta) -> A> {
    /// Boxed: the map's slots stay small (a rehash moves 48 bytes per connection, and the
    /// map's spare capacity costs that much, not a whole connection state).
    conns: FastMap<ConnKey, Box<Conn<A>>>,
    limits: FlowLimits,
    make_app: F,
    /// Segments processed (the ordinal [`FlowTable::process`] gives a new connection).
    segments: u64,
    since_sweep: u32,
    ooo_total: usize,
    /// Latest packet time this table has seen.
    now: Timestamp,
    likely_server_port: fn(u16) -> bool,
    /// Connections that ended with FIN or RST, and when: a bare ACK or FIN arriving after
    /// the end (the last ACK of the close handshake) belongs to them and must not open a
    /// new connection. Bounded by [`MAX_TOMBSTONES`]; forgotten after [`TOMBSTONE_SECS`].
    tombstones: FastMap<ConnKey, Timestamp>,
}

/// How long (packet time) a closed connection still absorbs its stray ACKs; Zeek keeps
/// closed connections for `tcp_close_delay`, 5 s.
const TOMBSTONE_SECS: i64 = 5;
/// Closed connections remembered at once; past it the memory is cleared.
const MAX_TOMBSTONES: usize = 65536;

impl<A: FlowApp, F: FnMut(&ConnMeta) -> A> FlowTable<A, F> {
    pub fn new(limits: FlowLimits, likely_server_port: fn(u16) -> bool, make_app: F) -> Self {
        FlowTable {
            conns: FastMap::default(),
            limits,
            make_app,
            segments: 0,
            since_sweep: 0,
            ooo_total: 0,
            now: Timestamp::default(),
            likely_server_port,
            tombstones: FastMap::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Feed one TCP segment; a new connection is numbered by the segment's rank among
    /// those this table has processed.
    pub fn process(&mut self, seg: &TcpSegment<'_>, counters: &mut Counters) {
        self.process_at(seg, self.segments + 1, counters);
    }

    /// Feed one TCP segment whose packet has ordinal `ordinal` in its input (see
    /// [`ConnMeta::seq`]).
    pub fn process_at(&mut self, seg: &TcpSegment<'_>, ordinal: u64, counters: &mut Counters) {
        self.segments += 1;
        self.now = self.now.max(seg.ts);
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY {
            self.since_sweep = 0;
            self.sweep_idle(counters);
        }
        let src = (seg.src, seg.sport);
        let dst = (seg.dst, seg.dport);
        let key = ConnKey::new(src, dst);
        let pure_syn = seg.flags.syn() && !seg.flags.ack();

        // Port reuse: a fresh SYN on a closed connection, or on one whose client ISN differs.
        // Only a pure SYN can start one, so other segments skip this lookup.
        if pure_syn
            && self.conns.get(&key).is_some_and(|c| {
                c.closed || c.fin[0] || c.fin[1] || {
                    let dir = if src == c.meta.orig { 0 } else { 1 };
                    c.halves[dir].started() && c.halves[dir].delivered > 0
                }
            })
        {
            self.finish(&key, seg.ts, counters);
        }
        // One hash lookup for a known connection (nearly every packet). A connection idle
        // past the timeout ends first; this segment then starts a new one.
        let idle = self.limits.idle_timeout_secs;
        let mut stale = None;
        let known = match self.conns.get_mut(&key) {
            Some(c) if seg.ts.secs - c.meta.last_ts.secs > idle => {
                stale = Some(c.meta.last_ts);
                None
            }
            Some(c) => Some(segment(
                &mut **c,
                seg,
                src,
                &self.limits,
                &mut self.ooo_total,
                counters,
            )),
            None => None,
        };
        if let Some(ts) = stale {
            self.finish(&key, ts, counters);
        }
        let outcome = match known {
            Some(outcome) => outcome,
            None => {
                if let Some(&closed_at) = self.tombstones.get(&key) {
                    if seg.ts.secs - closed_at.secs <= TOMBSTONE_SECS && !seg.flags.syn() {
                        if seg.payload.is_empty() {
                            return;
                        }
                    } else {
                        self.tombstones.remove(&key);
                    }
                }
                if self.conns.len() >= self.limits.max_flows {
                    self.evict_oldest(counters);
                }
                let (orig, resp) = if self.flip_roles(seg) {
                    (dst, src)
                } else {
                    (src, dst)
                };
                let meta = ConnMeta {
                    orig,
                    resp,
                    seq: ordinal,
                    first_ts: seg.ts,
                    last_ts: seg.ts,
                    syn_seen: pure_syn,
                };
                counters.tcp_connections += 1;
                let app = (self.make_app)(&meta);
                let c = self.conns.entry(key).insert_entry(Box::new(Conn {
                    meta,
                    halves: [HalfStream::new(), HalfStream::new()],
                    fin: [false; 2],
                    ack_wait: [None; 2],
                    closed: false,
                    ignored: false,
                    app,
                }));
                segment(
                    &mut **c.into_mut(),
                    seg,
                    src,
                    &self.limits,
                    &mut self.ooo_total,
                    counters,
                )
            }
        };
        let Some(done) = outcome else {
            return;
        };
        if self.ooo_total > self.limits.max_reassembly_bytes {
            counters.tcp_memory_limit += 1;
            self.flush_conn(&key, counters);
        }
        if done {
            self.finish(&key, seg.ts, counters);
            if self.tombstones.len() >= MAX_TOMBSTONES {
                self.tombstones.clear();
            }
            self.tombstones.insert(key, seg.ts);
        }
    }

    /// Zeek's responder guess for a connection whose first packet is not a pure SYN.
    fn flip_roles(&self, seg: &TcpSegment<'_>) -> bool {
        let f = seg.flags;
        if f.syn() && !f.ack() {
            return false;
        }
        let likely = self.likely_server_port;
        if likely(seg.sport) {
            if likely(seg.dport) {
                !f.syn() && seg.sport < seg.dport
            } else {
                true
            }
        } else {
            false
        }
    }

    fn flush_conn(&mut self, key: &ConnKey, counters: &mut Counters) {
        let Some(c) = self.conns.get_mut(key) else {
            return;
        };
        // The connection's own latest time: the same whichever other connections share
        // this table.
        let now = c.meta.last_ts;
        let Conn {
            meta,
            halves,
            app,
            ignored,
            ..
        } = &mut **c;
        for (dir, h) in halves.iter_mut().enumerate() {
            let b = h.buffered();
            let ign = *ignored;
            h.flush(now, counters, &mut |ev| {
                if !ign {
                    app.event(meta, to_flow_event(dir, ev));
                }
            });
            self.ooo_total = self.ooo_total.saturating_sub(b);
        }
    }

    /// End a connection: flush both directions, tell the app, forget it.
    fn finish(&mut self, key: &ConnKey, ts: Timestamp, counters: &mut Counters) {
        self.flush_conn(key, counters);
        if let Some(mut c) = self.conns.remove(key) {
            let ts = ts.max(c.meta.last_ts);
            c.app.event(&c.meta, FlowEvent::Close { ts });
        }
    }

    /// Close the connections idle for longer than the idle timeout, and forget old
    /// tombstones (memory only: see [`SWEEP_EVERY`]).
    fn sweep_idle(&mut self, counters: &mut Counters) {
        let now = self.now.secs;
        self.tombstones
            .retain(|_, t| now - t.secs <= TOMBSTONE_SECS);
        let limit = self.now.secs - self.limits.idle_timeout_secs;
        let idle: Vec<ConnKey> = self
            .conns
            .iter()
            .filter(|(_, c)| c.meta.last_ts.secs < limit)
            .map(|(k, _)| *k)
            .collect();
        for k in idle {
            let ts = self
                .conns
                .get(&k)
                .map(|c| c.meta.last_ts)
                .unwrap_or(self.now);
            self.finish(&k, ts, counters);
        }
    }

    fn evict_oldest(&mut self, counters: &mut Counters) {
        counters.tcp_flow_limit += self.close_least_active(counters);
    }

    /// Close the least recently active tenth of the connections (at least one), e.g. to
    /// bring memory the consumers hold back under a cap; returns how many were closed.
    pub fn close_least_active(&mut self, counters: &mut Counters) -> u64 {
        let mut all: Vec<(Timestamp, u64, ConnKey)> = self
            .conns
            .iter()
            .map(|(k, c)| (c.meta.last_ts, c.meta.seq, *k))
            .collect();
        all.sort_unstable();
        let n = if all.is_empty() {
            0
        } else {
            (all.len() / 10).max(1)
        };
        for (ts, _, k) in all.into_iter().take(n) {
            self.finish(&k, ts, counters);
        }
        n as u64
    }

    /// End of input: close every connection, in creation order for determinism.
    pub fn finish_all(&mut self, counters: &mut Counters) {
        let mut all: Vec<(u64, ConnKey)> =
            self.conns.iter().map(|(k, c)| (c.meta.seq, *k)).collect();
        all.sort_unstable();
        for (_, k) in all {
            let ts = self
                .conns
                .get(&k)
                .map(|c| c.meta.last_ts)
                .unwrap_or(self.now);
            self.finish(&k, ts, counters);
        }
    }
}

fn to_flow_event(dir: usize, ev: StreamEvent<'_>) -> FlowEvent<'_> {
    match ev {
        StreamEvent::Data(ts, data) => FlowEvent::Data { dir, ts, data },
        StreamEvent::Gap(ts, len) => FlowEvent::Gap { dir, ts, len },
    }
}

#[cfg(test)]
mod key_tests {
    use super::ConnKey;
    use proptest::prelude::*;
    use std::hash::BuildHasher;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    fn addr() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            (0u32..4).prop_map(|v| IpAddr::V4(Ipv4Addr::from(v))),
            (0u128..4).prop_map(|v| IpAddr::V6(Ipv6Addr::from(v))),
            // The IPv4-mapped forms of the same small addresses.
            (0u32..4).prop_map(|v| IpAddr::V6(Ipv4Addr::from(v).to_ipv6_mapped())),
        ]
    }

    proptest! {
        /// The packed words compare, hash and order exactly like the endpoint pair.
        #[test]
        fn packed_key_agrees_with_the_pair(
            x in (addr(), 0u16..3), y in (addr(), 0u16..3),
            p in (addr(), 0u16..3), q in (addr(), 0u16..3),
        ) {
            let (k1, k2) = (ConnKey::new(x, y), ConnKey::new(p, q));
            let pair = |k: &ConnKey| (k.a, k.b);
            prop_assert_eq!(k1 == k2, pair(&k1) == pair(&k2));
            prop_assert_eq!(k1.cmp(&k2), pair(&k1).cmp(&pair(&k2)));
            prop_assert_eq!(ConnKey::new(y, x), k1);
            if k1 == k2 {
                let s = foldhash::fast::FixedState::with_seed(7);
                prop_assert_eq!(s.hash_one(k1), s.hash_one(k2));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::decode::TcpFlags;
    use std::cell::RefCell;
    use std::net::{IpAddr, Ipv4Addr};
    use std::rc::Rc;

    type Events = Rc<RefCell<Vec<String>>>;

    /// Records every event as text: `<client port> D<dir>:<bytes>`, `G<dir>:<len>`, `C`.
    struct Log(Events);

    impl FlowApp for Log {
        fn event(&mut self, meta: &ConnMeta, ev: FlowEvent<'_>) -> bool {
            let line = match ev {
                FlowEvent::Data { dir, data, .. } => {
                    format!("{} D{dir}:{}", meta.orig.1, String::from_utf8_lossy(data))
                }
                FlowEvent::Gap { dir, len, .. } => format!("{} G{dir}:{len}", meta.orig.1),
                FlowEvent::Close { .. } => format!("{} C", meta.orig.1),
            };
            self.0.borrow_mut().push(line);
            true
        }
    }

    fn seg(sport: u16, t: i64, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> TcpSegment<'_> {
        let (a, b) = (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        );
        // Port 445 is the server; its packets go back to client port 1001.
        let (src, dst, sp, dp) = if sport == 445 {
            (b, a, 445, 1001)
        } else {
            (a, b, sport, 445)
        };
        TcpSegment {
            ts: Timestamp::new(t, 0),
            src,
            dst,
            sport: sp,
            dport: dp,
            seq,
            ack,
            flags: TcpFlags(flags),
            payload,
            wire_payload_len: payload.len() as u32,
        }
    }

    fn table(limits: FlowLimits) -> (FlowTable<Log, impl FnMut(&ConnMeta) -> Log>, Events) {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        let t = FlowTable::new(limits, zeek_likely_server_port, move |_m: &ConnMeta| {
            Log(l.clone())
        });
        (t, log)
    }

    const ACK: u8 = TcpFlags::ACK;

    #[test]
    fn flow_limit_evicts_the_least_recently_active() {
        let limits = FlowLimits {
            max_flows: 3,
            ..FlowLimits::default()
        };
        let (mut t, log) = table(limits);
        let mut c = Counters::default();
        for (i, port) in [1001u16, 1002, 1003, 1004].iter().enumerate() {
            t.process(&seg(*port, i as i64, 100, 0, ACK, b"x"), &mut c);
        }
        assert_eq!(c.tcp_flow_limit, 1);
        assert_eq!(c.tcp_connections, 4);
        assert_eq!(t.len(), 3);
        // The oldest connection (1001) was closed to make room, its data delivered first.
        assert_eq!(log.borrow()[..2], ["1001 D0:x", "1002 D0:x"]);
        assert!(log.borrow().contains(&"1001 C".to_string()));
        assert!(!log.borrow().contains(&"1002 C".to_string()));
    }

    #[test]
    fn memory_limit_flushes_buffered_data_with_a_gap() {
        let limits = FlowLimits {
            max_reassembly_bytes: 8,
            ..FlowLimits::default()
        };
        let (mut t, log) = table(limits);
        let mut c = Counters::default();
        t.process(&seg(1001, 0, 100, 0, ACK, b"ab"), &mut c);
        // 102..104 lost; 5 then 5 more bytes wait behind the hole: over the 8-byte cap.
        t.process(&seg(1001, 1, 104, 0, ACK, b"efghi"), &mut c);
        assert_eq!(c.tcp_memory_limit, 0);
        t.process(&seg(1001, 2, 109, 0, ACK, b"jklmn"), &mut c);
        assert_eq!(c.tcp_memory_limit, 1);
        assert_eq!(
            *log.borrow(),
            ["1001 D0:ab", "1001 G0:2", "1001 D0:efghi", "1001 D0:jklmn"]
        );
        assert_eq!((c.tcp_gaps, c.tcp_gap_bytes), (1, 2));
    }

    #[test]
    fn ack_gaps_only_when_asked() {
        for ack_gaps in [false, true] {
            let limits = FlowLimits {
                ack_gap_after: ack_gaps.then_some(0),
                ..FlowLimits::default()
            };
            let (mut t, log) = table(limits);
            let mut c = Counters::default();
            t.process(&seg(1001, 0, 100, 500, ACK, b"req1"), &mut c);
            t.process(&seg(445, 1, 500, 104, ACK, b"resp"), &mut c);
            // The client's next request (104..108) is lost; the server acknowledges it.
            t.process(&seg(445, 2, 504, 108, ACK, b""), &mut c);
            t.process(&seg(1001, 3, 108, 504, ACK, b"req3"), &mut c);
            let got = log.borrow().clone();
            if ack_gaps {
                assert_eq!(
                    got,
                    ["1001 D0:req1", "1001 D1:resp", "1001 G0:4", "1001 D0:req3"]
                );
            } else {
                // Held behind the hole until the end of the stream.
                assert_eq!(got, ["1001 D0:req1", "1001 D1:resp"]);
                t.finish_all(&mut c);
                assert_eq!(log.borrow()[2..], ["1001 G0:4", "1001 D0:req3", "1001 C"]);
            }
        }
    }

    #[test]
    fn the_last_ack_after_both_fins_does_not_open_a_connection() {
        let (mut t, log) = table(FlowLimits::default());
        let mut c = Counters::default();
        t.process(&seg(1001, 0, 100, 500, ACK, b"hi"), &mut c);
        t.process(&seg(1001, 1, 102, 500, ACK | TcpFlags::FIN, b""), &mut c);
        t.process(&seg(445, 2, 500, 103, ACK | TcpFlags::FIN, b""), &mut c);
        t.process(&seg(1001, 3, 103, 501, ACK, b""), &mut c);
        assert_eq!(c.tcp_connections, 1);
        assert!(t.is_empty());
        assert_eq!(*log.borrow(), ["1001 D0:hi", "1001 C"]);
        // A new SYN on the same ports later is a new connection (port reuse).
        t.process(&seg(1001, 10, 900, 0, TcpFlags::SYN, b""), &mut c);
        assert_eq!(c.tcp_connections, 2);
    }
}

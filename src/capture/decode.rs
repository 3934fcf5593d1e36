//! Link layer → IP (v4/v6, extension headers, fragment reassembly) → TCP segment.

use super::Timestamp;
use std::net::IpAddr;

/// TCP header flags (low 8 bits of the flags field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// One TCP segment, borrowing its payload from the frame (or from a reassembled IP datagram).
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    pub ts: Timestamp,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// Payload bytes present in the capture.
    pub payload: &'a [u8],
    /// Payload bytes the packet really carried (from the IP length); larger than
    /// `payload.len()` when the frame was cut by snaplen.
    pub wire_payload_len: u32,
}

// ---------------------------------------------------------------------------------------
// Decoding. Everything below works on borrowed frame bytes; only a reassembled IP
// datagram is copied.

use super::Frame;
use super::linktype;
use crate::FastMap;
use crate::stats::Counters;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// 802.1Q / 802.1ad tags followed before giving up on a frame.
pub const MAX_VLAN_TAGS: usize = 8;
/// IPv6 extension headers followed before giving up on a packet.
pub const MAX_IPV6_EXT_HEADERS: usize = 16;
/// IP datagrams being reassembled at once; the oldest is dropped to make room.
pub const FRAG_MAX_DATAGRAMS: usize = 1024;
/// Largest reassembled IP payload.
pub const FRAG_MAX_BYTES: usize = 65535;
/// Fragments whose datagram is still incomplete this long (packet time) after its
/// first fragment are dropped.
pub const FRAG_TIMEOUT_SECS: i64 = 60;
/// Disjoint pieces kept per datagram; more means a hostile fragment pattern.
const FRAG_MAX_PIECES: usize = 256;

/// Link types some systems write for raw IP instead of LINKTYPE_RAW (DLT_RAW is 12 on most
/// BSDs and 14 on OpenBSD).
const LINKTYPE_RAW_DLT12: u32 = 12;
const LINKTYPE_RAW_DLT14: u32 = 14;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88A8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;

const PROTO_TCP: u8 = 6;
const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_AH: u8 = 51;
const IPV6_DEST_OPTS: u8 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Network {
    V4,
    V6,
}

/// The source and destination addresses of a frame's IP packet (fragments included), for
/// routing a frame by host pair before it is decoded; `None` for anything that is not IP.
pub fn frame_hosts(linktype: u32, data: &[u8]) -> Option<(IpAddr, IpAddr)> {
    let mut scratch = Counters::default();
    let (network, p) = link_layer(linktype, data, &mut scratch)?;
    match network {
        Network::V4 => {
            let b: [u8; 8] = p.get(12..20)?.try_into().ok()?;
            let src: [u8; 4] = b[..4].try_into().ok()?;
            let dst: [u8; 4] = b[4..].try_into().ok()?;
            Some((IpAddr::from(src), IpAddr::from(dst)))
        }
        Network::V6 => {
            let src: [u8; 16] = p.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = p.get(24..40)?.try_into().ok()?;
            Some((IpAddr::from(src), IpAddr::from(dst)))
        }
    }
}

/// Decodes frames down to TCP segments, reassembling fragmented IP datagrams.
pub struct PacketDecoder {
    verify_checksums: bool,
    defrag: Defrag,
    kdcs: std::collections::BTreeSet<IpAddr>,
}

/// The Kerberos port (RFC 4120 section 7.2), UDP and TCP.
pub const KERBEROS_PORT: u16 = 88;

/// First byte of a Kerberos reply only a KDC sends: KRB-AS-REP, KRB-TGS-REP and KRB-ERROR
/// (RFC 4120 APPLICATION 11, 13 and 30).
const KRB_REPLY_TAGS: [u8; 3] = [0x6b, 0x6d, 0x7e];

/// Kerberos servers remembered per input (a bound for hostile captures).
pub const MAX_KDCS: usize = 1024;

const PROTO_UDP: u8 = 17;

impl PacketDecoder {
    pub fn new(verify_checksums: bool) -> Self {
        PacketDecoder {
            verify_checksums,
            defrag: Defrag::default(),
            kdcs: std::collections::BTreeSet::new(),
        }
    }

    /// The hosts seen answering Kerberos on port 88 (a reply only a KDC sends), at most
    /// [`MAX_KDCS`]: evidence of domain controllers.
    pub fn kdcs(&self) -> &std::collections::BTreeSet<IpAddr> {
        &self.kdcs
    }

    /// Remember `src` when the transport header and payload in `l4` (protocol `proto`, from
    /// the start of the UDP or TCP header) are a Kerberos reply from port 88: over UDP the
    /// message itself, over TCP a 4-byte record mark then the message.
    fn note_kdc(&mut self, src: IpAddr, proto: u8, l4: &[u8]) {
        let (Some(&a), Some(&b)) = (l4.first(), l4.get(1)) else {
            return;
        };
        if u16::from_be_bytes([a, b]) != KERBEROS_PORT || self.kdcs.len() >= MAX_KDCS {
            return;
        }
        let first = match proto {
            PROTO_UDP => l4.get(8),
            PROTO_TCP => l4.get(12).and_then(|d| l4.get(usize::from(d >> 4) * 4 + 4)),
            _ => None,
        };
        if first.is_some_and(|t| KRB_REPLY_TAGS.contains(t)) {
            self.kdcs.insert(src);
        }
    }

    /// Decode one frame down to TCP and call `out` with the segment (zero or one time; a
    /// completed IP reassembly yields its segment on the frame that completes it).
    /// Everything that is not TCP over IP is counted, never an error.
    pub fn decode(
        &mut self,
        frame: &Frame<'_>,
        counters: &mut Counters,
        out: &mut dyn FnMut(&TcpSegment<'_>),
    ) {
        self.defrag.expire(frame.ts, counters);
        let Some((network, packet)) = link_layer(frame.linktype, frame.data, counters) else {
            return;
        };
        match network {
            Network::V4 => self.ipv4(frame.ts, packet, counters, out),
            Network::V6 => self.ipv6(frame.ts, packet, counters, out),
        }
    }

    /// End of input: datagrams still waiting for fragments will never complete; count
    /// their fragments as dropped.
    pub fn finish(&mut self, counters: &mut Counters) {
        self.defrag.clear(counters);
    }

    /// IP datagrams currently being reassembled.
    pub fn fragments_in_progress(&self) -> usize {
        self.defrag.map.len()
    }

    fn ipv4(
        &mut self,
        ts: Timestamp,
        data: &[u8],
        counters: &mut Counters,
        out: &mut dyn FnMut(&TcpSegment<'_>),
    ) {
        if data.len() < 20 || data[0] >> 4 != 4 {
            counters.malformed_ip += 1;
            return;
        }
        let ihl = usize::from(data[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([data[2], data[3]]));
        // Zero total length: TCP segmentation offload captured before the NIC filled it in.
        let total = if total == 0 { data.len() } else { total };
        if ihl < 20 || data.len() < ihl || total < ihl {
            counters.malformed_ip += 1;
            return;
        }
        if self.verify_checksums && internet_checksum(0, &data[..ihl]) != 0xffff {
            counters.bad_checksums += 1;
            return;
        }
        let src = IpAddr::V4(Ipv4Addr::new(data[12], data[13], data[14], data[15]));
        let dst = IpAddr::V4(Ipv4Addr::new(data[16], data[17], data[18], data[19]));
        let proto = data[9];
        // Bytes past the IP length are link-layer padding; bytes missing were cut by snaplen.
        let payload = &data[ihl..total.min(data.len())];
        let wire_len = total - ihl;
        let frag = u16::from_be_bytes([data[6], data[7]]);
        let more = frag & 0x2000 != 0;
        let offset = usize::from(frag & 0x1fff) * 8;
        if offset == 0 {
            self.note_kdc(src, proto, payload);
        }
        if more || offset != 0 {
            counters.ip_fragments += 1;
            if proto != PROTO_TCP {
                counters.non_tcp += 1;
                return;
            }
            if payload.len() < wire_len {
                // A fragment cut by snaplen would leave a hole that never fills.
                counters.ip_frag_dropped += 1;
                return;
            }
            let key = FragKey {
                src,
                dst,
                id: u32::from(u16::from_be_bytes([data[4], data[5]])),
                proto,
            };
            if let Some(datagram) = self.defrag.add(key, ts, offset, more, payload, counters) {
                let len = datagram.len();
                self.tcp(ts, src, dst, &datagram, len, counters, out);
            }
            return;
        }
        if proto != PROTO_TCP {
            counters.non_tcp += 1;
            return;
        }
        self.tcp(ts, src, dst, payload, wire_len, counters, out);
    }

    fn ipv6(
        &mut self,
        ts: Timestamp,
        data: &[u8],
        counters: &mut Counters,
        out: &mut dyn FnMut(&TcpSegment<'_>),
    ) {
        if data.len() < 40 || data[0] >> 4 != 6 {
            counters.malformed_ip += 1;
            return;
        }
        let plen = usize::from(u16::from_be_bytes([data[4], data[5]]));
        // Zero payload length: a jumbogram or offloaded segment; trust the capture.
        let wire_len = if plen == 0 { data.len() - 40 } else { plen };
        let body = &data[40..(40 + wire_len).min(data.len())];
        let src = IpAddr::V6(Ipv6Addr::from(array16(&data[8..24])));
        let dst = IpAddr::V6(Ipv6Addr::from(array16(&data[24..40])));
        if matches!(data[6], PROTO_TCP | PROTO_UDP) {
            self.note_kdc(src, data[6], body);
        }
        match ipv6_upper(data[6], body) {
            V6Upper::Tcp(at) => {
                self.tcp(
                    ts,
                    src,
                    dst,
                    &body[at..],
                    wire_len.saturating_sub(at),
                    counters,
                    out,
                );
            }
            V6Upper::Fragment {
                next,
                offset,
                more,
                id,
                at,
            } => {
                counters.ip_fragments += 1;
                if !matches!(
                    next,
                    PROTO_TCP | IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DEST_OPTS | IPV6_AH
                ) {
                    counters.non_tcp += 1;
                    return;
                }
                let piece = &body[at..];
                if piece.len() < wire_len.saturating_sub(at) {
                    counters.ip_frag_dropped += 1;
                    return;
                }
                let key = FragKey {
                    src,
                    dst,
                    id,
                    proto: next,
                };
                let Some(datagram) = self.defrag.add(key, ts, offset, more, piece, counters) else {
                    return;
                };
                match ipv6_upper(next, &datagram) {
                    V6Upper::Tcp(at) => {
                        let len = datagram.len() - at;
                        self.tcp(ts, src, dst, &datagram[at..], len, counters, out);
                    }
                    V6Upper::NotTcp => counters.non_tcp += 1,
                    V6Upper::Fragment { .. } | V6Upper::Malformed => counters.malformed_ip += 1,
                }
            }
            V6Upper::NotTcp => counters.non_tcp += 1,
            V6Upper::Malformed => counters.malformed_ip += 1,
        }
    }

    /// `seg` holds the TCP bytes present, `wire_len` the TCP length the IP layer declared.
    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &self,
        ts: Timestamp,
        src: IpAddr,
        dst: IpAddr,
        seg: &[u8],
        wire_len: usize,
        counters: &mut Counters,
        out: &mut dyn FnMut(&TcpSegment<'_>),
    ) {
        let seg = &seg[..seg.len().min(wire_len)];
        if seg.len() < 20 {
            counters.malformed_tcp += 1;
            return;
        }
        let doff = usize::from(seg[12] >> 4) * 4;
        if doff < 20 || doff > wire_len {
            counters.malformed_tcp += 1;
            return;
        }
        // Only a complete segment can be checked; a cut one is delivered as it is.
        if self.verify_checksums && seg.len() == wire_len {
            let pseudo = pseudo_header_sum(src, dst, wire_len);
            if internet_checksum(pseudo, seg) != 0xffff {
                counters.bad_checksums += 1;
                return;
            }
        }
        counters.tcp_segments += 1;
        out(&TcpSegment {
            ts,
            src,
            dst,
            sport: u16::from_be_bytes([seg[0], seg[1]]),
            dport: u16::from_be_bytes([seg[2], seg[3]]),
            seq: u32::from_be_bytes([seg[4], seg[5], seg[6], seg[7]]),
            ack: u32::from_be_bytes([seg[8], seg[9], seg[10], seg[11]]),
            flags: TcpFlags(seg[13]),
            // Options cut by snaplen leave no payload, but the header is still worth having.
            payload: seg.get(doff..).unwrap_or(&[]),
            wire_payload_len: u32::try_from(wire_len - doff).unwrap_or(u32::MAX),
        });
    }
}

fn array16(b: &[u8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    a
}

/// Link layer → network protocol and its bytes.
fn link_layer<'a>(lt: u32, data: &'a [u8], counters: &mut Counters) -> Option<(Network, &'a [u8])> {
    let be16 = |at: usize| -> Option<u16> {
        data.get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    match lt {
        linktype::ETHERNET => {
            let Some(et) = be16(12) else {
                counters.malformed_l2 += 1;
                return None;
            };
            ethertype(et, &data[14..], counters)
        }
        linktype::LINUX_SLL => {
            // packet type, ARPHRD, address length, 8 address bytes, protocol
            if data.len() < 16 {
                counters.malformed_l2 += 1;
                return None;
            }
            ethertype(
                u16::from_be_bytes([data[14], data[15]]),
                &data[16..],
                counters,
            )
        }
        linktype::LINUX_SLL2 => {
            // protocol first, then reserved, interface index, ARPHRD, type, address
            if data.len() < 20 {
                counters.malformed_l2 += 1;
                return None;
            }
            ethertype(
                u16::from_be_bytes([data[0], data[1]]),
                &data[20..],
                counters,
            )
        }
        linktype::RAW
        | linktype::IPV4
        | linktype::IPV6
        | LINKTYPE_RAW_DLT12
        | LINKTYPE_RAW_DLT14 => match data.first().map(|b| b >> 4) {
            Some(4) => Some((Network::V4, data)),
            Some(6) => Some((Network::V6, data)),
            Some(_) => {
                counters.non_ip += 1;
                None
            }
            None => {
                counters.malformed_l2 += 1;
                None
            }
        },
        linktype::NULL | linktype::LOOP => {
            let Some(b) = data.get(..4) else {
                counters.malformed_l2 += 1;
                return None;
            };
            let b = [b[0], b[1], b[2], b[3]];
            // NULL stores the family in the capturing host's byte order, which the file
            // does not record; families are small numbers, so the order that gives one wins.
            let family = if lt == linktype::LOOP || u32::from_le_bytes(b) > 0xffff {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            };
            match family {
                2 => Some((Network::V4, &data[4..])),
                // AF_INET6: Linux, FreeBSD, OpenBSD/NetBSD, macOS
                10 | 24 | 28 | 30 => Some((Network::V6, &data[4..])),
                _ => {
                    counters.non_ip += 1;
                    None
                }
            }
        }
        other => {
            *counters.unknown_linktypes.entry(other).or_insert(0) += 1;
            None
        }
    }
}

/// Ethertype dispatch, following VLAN tags.
fn ethertype<'a>(
    mut et: u16,
    mut rest: &'a [u8],
    counters: &mut Counters,
) -> Option<(Network, &'a [u8])> {
    let mut tags = 0;
    while matches!(et, ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD) {
        tags += 1;
        if tags > MAX_VLAN_TAGS || rest.len() < 4 {
            counters.malformed_l2 += 1;
            return None;
        }
        et = u16::from_be_bytes([rest[2], rest[3]]);
        rest = &rest[4..];
    }
    match et {
        ETHERTYPE_IPV4 => Some((Network::V4, rest)),
        ETHERTYPE_IPV6 => Some((Network::V6, rest)),
        _ => {
            counters.non_ip += 1;
            None
        }
    }
}

enum V6Upper {
    /// TCP header starts at this offset.
    Tcp(usize),
    /// A real fragment (not an atomic one); its data starts at `at`.
    Fragment {
        next: u8,
        offset: usize,
        more: bool,
        id: u32,
        at: usize,
    },
    NotTcp,
    Malformed,
}

/// Walks IPv6 extension headers from `next` over `body` (the bytes after the fixed header).
fn ipv6_upper(mut next: u8, body: &[u8]) -> V6Upper {
    let mut at = 0usize;
    for _ in 0..MAX_IPV6_EXT_HEADERS {
        let hdr = &body[at.min(body.len())..];
        match next {
            PROTO_TCP => return V6Upper::Tcp(at),
            IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DEST_OPTS | IPV6_AH => {
                let (Some(&nh), Some(&len)) = (hdr.first(), hdr.get(1)) else {
                    return V6Upper::Malformed;
                };
                let len = if next == IPV6_AH {
                    (usize::from(len) + 2) * 4
                } else {
                    (usize::from(len) + 1) * 8
                };
                if hdr.len() < len {
                    return V6Upper::Malformed;
                }
                next = nh;
                at += len;
            }
            IPV6_FRAGMENT => {
                let Some(h) = hdr.get(..8) else {
                    return V6Upper::Malformed;
                };
                let off_flags = u16::from_be_bytes([h[2], h[3]]);
                let offset = usize::from(off_flags & 0xfff8);
                let more = off_flags & 1 != 0;
                next = h[0];
                at += 8;
                if offset != 0 || more {
                    return V6Upper::Fragment {
                        next,
                        offset,
                        more,
                        id: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                        at,
                    };
                }
                // An atomic fragment (RFC 6946) is a whole packet.
            }
            _ => return V6Upper::NotTcp,
        }
    }
    V6Upper::Malformed
}

/// One's-complement sum of `data` as big-endian 16-bit words, added to `initial`,
/// folded to 16 bits. A correct checksum over its own field sums to 0xffff.
fn internet_checksum(initial: u32, data: &[u8]) -> u16 {
    let mut sum = u64::from(initial);
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(u16::from_be_bytes([*last, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

fn pseudo_header_sum(src: IpAddr, dst: IpAddr, tcp_len: usize) -> u32 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks_exact(2) {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
    };
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            add(&s.octets());
            add(&d.octets());
        }
        (s, d) => {
            add(&ip6_octets(s));
            add(&ip6_octets(d));
        }
    }
    let len = tcp_len as u32;
    sum + (len >> 16) + (len & 0xffff) + u32::from(PROTO_TCP)
}

fn ip6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}

// ---- IP fragment reassembly ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FragKey {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

struct Datagram {
    first_seen: Timestamp,
    seq: u64,
    data: Vec<u8>,
    /// Byte ranges received, sorted and merged.
    pieces: Vec<(usize, usize)>,
    /// Payload length, known once the last fragment arrived.
    total: Option<usize>,
    fragments: u64,
}

#[derive(Default)]
struct Defrag {
    map: FastMap<FragKey, Datagram>,
    /// Age order (first fragment's time, arrival number) for timeouts and eviction.
    by_age: BTreeMap<(Timestamp, u64), FragKey>,
    next_seq: u64,
}

impl Defrag {
    fn remove(&mut self, key: &FragKey, counters: &mut Counters) {
        if let Some(d) = self.map.remove(key) {
            self.by_age.remove(&(d.first_seen, d.seq));
            counters.ip_frag_dropped += d.fragments;
        }
    }

    fn expire(&mut self, now: Timestamp, counters: &mut Counters) {
        while let Some((&(first, _), &key)) = self.by_age.first_key_value() {
            let deadline =
                Timestamp::new(first.secs.saturating_add(FRAG_TIMEOUT_SECS), first.nanos);
            if deadline >= now {
                break;
            }
            self.remove(&key, counters);
        }
    }

    fn clear(&mut self, counters: &mut Counters) {
        for d in self.map.values() {
            counters.ip_frag_dropped += d.fragments;
        }
        self.map.clear();
        self.by_age.clear();
    }

    /// Adds one fragment's payload at byte `offset`; returns the datagram's payload when
    /// this fragment completes it. Overlapping bytes: the later fragment wins.
    fn add(
        &mut self,
        key: FragKey,
        ts: Timestamp,
        offset: usize,
        more: bool,
        payload: &[u8],
        counters: &mut Counters,
    ) -> Option<Vec<u8>> {
        let end = offset + payload.len();
        if end > FRAG_MAX_BYTES {
            self.remove(&key, counters);
            counters.ip_frag_dropped += 1;
            return None;
        }
        if !self.map.contains_key(&key) {
            if self.map.len() >= FRAG_MAX_DATAGRAMS
                && let Some((_, &oldest)) = self.by_age.first_key_value()
            {
                self.remove(&oldest, counters);
            }
            let seq = self.next_seq;
            self.next_seq += 1;
            self.by_age.insert((ts, seq), key);
            self.map.insert(
                key,
                Datagram {
                    first_seen: ts,
                    seq,
                    data: Vec::new(),
                    pieces: Vec::new(),
                    total: None,
                    fragments: 0,
                },
            );
        }
        let d = self.map.get_mut(&key)?;
        d.fragments += 1;
        // Inconsistent ends (two different last fragments, data past the end) cannot be
        // reassembled into anything trustworthy.
        let consistent = match (more, d.total) {
            (false, Some(t)) => t == end,
            (false, None) => d.pieces.last().is_none_or(|&(_, e)| e <= end),
            (true, Some(t)) => end <= t,
            (true, None) => true,
        };
        if !consistent {
            self.remove(&key, counters);
            return None;
        }
        if !more {
            d.total = Some(end);
        }
        if payload.is_empty() {
            return None;
        }
        if d.data.len() < end {
            d.data.resize(end, 0);
        }
        d.data[offset..end].copy_from_slice(payload);
        insert_piece(&mut d.pieces, offset, end);
        if d.pieces.len() > FRAG_MAX_PIECES {
            self.remove(&key, counters);
            return None;
        }
        if d.total.is_some_and(|t| d.pieces == [(0, t)]) {
            let d = self.map.remove(&key)?;
            self.by_age.remove(&(d.first_seen, d.seq));
            counters.ip_reassembled += 1;
            return Some(d.data);
        }
        None
    }
}

/// Inserts [start, end) into sorted, merged ranges (touching ranges merge).
fn insert_piece(pieces: &mut Vec<(usize, usize)>, start: usize, end: usize) {
    let (mut s, mut e) = (start, end);
    let first = pieces.partition_point(|&(_, pe)| pe < s);
    let mut last = first;
    while last < pieces.len() && pieces[last].0 <= e {
        s = s.min(pieces[last].0);
        e = e.max(pieces[last].1);
        last += 1;
    }
    pieces.splice(first..last, [(s, e)]);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // ---- packet builders (shared with the other capture tests) ----

    pub(crate) const A4: [u8; 4] = [10, 0, 0, 1];
    pub(crate) const B4: [u8; 4] = [192, 168, 1, 20];

    fn v6(last: u8) -> [u8; 16] {
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        a[2] = 0x0d;
        a[3] = 0xb8;
        a[15] = last;
        a
    }

    /// TCP header (no options) + payload with a correct checksum for `src` → `dst`.
    pub(crate) fn tcp_bytes(
        src: IpAddr,
        dst: IpAddr,
        sport: u16,
        dport: u16,
        seq: u32,
        flags: u8,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend(sport.to_be_bytes());
        t.extend(dport.to_be_bytes());
        t.extend(seq.to_be_bytes());
        t.extend(0x0102_0304u32.to_be_bytes());
        t.push(5 << 4);
        t.push(flags);
        t.extend(8192u16.to_be_bytes());
        t.extend([0, 0, 0, 0]);
        t.extend(payload);
        let sum = internet_checksum(pseudo_header_sum(src, dst, t.len()), &t);
        t[16..18].copy_from_slice(&(!sum).to_be_bytes());
        t
    }

    /// IPv4 header with a correct checksum; `frag` is the flags+offset field.
    pub(crate) fn ipv4_bytes(proto: u8, id: u16, frag: u16, payload: &[u8]) -> Vec<u8> {
        let mut h = vec![0x45, 0];
        h.extend(((20 + payload.len()) as u16).to_be_bytes());
        h.extend(id.to_be_bytes());
        h.extend(frag.to_be_bytes());
        h.extend([64, proto, 0, 0]);
        h.extend(A4);
        h.extend(B4);
        let sum = internet_checksum(0, &h);
        h[10..12].copy_from_slice(&(!sum).to_be_bytes());
        h.extend(payload);
        h
    }

    pub(crate) fn ipv4_tcp(sport: u16, dport: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let t = tcp_bytes(
            IpAddr::from(A4),
            IpAddr::from(B4),
            sport,
            dport,
            seq,
            TcpFlags::ACK | TcpFlags::PSH,
            payload,
        );
        ipv4_bytes(6, 77, 0x4000, &t)
    }

    /// IPv6 header + `ext` (already chained) + upper-layer bytes.
    fn ipv6_bytes(first_next: u8, ext_and_payload: &[u8]) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0];
        h.extend((ext_and_payload.len() as u16).to_be_bytes());
        h.push(first_next);
        h.push(64);
        h.extend(v6(1));
        h.extend(v6(2));
        h.extend(ext_and_payload);
        h
    }

    pub(crate) fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        f.extend(ethertype.to_be_bytes());
        f.extend(payload);
        f
    }

    fn frame(linktype: u32, data: &[u8]) -> Frame<'_> {
        Frame {
            ts: Timestamp::new(1000, 0),
            linktype,
            data,
            orig_len: data.len() as u32,
            offset: 0,
            index: 1,
            chunk: None,
        }
    }

    #[derive(Debug, Clone, PartialEq)]
    struct Seg {
        src: IpAddr,
        dst: IpAddr,
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        payload: Vec<u8>,
        wire: u32,
        ts: Timestamp,
    }

    fn run(d: &mut PacketDecoder, f: &Frame<'_>, c: &mut Counters) -> Vec<Seg> {
        let mut v = Vec::new();
        d.decode(f, c, &mut |s: &TcpSegment<'_>| {
            v.push(Seg {
                src: s.src,
                dst: s.dst,
                sport: s.sport,
                dport: s.dport,
                seq: s.seq,
                ack: s.ack,
                flags: s.flags.0,
                payload: s.payload.to_vec(),
                wire: s.wire_payload_len,
                ts: s.ts,
            })
        });
        v
    }

    fn decode_one(linktype: u32, data: &[u8]) -> (Vec<Seg>, Counters) {
        let mut c = Counters::default();
        let mut d = PacketDecoder::new(true);
        let v = run(&mut d, &frame(linktype, data), &mut c);
        (v, c)
    }

    /// Kerberos replies from port 88 name their sender as a KDC: UDP (whole or the first
    /// fragment), TCP (after the record mark), IPv6; requests, other ports, other
    /// payloads and later fragments do not.
    #[test]
    fn kerberos_replies_from_port_88_name_the_kdc() {
        let udp = |sport: u16, dport: u16, body: &[u8]| {
            let mut u = sport.to_be_bytes().to_vec();
            u.extend(dport.to_be_bytes());
            u.extend(((8 + body.len()) as u16).to_be_bytes());
            u.extend([0, 0]);
            u.extend(body);
            u
        };
        let kdcs = |frames: &[Vec<u8>]| {
            let mut d = PacketDecoder::new(false);
            let mut c = Counters::default();
            for f in frames {
                run(&mut d, &frame(linktype::RAW, f), &mut c);
            }
            d.kdcs().iter().copied().collect::<Vec<IpAddr>>()
        };
        let a = IpAddr::from(A4);
        // KRB-AS-REP (0x6b), KRB-TGS-REP (0x6d) and KRB-ERROR (0x7e) over UDP from 88.
        for tag in [0x6b, 0x6d, 0x7e] {
            let f = ipv4_bytes(PROTO_UDP, 1, 0, &udp(88, 50000, &[tag, 0x81, 0x20]));
            assert_eq!(kdcs(&[f]), [a], "tag {tag:#x}");
        }
        // A request (KRB-AS-REQ 0x6a) from 88, a reply to port 88, DNS from 53: no KDC.
        let none = [
            ipv4_bytes(PROTO_UDP, 1, 0, &udp(88, 50000, &[0x6a, 0x81])),
            ipv4_bytes(PROTO_UDP, 1, 0, &udp(50000, 88, &[0x6b, 0x81])),
            ipv4_bytes(PROTO_UDP, 1, 0, &udp(53, 50000, &[0x6b, 0x81])),
            ipv4_bytes(PROTO_UDP, 1, 0, &udp(88, 50000, &[])),
            // A later fragment whose bytes happen to look like a reply from 88.
            ipv4_bytes(PROTO_UDP, 1, 185, &udp(88, 50000, &[0x6b])),
        ];
        assert!(kdcs(&none).is_empty());
        // The first fragment of a large UDP reply.
        let first = ipv4_bytes(PROTO_UDP, 1, 0x2000, &udp(88, 50000, &[0x6b, 0x82, 0x05]));
        assert_eq!(kdcs(&[first]), [a]);
        // TCP: 4-byte record mark, then the reply; a segment from 88 without one is not.
        let tcp = ipv4_tcp(88, 50000, 1, &[0, 0, 1, 0, 0x6d, 0x82]);
        assert_eq!(kdcs(&[tcp]), [a]);
        assert!(kdcs(&[ipv4_tcp(88, 50000, 1, &[0, 0])]).is_empty());
        // IPv6 UDP.
        let v = ipv6_bytes(PROTO_UDP, &udp(88, 50000, &[0x7e, 0x81]));
        assert_eq!(kdcs(&[v]), [IpAddr::from(v6(1))]);
    }

    fn assert_one(linktype: u32, data: &[u8], payload: &[u8]) {
        let (v, c) = decode_one(linktype, data);
        assert_eq!(v.len(), 1, "linktype {linktype}: {c:?}");
        assert_eq!(v[0].payload, payload, "linktype {linktype}");
        assert_eq!(v[0].sport, 49152);
        assert_eq!(v[0].dport, 135);
        assert_eq!(c.tcp_segments, 1);
    }

    #[test]
    fn ethernet_ipv4_tcp_fields() {
        let payload = b"\x05\x00\x0b\x03hello";
        let mut data = eth(0x0800, &ipv4_tcp(49152, 135, 0xdead_beef, payload));
        data.extend([0u8; 6]); // Ethernet padding beyond the IP length
        let (v, c) = decode_one(linktype::ETHERNET, &data);
        assert_eq!(
            v,
            vec![Seg {
                src: IpAddr::from(A4),
                dst: IpAddr::from(B4),
                sport: 49152,
                dport: 135,
                seq: 0xdead_beef,
                ack: 0x0102_0304,
                flags: TcpFlags::ACK | TcpFlags::PSH,
                payload: payload.to_vec(),
                wire: payload.len() as u32,
                ts: Timestamp::new(1000, 0),
            }]
        );
        assert!(TcpFlags(v[0].flags).ack() && !TcpFlags(v[0].flags).syn());
        assert_eq!(c.tcp_segments, 1);
        assert_eq!(c.bad_checksums, 0);
    }

    #[test]
    fn every_link_type() {
        let ip = ipv4_tcp(49152, 135, 1, b"abc");
        let t6 = tcp_bytes(
            IpAddr::from(v6(1)),
            IpAddr::from(v6(2)),
            49152,
            135,
            1,
            TcpFlags::ACK,
            b"six",
        );
        let ip6 = ipv6_bytes(6, &t6);

        assert_one(linktype::ETHERNET, &eth(0x0800, &ip), b"abc");
        assert_one(linktype::ETHERNET, &eth(0x86dd, &ip6), b"six");
        for lt in [linktype::RAW, linktype::IPV4, 12, 14] {
            assert_one(lt, &ip, b"abc");
        }
        for lt in [linktype::RAW, linktype::IPV6, 12, 14] {
            assert_one(lt, &ip6, b"six");
        }
        // Linux cooked v1: 16-byte header, protocol last
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0];
        sll.extend(0x0800u16.to_be_bytes());
        sll.extend(&ip);
        assert_one(linktype::LINUX_SLL, &sll, b"abc");
        // Linux cooked v2: protocol first, 20-byte header
        let mut sll2 = 0x86ddu16.to_be_bytes().to_vec();
        sll2.extend([0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0]);
        sll2.extend(&ip6);
        assert_one(linktype::LINUX_SLL2, &sll2, b"six");
        // BSD loopback: family in host order (either), LOOP: network order
        for (lt, fam, pkt, want) in [
            (linktype::NULL, 2u32.to_le_bytes(), &ip, &b"abc"[..]),
            (linktype::NULL, 2u32.to_be_bytes(), &ip, b"abc"),
            (linktype::NULL, 30u32.to_le_bytes(), &ip6, b"six"),
            (linktype::NULL, 24u32.to_be_bytes(), &ip6, b"six"),
            (linktype::LOOP, 2u32.to_be_bytes(), &ip, b"abc"),
            (linktype::LOOP, 28u32.to_be_bytes(), &ip6, b"six"),
        ] {
            let mut f = fam.to_vec();
            f.extend(pkt);
            assert_one(lt, &f, want);
        }
        let mut f = 7u32.to_le_bytes().to_vec();
        f.extend(&ip);
        let (v, c) = decode_one(linktype::NULL, &f);
        assert!(v.is_empty());
        assert_eq!(c.non_ip, 1);
    }

    #[test]
    fn unknown_non_ip_and_malformed_link_layers() {
        let (v, c) = decode_one(147, &[1, 2, 3]);
        assert!(v.is_empty());
        assert_eq!(c.unknown_linktypes.get(&147), Some(&1));

        let (_, c) = decode_one(linktype::ETHERNET, &eth(0x0806, &[0; 28]));
        assert_eq!(c.non_ip, 1);
        let (_, c) = decode_one(linktype::ETHERNET, &[0; 13]);
        assert_eq!(c.malformed_l2, 1);
        let (_, c) = decode_one(linktype::LINUX_SLL, &[0; 15]);
        assert_eq!(c.malformed_l2, 1);
        let (_, c) = decode_one(linktype::LINUX_SLL2, &[0; 19]);
        assert_eq!(c.malformed_l2, 1);
        let (_, c) = decode_one(linktype::RAW, &[]);
        assert_eq!(c.malformed_l2, 1);
        let (_, c) = decode_one(linktype::NULL, &[2, 0]);
        assert_eq!(c.malformed_l2, 1);

        // UDP is not TCP
        let udp = ipv4_bytes(17, 1, 0, &[0; 8]);
        let (_, c) = decode_one(linktype::RAW, &udp);
        assert_eq!(c.non_tcp, 1);
        assert_eq!(c.tcp_segments, 0);
    }

    #[test]
    fn vlan_and_qinq() {
        let ip = ipv4_tcp(49152, 135, 1, b"tagged");
        let tag = |tpid_next: u16, vid: u16| {
            let mut t = vid.to_be_bytes().to_vec();
            t.extend(tpid_next.to_be_bytes());
            t
        };
        // single 802.1Q
        let mut body = tag(0x0800, 100);
        body.extend(&ip);
        assert_one(linktype::ETHERNET, &eth(0x8100, &body), b"tagged");
        // 802.1ad outer + 802.1Q inner, and the old 0x9100 outer
        for outer in [0x88a8u16, 0x9100] {
            let mut body = tag(0x8100, 10);
            body.extend(tag(0x0800, 20));
            body.extend(&ip);
            assert_one(linktype::ETHERNET, &eth(outer, &body), b"tagged");
        }
        // too deep
        let mut body = Vec::new();
        for _ in 0..MAX_VLAN_TAGS {
            body.extend(tag(0x8100, 1));
        }
        body.extend(tag(0x0800, 1));
        body.extend(&ip);
        let (v, c) = decode_one(linktype::ETHERNET, &eth(0x8100, &body));
        assert!(v.is_empty());
        assert_eq!(c.malformed_l2, 1);
        // cut inside a tag
        let (_, c) = decode_one(linktype::ETHERNET, &eth(0x8100, &[0, 1]));
        assert_eq!(c.malformed_l2, 1);
    }

    #[test]
    fn ipv6_extension_headers() {
        let src = IpAddr::from(v6(1));
        let dst = IpAddr::from(v6(2));
        let t = tcp_bytes(src, dst, 49152, 135, 9, TcpFlags::SYN, b"");
        let mut ext = Vec::new();
        // hop-by-hop (8 bytes, PadN) → destination options (16 bytes) → AH (12+4) → TCP
        ext.extend([IPV6_DEST_OPTS, 0, 1, 4, 0, 0, 0, 0]);
        ext.extend([IPV6_AH, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        ext.extend([PROTO_TCP, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7, 9, 9, 9, 9]);
        ext.extend(&t);
        let pkt = ipv6_bytes(IPV6_HOP_BY_HOP, &ext);
        let (v, c) = decode_one(linktype::RAW, &pkt);
        assert_eq!(v.len(), 1, "{c:?}");
        assert_eq!((v[0].src, v[0].dst), (src, dst));
        assert_eq!(v[0].seq, 9);
        assert!(TcpFlags(v[0].flags).syn());
        assert!(v[0].payload.is_empty());

        // routing header to ESP: not TCP
        let pkt = ipv6_bytes(IPV6_ROUTING, &[50, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
        let (_, c) = decode_one(linktype::RAW, &pkt);
        assert_eq!(c.non_tcp, 1);
        // extension header running past the packet
        let pkt = ipv6_bytes(IPV6_HOP_BY_HOP, &[PROTO_TCP, 3, 0, 0]);
        let (_, c) = decode_one(linktype::RAW, &pkt);
        assert_eq!(c.malformed_ip, 1);
        // atomic fragment: a whole packet behind a fragment header
        let mut ext = vec![PROTO_TCP, 0, 0, 0, 0, 0, 0, 5];
        ext.extend(tcp_bytes(src, dst, 49152, 135, 3, TcpFlags::ACK, b"atom"));
        let (v, c) = decode_one(linktype::RAW, &ipv6_bytes(IPV6_FRAGMENT, &ext));
        assert_eq!(v[0].payload, b"atom");
        assert_eq!(c.ip_fragments, 0);
    }

    #[test]
    fn ipv4_fragments_out_of_order() {
        let payload: Vec<u8> = (0..100u8).collect();
        let t = tcp_bytes(
            IpAddr::from(A4),
            IpAddr::from(B4),
            49152,
            135,
            42,
            TcpFlags::ACK,
            &payload,
        ); // 120 bytes: pieces of 48 + 48 + 24
        let p1 = ipv4_bytes(6, 999, 0x2000, &t[..48]);
        let p2 = ipv4_bytes(6, 999, 0x2000 | 6, &t[48..96]);
        let p3 = ipv4_bytes(6, 999, 12, &t[96..]);
        let mut c = Counters::default();
        let mut d = PacketDecoder::new(true);
        assert!(run(&mut d, &frame(linktype::RAW, &p3), &mut c).is_empty());
        assert!(run(&mut d, &frame(linktype::RAW, &p1), &mut c).is_empty());
        assert_eq!(d.fragments_in_progress(), 1);
        let v = run(&mut d, &frame(linktype::RAW, &p2), &mut c);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].payload, payload);
        assert_eq!(v[0].wire, 100);
        assert_eq!(v[0].seq, 42);
        assert_eq!(c.ip_fragments, 3);
        assert_eq!(c.ip_reassembled, 1);
        assert_eq!(c.ip_frag_dropped, 0);
        assert_eq!(c.tcp_segments, 1);
        assert_eq!(d.fragments_in_progress(), 0);

        // a duplicate fragment after completion starts a new datagram that never completes
        run(&mut d, &frame(linktype::RAW, &p1), &mut c);
        d.finish(&mut c);
        assert_eq!(c.ip_frag_dropped, 1);
    }

    #[test]
    fn ipv6_fragments_reassembled() {
        let src = IpAddr::from(v6(1));
        let dst = IpAddr::from(v6(2));
        let payload = vec![0x5a; 60];
        let t = tcp_bytes(src, dst, 49152, 135, 7, TcpFlags::ACK, &payload); // 80 bytes
        let frag = |off: u16, more: bool, data: &[u8]| {
            let mut e = vec![PROTO_TCP, 0];
            e.extend((off | u16::from(more)).to_be_bytes());
            e.extend(0xabcd_0001u32.to_be_bytes());
            e.extend(data);
            ipv6_bytes(IPV6_FRAGMENT, &e)
        };
        let mut c = Counters::default();
        let mut d = PacketDecoder::new(true);
        assert!(
            run(
                &mut d,
                &frame(linktype::RAW, &frag(40, false, &t[40..])),
                &mut c
            )
            .is_empty()
        );
        let v = run(
            &mut d,
            &frame(linktype::RAW, &frag(0, true, &t[..40])),
            &mut c,
        );
        assert_eq!(v.len(), 1, "{c:?}");
        assert_eq!(v[0].payload, payload);
        assert_eq!((v[0].src, v[0].dst), (src, dst));
        assert_eq!(c.ip_fragments, 2);
        assert_eq!(c.ip_reassembled, 1);
    }

    #[test]
    fn fragment_limits() {
        let piece = [0u8; 16];
        let mut c = Counters::default();
        let mut d = PacketDecoder::new(false);
        fn at(secs: i64, data: &[u8]) -> Frame<'_> {
            let mut f = frame(linktype::RAW, data);
            f.ts = Timestamp::new(secs, 0);
            f
        }
        // timeout: a lone first fragment is dropped once packet time passes 60 s
        let p = ipv4_bytes(6, 1, 0x2000, &piece);
        run(&mut d, &at(100, &p), &mut c);
        let other = ipv4_tcp(1, 2, 3, b"");
        run(&mut d, &at(160, &other), &mut c);
        assert_eq!(c.ip_frag_dropped, 0);
        run(&mut d, &at(161, &other), &mut c);
        assert_eq!(c.ip_frag_dropped, 1);
        assert_eq!(d.fragments_in_progress(), 0);

        // size: a fragment ending past 65535 bytes drops its datagram
        let mut c = Counters::default();
        run(&mut d, &at(200, &ipv4_bytes(6, 2, 0x2000, &piece)), &mut c);
        run(
            &mut d,
            &at(200, &ipv4_bytes(6, 2, 0x2000 | 8190, &piece)),
            &mut c,
        );
        assert_eq!(c.ip_frag_dropped, 2);
        assert_eq!(d.fragments_in_progress(), 0);

        // count: the oldest datagram makes room
        let mut c = Counters::default();
        for id in 0..=FRAG_MAX_DATAGRAMS as u16 {
            run(&mut d, &at(300, &ipv4_bytes(6, id, 0x2000, &piece)), &mut c);
        }
        assert_eq!(d.fragments_in_progress(), FRAG_MAX_DATAGRAMS);
        assert_eq!(c.ip_frag_dropped, 1);
        d.finish(&mut c);
        assert_eq!(c.ip_frag_dropped, 1 + FRAG_MAX_DATAGRAMS as u64);
        assert_eq!(c.ip_fragments, 1 + FRAG_MAX_DATAGRAMS as u64);

        // inconsistent last fragments
        let mut c = Counters::default();
        run(&mut d, &at(400, &ipv4_bytes(6, 5, 4, &piece)), &mut c);
        run(&mut d, &at(400, &ipv4_bytes(6, 5, 8, &piece)), &mut c);
        assert_eq!(c.ip_frag_dropped, 2);

        // non-TCP fragments are counted, not kept
        let mut c = Counters::default();
        run(&mut d, &at(500, &ipv4_bytes(17, 6, 0x2000, &piece)), &mut c);
        assert_eq!((c.ip_fragments, c.non_tcp), (1, 1));
        assert_eq!(d.fragments_in_progress(), 0);
    }

    #[test]
    fn snaplen_cut_frame_delivers_what_is_present() {
        let payload = vec![0x11; 1000];
        let full = eth(0x0800, &ipv4_tcp(49152, 135, 5, &payload));
        let cut = &full[..14 + 20 + 20 + 300];
        let mut f = frame(linktype::ETHERNET, cut);
        f.orig_len = full.len() as u32;
        let mut c = Counters::default();
        let mut d = PacketDecoder::new(true); // a cut segment cannot be checked: not dropped
        let v = run(&mut d, &f, &mut c);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].payload, vec![0x11; 300]);
        assert_eq!(v[0].wire, 1000);

        // cut inside the TCP header: nothing to deliver
        let f = frame(linktype::ETHERNET, &full[..14 + 20 + 10]);
        let v = run(&mut d, &f, &mut c);
        assert!(v.is_empty());
        assert_eq!(c.malformed_tcp, 1);

        // a fragment cut short cannot be reassembled
        let p = ipv4_bytes(6, 3, 0x2000, &[0u8; 64]);
        let f = frame(linktype::RAW, &p[..50]);
        let mut c = Counters::default();
        run(&mut d, &f, &mut c);
        assert_eq!((c.ip_fragments, c.ip_frag_dropped), (1, 1));
    }

    #[test]
    fn tso_zero_length_uses_capture() {
        let mut p = ipv4_tcp(49152, 135, 5, b"offloaded");
        p[2] = 0;
        p[3] = 0;
        let mut c = Counters::default();
        let mut d = PacketDecoder::new(false);
        let v = run(&mut d, &frame(linktype::RAW, &p), &mut c);
        assert_eq!(v[0].payload, b"offloaded");
        assert_eq!(v[0].wire, 9);
    }

    #[test]
    fn checksum_verification() {
        let good = ipv4_tcp(49152, 135, 5, b"data");
        let mut bad_ip = good.clone();
        bad_ip[8] = 1; // TTL changed, header checksum stale
        let mut bad_tcp = good.clone();
        let last = bad_tcp.len() - 1;
        bad_tcp[last] ^= 0xff;
        for verify in [false, true] {
            let mut c = Counters::default();
            let mut d = PacketDecoder::new(verify);
            let mut n = 0;
            for p in [&good, &bad_ip, &bad_tcp] {
                n += run(&mut d, &frame(linktype::RAW, p), &mut c).len();
            }
            if verify {
                assert_eq!(n, 1);
                assert_eq!(c.bad_checksums, 2);
            } else {
                assert_eq!(n, 3);
                assert_eq!(c.bad_checksums, 0);
            }
        }
        // IPv6 TCP checksum
        let src = IpAddr::from(v6(1));
        let dst = IpAddr::from(v6(2));
        let mut t = tcp_bytes(src, dst, 1, 2, 3, TcpFlags::ACK, b"odd");
        let (v, _) = decode_one(linktype::RAW, &ipv6_bytes(6, &t));
        assert_eq!(v.len(), 1);
        t[4] ^= 1;
        let (v, c) = decode_one(linktype::RAW, &ipv6_bytes(6, &t));
        assert!(v.is_empty());
        assert_eq!(c.bad_checksums, 1);
    }

    #[test]
    fn malformed_ip_and_tcp() {
        let good = ipv4_tcp(49152, 135, 5, b"x");
        let mut ihl_small = good.clone();
        ihl_small[0] = 0x44;
        let mut total_small = good.clone();
        total_small[2] = 0;
        total_small[3] = 10;
        let mut doff_small = good.clone();
        doff_small[20 + 12] = 4 << 4;
        let mut doff_big = good.clone();
        doff_big[20 + 12] = 15 << 4;
        for (p, ip, tcp) in [
            (&good[..19], 1, 0),
            (&ihl_small[..], 1, 0),
            (&total_small[..], 1, 0),
            (&doff_small[..], 0, 1),
            (&doff_big[..], 0, 1),
        ] {
            let mut c = Counters::default();
            let mut d = PacketDecoder::new(false);
            assert!(run(&mut d, &frame(linktype::RAW, p), &mut c).is_empty());
            assert_eq!((c.malformed_ip, c.malformed_tcp), (ip, tcp), "{p:?}");
        }
        let (_, c) = decode_one(linktype::RAW, &[0x60; 30]);
        assert_eq!(c.malformed_ip, 1);
    }

    #[test]
    fn piece_merging() {
        let mut p = Vec::new();
        insert_piece(&mut p, 10, 20);
        insert_piece(&mut p, 30, 40);
        assert_eq!(p, [(10, 20), (30, 40)]);
        insert_piece(&mut p, 0, 5);
        assert_eq!(p, [(0, 5), (10, 20), (30, 40)]);
        insert_piece(&mut p, 20, 30);
        assert_eq!(p, [(0, 5), (10, 40)]);
        insert_piece(&mut p, 3, 12);
        assert_eq!(p, [(0, 40)]);
        insert_piece(&mut p, 50, 60);
        insert_piece(&mut p, 45, 70);
        assert_eq!(p, [(0, 40), (45, 70)]);
    }

    #[test]
    fn decoder_survives_arbitrary_bytes() {
        // A cheap deterministic sweep; the fuzz target does this properly.
        let seed = ipv4_tcp(49152, 135, 5, b"payload bytes");
        let mut d = PacketDecoder::new(true);
        let mut c = Counters::default();
        for lt in [0, 1, 12, 101, 108, 113, 228, 229, 276] {
            for cut in 0..seed.len() + 20 {
                for flip in 0..seed.len() {
                    let mut p = eth(0x0800, &seed);
                    p.truncate(cut);
                    if let Some(b) = p.get_mut(flip) {
                        *b = b.wrapping_add(0x5b);
                    }
                    run(&mut d, &frame(lt, &p), &mut c);
                }
            }
        }
        assert!(c.tcp_segments > 0);
    }
}

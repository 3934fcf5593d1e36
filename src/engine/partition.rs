//! Which share of the connections one decoder takes: the one place the partition hash lives.

use crate::capture::TcpSegment;
use crate::flow::table::ConnKey;
use std::net::IpAddr;

/// Which share of the connections one pass decodes: those whose direction-independent
/// address pair hashes to `index` modulo `count`. Every pass still reads every packet (the
/// file is in the page cache after the first), so time and flow-table sweeps agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub(super) fn owns(&self, seg: &TcpSegment<'_>) -> bool {
        if self.count <= 1 {
            return true;
        }
        let key = ConnKey::new((seg.src, seg.sport), (seg.dst, seg.dport));
        // FNV-1a over the normalised pair: stable across threads and runs.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |b: &[u8]| {
            for x in b {
                h ^= *x as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for (ip, port) in [key.a, key.b] {
            match ip {
                IpAddr::V4(a) => eat(&a.octets()),
                IpAddr::V6(a) => eat(&a.octets()),
            }
            eat(&port.to_be_bytes());
        }
        (h % self.count as u64) as u32 == self.index
    }
}

//! Which decoder owns which connection: the one place the partition hash lives.
//!
//! Connections are partitioned by their two host addresses (direction-independent), not by
//! the full 4-tuple: DCE-RPC work between two hosts spans connections (the endpoint mapper
//! then the dynamic port, DCOM activation then the object's calls, a tool that reconnects
//! to start the service it created), and per-host-pair state such as the services linked
//! across connections must see all of them, in packet order, whatever the number of
//! decoders. The cost: all traffic of one busy host pair lands on one decoder.
//!
//! The same function serves distributed engines (Spark's shuffle key equals the decoder
//! key), so it must never change between runs, threads or machines: FNV-1a over the
//! addresses in a fixed order, no random seed.

use std::net::IpAddr;

/// Direction-independent 64-bit hash of a connection's two host addresses.
pub fn host_pair_hash(a: IpAddr, b: IpAddr) -> u64 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for x in bytes {
            h ^= u64::from(*x);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for ip in [lo, hi] {
        match ip {
            IpAddr::V4(v) => eat(&v.octets()),
            IpAddr::V6(v) => eat(&v.octets()),
        }
    }
    h
}

/// The partition (0..`partitions`) of the connections between `a` and `b`: the hash after
/// MurmurHash3's 64-bit finalizer (fmix64), modulo `partitions`. Not the raw hash modulo
/// `partitions`: FNV-1a mixes poorly (the low k bits of the hash depend only on the low k
/// bits of the input bytes, and one multiply per byte leaves the last bytes' effect in a
/// few bits), so a pair whose two addresses are equal (a loopback capture, a host talking
/// to itself) always had the same low bit and every such pair landed on one of two
/// decoders.
pub fn partition_of(a: IpAddr, b: IpAddr, partitions: u32) -> u32 {
    (fmix64(host_pair_hash(a, b)) % u64::from(partitions.max(1))) as u32
}

/// MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The partition of a captured frame (by its IP addresses; fragments go with their
/// datagram's connection), for engines that shuffle raw frames before decoding them;
/// `None` for frames that carry no IP packet (no decoder wants them).
pub fn frame_partition(linktype: u32, frame: &[u8], partitions: u32) -> Option<u32> {
    let (a, b) = crate::capture::decode::frame_hosts(linktype, frame)?;
    Some(partition_of(a, b, partitions))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FNV-1a 64 of the bytes 10.0.0.1 then 10.0.0.2.
    const HASH_10_0_0_1_AND_2: u64 = 0x1204_d130_12e1_45e0;
    /// fmix64 of it (computed by hand from MurmurHash3's definition).
    const FMIX_10_0_0_1_AND_2: u64 = 0x1df9_6930_060e_fb4e;

    #[test]
    fn either_direction_and_stable() {
        let a = IpAddr::from([10, 0, 0, 1]);
        let b = IpAddr::from([10, 0, 0, 2]);
        assert_eq!(host_pair_hash(a, b), host_pair_hash(b, a));
        // Fixed forever: Spark jobs and saved partitions rely on it.
        assert_eq!(host_pair_hash(a, b), HASH_10_0_0_1_AND_2);
        for n in 1..9 {
            assert!(partition_of(a, b, n) < n);
        }
        assert_eq!(partition_of(a, b, 1), 0);
        assert_eq!(fmix64(HASH_10_0_0_1_AND_2), FMIX_10_0_0_1_AND_2);
        assert_eq!(partition_of(a, b, 7), (FMIX_10_0_0_1_AND_2 % 7) as u32);
    }

    /// Host pairs whose two addresses are equal, and pairs that differ only above the low
    /// bits of each byte, spread over the decoders like any other.
    #[test]
    fn equal_and_even_addresses_spread() {
        for n in [2u32, 4, 8] {
            let mut seen = vec![0u32; n as usize];
            for i in 0..=255u8 {
                let a = IpAddr::from([10, 7, i, 1]);
                seen[partition_of(a, a, n) as usize] += 1;
                let even = IpAddr::from([10, 0, 2 * (i / 2), 4]);
                seen[partition_of(even, IpAddr::from([10, 0, 0, 2]), n) as usize] += 1;
            }
            let fair = 512 / n;
            assert!(
                seen.iter().all(|&c| c > fair / 2 && c < fair * 2),
                "{n} partitions: {seen:?}"
            );
        }
    }

    #[test]
    fn frames_partition_by_their_ip_addresses() {
        // Ethernet, IPv4 10.0.0.2 -> 10.0.0.1 (a fragment: no TCP header needed).
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&[0x45, 0, 0, 20, 0, 1, 0x20, 0x10, 64, 6, 0, 0]);
        f.extend_from_slice(&[10, 0, 0, 2, 10, 0, 0, 1]);
        let a = IpAddr::from([10, 0, 0, 1]);
        let b = IpAddr::from([10, 0, 0, 2]);
        for n in [1, 2, 7] {
            assert_eq!(frame_partition(1, &f, n), Some(partition_of(a, b, n)));
        }
        assert_eq!(frame_partition(1, &f[..20], 2), None);
        assert_eq!(frame_partition(1, b"not ethernet", 2), None);
    }
}

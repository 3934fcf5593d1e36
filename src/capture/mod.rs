//! Capture files: PCAP/PCAPNG (optionally gzip-compressed) in, link-layer frames out,
//! then link layer → IP → TCP segments. Owns link types, timestamps and IP defragmentation;
//! knows nothing of flows or protocols above TCP.

/// Packet time as read from the file, kept at full resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    pub fn new(secs: i64, nanos: u32) -> Self {
        Timestamp { secs, nanos }
    }
    /// Zeek's notion of packet time: libpcap cuts to microseconds, then
    /// `tv_sec + tv_usec / 1e6` as a double.
    pub fn zeek_time(self) -> f64 {
        self.secs as f64 + (self.nanos / 1000) as f64 / 1e6
    }
    /// Full-precision seconds as f64.
    pub fn as_f64(self) -> f64 {
        self.secs as f64 + self.nanos as f64 / 1e9
    }
}

pub mod decode;
pub mod files;
pub mod reader;
pub mod shared;

pub use decode::{PacketDecoder, TcpFlags, TcpSegment};
pub use files::{
    ByteCounter, collect_capture_paths, is_stdin, open_bytes, open_capture, open_capture_counted,
    open_stdin,
};
pub use reader::{CaptureError, Frame, read_frames};
pub use shared::Chunk;

/// Link-layer header types we decode (LINKTYPE_* values from the pcap spec).
pub mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

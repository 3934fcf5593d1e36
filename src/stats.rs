//! Run accounting: every packet, byte, call and every thing we could not decode is counted
//! here, so nothing is dropped silently. Counters merge across files and threads.

use serde::Serialize;
use std::collections::BTreeMap;

/// One problem worth showing the user with where it happened.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Notice {
    pub file: String,
    /// Byte offset in the (decompressed) capture file, when known.
    pub offset: Option<u64>,
    pub message: String,
    /// A file that could not be read at all: shown as an error even with `--quiet`
    /// (the others are notes about what was read).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub error: bool,
}

impl Notice {
    /// A note about something read (a truncated record, an overlap, ...).
    pub fn note(file: impl Into<String>, offset: Option<u64>, message: impl Into<String>) -> Self {
        Notice {
            file: file.into(),
            offset,
            message: message.into(),
            error: false,
        }
    }

    /// A file that could not be read (or opened) at all.
    pub fn error(file: impl Into<String>, offset: Option<u64>, message: impl Into<String>) -> Self {
        Notice {
            error: true,
            ..Notice::note(file, offset, message)
        }
    }
}

/// Named `u64` counters: a struct with one field per counter, `merge_counts` (add another
/// instance's) and `count_lines` (label and value of each, in declaration order). Add a
/// field for each new kind of event; merging and the summary pick it up.
macro_rules! counters {
    ($(#[$sm:meta])* $name:ident { $($(#[$m:meta])* $field:ident : $label:expr),* $(,)? }
     $(extra { $($(#[$xm:meta])* $xf:ident : $xt:ty),* $(,)? })?) => {
        $(#[$sm])*
        #[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
        pub struct $name {
            $($(#[$m])* pub $field: u64,)*
            $($($(#[$xm])* pub $xf: $xt,)*)?
        }
        impl $name {
            fn merge_counts(&mut self, o: &$name) {
                $(self.$field += o.$field;)*
            }
            fn count_lines(&self) -> Vec<(&'static str, u64)> {
                vec![$(($label, self.$field)),*]
            }
        }
    };
}

impl Counters {
    pub fn merge(&mut self, o: &Counters) {
        self.merge_counts(o);
        self.smb.merge(&o.smb);
        self.keys.merge(&o.keys);
        for (k, v) in &o.unknown_linktypes {
            *self.unknown_linktypes.entry(*k).or_insert(0) += v;
        }
    }

    /// (label, value) for every counter, in declaration order (the SMB layer's last).
    pub fn lines(&self) -> Vec<(&'static str, u64)> {
        let mut v = self.count_lines();
        v.extend(self.smb.lines());
        v
    }
}

impl SmbCounters {
    pub fn merge(&mut self, o: &SmbCounters) {
        self.merge_counts(o);
    }

    /// (label, value) for every counter, in declaration order.
    pub fn lines(&self) -> Vec<(&'static str, u64)> {
        self.count_lines()
    }
}

counters! {
    /// What a run saw and could not decode, layer by layer.
    Counters {
    files: "capture files",
    files_failed: "capture files that could not be read",
    packets: "packets",
    bytes: "bytes (captured)",
    truncated_records: "truncated capture records (file cut short)",
    snaplen_cut: "packets cut by snaplen",
    garbage_after_prefix: "unreadable data after a valid prefix",
    malformed_records: "malformed capture records (skipped)",
    unknown_interface: "pcapng packets on an undeclared interface (skipped)",
    non_ip: "non-IP frames",
    malformed_l2: "malformed link-layer frames",
    malformed_ip: "malformed IP packets",
    bad_checksums: "packets with bad checksums (dropped, --verify-checksums)",
    ip_fragments: "IP fragments",
    ip_reassembled: "IP datagrams reassembled",
    ip_frag_dropped: "IP fragments dropped (limit or timeout)",
    non_tcp: "non-TCP IP packets",
    malformed_tcp: "malformed or cut TCP headers",
    tcp_segments: "TCP segments",
    tcp_connections: "TCP connections",
    tcp_gaps: "TCP gaps (lost segments)",
    tcp_gap_bytes: "bytes missing in TCP gaps",
    tcp_retransmissions: "TCP retransmitted segments",
    tcp_overlaps_conflicting: "TCP overlaps with conflicting data",
    tcp_ooo_limit: "TCP out-of-order limit hits (per-flow buffer or segment count)",
    tcp_memory_limit: "TCP total memory limit hits",
    tcp_flow_limit: "flow table limit hits (oldest flow evicted)",
    parser_memory_limit: "connections closed early to keep parser buffers within --max-memory",
    dcerpc_connections: "DCE-RPC connections",
    dcerpc_pdus: "DCE-RPC PDUs",
    dcerpc_calls: "DCE-RPC calls",
    dcerpc_resyncs: "DCE-RPC resynchronisations after gap or garbage",
    dcerpc_bad_pdus: "malformed DCE-RPC PDUs",
    dcerpc_truncated_pdus: "DCE-RPC PDUs cut off at the end of their stream",
    dcerpc_missed_binds: "calls whose bind was not seen",
    dcerpc_encrypted_stubs: "calls with encrypted stubs (packet privacy)",
    /// Sealed calls whose every request fragment rpcsift unsealed with a key that verified.
    dcerpc_decrypted_calls: "sealed calls decrypted with the analyst's keys",
    /// Sealed calls still sealed after the run (no key verified, or unsealing failed).
    dcerpc_sealed_left: "sealed calls left encrypted (no key worked)",
    /// Sealed PDUs whose signature did not verify after unsealing: their stub is not used.
    dcerpc_unseal_failures: "sealed PDUs whose signature did not verify after unsealing (stub not used)",
    /// Signed PDUs (packet integrity) whose signature verified / did not, with a key.
    dcerpc_signatures_verified: "DCE-RPC signatures verified with the analyst's keys",
    dcerpc_signature_failures: "DCE-RPC signatures that did not verify (packet integrity)",
    dcerpc_frag_limit: "DCE-RPC fragment reassembly limit hits",
    dcerpc_pending_limit: "DCE-RPC pending call limit hits",
    dcerpc_no_response: "calls without response",
    dcerpc_faults: "calls answered with a fault",
    dcerpc_orphan_responses: "responses without a request",
    args_malformed: "execution-call stubs that do not decode (args_status malformed)",
    args_limit: "argument decodes stopped at an NDR limit (nesting depth, array length)",
    records_filtered: "calls decoded and not kept (detect keeps only the calls that hit)",
    zeek_too_much_fragment_data: "Zeek emulation: weird too_much_dce_rpc_fragment_data (one fragment over DCE_RPC::max_frag_data; analyzer stops)",
    zeek_too_many_msgs_in_reassembly: "Zeek emulation: weird too_many_dce_rpc_msgs_in_reassembly (analyzer stops)",
    zeek_multiple_first_fragments: "Zeek emulation: weird multiple_first_fragments_in_dce_rpc_reassembly (analyzer stops)",
    zeek_dce_rpc_analyzers_discarded: "Zeek emulation: SMB pipe analyzers discarded at SMB::max_dce_rpc_analyzers (weird SMB_discarded_dce_rpc_analyzers)",
    }
    extra {
        /// Frames per link type we do not decode.
        unknown_linktypes: BTreeMap<u32, u64>,
        /// The SMB layer's own counters.
        smb: SmbCounters,
        /// Which accounts' keys verified, which accounts had none, which keys failed.
        keys: KeyUse,
    }
}

counters! {
    /// Named counters of the SMB layer, merged with [`Counters`].
    SmbCounters {
    smb_connections: "SMB connections",
    smb1_messages: "SMB1 messages",
    smb2_messages: "SMB2 messages (compounded commands counted one by one)",
    /// Transform messages rpcsift could not decrypt (no key for the session, or a wrong one).
    smb3_encrypted_messages: "SMB3 encrypted messages (counted, not decoded)",
    smb3_encrypted_bytes: "bytes in SMB3 encrypted messages",
    smb3_decrypted_messages: "SMB3 encrypted messages decrypted with the analyst's keys",
    /// Distinct (connection, SessionId) pairs whose transform messages decrypted.
    smb3_decrypted_sessions: "SMB3 sessions decrypted with the analyst's keys",
    /// Transform messages whose authentication tag did not verify with the session's keys.
    smb3_decrypt_failures: "SMB3 encrypted messages that did not decrypt with the session's keys",
    smb3_compressed_messages: "SMB3 compressed messages (counted, not decoded)",
    /// Distinct (connection, SessionId) pairs seen in transform headers that rpcsift could
    /// not decrypt.
    smb3_encrypted_sessions: "SMB3 encrypted sessions",
    /// Connections that carried compressed messages (their header names no session).
    smb3_compressed_connections: "SMB connections with SMB3 compressed messages",
    smb_signed_messages: "signed SMB messages",
    smb_bad_messages: "malformed SMB messages",
    smb_resyncs: "SMB resynchronisations after gap or garbage",
    smb_oversize: "SMB messages over the size limit (discarded)",
    smb_streamed_skips: "large non-pipe SMB messages skipped without buffering",
    pipes_opened: "named pipes opened",
    pipe_bytes: "named pipe bytes",
    non_pipe_bytes_skipped: "file bytes skipped (not a pipe)",
    unmatched_read_responses: "READ responses without their request",
    file_table_evictions: "SMB open-file table limit hits (oldest evicted)",
    tree_table_evictions: "SMB tree table limit hits (oldest evicted)",
    andx_chain_limit: "SMB1 AndX chain limit hits",
    compound_chain_limit: "SMB2 compound chain limit hits",
    smb_pending_limit: "SMB pending request limit hits (oldest evicted)",
    smb_deferred_limit: "compounded pipe data dropped (deferred-data limit)",
    smb1_other_pipe_transactions: "SMB1 named-pipe transactions other than transact/read/write",
    }
}

/// Accounts and keys recorded per kind at most (each map); the rest is counted in
/// [`KeyUse::dropped`].
pub const MAX_KEY_USE_ENTRIES: usize = 1024;

/// What the analyst's keys did, for the summary: accounts whose key verified, accounts
/// seen without one, keys that did not verify. Account names and key origins (`FILE:LINE`,
/// `--password #1`) only: never a key, password or hash. Empty when the run had no keys.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct KeyUse {
    /// Accounts (`DOMAIN\user` for NTLM, `user@REALM` for Kerberos) whose key verified:
    /// how, and how many authentications.
    pub verified: BTreeMap<String, AccountKey>,
    /// Accounts that authenticated with no key that verified (NTLM), and Kerberos tickets
    /// no key opened (named by their service: the client is inside the ticket), with the
    /// number of authentications.
    pub without_key: BTreeMap<String, u64>,
    /// Keys that matched an account and did not verify (never used): `ORIGIN (ACCOUNT)` →
    /// authentications tried.
    pub keys_failed: BTreeMap<String, u64>,
    /// Entries not recorded past [`MAX_KEY_USE_ENTRIES`].
    pub dropped: u64,
}

/// How one account's key verified.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct AccountKey {
    /// `ntlm` or `kerberos`.
    pub auth: &'static str,
    /// The kind of key: `password`, `nt-hash` or `keytab`.
    pub with: &'static str,
    /// Where the key came from (`FILE:LINE` or `--password #1`).
    pub origin: String,
    /// Authentications it verified.
    pub times: u64,
}

impl KeyUse {
    pub fn is_empty(&self) -> bool {
        self.verified.is_empty()
            && self.without_key.is_empty()
            && self.keys_failed.is_empty()
            && self.dropped == 0
    }

    fn room<V>(map: &BTreeMap<String, V>, key: &str, dropped: &mut u64) -> bool {
        let ok = map.contains_key(key) || map.len() < MAX_KEY_USE_ENTRIES;
        if !ok {
            *dropped += 1;
        }
        ok
    }

    /// An account's key verified (`auth`: `ntlm`/`kerberos`; `with`: the key's kind).
    pub fn verified(
        &mut self,
        account: &str,
        auth: &'static str,
        with: &'static str,
        origin: &str,
    ) {
        if Self::room(&self.verified, account, &mut self.dropped) {
            let e = self
                .verified
                .entry(account.to_string())
                .or_insert_with(|| AccountKey {
                    auth,
                    with,
                    origin: origin.to_string(),
                    times: 0,
                });
            e.times += 1;
        }
    }

    /// An account (or a Kerberos ticket's service) authenticated and no key verified.
    pub fn without_key(&mut self, account: &str) {
        if Self::room(&self.without_key, account, &mut self.dropped) {
            *self.without_key.entry(account.to_string()).or_insert(0) += 1;
        }
    }

    /// A key matched `account` and did not verify.
    pub fn key_failed(&mut self, origin: &str, account: &str) {
        let k = format!("{origin} ({account})");
        if Self::room(&self.keys_failed, &k, &mut self.dropped) {
            *self.keys_failed.entry(k).or_insert(0) += 1;
        }
    }

    pub fn merge(&mut self, o: &KeyUse) {
        for (k, v) in &o.verified {
            if Self::room(&self.verified, k, &mut self.dropped) {
                let e = self
                    .verified
                    .entry(k.clone())
                    .or_insert_with(|| AccountKey {
                        times: 0,
                        ..v.clone()
                    });
                e.times += v.times;
            }
        }
        for (k, v) in &o.without_key {
            if Self::room(&self.without_key, k, &mut self.dropped) {
                *self.without_key.entry(k.clone()).or_insert(0) += v;
            }
        }
        for (k, v) in &o.keys_failed {
            if Self::room(&self.keys_failed, k, &mut self.dropped) {
                *self.keys_failed.entry(k.clone()).or_insert(0) += v;
            }
        }
        self.dropped += o.dropped;
    }

    /// The summary's lines about keys, one per account or key (nothing when empty).
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (a, k) in &self.verified {
            out.push(format!(
                "key verified: {a} ({}, {} from {}, {} authentication{})",
                k.auth,
                k.with,
                k.origin,
                k.times,
                if k.times == 1 { "" } else { "s" }
            ));
        }
        for (a, n) in &self.without_key {
            out.push(format!(
                "no key verified: {a} ({n} authentication{})",
                if *n == 1 { "" } else { "s" }
            ));
        }
        for (k, n) in &self.keys_failed {
            out.push(format!(
                "key did not verify, never used: {k} ({n} time{})",
                if *n == 1 { "" } else { "s" }
            ));
        }
        if self.dropped > 0 {
            out.push(format!(
                "{} more accounts or keys not listed (limit {MAX_KEY_USE_ENTRIES})",
                self.dropped
            ));
        }
        out
    }
}

/// Peak resident memory of this process (Linux `VmHWM`), for the run summary and for
/// tests that bound memory use. `None` where `/proc` is not available.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_rss_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let v = super::peak_rss_bytes().expect("VmHWM on Linux");
            // At least the test harness itself, and far less than a terabyte.
            assert!(v > 1 << 20 && v < 1 << 40, "{v}");
        }
    }
}

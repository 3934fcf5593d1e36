//! Authentication tokens and the analyst's keys (a leaf: imports nothing from other layers).
//!
//! NTLMSSP serves DCE-RPC auth trailers and SMB session setup alike, so it lives here rather
//! than under `smb`.

pub mod kerberos;
pub mod keys;
pub mod keytab;
pub mod ntlm;
pub mod ntlmssp;
pub mod smb3;

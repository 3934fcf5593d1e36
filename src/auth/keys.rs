//! The analyst's keys: key files (`--keys FILE`) and the convenience flags (`--password`,
//! `--nt-hash`, `--keytab`), gathered in a [`KeyRing`].
//!
//! Key file: UTF-8 text, one key a line, fields separated by whitespace, `#` starts a
//! comment line, blank lines are skipped:
//!
//! ```text
//! password USER SECRET        # SECRET is the rest of the line; nothing = empty password
//! nt-hash USER HEX            # the 32-hex-digit NT hash
//! keytab PATH                 # an MIT keytab, PATH relative to the key file
//! smb3-key SESSION_ID SESSION_KEY [C2S_KEY S2C_KEY]
//! ```
//!
//! USER is `DOMAIN\name`, `name@REALM` or `*` (any account); a bare `name` matches that
//! name in any domain. Matching ignores case; a domain written as a DNS name
//! (`corp.example.com`) also matches its NetBIOS form when that is the DNS name's first
//! label (`CORP`), which is how domains are named unless an administrator chose otherwise.
//!
//! SESSION_ID is 16 hex digits, the 8 bytes as they appear on the wire (little-endian, as
//! Wireshark's `smb2_seskey_list` takes them). SESSION_KEY is the 16-byte SMB session key
//! (32 hex digits); C2S/S2C are the derived cipher keys (16 or 32 bytes), for sessions
//! whose keys were taken from elsewhere.
//!
//! Secrets live in [`Secret`], whose Debug output never shows them and which wipes its
//! memory when dropped. Errors name the file and line, never the secret.
//!
//! Bounded: [`MAX_KEY_FILE_BYTES`] per file, [`MAX_LINE_BYTES`] per line, [`MAX_KEYS`] in
//! a ring (keytab entries included).

use super::keytab::{self, KeytabEntry};
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Largest key file read.
pub const MAX_KEY_FILE_BYTES: usize = 1 << 20;
/// Longest line of a key file.
pub const MAX_LINE_BYTES: usize = 4096;
/// Keys held in one ring, keytab entries included.
pub const MAX_KEYS: usize = 10_000;

/// Secret bytes: a password, an NT hash, a key. Debug prints no content; the memory is
/// wiped on drop.
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }
    /// The secret bytes, for the key derivation that needs them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Which account a key is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserMatch {
    /// `*`: try for every account.
    Any,
    /// `DOMAIN\name`, `name@REALM` or a bare `name` (`domain: None`). Stored lower-cased.
    Account {
        name: String,
        domain: Option<String>,
    },
}

impl UserMatch {
    /// Parse the USER field of a key line.
    pub fn parse(s: &str) -> Option<UserMatch> {
        if s == "*" {
            return Some(UserMatch::Any);
        }
        let (name, domain) = if let Some((d, n)) = s.split_once('\\') {
            (n, Some(d))
        } else if let Some((n, d)) = s.rsplit_once('@') {
            (n, Some(d))
        } else {
            (s, None)
        };
        if name.is_empty() || domain.is_some_and(str::is_empty) {
            return None;
        }
        Some(UserMatch::Account {
            name: name.to_lowercase(),
            domain: domain.map(str::to_lowercase),
        })
    }

    /// Does an account seen on the wire (NTLM user + domain, or Kerberos cname + crealm)
    /// match? A `user@domain` user with an empty domain (UPN logon) is split first.
    pub fn matches(&self, user: &str, domain: &str) -> bool {
        let UserMatch::Account { name, domain: want } = self else {
            return true;
        };
        let (user, domain) = match user.rsplit_once('@') {
            Some((u, d)) if domain.is_empty() => (u, d),
            _ => (user, domain),
        };
        if !user.eq_ignore_ascii_case(name) && user.to_lowercase() != *name {
            return false;
        }
        match want {
            None => true,
            Some(w) => same_domain(w, domain),
        }
    }
}

/// Same domain, ignoring case, a DNS name also matching its first label (NetBIOS form).
pub fn same_domain(a: &str, b: &str) -> bool {
    let first = |s: &str| s.split('.').next().unwrap_or("").to_lowercase();
    let (a, b) = (a.to_lowercase(), b.to_lowercase());
    if a == b {
        return true;
    }
    match (a.contains('.'), b.contains('.')) {
        (true, false) => first(&a) == b,
        (false, true) => a == first(&b),
        _ => false,
    }
}

/// How a record was decrypted: the `decrypted_with` values of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeySource {
    Password,
    NtHash,
    Keytab,
    Smb3Key,
}

impl KeySource {
    pub fn as_str(self) -> &'static str {
        match self {
            KeySource::Password => "password",
            KeySource::NtHash => "nt-hash",
            KeySource::Keytab => "keytab",
            KeySource::Smb3Key => "smb3-key",
        }
    }
}

/// Where a key came from, for the summary (never the key itself): `FILE:LINE` or the flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File { path: PathBuf, line: usize },
    Flag { flag: &'static str, index: usize },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Flag { flag, index } => write!(f, "{flag} #{index}"),
        }
    }
}

/// An NTLM credential: a password (both NT and LM one-way functions can be computed) or an
/// NT hash.
#[derive(Debug, Clone)]
pub struct NtlmKey {
    pub user: UserMatch,
    pub source: KeySource,
    pub origin: Origin,
    /// NTOWFv1 = MD4(UTF-16LE(password)), or the NT hash as given.
    pub nt_hash: Secret,
    /// The password itself (LMOWFv1 and Kerberos string-to-key need it); None for a hash.
    pub password: Option<Secret>,
}

/// A keytab entry with where it came from.
#[derive(Debug, Clone)]
pub struct KeytabKey {
    pub entry: KeytabEntry,
    pub origin: Origin,
}

/// Keys of one SMB3 session given directly (`smb3-key`).
#[derive(Debug, Clone)]
pub struct Smb3SessionKey {
    /// The session id as a number (the wire's 8 little-endian bytes).
    pub session_id: u64,
    pub session_key: Secret,
    /// Client-to-server and server-to-client cipher keys, when given.
    pub c2s: Option<Secret>,
    pub s2c: Option<Secret>,
    pub origin: Origin,
}

#[derive(Debug, Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: larger than {MAX_KEY_FILE_BYTES} bytes")]
    FileTooLarge { path: PathBuf },
    #[error("{path}:{line}: {what}")]
    Syntax {
        path: PathBuf,
        line: usize,
        what: String,
    },
    #[error("{path}:{line}: keytab {keytab}: {what}")]
    Keytab {
        path: PathBuf,
        line: usize,
        keytab: PathBuf,
        what: String,
    },
    #[error("{flag}: {what}")]
    Flag { flag: &'static str, what: String },
    #[error("more than {MAX_KEYS} keys")]
    TooManyKeys,
}

/// Everything the analyst gave: NTLM credentials, keytab keys and SMB3 session keys.
#[derive(Debug, Default, Clone)]
pub struct KeyRing {
    pub ntlm: Vec<NtlmKey>,
    pub keytab: Vec<KeytabKey>,
    pub smb3: Vec<Smb3SessionKey>,
    flag_count: usize,
    /// Kerberos keys derived from passwords (PBKDF2 costs milliseconds, and every AP-REQ
    /// for the same service needs the same ones), shared by the clones of the ring.
    pub(crate) derived: DerivedKeys,
}

/// Cache of string-to-key results: (index in `ntlm`, etype, salt) → key bytes (None when
/// the derivation does not apply). Bounded by [`MAX_DERIVED`].
pub(crate) type DerivedKeys =
    std::sync::Arc<std::sync::Mutex<crate::FastMap<(usize, i32, Vec<u8>), Option<Secret>>>>;

/// Derived keys cached per ring.
pub const MAX_DERIVED: usize = 4096;

/// NTOWFv1: MD4 of the UTF-16LE password.
pub fn nt_hash_of(password: &[u8]) -> [u8; 16] {
    use md4::{Digest, Md4};
    let text = String::from_utf8_lossy(password);
    let mut h = Md4::new();
    for u in text.encode_utf16() {
        h.update(u.to_le_bytes());
    }
    h.finalize().into()
}

/// Read at most `max + 1` bytes of a file (a device or a growing file cannot make the read
/// unbounded; one byte more than allowed tells the caller it is too large).
fn read_bounded(path: &Path, max: usize) -> std::io::Result<Zeroizing<Vec<u8>>> {
    use std::io::Read;
    let mut out = Zeroizing::new(Vec::new());
    std::fs::File::open(path)?
        .take(max as u64 + 1)
        .read_to_end(&mut out)?;
    Ok(out)
}

/// Hex of exactly `n` bytes, or None.
fn hex_exact(s: &str, n: usize) -> Option<Zeroizing<Vec<u8>>> {
    if s.len() != 2 * n {
        return None;
    }
    hex_any(s)
}

fn hex_any(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let v = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some(Zeroizing::new(v))
}

/// Split off the first whitespace-separated field.
fn field(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

impl KeyRing {
    pub fn new() -> Self {
        Self::default()
    }

    /// No key at all: decryption is off and nothing changes.
    pub fn is_empty(&self) -> bool {
        self.ntlm.is_empty() && self.keytab.is_empty() && self.smb3.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ntlm.len() + self.keytab.len() + self.smb3.len()
    }

    fn room(&self, more: usize) -> Result<(), KeyError> {
        if self.len().saturating_add(more) > MAX_KEYS {
            return Err(KeyError::TooManyKeys);
        }
        Ok(())
    }

    /// Read a key file (`--keys FILE`).
    pub fn load_file(&mut self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let bytes = read_bounded(path, MAX_KEY_FILE_BYTES).map_err(io)?;
        if bytes.len() > MAX_KEY_FILE_BYTES {
            return Err(KeyError::FileTooLarge {
                path: path.to_path_buf(),
            });
        }
        let base = path.parent().unwrap_or(Path::new("."));
        self.load_bytes(&bytes, path, base)
    }

    /// Parse key-file text; `path` names it in errors, keytab paths are relative to `base`.
    pub fn load_bytes(&mut self, bytes: &[u8], path: &Path, base: &Path) -> Result<(), KeyError> {
        if bytes.len() > MAX_KEY_FILE_BYTES {
            return Err(KeyError::FileTooLarge {
                path: path.to_path_buf(),
            });
        }
        for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = i + 1;
            let syntax = |what: &str| KeyError::Syntax {
                path: path.to_path_buf(),
                line,
                what: what.to_string(),
            };
            if raw.len() > MAX_LINE_BYTES {
                return Err(syntax(&format!("line longer than {MAX_LINE_BYTES} bytes")));
            }
            let text = std::str::from_utf8(raw).map_err(|_| syntax("not UTF-8 text"))?;
            let text = text.strip_suffix('\r').unwrap_or(text);
            let trimmed = text.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let origin = Origin::File {
                path: path.to_path_buf(),
                line,
            };
            self.room(1)?;
            let (kind, rest) = field(trimmed);
            match kind {
                "password" => {
                    let (user, rest) = field(rest);
                    let user = UserMatch::parse(user).ok_or_else(|| {
                        syntax("password: USER must be DOMAIN\\name, name@REALM or *")
                    })?;
                    // The secret is the rest of the line after the separating whitespace.
                    let secret = rest.trim_start_matches([' ', '\t']);
                    self.push_password(user, secret.as_bytes(), origin);
                }
                "nt-hash" => {
                    let (user, rest) = field(rest);
                    let (hex, rest) = field(rest);
                    let user = UserMatch::parse(user).ok_or_else(|| {
                        syntax("nt-hash: USER must be DOMAIN\\name, name@REALM or *")
                    })?;
                    let hash = hex_exact(hex, 16)
                        .ok_or_else(|| syntax("nt-hash: HEX must be 32 hex digits"))?;
                    if !rest.trim().is_empty() {
                        return Err(syntax("nt-hash: unexpected field after HEX"));
                    }
                    self.ntlm.push(NtlmKey {
                        user,
                        source: KeySource::NtHash,
                        origin,
                        nt_hash: Secret::new(hash.to_vec()),
                        password: None,
                    });
                }
                "keytab" => {
                    let rel = rest.trim();
                    if rel.is_empty() {
                        return Err(syntax("keytab: PATH missing"));
                    }
                    let kt = base.join(rel);
                    self.add_keytab_at(&kt, origin)
                        .map_err(|what| KeyError::Keytab {
                            path: path.to_path_buf(),
                            line,
                            keytab: kt.clone(),
                            what,
                        })?;
                }
                "smb3-key" => {
                    let (sid, rest) = field(rest);
                    let (key, rest) = field(rest);
                    let (c2s, rest) = field(rest);
                    let (s2c, rest) = field(rest);
                    if !rest.trim().is_empty() {
                        return Err(syntax("smb3-key: unexpected field after S2C_KEY"));
                    }
                    let sid = hex_exact(sid, 8)
                        .ok_or_else(|| syntax("smb3-key: SESSION_ID must be 16 hex digits"))?;
                    let mut id = [0u8; 8];
                    id.copy_from_slice(&sid);
                    let key = hex_exact(key, 16)
                        .ok_or_else(|| syntax("smb3-key: SESSION_KEY must be 32 hex digits"))?;
                    let cipher_key = |s: &str| {
                        hex_any(s)
                            .filter(|k| k.len() == 16 || k.len() == 32)
                            .map(|k| Secret::new(k.to_vec()))
                    };
                    let (c2s, s2c) = match (c2s.is_empty(), s2c.is_empty()) {
                        (true, true) => (None, None),
                        (false, false) => (
                            Some(cipher_key(c2s).ok_or_else(|| {
                                syntax("smb3-key: C2S_KEY must be 32 or 64 hex digits")
                            })?),
                            Some(cipher_key(s2c).ok_or_else(|| {
                                syntax("smb3-key: S2C_KEY must be 32 or 64 hex digits")
                            })?),
                        ),
                        _ => {
                            return Err(syntax(
                                "smb3-key: give both C2S_KEY and S2C_KEY or neither",
                            ));
                        }
                    };
                    self.smb3.push(Smb3SessionKey {
                        session_id: u64::from_le_bytes(id),
                        session_key: Secret::new(key.to_vec()),
                        c2s,
                        s2c,
                        origin,
                    });
                }
                _ => {
                    return Err(syntax(
                        "unknown key type (expected password, nt-hash, keytab or smb3-key)",
                    ));
                }
            }
        }
        Ok(())
    }

    fn push_password(&mut self, user: UserMatch, secret: &[u8], origin: Origin) {
        self.ntlm.push(NtlmKey {
            user,
            source: KeySource::Password,
            origin,
            nt_hash: Secret::new(nt_hash_of(secret).to_vec()),
            password: Some(Secret::new(secret.to_vec())),
        });
    }

    fn next_flag(&mut self, flag: &'static str) -> Origin {
        self.flag_count += 1;
        Origin::Flag {
            flag,
            index: self.flag_count,
        }
    }

    /// `--password SECRET`: tried for every account.
    pub fn add_password(&mut self, secret: &str) -> Result<(), KeyError> {
        self.room(1)?;
        let origin = self.next_flag("--password");
        self.push_password(UserMatch::Any, secret.as_bytes(), origin);
        Ok(())
    }

    /// `--nt-hash HEX`: tried for every NTLM account.
    pub fn add_nt_hash(&mut self, hex: &str) -> Result<(), KeyError> {
        self.room(1)?;
        let hash = hex_exact(hex.trim(), 16).ok_or(KeyError::Flag {
            flag: "--nt-hash",
            what: "must be 32 hex digits".into(),
        })?;
        let origin = self.next_flag("--nt-hash");
        self.ntlm.push(NtlmKey {
            user: UserMatch::Any,
            source: KeySource::NtHash,
            origin,
            nt_hash: Secret::new(hash.to_vec()),
            password: None,
        });
        Ok(())
    }

    /// `--keytab PATH`.
    pub fn add_keytab(&mut self, path: &Path) -> Result<(), KeyError> {
        let origin = self.next_flag("--keytab");
        self.add_keytab_at(path, origin)
            .map_err(|what| KeyError::Flag {
                flag: "--keytab",
                what: format!("{}: {what}", path.display()),
            })
    }

    fn add_keytab_at(&mut self, path: &Path, origin: Origin) -> Result<(), String> {
        let bytes = read_bounded(path, keytab::MAX_KEYTAB_BYTES).map_err(|e| e.to_string())?;
        let entries = keytab::parse(&bytes).map_err(|e| e.to_string())?;
        self.room(entries.len()).map_err(|e| e.to_string())?;
        self.keytab
            .extend(entries.into_iter().map(|entry| KeytabKey {
                entry,
                origin: origin.clone(),
            }));
        Ok(())
    }

    /// NTLM credentials to try for an account seen on the wire.
    pub fn ntlm_for<'a>(
        &'a self,
        user: &'a str,
        domain: &'a str,
    ) -> impl Iterator<Item = &'a NtlmKey> + 'a {
        self.ntlm
            .iter()
            .filter(move |k| k.user.matches(user, domain))
    }

    /// The `smb3-key` line for a session id, if any.
    pub fn smb3_for(&self, session_id: u64) -> Option<&Smb3SessionKey> {
        self.smb3.iter().find(|k| k.session_id == session_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(text: &str) -> Result<KeyRing, KeyError> {
        let mut r = KeyRing::new();
        r.load_bytes(
            text.as_bytes(),
            Path::new("lab.keys"),
            Path::new("/nonexistent"),
        )?;
        Ok(r)
    }

    fn err_text(text: &str) -> String {
        ring(text).unwrap_err().to_string()
    }

    #[test]
    fn all_line_kinds() {
        let r = ring(
            "# lab keys\n\
             \n\
             password LAB\\alice Passw0rd! with spaces\n\
             password bob@LAB.LOCAL   x\r\n\
             password CORP\\dc01$\n\
             nt-hash * 8846F7EAEE8FB117AD06BDD830B7586C\n\
             smb3-key 0100000000040000 00112233445566778899aabbccddeeff\n\
             smb3-key 0200000000040000 00112233445566778899aabbccddeeff 000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f\n",
        )
        .unwrap();
        assert_eq!(r.ntlm.len(), 4);
        assert_eq!(
            r.ntlm[0].password.as_ref().unwrap().expose(),
            b"Passw0rd! with spaces"
        );
        assert_eq!(r.ntlm[1].password.as_ref().unwrap().expose(), b"x");
        // The empty password: NT hash of "" (31d6cfe0...).
        assert_eq!(r.ntlm[2].password.as_ref().unwrap().expose(), b"");
        assert_eq!(r.ntlm[2].nt_hash.expose()[..4], [0x31, 0xd6, 0xcf, 0xe0]);
        // "password" hashes to 8846f7ea... ; the hash line is kept as given.
        assert_eq!(r.ntlm[3].nt_hash.expose(), &nt_hash_of(b"password"));
        assert_eq!(r.ntlm[3].source, KeySource::NtHash);
        assert_eq!(r.ntlm[0].origin.to_string(), "lab.keys:3");
        assert_eq!(r.smb3.len(), 2);
        assert_eq!(r.smb3[0].session_id, 0x0000_0400_0000_0001);
        assert!(r.smb3_for(0x0000_0400_0000_0001).unwrap().c2s.is_none());
        assert_eq!(
            r.smb3_for(0x0000_0400_0000_0002)
                .unwrap()
                .s2c
                .as_ref()
                .unwrap()
                .expose()[0],
            0x10
        );
        assert!(r.smb3_for(7).is_none());
    }

    #[test]
    fn user_matching() {
        let m = |s: &str| UserMatch::parse(s).unwrap();
        assert!(m("*").matches("anyone", "ANYWHERE"));
        assert!(m("LAB\\Alice").matches("alice", "lab"));
        assert!(m("lab.local\\alice").matches("ALICE", "LAB"));
        assert!(m("LAB\\alice").matches("alice", "lab.local"));
        assert!(m("alice@LAB.LOCAL").matches("alice", "LAB"));
        assert!(m("alice@LAB.LOCAL").matches("alice@lab.local", ""));
        assert!(!m("LAB\\alice").matches("alice", "OTHER"));
        assert!(!m("LAB\\alice").matches("bob", "LAB"));
        assert!(!m("a.b\\alice").matches("alice", "c.b"));
        assert!(m("alice").matches("Alice", "whatever"));
        assert_eq!(UserMatch::parse("LAB\\"), None);
        assert_eq!(UserMatch::parse("@REALM"), None);
        assert_eq!(UserMatch::parse(""), None);
    }

    #[test]
    fn errors_name_file_and_line_never_the_secret() {
        let e = err_text("password LAB\\a ok\nnt-hash LAB\\a 1234\n");
        assert_eq!(e, "lab.keys:2: nt-hash: HEX must be 32 hex digits");
        assert!(!e.contains("1234"));
        assert!(err_text("frobnicate x y\n").starts_with("lab.keys:1: unknown key type"));
        assert!(err_text("password\n").starts_with("lab.keys:1: password: USER"));
        assert!(err_text("smb3-key 01 00112233445566778899aabbccddeeff\n").contains("SESSION_ID"));
        assert!(err_text("smb3-key 0100000000040000 00\n").contains("SESSION_KEY"));
        assert!(err_text("smb3-key 0100000000040000 00112233445566778899aabbccddeeff 00112233445566778899aabbccddeeff\n").contains("both"));
        assert!(
            err_text("nt-hash * 8846F7EAEE8FB117AD06BDD830B7586C extra\n").contains("unexpected")
        );
        let mut bad_utf8 = b"# ok\n".to_vec();
        bad_utf8.extend_from_slice(b"password * \xff\xfe\n");
        let mut r = KeyRing::new();
        let e = r
            .load_bytes(&bad_utf8, Path::new("k"), Path::new("."))
            .unwrap_err();
        assert_eq!(e.to_string(), "k:2: not UTF-8 text");
        let long = format!("password * {}\n", "x".repeat(MAX_LINE_BYTES));
        assert!(err_text(&long).contains("longer than"));
        let e = err_text("keytab missing.keytab\n");
        assert!(
            e.starts_with("lab.keys:1: keytab /nonexistent/missing.keytab: "),
            "{e}"
        );
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let r = ring("password LAB\\alice hunter2\n").unwrap();
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("hunter2"));
        assert!(dbg.contains("Secret(<redacted>)"));
    }

    #[test]
    fn flags_and_keytab_relative_to_the_key_file() {
        let dir = std::env::temp_dir().join(format!("rpcsift-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kt = crate::auth::keytab::tests::keytab(&[crate::auth::keytab::tests::record(
            "LAB.LOCAL",
            &["DC1$"],
            2,
            18,
            &[7u8; 32],
            None,
        )]);
        std::fs::write(dir.join("svc.keytab"), kt).unwrap();
        std::fs::write(dir.join("lab.keys"), "keytab svc.keytab\n").unwrap();
        let mut r = KeyRing::new();
        r.load_file(&dir.join("lab.keys")).unwrap();
        assert_eq!(r.keytab.len(), 1);
        assert_eq!(r.keytab[0].entry.enctype, 18);
        r.add_keytab(&dir.join("svc.keytab")).unwrap();
        r.add_password("Summer2024").unwrap();
        r.add_nt_hash("8846f7eaee8fb117ad06bdd830b7586c").unwrap();
        assert!(r.add_nt_hash("xyz").is_err());
        assert_eq!(r.keytab.len(), 2);
        assert_eq!(r.ntlm_for("x", "Y").count(), 2);
        assert_eq!(r.ntlm[1].origin.to_string(), "--nt-hash #3");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

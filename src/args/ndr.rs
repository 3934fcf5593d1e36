//! A small, bounded reader for NDR 2.0 (C706 chapter 14) and NDR64 (MS-RPCE 2.2.5): the
//! transfer syntaxes of every request stub the argument decoders read.
//!
//! NDR64 differs where the decoders care in three ways, all handled here: referent ids,
//! conformance and variance counts and `DWORD_PTR` values are 8 bytes (8-aligned) instead
//! of 4; everything else (integers, handles, characters) is the same.
//!
//! Rules it follows:
//! * Alignment is relative to the start of the stub (the stub starts 8-aligned in the PDU).
//! * Integers use the byte order of the PDU's data representation (`drep`).
//! * A top-level `[ref]` pointer has no wire representation: its referent is inline. A
//!   top-level `[unique]`/`[ptr]` pointer is a 4-byte referent id (0 = null) followed at once
//!   by its referent. Embedded pointers (in structures and arrays) are 4-byte referent ids
//!   whose referents follow the whole outermost structure, in order: the decoders read the
//!   ids first and the referents after, through [`Reader::deferred`].
//! * A conformant varying string is `MaximumCount:u32 Offset:u32 ActualCount:u32` and
//!   `ActualCount` elements (1 or 2 bytes), terminator included.
//!
//! Everything is checked before it is read: counts against the bytes left, offsets against
//! counts, and nesting against [`MAX_DEPTH`]. No method panics on any input.

/// Nesting limit for decoders that recurse (structures holding pointers to structures).
pub const MAX_DEPTH: u32 = 16;
/// Elements accepted in one conformant array of pointers.
pub const MAX_ARRAY: usize = 4096;

/// Why a stub could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NdrError {
    /// The stub ends before the value does (truncated capture, cut stub, or a lie).
    #[error("stub ends at offset {0} before the value")]
    Short(usize),
    /// A count, offset or pointer is inconsistent.
    #[error("malformed NDR at offset {0}: {1}")]
    Bad(usize, &'static str),
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("NDR nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    /// An array longer than [`MAX_ARRAY`] (the stub may be right, but we do not follow it).
    #[error("NDR array at offset {0} longer than {MAX_ARRAY}: {1}")]
    TooLong(usize, &'static str),
}

impl NdrError {
    /// A decoding limit of ours was reached (not necessarily a malformed stub).
    pub fn is_limit(&self) -> bool {
        matches!(self, NdrError::TooDeep | NdrError::TooLong(..))
    }
}

pub type Result<T> = std::result::Result<T, NdrError>;

/// A 20-byte RPC context handle (`ndr_context_handle`: attributes u32 + UUID), kept as
/// the raw bytes: handles are compared, never interpreted.
pub type ContextHandle = [u8; 20];

/// Cursor over one stub.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    le: bool,
    ndr64: bool,
    depth: u32,
}

impl<'a> Reader<'a> {
    /// `little_endian`: the drep integer representation of the PDU the stub came in.
    pub fn new(buf: &'a [u8], little_endian: bool) -> Self {
        Reader {
            buf,
            pos: 0,
            le: little_endian,
            ndr64: false,
            depth: 0,
        }
    }

    /// A reader for a stub in the NDR64 transfer syntax.
    pub fn new_ndr64(buf: &'a [u8], little_endian: bool) -> Self {
        Reader {
            ndr64: true,
            ..Reader::new(buf, little_endian)
        }
    }

    pub fn is_ndr64(&self) -> bool {
        self.ndr64
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn little_endian(&self) -> bool {
        self.le
    }

    /// Skip to the next multiple of `n` (a power of two) from the stub start.
    pub fn align(&mut self, n: usize) -> Result<()> {
        let to = self.pos.div_ceil(n) * n;
        if to > self.buf.len() {
            return Err(NdrError::Short(self.buf.len()));
        }
        self.pos = to;
        Ok(())
    }

    /// The next `n` bytes, unaligned.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(NdrError::Bad(self.pos, "length overflow"))?;
        let b = self
            .buf
            .get(self.pos..end)
            .ok_or(NdrError::Short(self.buf.len()))?;
        self.pos = end;
        Ok(b)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16> {
        self.align(2)?;
        let b = self.bytes(2)?;
        let a = [b[0], b[1]];
        Ok(if self.le {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        })
    }

    pub fn u32(&mut self) -> Result<u32> {
        self.align(4)?;
        let b = self.bytes(4)?;
        let a = [b[0], b[1], b[2], b[3]];
        Ok(if self.le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }

    pub fn u64(&mut self) -> Result<u64> {
        self.align(8)?;
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(if self.le {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        })
    }

    /// A conformance or variance count: u32 in NDR 2.0, u64 in NDR64.
    pub fn count(&mut self) -> Result<u64> {
        if self.ndr64 {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
    }

    /// A `DWORD_PTR`/`ULONG_PTR` (`__int3264`) value: 4 bytes in NDR 2.0, 8 in NDR64.
    pub fn dword_ptr(&mut self) -> Result<u64> {
        self.count()
    }

    /// A GUID as 16 raw bytes (its first three fields in the stub's byte order).
    pub fn guid(&mut self) -> Result<[u8; 16]> {
        self.align(4)?;
        let b = self.bytes(16)?;
        let mut g = [0u8; 16];
        g.copy_from_slice(b);
        Ok(g)
    }

    /// An `ndr_context_handle` (20 bytes, 4-aligned).
    pub fn context_handle(&mut self) -> Result<ContextHandle> {
        self.align(4)?;
        let b = self.bytes(20)?;
        let mut h = [0u8; 20];
        h.copy_from_slice(b);
        Ok(h)
    }

    /// A pointer's referent id (0 = null): 4 bytes in NDR 2.0, 8 in NDR64.
    pub fn pointer(&mut self) -> Result<u64> {
        self.count()
    }

    /// A count that announces `count` elements of `elem` bytes each: rejected when they
    /// cannot fit in what is left of the stub.
    pub fn check_count(&self, count: u64, elem: usize) -> Result<usize> {
        let n = usize::try_from(count).map_err(|_| NdrError::Bad(self.pos, "count overflow"))?;
        match n.checked_mul(elem) {
            Some(bytes) if bytes <= self.remaining() => Ok(n),
            Some(_) => Err(NdrError::Short(self.buf.len())),
            None => Err(NdrError::Bad(self.pos, "count overflow")),
        }
    }

    /// Conformance and variance of a conformant varying array of `elem`-byte elements:
    /// returns ActualCount after checking `Offset + ActualCount <= MaximumCount` and that
    /// the elements fit in the stub.
    fn varying_header(&mut self, elem: usize) -> Result<usize> {
        let at = self.pos;
        let max = self.count()?;
        let offset = self.count()?;
        let actual = self.count()?;
        if offset.checked_add(actual).is_none_or(|end| end > max) {
            return Err(NdrError::Bad(
                at,
                "varying array larger than its maximum count",
            ));
        }
        if elem > 1 {
            self.align(elem)?;
        }
        self.check_count(actual, elem)
    }

    /// `[string] wchar_t*` referent: conformant varying UTF-16 string; the terminating NUL
    /// (and anything after a NUL) is dropped, unpaired surrogates become U+FFFD.
    pub fn wstring(&mut self) -> Result<String> {
        let n = self.varying_header(2)?;
        let b = self.bytes(n * 2)?;
        Ok(utf16_text(b, self.le))
    }

    /// `[string] char*` referent: conformant varying 8-bit string. The code page is not on
    /// the wire: bytes are taken as Latin-1, which is exact for ASCII.
    pub fn cstring(&mut self) -> Result<String> {
        let n = self.varying_header(1)?;
        let b = self.bytes(n)?;
        Ok(latin1_text(b))
    }

    /// A wide or narrow string referent.
    pub fn string(&mut self, wide: bool) -> Result<String> {
        if wide { self.wstring() } else { self.cstring() }
    }

    /// A top-level `[unique, string]` pointer: referent id then, when not null, the string.
    pub fn unique_string(&mut self, wide: bool) -> Result<Option<String>> {
        let id = self.pointer()?;
        self.referent(id, |r| r.string(wide))
    }

    /// The referent of a pointer whose id was read earlier: nothing on the wire when the
    /// id is 0 (null), else what `read` reads.
    pub fn referent<T>(
        &mut self,
        id: u64,
        read: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<Option<T>> {
        if id == 0 {
            Ok(None)
        } else {
            read(self).map(Some)
        }
    }

    /// A `DWORD`-sized value sent twice, as a union's level (or a message version) and as
    /// the `[switch_is]` discriminant of the union that follows: read with `read`
    /// ([`Reader::u32`], [`Reader::enum16`]) and returned once the two agree.
    pub fn switched(
        &mut self,
        read: fn(&mut Self) -> Result<u32>,
        what: &'static str,
    ) -> Result<u32> {
        let level = read(self)?;
        if read(self)? != level {
            return Err(NdrError::Bad(self.pos, what));
        }
        Ok(level)
    }

    /// The conformance of an array whose size the IDL sends separately
    /// (`[size_is(size)]`): the element count, once it is `size` and that many
    /// `elem`-byte elements fit in the stub.
    pub fn sized_count(&mut self, size: u64, elem: usize, what: &'static str) -> Result<usize> {
        let at = self.pos;
        if self.count()? != size {
            return Err(NdrError::Bad(at, what));
        }
        self.check_count(size, elem)
    }

    /// [`Reader::sized_count`] for an array the decoder keeps an entry of per element:
    /// also bounded by [`MAX_ARRAY`].
    pub fn sized_array(&mut self, size: u64, elem: usize, what: &'static str) -> Result<usize> {
        let at = self.pos;
        let n = self.sized_count(size, elem, what)?;
        if n > MAX_ARRAY {
            return Err(NdrError::TooLong(at, what));
        }
        Ok(n)
    }

    /// A top-level `[unique, size_is(n)] byte*` whose size parameter comes after it: the
    /// referent is `MaximumCount:u32` and that many bytes. Returns the bytes (None if null).
    pub fn unique_conformant_bytes(&mut self) -> Result<Option<&'a [u8]>> {
        if self.pointer()? == 0 {
            return Ok(None);
        }
        let n = self.count()?;
        let n = self.check_count(n, 1)?;
        self.bytes(n).map(Some)
    }

    /// An enumerated type: 2 bytes in NDR 2.0 (C706 14.2.5, unless the IDL says
    /// `v1_enum`), 4 in NDR64 (MS-RPCE 2.2.5.2).
    pub fn enum16(&mut self) -> Result<u32> {
        if self.ndr64 {
            self.u32()
        } else {
            self.u16().map(u32::from)
        }
    }

    /// The fixed part of an `RPC_UNICODE_STRING` / `RPC_STRING` (`Length`,
    /// `MaximumLength`, `Buffer` referent id): the buffer itself follows later (at once for
    /// a top-level parameter, after the enclosing structure when embedded).
    pub fn counted_string_header(&mut self) -> Result<(u16, u16, u64)> {
        // The structure is aligned to its pointer.
        self.align(if self.ndr64 { 8 } else { 4 })?;
        let len = self.u16()?;
        let max = self.u16()?;
        let p = self.pointer()?;
        if len > max {
            return Err(NdrError::Bad(
                self.pos,
                "counted string longer than its maximum",
            ));
        }
        Ok((len, max, p))
    }

    /// A top-level `[in] RPC_UNICODE_STRING*` (a [ref] pointer: the structure is inline
    /// and its buffer follows it): None when the buffer pointer is null.
    pub fn unicode_string(&mut self) -> Result<Option<String>> {
        let (_, _, p) = self.counted_string_header()?;
        if p == 0 {
            return Ok(None);
        }
        self.wstring().map(Some)
    }

    /// A top-level `[in] RPC_STRING*` (8-bit counterpart of [`Reader::unicode_string`]).
    pub fn ansi_counted_string(&mut self) -> Result<Option<String>> {
        let (_, _, p) = self.counted_string_header()?;
        if p == 0 {
            return Ok(None);
        }
        self.cstring().map(Some)
    }

    /// A top-level `[in, unique] RPC_UNICODE_STRING*`.
    pub fn unique_unicode_string(&mut self) -> Result<Option<String>> {
        if self.pointer()? == 0 {
            return Ok(None);
        }
        self.unicode_string()
    }

    /// An `RPC_SID` (MS-DTYP 2.4.2.3, a conformant structure: the sub-authority count as
    /// conformance, then Revision, SubAuthorityCount, IdentifierAuthority and the
    /// sub-authorities), as `S-1-5-21-...`.
    pub fn sid(&mut self) -> Result<String> {
        let at = self.pos;
        let n = self.count()?;
        let rev = self.u8()?;
        let count = self.u8()?;
        let auth = self.bytes(6)?;
        if u64::from(count) != n || count > 15 {
            return Err(NdrError::Bad(at, "SID sub-authority count"));
        }
        let authority = auth.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
        let mut text = format!("S-{rev}-{authority}");
        for _ in 0..count {
            let sub = self.u32()?;
            text.push('-');
            text.push_str(&sub.to_string());
        }
        Ok(text)
    }

    /// A GUID in its text form (the first three fields in the stub's byte order).
    pub fn guid_text(&mut self) -> Result<String> {
        let g = self.guid()?;
        Ok(guid_to_string(&g, self.le))
    }

    /// A conformant array of bytes (`[size_is(n)] byte*` referent): MaximumCount then the
    /// bytes.
    pub fn conformant_bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.count()?;
        let n = self.check_count(n, 1)?;
        self.bytes(n)
    }

    /// Enter one level of nesting; pair with [`Reader::leave`].
    pub fn enter(&mut self) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return Err(NdrError::TooDeep);
        }
        self.depth += 1;
        Ok(())
    }

    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Read the referents of embedded pointers, in the order their ids were read: `ids`
    /// holds the referent ids (0 = null, nothing on the wire), `read` reads one referent.
    pub fn deferred<T>(
        &mut self,
        ids: &[u64],
        mut read: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<Option<T>>> {
        self.enter()?;
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            if id == 0 {
                out.push(None);
            } else {
                out.push(Some(read(self)?));
            }
        }
        self.leave();
        Ok(out)
    }

    /// A conformant array of embedded pointers: `MaximumCount:u32` then that many referent
    /// ids. Bounded by [`MAX_ARRAY`] and by the stub.
    pub fn pointer_array(&mut self) -> Result<Vec<u64>> {
        let at = self.pos;
        let n = self.count()?;
        let n = self.check_count(n, if self.ndr64 { 8 } else { 4 })?;
        if n > MAX_ARRAY {
            return Err(NdrError::TooLong(at, "pointer array"));
        }
        (0..n).map(|_| self.pointer()).collect()
    }
}

/// A GUID's 16 wire bytes as text (lower case).
pub fn guid_to_string(g: &[u8; 16], little_endian: bool) -> String {
    crate::names::Uuid::from_wire(g, little_endian).to_string()
}

/// UTF-16 code units in the given byte order to text, cut at the first NUL.
pub fn utf16_text(b: &[u8], le: bool) -> String {
    let units = b.chunks_exact(2).map(|c| {
        if le {
            u16::from_le_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], c[1]])
        }
    });
    char::decode_utf16(units.take_while(|&u| u != 0))
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// 8-bit text as Latin-1, cut at the first NUL.
pub fn latin1_text(b: &[u8]) -> String {
    b.iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as char)
        .collect()
}

/// Writer of hand-built NDR stubs, for the tests of every decoder.
#[cfg(test)]
pub(crate) mod build {
    /// Every (little-endian, NDR64) combination a decoder is tested in.
    pub const SYNTAXES: [(bool, bool); 4] =
        [(true, false), (true, true), (false, false), (false, true)];

    /// Stub builder in either byte order; alignment is relative to the stub start.
    pub struct Stub {
        pub b: Vec<u8>,
        pub le: bool,
        pub ndr64: bool,
        next_ref: u32,
    }

    impl Stub {
        pub fn new(le: bool) -> Self {
            Stub {
                b: Vec::new(),
                le,
                ndr64: false,
                next_ref: 0x0002_0000,
            }
        }
        pub fn new64(le: bool) -> Self {
            Stub {
                ndr64: true,
                ..Stub::new(le)
            }
        }
        /// A stub in byte order `le`, in NDR64 when `ndr64` (NDR 2.0 otherwise).
        pub fn of(le: bool, ndr64: bool) -> Self {
            if ndr64 {
                Stub::new64(le)
            } else {
                Stub::new(le)
            }
        }
        pub fn u64(&mut self, v: u64) -> &mut Self {
            self.align(8);
            let x = if self.le {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            self.b.extend_from_slice(&x);
            self
        }
        /// A count, referent id or DWORD_PTR: 4 bytes (NDR 2.0) or 8 (NDR64).
        pub fn size(&mut self, v: u64) -> &mut Self {
            if self.ndr64 {
                self.u64(v)
            } else {
                self.u32(v as u32)
            }
        }
        pub fn align(&mut self, n: usize) -> &mut Self {
            while !self.b.len().is_multiple_of(n) {
                self.b.push(0xaa);
            }
            self
        }
        pub fn u8(&mut self, v: u8) -> &mut Self {
            self.b.push(v);
            self
        }
        pub fn u16(&mut self, v: u16) -> &mut Self {
            self.align(2);
            let x = if self.le {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            self.b.extend_from_slice(&x);
            self
        }
        pub fn u32(&mut self, v: u32) -> &mut Self {
            self.align(4);
            let x = if self.le {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            self.b.extend_from_slice(&x);
            self
        }
        pub fn raw(&mut self, v: &[u8]) -> &mut Self {
            self.b.extend_from_slice(v);
            self
        }
        /// A non-null referent id.
        pub fn ptr(&mut self) -> &mut Self {
            self.next_ref += 4;
            let r = self.next_ref;
            self.size(r as u64)
        }
        pub fn null(&mut self) -> &mut Self {
            self.size(0)
        }
        pub fn handle(&mut self, h: &[u8; 20]) -> &mut Self {
            self.align(4);
            self.raw(h)
        }
        /// Conformant varying UTF-16 string with its terminator.
        pub fn wstr(&mut self, s: &str) -> &mut Self {
            let units: Vec<u16> = s.encode_utf16().chain(std::iter::once(0)).collect();
            let n = units.len() as u64;
            self.size(n).size(0).size(n);
            for u in units {
                self.u16(u);
            }
            self
        }
        /// Conformant varying 8-bit string with its terminator.
        pub fn cstr(&mut self, s: &str) -> &mut Self {
            let n = s.len() as u64 + 1;
            self.size(n).size(0).size(n);
            self.raw(s.as_bytes()).u8(0)
        }
        pub fn str(&mut self, wide: bool, s: &str) -> &mut Self {
            if wide { self.wstr(s) } else { self.cstr(s) }
        }
        /// Unique pointer to a string (null when `s` is None).
        pub fn ustr(&mut self, wide: bool, s: Option<&str>) -> &mut Self {
            match s {
                Some(s) => self.ptr().str(wide, s),
                None => self.null(),
            }
        }
        /// An enum: 2 bytes in NDR 2.0, 4 in NDR64.
        pub fn enum16(&mut self, v: u16) -> &mut Self {
            if self.ndr64 {
                self.u32(v as u32)
            } else {
                self.u16(v)
            }
        }
        /// A top-level RPC_UNICODE_STRING (header, then the buffer at once).
        pub fn ustring(&mut self, s: &str) -> &mut Self {
            let units: Vec<u16> = s.encode_utf16().collect();
            let n = units.len() as u64;
            self.align(if self.ndr64 { 8 } else { 4 });
            self.u16((n * 2) as u16).u16((n * 2) as u16).ptr();
            self.size(n).size(0).size(n);
            for u in units {
                self.u16(u);
            }
            self
        }
        /// A GUID from its text form, first three fields in the stub's byte order.
        pub fn guid(&mut self, text: &str) -> &mut Self {
            let u = crate::names::Uuid::parse(text).expect("test GUID");
            let b = u.0;
            self.align(4);
            if self.le {
                self.raw(&[b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6]]);
            } else {
                self.raw(&b[..8]);
            }
            self.raw(&b[8..])
        }
        /// An RPC_SID from `S-1-5-21-...` text.
        pub fn sid(&mut self, text: &str) -> &mut Self {
            let parts: Vec<u64> = text[2..]
                .split('-')
                .map(|p| p.parse().expect("SID"))
                .collect();
            let subs = &parts[2..];
            self.size(subs.len() as u64)
                .u8(parts[0] as u8)
                .u8(subs.len() as u8)
                .raw(&parts[1].to_be_bytes()[2..]);
            for s in subs {
                self.u32(*s as u32);
            }
            self
        }
        pub fn done(&self) -> Vec<u8> {
            self.b.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::build::Stub;
    use super::*;

    #[test]
    fn integers_and_alignment_both_orders() {
        for le in [true, false] {
            let mut s = Stub::new(le);
            s.u8(7).u16(0x1234).u32(0xdeadbeef).u8(1).u32(5);
            let b = s.done();
            let mut r = Reader::new(&b, le);
            assert_eq!(r.u8(), Ok(7));
            assert_eq!(r.u16(), Ok(0x1234));
            assert_eq!(r.pos(), 4);
            assert_eq!(r.u32(), Ok(0xdeadbeef));
            assert_eq!(r.u8(), Ok(1));
            assert_eq!(r.u32(), Ok(5));
            assert_eq!(r.pos(), 16);
            assert_eq!(r.u8(), Err(NdrError::Short(16)));
        }
    }

    #[test]
    fn strings_both_orders() {
        for le in [true, false] {
            let mut s = Stub::new(le);
            s.ustr(true, Some("PSEXESVC"))
                .ustr(true, None)
                .cstr("cmd.exe /c x");
            let b = s.done();
            let mut r = Reader::new(&b, le);
            assert_eq!(r.unique_string(true), Ok(Some("PSEXESVC".to_string())));
            assert_eq!(r.unique_string(true), Ok(None));
            assert_eq!(r.cstring(), Ok("cmd.exe /c x".to_string()));
            assert_eq!(r.remaining(), 0);
        }
    }

    #[test]
    fn string_counts_are_checked() {
        // ActualCount beyond the stub.
        let mut s = Stub::new(true);
        s.u32(100).u32(0).u32(100).u16(0x41);
        let b = s.done();
        assert_eq!(Reader::new(&b, true).wstring(), Err(NdrError::Short(14)));
        // Offset + ActualCount beyond MaximumCount.
        let mut s = Stub::new(true);
        s.u32(2).u32(1).u32(2).u16(0x41).u16(0);
        let b = s.done();
        assert!(matches!(
            Reader::new(&b, true).wstring(),
            Err(NdrError::Bad(0, _))
        ));
        // A count whose byte size overflows.
        let mut s = Stub::new(true);
        s.u32(u32::MAX).u32(0).u32(u32::MAX);
        let b = s.done();
        assert!(Reader::new(&b, true).wstring().is_err());
    }

    #[test]
    fn deferred_pointer_array() {
        for le in [true, false] {
            let mut s = Stub::new(le);
            s.u32(3).ptr().null().ptr().wstr("a").wstr("bc");
            let b = s.done();
            let mut r = Reader::new(&b, le);
            let ids = r.pointer_array().expect("ids");
            assert_eq!(ids.len(), 3);
            let v = r.deferred(&ids, |r| r.wstring()).expect("referents");
            assert_eq!(v, vec![Some("a".into()), None, Some("bc".into())]);
        }
        // A pointer array announcing more ids than the stub holds.
        let mut s = Stub::new(true);
        s.u32(1000).u32(4);
        let b = s.done();
        assert!(Reader::new(&b, true).pointer_array().is_err());
    }

    #[test]
    fn ndr64_sizes_both_orders() {
        for le in [true, false] {
            let mut s = Stub::new64(le);
            s.u16(1)
                .ustr(true, Some("ab"))
                .ustr(true, None)
                .size(2)
                .ptr()
                .ptr()
                .wstr("x")
                .cstr("y");
            let b = s.done();
            // The referent id after the u16 is 8-aligned and 8 bytes long.
            assert_eq!(
                b.len(),
                8 + 8 + 24 + 6 + 2 + 8 + 8 + 8 + 8 + 24 + 4 + 4 + 24 + 2
            );
            let mut r = Reader::new_ndr64(&b, le);
            assert_eq!(r.u16(), Ok(1));
            assert_eq!(r.unique_string(true), Ok(Some("ab".into())));
            assert_eq!(r.unique_string(true), Ok(None));
            let ids = r.pointer_array().expect("ids");
            assert_eq!(ids.len(), 2);
            assert_eq!(r.wstring(), Ok("x".into()));
            assert_eq!(r.cstring(), Ok("y".into()));
            assert_eq!(r.remaining(), 0);
        }
        // A 64-bit count larger than the stub.
        let mut s = Stub::new64(true);
        s.u64(u64::MAX).u64(0).u64(u64::MAX);
        assert!(Reader::new_ndr64(&s.done(), true).wstring().is_err());
    }

    #[test]
    fn referents_switches_and_sized_arrays_both_orders() {
        for le in [true, false] {
            let mut s = Stub::new(le);
            s.u32(2).u32(2).u16(7).u16(7).u32(3).u16(1).u16(2).u16(3);
            let b = s.done();
            let mut r = Reader::new(&b, le);
            assert_eq!(r.switched(Reader::u32, "level"), Ok(2));
            assert_eq!(r.switched(Reader::enum16, "class"), Ok(7));
            assert_eq!(r.sized_array(3, 2, "units"), Ok(3));
            assert_eq!(r.referent(0, Reader::u16), Ok(None));
            assert_eq!(r.referent(4, Reader::u16), Ok(Some(1)));
            assert_eq!(r.remaining(), 4);
            // The level and the discriminant differ.
            let mut s = Stub::new(le);
            s.u32(2).u32(3);
            let b = s.done();
            assert_eq!(
                Reader::new(&b, le).switched(Reader::u32, "level"),
                Err(NdrError::Bad(8, "level"))
            );
            // A conformance that is not the size sent, more elements than the stub
            // holds, more than MAX_ARRAY elements.
            let mut s = Stub::new(le);
            s.u32(4).u16(1).u16(2);
            let b = s.done();
            assert_eq!(
                Reader::new(&b, le).sized_count(3, 1, "n"),
                Err(NdrError::Bad(0, "n"))
            );
            assert_eq!(
                Reader::new(&b, le).sized_count(4, 2, "n"),
                Err(NdrError::Short(8))
            );
            assert_eq!(Reader::new(&b, le).sized_count(4, 1, "n"), Ok(4));
            let n = MAX_ARRAY as u32 + 1;
            let mut s = Stub::new(le);
            s.u32(n).raw(&vec![0; n as usize]);
            let b = s.done();
            assert_eq!(
                Reader::new(&b, le).sized_count(u64::from(n), 1, "n"),
                Ok(n as usize)
            );
            assert_eq!(
                Reader::new(&b, le).sized_array(u64::from(n), 1, "n"),
                Err(NdrError::TooLong(0, "n"))
            );
        }
    }

    #[test]
    fn depth_is_limited() {
        let mut r = Reader::new(&[], true);
        for _ in 0..MAX_DEPTH {
            r.enter().expect("within limit");
        }
        assert_eq!(r.enter(), Err(NdrError::TooDeep));
    }

    #[test]
    fn text_helpers() {
        assert_eq!(utf16_text(&[0x41, 0, 0, 0xd8, 0x42, 0], true), "A\u{fffd}B");
        assert_eq!(utf16_text(&[0, 0x41, 0, 0, 0, 0x42], false), "A");
        assert_eq!(latin1_text(b"ab\xe9\0zz"), "ab\u{e9}");
    }
}

//! IWbemServices::ExecMethod (24) and ExecMethodAsync (25) over DCOM (MS-WMI 3.1.4.3.20/21,
//! interface 9556dc99-828c-11cf-a37e-00aa003240c7).
//!
//! Request, in wire order: `ORPCTHIS` (MS-DCOM 2.2.13.1: COMVERSION, flags, reserved1, CID,
//! [unique] ORPC_EXTENT_ARRAY*), `strObjectPath` and `strMethodName` (BSTR: a [unique]
//! FLAGGED_WORD_BLOB*, i.e. referent id, MaximumCount, cBytes, clSize, clSize UTF-16
//! units), `lFlags`, `pCtx` and `pInParams` (interface pointers: [unique] MInterfacePointer*,
//! i.e. referent id, MaximumCount, ulCntData, ulCntData bytes of OBJREF).
//!
//! The in-parameters object is an OBJREF_CUSTOM (MS-DCOM 2.2.18.6, always little-endian)
//! whose `pObjectData` is an MS-WMIO EncodingUnit (MS-WMI 2.2.4). [`parse_encoding_unit`]
//! decodes it by the specification: the instance's class part gives each property's name,
//! type and value-table offset; the instance's NdTable says which properties carry a value;
//! string values are heap references into the instance heap. Every string-typed property
//! with a value is returned; `CommandLine` and `CurrentDirectory` (Win32_Process.Create)
//! are surfaced on their own. No heuristic scan is used: an object that does not parse
//! gives `in_params: "unparsed"` and no property, never a guess.

use super::WmiArgs;
use super::ndr::{NdrError, Reader, Result, utf16_text};
use serde::Serialize;
use std::collections::BTreeMap;

pub const UUID: &str = "9556dc99-828c-11cf-a37e-00aa003240c7";
pub const EXEC_METHOD: u16 = 24;
pub const EXEC_METHOD_ASYNC: u16 = 25;

/// OBJREF signature "MEOW".
const OBJREF_SIGNATURE: u32 = 0x574f_454d;
const OBJREF_CUSTOM: u32 = 4;
/// MS-WMIO EncodingUnit signature.
const WMIO_SIGNATURE: u32 = 0x1234_5678;
/// CIM_STRING.
const CIM_STRING: u32 = 8;
const CIM_FLAG_ARRAY: u32 = 0x2000;
/// Properties accepted in one class part.
const MAX_PROPERTIES: usize = 1024;
/// Characters kept of one property value.
const MAX_VALUE_CHARS: usize = 32 * 1024;

/// Decode ExecMethod/ExecMethodAsync (None for other operations).
pub fn decode_request(opnum: u16, r: &mut Reader<'_>) -> Option<Result<WmiArgs>> {
    matches!(opnum, EXEC_METHOD | EXEC_METHOD_ASYNC).then(|| exec_method(r))
}

fn exec_method(r: &mut Reader<'_>) -> Result<WmiArgs> {
    skip_orpcthis(r)?;
    let object_path = bstr(r)?;
    let method_name = bstr(r)?;
    let flags = r.u32()?;
    let _ctx = interface_pointer(r)?;
    let in_params = interface_pointer(r)?;
    let mut a = WmiArgs {
        object_path,
        method_name,
        flags,
        ..Default::default()
    };
    match in_params {
        None => a.in_params = "absent",
        Some(objref) => match parse_objref(objref) {
            Some(obj) => {
                a.in_params = "decoded";
                a.in_params_class = obj.class_name;
                a.command_line = obj.strings.get("CommandLine").cloned();
                a.current_directory = obj.strings.get("CurrentDirectory").cloned();
                a.in_params_strings = Some(obj.strings);
            }
            None => a.in_params = "unparsed",
        },
    }
    Ok(a)
}

/// IWbemLevel1Login (MS-WMI 3.1.4.1): NTLMLogin (6) `ORPCTHIS, [in, string, unique]
/// wszNetworkResource, [in, string, unique] wszPreferredLocale, lFlags, pCtx` opens a WMI
/// namespace.
pub const LOGIN_UUID: &str = "f309ad18-d86a-11d0-a075-00c04fb68820";
pub const NTLM_LOGIN: u16 = 6;

/// The other IWbemServices calls rpcsift reads (MS-WMI 3.1.4.3): PutInstance(Async)
/// (14/15) `ORPCTHIS, pInst, lFlags, pCtx, ...`; DeleteInstance(Async) (16/17)
/// `ORPCTHIS, strObjectPath, lFlags, pCtx, ...` (Zeek calls these DeleteClass);
/// ExecQuery(Async) (20/21) `ORPCTHIS, strQueryLanguage, strQuery, lFlags, pCtx`.
pub const OP_OPNUMS: [u16; 6] = [14, 15, 16, 17, 20, 21];

/// A WMI call other than ExecMethod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WmiOpArgs {
    /// `login`, `put_instance`, `delete_instance` or `exec_query`.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_path: Option<String>,
    /// PutInstance: the instance's class (`__EventFilter`, `CommandLineEventConsumer`, ...)
    /// and its string properties.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strings: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<&'static str>,
}

/// Decode NTLMLogin (`login`) or one of [`OP_OPNUMS`].
pub fn decode_op(login: bool, opnum: u16, r: &mut Reader<'_>) -> Option<Result<WmiOpArgs>> {
    let known = if login {
        opnum == NTLM_LOGIN
    } else {
        OP_OPNUMS.contains(&opnum)
    };
    known.then(|| op(login, opnum, r))
}

fn op(login: bool, opnum: u16, r: &mut Reader<'_>) -> Result<WmiOpArgs> {
    skip_orpcthis(r)?;
    let mut a = WmiOpArgs::default();
    if login {
        a.action = "login";
        a.namespace = r.unique_string(true)?;
        return Ok(a);
    }
    match opnum {
        14 | 15 => {
            a.action = "put_instance";
            match interface_pointer(r)? {
                None => a.instance = Some("absent"),
                Some(o) => match parse_objref(o) {
                    Some(obj) => {
                        a.instance = Some("decoded");
                        a.class = obj.class_name;
                        a.strings = Some(obj.strings);
                    }
                    None => a.instance = Some("unparsed"),
                },
            }
        }
        16 | 17 => {
            a.action = "delete_instance";
            a.object_path = Some(bstr(r)?);
        }
        _ => {
            a.action = "exec_query";
            a.query_language = Some(bstr(r)?);
            a.query = Some(bstr(r)?);
        }
    }
    Ok(a)
}

/// Skip MS-DCOM ORPCTHIS, extensions included.
pub fn skip_orpcthis(r: &mut Reader<'_>) -> Result<()> {
    r.u16()?; // COMVERSION major
    r.u16()?; // minor
    r.u32()?; // flags
    r.u32()?; // reserved1
    r.guid()?; // cid
    if r.pointer()? == 0 {
        return Ok(());
    }
    // ORPC_EXTENT_ARRAY { size; reserved; [size_is((size+1)&~1), unique] ORPC_EXTENT** }
    let at = r.pos();
    let size = r.u32()?;
    r.u32()?;
    if r.pointer()? == 0 {
        return Ok(());
    }
    let ids = r.pointer_array()?;
    if ids.len() as u64 != (size as u64 + 1) & !1 {
        return Err(NdrError::Bad(at, "ORPC extent array size"));
    }
    r.deferred(&ids, |r| {
        // ORPC_EXTENT { GUID id; unsigned long size; [size_is((size+7)&~7)] byte data[]; }
        let max = r.count()?;
        r.guid()?;
        let size = r.u32()?;
        if (u64::from(size) + 7) & !7 != max {
            return Err(NdrError::Bad(r.pos(), "ORPC extent size"));
        }
        let n = r.check_count(max, 1)?;
        r.bytes(n).map(|_| ())
    })?;
    Ok(())
}

/// A BSTR parameter (null gives an empty string).
pub(crate) fn bstr(r: &mut Reader<'_>) -> Result<String> {
    if r.pointer()? == 0 {
        return Ok(String::new());
    }
    let at = r.pos();
    let max = r.count()?;
    let _cbytes = r.u32()?;
    let cl = r.u32()?;
    if u64::from(cl) != max {
        return Err(NdrError::Bad(at, "BSTR length"));
    }
    let n = r.check_count(max, 2)?;
    let b = r.bytes(n * 2)?;
    Ok(utf16_text(b, r.little_endian()))
}

/// An interface pointer parameter: the OBJREF bytes, None when null.
pub(crate) fn interface_pointer<'a>(r: &mut Reader<'a>) -> Result<Option<&'a [u8]>> {
    if r.pointer()? == 0 {
        return Ok(None);
    }
    let at = r.pos();
    let max = r.count()?;
    let cnt = r.u32()?;
    if u64::from(cnt) != max {
        return Err(NdrError::Bad(at, "MInterfacePointer length"));
    }
    let n = r.check_count(max, 1)?;
    r.bytes(n).map(Some)
}

/// Little-endian fields of byte blobs (OBJREF, MS-WMIO).
struct Le<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Le<'a> {
    fn new(b: &'a [u8]) -> Self {
        Le { b, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// An EncodedString: flag octet (0 = 8-bit, 1 = UTF-16LE) then NUL-terminated text.
    fn encoded_string(&mut self) -> Option<String> {
        let rest = self.b.get(self.pos..)?;
        let (s, used) = encoded_string_at(rest)?;
        self.pos += used;
        Some(s)
    }
}

/// Decode an EncodedString at the start of `b`: (text, bytes used).
fn encoded_string_at(b: &[u8]) -> Option<(String, usize)> {
    match b.first()? {
        0 => {
            let body = b.get(1..)?;
            let end = body.iter().position(|&c| c == 0)?;
            let s: String = body[..end]
                .iter()
                .take(MAX_VALUE_CHARS)
                .map(|&c| c as char)
                .collect();
            Some((s, end + 2))
        }
        1 => {
            let body = b.get(1..)?;
            let units = body.chunks_exact(2).position(|c| c == [0, 0])?;
            let s: String = utf16_text(&body[..units * 2], true)
                .chars()
                .take(MAX_VALUE_CHARS)
                .collect();
            Some((s, 1 + units * 2 + 2))
        }
        _ => None,
    }
}

/// A decoded WMI object: its class name and its string properties that carry a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WmiObject {
    pub class_name: Option<String>,
    pub strings: BTreeMap<String, String>,
}

/// OBJREF_CUSTOM → EncodingUnit → object.
pub fn parse_objref(b: &[u8]) -> Option<WmiObject> {
    let mut o = Le::new(b);
    if o.u32()? != OBJREF_SIGNATURE || o.u32()? != OBJREF_CUSTOM {
        return None;
    }
    o.take(16)?; // iid
    o.take(16)?; // clsid
    let _cb_extension = o.u32()?;
    let _size = o.u32()?;
    parse_encoding_unit(b.get(o.pos..)?)
}

/// One property of a class part.
struct Prop {
    name: String,
    cim_type: u32,
    order: u16,
    value_offset: u32,
}

/// MS-WMIO 2.2.1 EncodingUnit holding a CIM instance (classes give None: no values).
pub fn parse_encoding_unit(b: &[u8]) -> Option<WmiObject> {
    let mut o = Le::new(b);
    if o.u32()? != WMIO_SIGNATURE {
        return None;
    }
    let len = o.u32()? as usize;
    let block = b.get(8..8usize.checked_add(len)?)?;
    let mut o = Le::new(block);
    let flags = o.u8()?;
    if flags & 0x02 == 0 {
        return None;
    }
    if flags & 0x04 != 0 {
        o.encoded_string()?; // DecServerName
        o.encoded_string()?; // DecNamespaceName
    }
    // CurrentClass (ClassPart), then the instance.
    let class_start = o.pos;
    let class_len = o.u32()? as usize;
    o.u8()?;
    let _class_name_ref = o.u32()?;
    let nd_value_len = o.u32()? as usize;
    let derivation_len = o.u32()? as usize;
    o.take(derivation_len.checked_sub(4)?)?;
    let qualifiers_len = o.u32()? as usize;
    o.take(qualifiers_len.checked_sub(4)?)?;
    let count = o.u32()? as usize;
    if count > MAX_PROPERTIES {
        return None;
    }
    let mut lookups = Vec::with_capacity(count);
    for _ in 0..count {
        lookups.push((o.u32()?, o.u32()?));
    }
    if count > 0 {
        o.take(nd_value_len)?;
    }
    let heap_len = (o.u32()? & 0x7fff_ffff) as usize;
    let class_heap = o.take(heap_len)?;
    if o.pos != class_start.checked_add(class_len)? {
        return None;
    }
    let mut props = Vec::with_capacity(count);
    for (name_ref, info_ref) in lookups {
        let name = heap_string(class_heap, name_ref)?;
        let mut p = Le::new(class_heap.get(info_ref as usize..)?);
        let cim_type = p.u32()?;
        let order = p.u16()?;
        let value_offset = p.u32()?;
        props.push(Prop {
            name,
            cim_type,
            order,
            value_offset,
        });
    }
    // Instance part.
    let inst_start = o.pos;
    let inst_len = o.u32()? as usize;
    o.u8()?; // InstanceFlags
    let class_name_ref = o.u32()?;
    let nd_len = (count * 2).div_ceil(8);
    let nd = o.take(nd_len)?;
    let values = o.take(nd_value_len.checked_sub(nd_len)?)?;
    // InstanceQualifierSet = QualifierSet InstancePropQualifierSet.
    let q_len = o.u32()? as usize;
    o.take(q_len.checked_sub(4)?)?;
    match o.u8()? {
        1 => {}
        2 => {
            for _ in 0..count {
                let l = o.u32()? as usize;
                o.take(l.checked_sub(4)?)?;
            }
        }
        _ => return None,
    }
    let heap_len = (o.u32()? & 0x7fff_ffff) as usize;
    let heap = o.take(heap_len)?;
    if o.pos != inst_start.checked_add(inst_len)? {
        return None;
    }
    let mut obj = WmiObject {
        class_name: heap_string(heap, class_name_ref),
        strings: BTreeMap::new(),
    };
    for p in props {
        let bits = nd
            .get(p.order as usize / 4)
            .map(|x| x >> ((p.order % 4) * 2) & 3)?;
        // Bit 0: NULL; bit 1: the value is the class default (not in the instance).
        if bits != 0 || p.cim_type & CIM_FLAG_ARRAY != 0 || p.cim_type & 0xfff != CIM_STRING {
            continue;
        }
        let at = p.value_offset as usize;
        let r = values.get(at..at.checked_add(4)?)?;
        let heap_ref = u32::from_le_bytes([r[0], r[1], r[2], r[3]]);
        if let Some(v) = heap_string(heap, heap_ref) {
            obj.strings.insert(p.name, v);
        }
    }
    Some(obj)
}

/// The EncodedString a heap reference points to (dictionary references, MSB set, are
/// well-known names and never property values: None).
fn heap_string(heap: &[u8], r: u32) -> Option<String> {
    if r & 0x8000_0000 != 0 {
        return None;
    }
    encoded_string_at(heap.get(r as usize..)?).map(|(s, _)| s)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::ndr::build::Stub;
    use super::*;

    fn enc(s: &str, wide: bool) -> Vec<u8> {
        let mut v = vec![wide as u8];
        if wide {
            for u in s.encode_utf16() {
                v.extend_from_slice(&u.to_le_bytes());
            }
            v.extend_from_slice(&[0, 0]);
        } else {
            v.extend_from_slice(s.as_bytes());
            v.push(0);
        }
        v
    }

    fn le32(v: &mut Vec<u8>, x: u32) {
        v.extend_from_slice(&x.to_le_bytes());
    }

    /// An MS-WMIO instance of `__PARAMETERS` with string properties (name, value or None
    /// for NULL) and one uint32 property, as a Win32_Process.Create caller builds it.
    pub fn encoding_unit(props: &[(&str, Option<&str>)]) -> Vec<u8> {
        let n = props.len() + 1;
        let nd_len = (n * 2).div_ceil(8);
        let vt_len = 4 * n;
        // Class heap: class name, then per property its name and PropertyInfo.
        let mut ch = enc("__PARAMETERS", false);
        let mut lookups = Vec::new();
        let mut all: Vec<(&str, u32)> = props.iter().map(|(p, _)| (*p, CIM_STRING)).collect();
        all.push(("ShowWindow", 19));
        for (i, (name, ty)) in all.iter().enumerate() {
            let name_ref = ch.len() as u32;
            ch.extend(enc(name, false));
            let info_ref = ch.len() as u32;
            le32(&mut ch, *ty);
            ch.extend_from_slice(&(i as u16).to_le_bytes());
            le32(&mut ch, 4 * i as u32);
            le32(&mut ch, 0);
            le32(&mut ch, 4); // empty PropertyQualifierSet
            lookups.push((name_ref, info_ref));
        }
        let mut class = Vec::new();
        le32(&mut class, 0); // EncodingLength, patched below
        class.push(0);
        le32(&mut class, 0); // ClassNameRef
        le32(&mut class, (nd_len + vt_len) as u32);
        le32(&mut class, 4); // empty DerivationList
        le32(&mut class, 4); // empty ClassQualifierSet
        le32(&mut class, n as u32);
        for (a, b) in &lookups {
            le32(&mut class, *a);
            le32(&mut class, *b);
        }
        class.extend(std::iter::repeat_n(0u8, nd_len + vt_len));
        le32(&mut class, 0x8000_0000 | ch.len() as u32);
        class.extend(&ch);
        let l = class.len() as u32;
        class[0..4].copy_from_slice(&l.to_le_bytes());
        // Instance: heap with class name and values.
        let mut ih = enc("__PARAMETERS", false);
        let mut nd = vec![0u8; nd_len];
        let mut vt = Vec::new();
        for (i, (_, v)) in props.iter().enumerate() {
            match v {
                Some(v) => {
                    le32(&mut vt, ih.len() as u32);
                    ih.extend(enc(v, !v.is_ascii()));
                }
                None => {
                    nd[i / 4] |= 1 << ((i % 4) * 2);
                    le32(&mut vt, 0);
                }
            }
        }
        le32(&mut vt, 5); // ShowWindow
        let mut inst = Vec::new();
        le32(&mut inst, 0);
        inst.push(0);
        le32(&mut inst, 0); // class name at heap offset 0
        inst.extend(&nd);
        inst.extend(&vt);
        le32(&mut inst, 4); // empty QualifierSet
        inst.push(1); // no property qualifiers
        le32(&mut inst, 0x8000_0000 | ih.len() as u32);
        inst.extend(&ih);
        let l = inst.len() as u32;
        inst[0..4].copy_from_slice(&l.to_le_bytes());
        let mut block = vec![0x02];
        block.extend(class);
        block.extend(inst);
        let mut eu = Vec::new();
        le32(&mut eu, WMIO_SIGNATURE);
        le32(&mut eu, block.len() as u32);
        eu.extend(block);
        eu
    }

    pub fn objref(eu: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        le32(&mut v, OBJREF_SIGNATURE);
        le32(&mut v, OBJREF_CUSTOM);
        v.extend_from_slice(&[
            0x81, 0xa6, 0x12, 0xdc, 0x7f, 0x73, 0xcf, 0x11, 0x88, 0x4d, 0, 0xaa, 0, 0x4b, 0x2e,
            0x24,
        ]);
        v.extend_from_slice(&[
            0x12, 0xf8, 0x90, 0x45, 0x3a, 0x1d, 0xd0, 0x11, 0x89, 0x1f, 0, 0xaa, 0, 0x4b, 0x2e,
            0x24,
        ]);
        le32(&mut v, 0);
        le32(&mut v, eu.len() as u32);
        v.extend_from_slice(eu);
        v
    }

    fn bstr_w(s: &mut Stub, v: &str) {
        let units: Vec<u16> = v.encode_utf16().collect();
        s.ptr()
            .u32(units.len() as u32)
            .u32(2 * units.len() as u32)
            .u32(units.len() as u32);
        for u in units {
            s.u16(u);
        }
    }

    /// ExecMethod request with an ORPCTHIS carrying one extension.
    pub fn exec_stub(le: bool, path: &str, method: &str, in_params: Option<&[u8]>) -> Vec<u8> {
        let mut s = Stub::new(le);
        s.u16(5).u16(7).u32(0).u32(0).raw(&[0x11; 16]);
        // extensions: size 1 → array of 2 pointers, one null.
        s.ptr().u32(1).u32(0).ptr().u32(2).ptr().null();
        s.u32(8)
            .raw(&[0x22; 16])
            .u32(5)
            .raw(&[1, 2, 3, 4, 5, 0, 0, 0]);
        bstr_w(&mut s, path);
        bstr_w(&mut s, method);
        s.u32(0).null();
        match in_params {
            Some(b) => {
                s.ptr().u32(b.len() as u32).u32(b.len() as u32).raw(b);
            }
            None => {
                s.null();
            }
        }
        s.null().null();
        s.done()
    }

    #[test]
    fn other_wmi_calls_both_orders() {
        for le in [true, false] {
            let orpc = |s: &mut Stub| {
                s.u16(5).u16(7).u32(0).u32(0).raw(&[0x11; 16]).null();
            };
            let mut s = Stub::new(le);
            orpc(&mut s);
            bstr_w(&mut s, "WQL");
            bstr_w(&mut s, "SELECT * FROM AntiVirusProduct");
            s.u32(0).null();
            let a = decode_op(false, 20, &mut Reader::new(&s.done(), le))
                .expect("decoder")
                .expect("query");
            assert_eq!(a.query.as_deref(), Some("SELECT * FROM AntiVirusProduct"));
            let mut s = Stub::new(le);
            orpc(&mut s);
            bstr_w(&mut s, "Win32_ShadowCopy.ID=\"{1234}\"");
            s.u32(0).null().null();
            let a = decode_op(false, 16, &mut Reader::new(&s.done(), le))
                .expect("decoder")
                .expect("delete");
            assert_eq!(
                a.object_path.as_deref(),
                Some("Win32_ShadowCopy.ID=\"{1234}\"")
            );
            let mut s = Stub::new(le);
            orpc(&mut s);
            s.ptr().wstr("//./root/subscription").null().u32(0).null();
            let a = decode_op(true, 6, &mut Reader::new(&s.done(), le))
                .expect("decoder")
                .expect("login");
            assert_eq!(a.namespace.as_deref(), Some("//./root/subscription"));
            let eu = encoding_unit(&[("CommandLineTemplate", Some("cmd /c evil.exe"))]);
            let or = objref(&eu);
            let mut s = Stub::new(le);
            orpc(&mut s);
            s.ptr()
                .u32(or.len() as u32)
                .u32(or.len() as u32)
                .raw(&or)
                .u32(0)
                .null()
                .null();
            let a = decode_op(false, 14, &mut Reader::new(&s.done(), le))
                .expect("decoder")
                .expect("put");
            assert_eq!(a.instance, Some("decoded"));
            assert_eq!(
                a.strings
                    .as_ref()
                    .and_then(|m| m.get("CommandLineTemplate"))
                    .map(String::as_str),
                Some("cmd /c evil.exe")
            );
        }
        assert!(decode_op(false, 24, &mut Reader::new(&[], true)).is_none());
        assert!(decode_op(true, 3, &mut Reader::new(&[], true)).is_none());
    }

    #[test]
    fn exec_method_win32_process_create_both_orders() {
        let eu = encoding_unit(&[
            (
                "CommandLine",
                Some("cmd.exe /Q /c whoami 1> \\\\127.0.0.1\\ADMIN$\\__1 2>&1"),
            ),
            ("CurrentDirectory", Some("C:\\")),
            ("ProcessStartupInformation", None),
        ]);
        let or = objref(&eu);
        for le in [true, false] {
            for op in [24, 25] {
                let b = exec_stub(le, "Win32_Process", "Create", Some(&or));
                let a = decode_request(op, &mut Reader::new(&b, le))
                    .expect("decoder")
                    .expect("decoded");
                assert_eq!(a.object_path, "Win32_Process");
                assert_eq!(a.method_name, "Create");
                assert_eq!(a.in_params, "decoded");
                assert_eq!(a.in_params_class.as_deref(), Some("__PARAMETERS"));
                assert_eq!(
                    a.command_line.as_deref(),
                    Some("cmd.exe /Q /c whoami 1> \\\\127.0.0.1\\ADMIN$\\__1 2>&1")
                );
                assert_eq!(a.current_directory.as_deref(), Some("C:\\"));
                let strings = a.in_params_strings.expect("strings");
                assert_eq!(strings.len(), 2);
            }
        }
    }

    #[test]
    fn unicode_value_and_null_directory() {
        let eu = encoding_unit(&[
            ("CommandLine", Some("notepad.exe ü")),
            ("CurrentDirectory", None),
        ]);
        let o = parse_encoding_unit(&eu).expect("parsed");
        assert_eq!(
            o.strings.get("CommandLine").map(String::as_str),
            Some("notepad.exe ü")
        );
        assert!(!o.strings.contains_key("CurrentDirectory"));
    }

    #[test]
    fn absent_and_unparsed_in_params() {
        let b = exec_stub(true, "Win32_Process", "Create", None);
        let a = decode_request(24, &mut Reader::new(&b, true))
            .expect("d")
            .expect("ok");
        assert_eq!(a.in_params, "absent");
        let b = exec_stub(true, "Win32_Process", "Create", Some(b"MEOWjunk"));
        let a = decode_request(24, &mut Reader::new(&b, true))
            .expect("d")
            .expect("ok");
        assert_eq!(a.in_params, "unparsed");
        assert_eq!(a.command_line, None);
    }

    #[test]
    fn wmio_truncations_and_stub_truncations() {
        let eu = encoding_unit(&[("CommandLine", Some("calc.exe"))]);
        for n in 0..eu.len() {
            assert!(parse_encoding_unit(&eu[..n]).is_none(), "cut at {n}");
        }
        // Corrupt every byte in turn: never a panic.
        for i in 0..eu.len() {
            let mut c = eu.clone();
            c[i] ^= 0xff;
            let _ = parse_encoding_unit(&c);
        }
        let b = exec_stub(true, "Win32_Process", "Create", Some(&objref(&eu)));
        for n in 0..b.len() - 12 {
            assert!(
                decode_request(24, &mut Reader::new(&b[..n], true))
                    .expect("d")
                    .is_err(),
                "cut at {n}"
            );
        }
    }
}

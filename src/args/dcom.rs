//! DCOM (MS-DCOM): which class a client activates on a remote host, and which methods it
//! looks up by name on the objects it gets.
//!
//! * IRemoteSCMActivator (000001a0-0000-0000-c000-000000000046) RemoteGetClassObject (3)
//!   `ORPCTHIS, [unique] MInterfacePointer* pActProperties` and RemoteCreateInstance (4)
//!   `ORPCTHIS, [unique] MInterfacePointer* pUnkOuter, [unique] MInterfacePointer*
//!   pActProperties` (MS-DCOM 3.1.2.5.2.3). `pActProperties` is an OBJREF_CUSTOM whose
//!   data is an activation properties BLOB (2.2.22): `dwSize`, `dwReserved`, then a
//!   CustomHeader and the properties it lists, each serialized with the NDR type
//!   serialization version 1 header (MS-RPCE 2.2.6: a common header whose second byte is
//!   the byte order, a private header, then the NDR data). The InstantiationInfoData
//!   property (CLSID 000001ab-...) carries `classId` and the requested IIDs.
//! * IActivation (4d9f4ab8-7d1c-11cf-861e-0020af6e7c57) RemoteActivation (0): `ORPCTHIS,
//!   GUID Clsid, [unique, string] pwszObjectName, [unique] pObjectStorage,
//!   ClientImpLevel, Mode, Interfaces, [unique, size_is(Interfaces)] IID* pIIDs, ...`
//!   (3.1.2.5.1.1).
//! * IDispatch (00020400-0000-0000-c000-000000000046) GetIDsOfNames (5): `ORPCTHIS, REFIID
//!   riid, [size_is(cNames)] LPOLESTR* rgszNames, cNames, lcid` (MS-OAUT 3.1.4.3): the
//!   method and property names a client is about to call (`ExecuteShellCommand`,
//!   `ShellExecute`, `Navigate`, `DDEInitiate`, ...).
//!
//! The class table ([`clsid_name`]) names the classes used for lateral movement.
//!
//! Responses hand out object references: the activation response's ActivationPropertiesOut
//! (PropsOutInfo `ppIntfData`, 2.2.22.2.9), RemoteActivation's `ppInterfaceData` and the
//! VT_DISPATCH/VT_UNKNOWN values an IDispatch::Invoke returns are OBJREFs (2.2.18) whose
//! standard part names the interface (`iid`) and the interface pointer id (`ipid`, in the
//! STDOBJREF). Every later ORPC request on that interface pointer carries the IPID as its
//! object UUID: [`objrefs`] finds them, and `crate::args` names calls by it, across
//! connections and when their bind was not captured.

use super::ndr::{MAX_ARRAY, NdrError, Reader, Result, guid_to_string};
use super::wmi::{interface_pointer, skip_orpcthis};
use serde::Serialize;

pub const ACTIVATOR_UUID: &str = "000001a0-0000-0000-c000-000000000046";
pub const ACTIVATION_UUID: &str = "4d9f4ab8-7d1c-11cf-861e-0020af6e7c57";
pub const DISPATCH_UUID: &str = "00020400-0000-0000-c000-000000000046";

/// CLSID of the InstantiationInfoData activation property.
const CLSID_INSTANTIATION_INFO: &str = "000001ab-0000-0000-c000-000000000046";
const OBJREF_SIGNATURE: u32 = 0x574f_454d;
const OBJREF_CUSTOM: u32 = 4;
/// Activation properties read from one BLOB.
const MAX_PROPERTIES: usize = 32;

/// A DCOM activation request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActivationArgs {
    /// `remote_get_class_object`, `remote_create_instance` or `remote_activation`.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clsid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clsid_name: Option<&'static str>,
    /// The class is one used to run commands on another host.
    pub lateral_movement_class: bool,
    /// Interfaces requested.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub iids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_name: Option<String>,
    /// `decoded`, `absent` or `unparsed` (the activation BLOB is not one we read).
    pub properties: &'static str,
    /// Interface pointers the response handed out (see [`objrefs`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectRef>,
}

/// IDispatch::GetIDsOfNames.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DispatchArgs {
    pub names: Vec<String>,
    /// Names among them that run commands or load code (see [`is_suspicious_name`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suspicious: Vec<String>,
    /// The object called, when its IPID was handed out earlier in the capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<DcomObject>,
}

/// An interface pointer handed out in a response ([`objrefs`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    pub iid: String,
    pub ipid: String,
}

/// The DCOM object an ORPC call is made on, known from the response that handed out its
/// IPID (the call's object UUID).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DcomObject {
    pub ipid: String,
    /// Interface the IPID was handed out for.
    pub iid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Class activated (for an object returned by a method, the class of the object the
    /// method was called on, and so on back to the activation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clsid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clsid_name: Option<&'static str>,
    pub lateral_movement_class: bool,
    /// The call whose response handed the IPID out (RemoteCreateInstance,
    /// RemoteGetClassObject, RemoteActivation or Invoke).
    pub obtained_by: super::LinkedCall,
    /// `bind` (the call's interface is from its bind) or `ipid` (no bind was captured:
    /// the interface is the one the IPID was handed out for).
    pub interface_from: &'static str,
}

/// What one request decodes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Activation(ActivationArgs),
    Dispatch(DispatchArgs),
}

/// Decode an activation (`activator`: IRemoteSCMActivator, else IActivation) request.
pub fn decode_activation(
    activator: bool,
    opnum: u16,
    r: &mut Reader<'_>,
) -> Option<Result<Request>> {
    match (activator, opnum) {
        (true, 3 | 4) => Some(scm_activation(opnum, r).map(Request::Activation)),
        (false, 0) => Some(remote_activation(r).map(Request::Activation)),
        _ => None,
    }
}

/// Decode IDispatch::GetIDsOfNames.
pub fn decode_dispatch(opnum: u16, r: &mut Reader<'_>) -> Option<Result<Request>> {
    (opnum == 5).then(|| get_ids_of_names(r).map(Request::Dispatch))
}

fn scm_activation(opnum: u16, r: &mut Reader<'_>) -> Result<ActivationArgs> {
    skip_orpcthis(r)?;
    if opnum == 4 {
        interface_pointer(r)?; // pUnkOuter
    }
    let props = interface_pointer(r)?;
    let mut a = ActivationArgs {
        action: if opnum == 3 {
            "remote_get_class_object"
        } else {
            "remote_create_instance"
        },
        properties: "absent",
        ..Default::default()
    };
    if let Some(objref) = props {
        match instantiation_info(objref) {
            Some((clsid, iids)) => {
                a.properties = "decoded";
                set_clsid(&mut a, clsid);
                a.iids = iids;
            }
            None => a.properties = "unparsed",
        }
    }
    Ok(a)
}

fn set_clsid(a: &mut ActivationArgs, clsid: String) {
    a.clsid_name = clsid_name(&clsid).map(|(n, _)| n);
    a.lateral_movement_class = clsid_name(&clsid).is_some_and(|(_, lm)| lm);
    a.clsid = Some(clsid);
}

fn remote_activation(r: &mut Reader<'_>) -> Result<ActivationArgs> {
    skip_orpcthis(r)?;
    let clsid = r.guid_text()?;
    let object_name = r.unique_string(true)?;
    interface_pointer(r)?; // pObjectStorage
    r.u32()?;
    r.u32()?;
    let n = r.u32()?;
    let mut iids = Vec::new();
    if r.pointer()? != 0 {
        let m = r.count()?;
        if m != u64::from(n) {
            return Err(NdrError::Bad(r.pos(), "pIIDs size"));
        }
        let m = r.check_count(m, 16)?;
        if m > MAX_ARRAY {
            return Err(NdrError::TooLong(r.pos(), "pIIDs"));
        }
        for _ in 0..m {
            iids.push(r.guid_text()?);
        }
    }
    let mut a = ActivationArgs {
        action: "remote_activation",
        object_name,
        iids,
        properties: "absent",
        ..Default::default()
    };
    set_clsid(&mut a, clsid);
    Ok(a)
}

fn get_ids_of_names(r: &mut Reader<'_>) -> Result<DispatchArgs> {
    skip_orpcthis(r)?;
    r.guid()?; // riid
    let ids = r.pointer_array()?;
    let names: Vec<String> = r
        .deferred(&ids, |r| r.wstring())?
        .into_iter()
        .flatten()
        .collect();
    let c = r.u32()?;
    if c as usize != ids.len() {
        return Err(NdrError::Bad(r.pos(), "cNames"));
    }
    let suspicious = names
        .iter()
        .filter(|n| is_suspicious_name(n))
        .cloned()
        .collect();
    Ok(DispatchArgs {
        names,
        suspicious,
        object: None,
    })
}

/// OBJREF flags whose standard part (STDOBJREF, with the IPID) follows the IID:
/// OBJREF_STANDARD, OBJREF_HANDLER, OBJREF_EXTENDED.
const OBJREF_WITH_STD: [u32; 3] = [1, 2, 8];
/// Object references read from one response.
const MAX_OBJREFS: usize = 64;

/// Interface pointers in a response stub: every OBJREF with a standard part (signature
/// `MEOW`, flags standard, handler or extended: iid at +8, IPID at +48), wherever the
/// response's NDR puts it (activation properties, interface pointer arrays, VARIANTs).
/// OBJREFs are little-endian whatever the PDU's byte order.
pub fn objrefs(b: &[u8]) -> Vec<ObjectRef> {
    let mut out: Vec<ObjectRef> = Vec::new();
    let mut at = 0;
    while let Some(i) = b
        .get(at..)
        .and_then(|rest| rest.windows(4).position(|w| w == b"MEOW"))
    {
        let o = at + i;
        at = o + 4;
        let Some(flags) = le_u32(b, o + 4) else {
            break;
        };
        let (Some(iid), Some(ipid)) = (b.get(o + 8..o + 24), b.get(o + 48..o + 64)) else {
            continue;
        };
        if !OBJREF_WITH_STD.contains(&flags) {
            continue;
        }
        let text = |g: &[u8]| {
            let mut a = [0u8; 16];
            a.copy_from_slice(g);
            guid_to_string(&a, true)
        };
        let r = ObjectRef {
            iid: text(iid),
            ipid: text(ipid),
        };
        if !out.contains(&r) {
            out.push(r);
        }
        if out.len() >= MAX_OBJREFS {
            break;
        }
        at = o + 64;
    }
    out
}

/// IClassFactory (CreateInstance, opnum 3, returns an interface pointer).
pub const CLASS_FACTORY_UUID: &str = "00000001-0000-0000-c000-000000000046";
/// IRemUnknown and IRemUnknown2 (RemQueryInterface, opnum 3; RemQueryInterface2, opnum 6).
pub const REM_UNKNOWN_UUID: &str = "00000131-0000-0000-c000-000000000046";
pub const REM_UNKNOWN2_UUID: &str = "00000143-0000-0000-c000-000000000046";

/// IRemUnknown::RemQueryInterface (MS-DCOM 3.1.1.5.6.1.1): `ORPCTHIS, REFIPID ripid,
/// cRefs, unsigned short cIids, [size_is(cIids)] IID* iids` in, `ORPCTHAT,
/// [size_is(,cIids)] REMQIRESULT** ppQIResults` out, where REMQIRESULT is `HRESULT,
/// STDOBJREF` (8-aligned: the STDOBJREF holds the OXID and OID). The interface pointers
/// got, as (object asked, [(iid, new IPID)]) for the interfaces the server granted. Its
/// results are STDOBJREFs without the OBJREF around them: [`objrefs`] cannot see them.
pub fn rem_query_interface(req: &[u8], resp: &[u8], le: bool) -> Option<(String, Vec<ObjectRef>)> {
    let mut r = Reader::new(req, le);
    skip_orpcthis(&mut r).ok()?;
    let ripid = r.guid_text().ok()?;
    r.u32().ok()?; // cRefs
    let n = r.u16().ok()? as usize;
    if r.count().ok()? as usize != n || n > MAX_OBJREFS {
        return None;
    }
    let iids: Vec<String> = (0..n).map(|_| r.guid_text().ok()).collect::<Option<_>>()?;
    let mut r = Reader::new(resp, le);
    r.u32().ok()?; // ORPCTHAT flags
    if r.pointer().ok()? != 0 {
        return None; // extensions: not read
    }
    if r.pointer().ok()? == 0 {
        return Some((ripid, Vec::new()));
    }
    if r.count().ok()? as usize != n {
        return None;
    }
    let mut out = Vec::new();
    for iid in iids {
        r.align(8).ok()?;
        let hr = r.u32().ok()?;
        r.align(8).ok()?;
        r.u32().ok()?; // flags
        r.u32().ok()?; // cPublicRefs
        r.u64().ok()?; // OXID
        r.u64().ok()?; // OID
        let ipid = r.guid_text().ok()?;
        if hr == 0 {
            out.push(ObjectRef { iid, ipid });
        }
    }
    r.u32().ok()?; // HRESULT
    Some((ripid, out))
}

/// Little-endian view of the OBJREF (always little-endian, MS-DCOM 2.2.18).
fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The serialized NDR data of one activation property: its byte order and the data after
/// the type serialization headers (8-byte common header, 8-byte private header).
fn serialized(b: &[u8]) -> Option<(bool, &[u8])> {
    if *b.first()? != 1 {
        return None;
    }
    let le = match *b.get(1)? {
        0x10 => true,
        0x00 => false,
        _ => return None,
    };
    Some((le, b.get(16..)?))
}

/// OBJREF_CUSTOM → activation BLOB → InstantiationInfoData: (classId, requested IIDs).
pub fn instantiation_info(objref: &[u8]) -> Option<(String, Vec<String>)> {
    if le_u32(objref, 0)? != OBJREF_SIGNATURE || le_u32(objref, 4)? != OBJREF_CUSTOM {
        return None;
    }
    // signature, flags, iid (16), clsid (16), cbExtension, ObjectReferenceSize.
    let blob = objref.get(48..)?;
    let _size = le_u32(blob, 0)?;
    let custom = blob.get(8..)?;
    let (le, data) = serialized(custom)?;
    let mut r = Reader::new(data, le);
    let _total = r.u32().ok()?;
    let header_size = r.u32().ok()? as usize;
    r.u32().ok()?;
    r.u32().ok()?;
    let count = r.u32().ok()? as usize;
    if count > MAX_PROPERTIES {
        return None;
    }
    r.guid().ok()?;
    let p_clsids = r.pointer().ok()?;
    let p_sizes = r.pointer().ok()?;
    let p_reserved = r.pointer().ok()?;
    if p_clsids == 0 || p_sizes == 0 {
        return None;
    }
    if r.count().ok()? as usize != count {
        return None;
    }
    let clsids: Vec<String> = (0..count)
        .map(|_| r.guid_text().ok())
        .collect::<Option<_>>()?;
    if r.count().ok()? as usize != count {
        return None;
    }
    let sizes: Vec<usize> = (0..count)
        .map(|_| r.u32().ok().map(|s| s as usize))
        .collect::<Option<_>>()?;
    if p_reserved != 0 {
        r.u32().ok()?;
    }
    let mut at = header_size;
    for (clsid, size) in clsids.iter().zip(&sizes) {
        let prop = custom.get(at..at.checked_add(*size)?)?;
        at += size;
        if clsid != CLSID_INSTANTIATION_INFO {
            continue;
        }
        let (le, data) = serialized(prop)?;
        let mut r = Reader::new(data, le);
        let g = r.guid().ok()?;
        r.u32().ok()?; // classCtx
        r.u32().ok()?; // actvflags
        r.u32().ok()?; // fIsSurrogate
        let n = r.u32().ok()? as usize;
        r.u32().ok()?; // instFlag
        let p_iids = r.pointer().ok()?;
        r.u32().ok()?; // thisSize
        r.u16().ok()?;
        r.u16().ok()?; // clientCOMVersion
        let mut iids = Vec::new();
        if p_iids != 0 {
            if r.count().ok()? as usize != n || n > MAX_ARRAY {
                return None;
            }
            for _ in 0..n {
                iids.push(r.guid_text().ok()?);
            }
        }
        return Some((guid_to_string(&g, le), iids));
    }
    None
}

/// Classes worth naming: (CLSID, name, used to run code on a remote host).
pub const CLASSES: &[(&str, &str, bool)] = &[
    (
        "49b2791a-b1ae-4c90-9b8e-e860ba07f889",
        "MMC20.Application",
        true,
    ),
    ("9ba05972-f6a8-11cf-a442-00a0c90a8f39", "ShellWindows", true),
    (
        "c08afd90-f2a1-11d1-8455-00a0c91f3880",
        "ShellBrowserWindow",
        true,
    ),
    (
        "13709620-c279-11ce-a49e-444553540000",
        "Shell.Application",
        true,
    ),
    (
        "72c24dd5-d70a-438b-8a42-98424b88afb8",
        "WScript.Shell",
        true,
    ),
    (
        "00024500-0000-0000-c000-000000000046",
        "Excel.Application",
        true,
    ),
    (
        "000209ff-0000-0000-c000-000000000046",
        "Word.Application",
        true,
    ),
    (
        "0006f03a-0000-0000-c000-000000000046",
        "Outlook.Application",
        true,
    ),
    (
        "0002df01-0000-0000-c000-000000000046",
        "InternetExplorer.Application",
        true,
    ),
    (
        "0f87369f-a4e5-4cfc-bd3e-73e6154572dd",
        "Schedule.Service",
        true,
    ),
    (
        "8bc3f05e-d86b-11d0-a075-00c04fb68820",
        "WbemLevel1Login (WMI)",
        false,
    ),
    (
        "4991d34b-80a1-4291-83b6-3328366b9097",
        "BackgroundCopyManager (BITS)",
        false,
    ),
];

/// The class's name and whether it is a lateral-movement class.
pub fn clsid_name(clsid: &str) -> Option<(&'static str, bool)> {
    CLASSES
        .iter()
        .find(|(c, _, _)| c.eq_ignore_ascii_case(clsid))
        .map(|(_, n, lm)| (*n, *lm))
}

/// IDispatch names that run commands or load code when invoked remotely.
pub fn is_suspicious_name(n: &str) -> bool {
    const NAMES: [&str; 12] = [
        "ExecuteShellCommand",
        "ShellExecute",
        "Navigate",
        "Navigate2",
        "DDEInitiate",
        "RegisterXLL",
        "ExecuteExcel4Macro",
        "Run",
        "Exec",
        "CreateObject",
        "ActivateMicrosoftApp",
        "InvokeVerb",
    ];
    NAMES.iter().any(|x| x.eq_ignore_ascii_case(n))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::ndr::build::Stub;
    use super::*;

    /// ORPCTHIS without extensions.
    pub fn orpcthis(s: &mut Stub) {
        s.u16(5)
            .u16(7)
            .u32(0)
            .u32(0)
            .guid("01020304-0506-0708-090a-0b0c0d0e0f10")
            .null();
    }

    /// One serialized property: type serialization headers, then `body`.
    fn serialized_prop(body: &[u8]) -> Vec<u8> {
        let mut v = vec![1, 0x10, 8, 0, 0xcc, 0xcc, 0xcc, 0xcc];
        v.extend_from_slice(&(body.len() as u32).to_le_bytes());
        v.extend_from_slice(&[0; 4]);
        v.extend_from_slice(body);
        v
    }

    /// An OBJREF_CUSTOM activation BLOB asking for `clsid` with one IID.
    pub fn activation_objref(clsid: &str, iid: &str) -> Vec<u8> {
        let mut inst = Stub::new(true);
        inst.guid(clsid)
            .u32(0x14)
            .u32(0)
            .u32(0)
            .u32(1)
            .u32(0)
            .ptr()
            .u32(0)
            .u16(5)
            .u16(7);
        inst.u32(1).guid(iid);
        let inst = serialized_prop(&inst.done());
        let other = serialized_prop(&[0u8; 8]);
        let mut hdr = Stub::new(true);
        let sizes = [other.len() as u32, inst.len() as u32];
        // headerSize is patched once the header's length is known.
        hdr.u32(0)
            .u32(0)
            .u32(0)
            .u32(0)
            .u32(2)
            .guid("00000000-0000-0000-0000-000000000000");
        hdr.ptr().ptr().null();
        hdr.u32(2)
            .guid("000001b9-0000-0000-c000-000000000046")
            .guid(CLSID_INSTANTIATION_INFO);
        hdr.u32(2).u32(sizes[0]).u32(sizes[1]);
        let mut h = serialized_prop(&hdr.done());
        let hl = h.len() as u32;
        h[20..24].copy_from_slice(&hl.to_le_bytes());
        let mut blob = Vec::new();
        let total = (h.len() + other.len() + inst.len()) as u32;
        blob.extend_from_slice(&total.to_le_bytes());
        blob.extend_from_slice(&[0; 4]);
        blob.extend_from_slice(&h);
        blob.extend_from_slice(&other);
        blob.extend_from_slice(&inst);
        let mut o = Vec::new();
        o.extend_from_slice(&OBJREF_SIGNATURE.to_le_bytes());
        o.extend_from_slice(&OBJREF_CUSTOM.to_le_bytes());
        o.extend_from_slice(&[0; 16]);
        o.extend_from_slice(&[0x38, 3, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46]);
        o.extend_from_slice(&0u32.to_le_bytes());
        o.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        o.extend_from_slice(&blob);
        o
    }

    /// An OBJREF_STANDARD for `iid` with IPID `ipid` (no string bindings to speak of).
    pub fn std_objref(iid: &str, ipid: &str) -> Vec<u8> {
        let mut o = Stub::new(true);
        o.raw(b"MEOW").u32(1).guid(iid);
        o.u32(0).u32(5).raw(&[0x0a; 8]).raw(&[0x0b; 8]).guid(ipid);
        o.u16(2).u16(2).u32(0);
        o.done()
    }

    /// RemoteCreateInstance's response: ORPCTHAT, the ActivationPropertiesOut OBJREF_CUSTOM
    /// whose PropsOutInfo hands out one interface pointer, HRESULT. The NDR of the PDU is
    /// in `le` order; the OBJREFs are little-endian.
    pub fn create_instance_response(le: bool, iid: &str, ipid: &str) -> Vec<u8> {
        let intf = std_objref(iid, ipid);
        let mut props = Stub::new(true);
        props.u32(1).ptr().ptr().ptr();
        props.u32(1).guid(iid);
        props.u32(1).u32(0);
        props.u32(1).ptr();
        props
            .u32(intf.len() as u32)
            .u32(intf.len() as u32)
            .raw(&intf);
        let props = serialized_prop(&props.done());
        let mut blob = Vec::new();
        blob.extend_from_slice(&(props.len() as u32).to_le_bytes());
        blob.extend_from_slice(&[0; 4]);
        blob.extend_from_slice(&props);
        let mut o = Vec::new();
        o.extend_from_slice(&OBJREF_SIGNATURE.to_le_bytes());
        o.extend_from_slice(&OBJREF_CUSTOM.to_le_bytes());
        o.extend_from_slice(&[0; 16]);
        o.extend_from_slice(&[0x39, 3, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46]);
        o.extend_from_slice(&0u32.to_le_bytes());
        o.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        o.extend_from_slice(&blob);
        let mut s = Stub::new(le);
        s.u32(0).null();
        s.ptr().u32(o.len() as u32).u32(o.len() as u32).raw(&o);
        s.u32(0);
        s.done()
    }

    /// RemQueryInterface asking object `ripid` for `iids`; the response grants each with
    /// the IPIDs given (S_OK) or refuses it (None: E_NOINTERFACE).
    pub fn rem_qi(le: bool, ripid: &str, iids: &[(&str, Option<&str>)]) -> (Vec<u8>, Vec<u8>) {
        let mut q = Stub::new(le);
        orpcthis(&mut q);
        q.guid(ripid).u32(5).u16(iids.len() as u16);
        q.u32(iids.len() as u32);
        for (iid, _) in iids {
            q.guid(iid);
        }
        let mut a = Stub::new(le);
        a.u32(0).null().ptr().u32(iids.len() as u32);
        for (_, ipid) in iids {
            a.align(8);
            a.u32(if ipid.is_some() { 0 } else { 0x8000_4002 });
            a.align(8);
            a.u32(0).u32(5).u64(1).u64(2);
            a.guid(ipid.unwrap_or("00000000-0000-0000-0000-000000000000"));
        }
        a.u32(0);
        (q.done(), a.done())
    }

    #[test]
    fn rem_query_interface_grants_ipids_both_orders() {
        let unk = "0000b001-2008-0f1c-5d6e-7f8091a2b3c4";
        let disp = "0000b002-2008-0f1c-5d6e-7f8091a2b3c4";
        for le in [true, false] {
            let (q, a) = rem_qi(
                le,
                unk,
                &[(DISPATCH_UUID, Some(disp)), (CLASS_FACTORY_UUID, None)],
            );
            let (ripid, got) = rem_query_interface(&q, &a, le).expect("parsed");
            assert_eq!(ripid, unk);
            assert_eq!(
                got,
                vec![ObjectRef {
                    iid: DISPATCH_UUID.into(),
                    ipid: disp.into()
                }]
            );
            for n in 0..a.len() {
                assert!(rem_query_interface(&q, &a[..n], le).is_none(), "cut at {n}");
            }
        }
    }

    #[test]
    fn objrefs_found_in_activation_responses_and_anywhere() {
        let ipid = "0000a001-2008-0f1c-5d6e-7f8091a2b3c4";
        for le in [true, false] {
            let r = create_instance_response(le, DISPATCH_UUID, ipid);
            assert_eq!(
                objrefs(&r),
                vec![ObjectRef {
                    iid: DISPATCH_UUID.into(),
                    ipid: ipid.into()
                }],
                "le {le}"
            );
        }
        // An interface pointer inside any bytes (a VARIANT of an Invoke result), twice: once.
        let mut b = vec![0x4d, 0x45, 0x4f, 0x57, 9, 0, 0, 0];
        let o = std_objref(DISPATCH_UUID, ipid);
        b.extend_from_slice(&o);
        b.extend_from_slice(&o);
        assert_eq!(objrefs(&b).len(), 1);
        // Custom OBJREFs alone, cut OBJREFs and nothing: none.
        assert!(objrefs(&activation_objref(DISPATCH_UUID, DISPATCH_UUID)).is_empty());
        for n in 0..o.len() {
            let found = objrefs(&o[..n]);
            assert_eq!(found.is_empty(), n < 64, "cut at {n}");
        }
        assert!(objrefs(&[]).is_empty());
    }

    pub fn create_instance_stub(le: bool, clsid: &str) -> Vec<u8> {
        let objref = activation_objref(clsid, DISPATCH_UUID);
        let mut s = Stub::new(le);
        orpcthis(&mut s);
        s.null()
            .ptr()
            .u32(objref.len() as u32)
            .u32(objref.len() as u32)
            .raw(&objref);
        s.done()
    }

    #[test]
    fn remote_create_instance_names_the_class_both_orders() {
        for le in [true, false] {
            let b = create_instance_stub(le, "49b2791a-b1ae-4c90-9b8e-e860ba07f889");
            let Some(Ok(Request::Activation(a))) =
                decode_activation(true, 4, &mut Reader::new(&b, le))
            else {
                panic!("le {le}")
            };
            assert_eq!(a.properties, "decoded");
            assert_eq!(
                a.clsid.as_deref(),
                Some("49b2791a-b1ae-4c90-9b8e-e860ba07f889")
            );
            assert_eq!(a.clsid_name, Some("MMC20.Application"));
            assert!(a.lateral_movement_class);
            assert_eq!(a.iids, vec![DISPATCH_UUID.to_string()]);
        }
        // The activation BLOB itself is little-endian whatever the PDU's byte order, and an
        // OBJREF that is not one gives "unparsed", not an error.
        let mut s = Stub::new(true);
        orpcthis(&mut s);
        s.null().ptr().u32(4).u32(4).raw(b"nope");
        let Some(Ok(Request::Activation(a))) =
            decode_activation(true, 4, &mut Reader::new(&s.done(), true))
        else {
            panic!()
        };
        assert_eq!((a.properties, a.clsid), ("unparsed", None));
    }

    #[test]
    fn remote_activation_and_dispatch_names() {
        for le in [true, false] {
            let mut s = Stub::new(le);
            orpcthis(&mut s);
            s.guid("9ba05972-f6a8-11cf-a442-00a0c90a8f39")
                .null()
                .null()
                .u32(2)
                .u32(0)
                .u32(1)
                .ptr()
                .u32(1)
                .guid(DISPATCH_UUID)
                .u16(1)
                .u32(1)
                .u16(7);
            let Some(Ok(Request::Activation(a))) =
                decode_activation(false, 0, &mut Reader::new(&s.done(), le))
            else {
                panic!()
            };
            assert_eq!(a.clsid_name, Some("ShellWindows"));
            let mut s = Stub::new(le);
            orpcthis(&mut s);
            s.guid("00000000-0000-0000-0000-000000000000")
                .u32(2)
                .ptr()
                .ptr()
                .wstr("Document")
                .wstr("ExecuteShellCommand")
                .u32(2)
                .u32(0x409);
            let Some(Ok(Request::Dispatch(d))) =
                decode_dispatch(5, &mut Reader::new(&s.done(), le))
            else {
                panic!()
            };
            assert_eq!(d.names, vec!["Document", "ExecuteShellCommand"]);
            assert_eq!(d.suspicious, vec!["ExecuteShellCommand"]);
        }
        assert!(decode_dispatch(6, &mut Reader::new(&[], true)).is_none());
        assert!(decode_activation(true, 5, &mut Reader::new(&[], true)).is_none());
    }

    #[test]
    fn truncated_activation_fails_or_is_unparsed() {
        let b = create_instance_stub(true, "49b2791a-b1ae-4c90-9b8e-e860ba07f889");
        for n in 0..b.len() {
            match decode_activation(true, 4, &mut Reader::new(&b[..n], true)) {
                Some(Err(_)) => {}
                Some(Ok(Request::Activation(a))) => {
                    assert_ne!(a.properties, "decoded", "cut at {n}")
                }
                other => panic!("cut at {n}: {other:?}"),
            }
        }
    }
}

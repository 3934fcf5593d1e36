//! Connection-oriented DCE-RPC PDUs (C706 chapter 12, MS-RPCE 2.2.2): pure parsers that
//! borrow from the input. No state lives here.

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::Endianness;
use nom::number::complete::{u8 as nu8, u16 as nu16, u32 as nu32};

pub const REQUEST: u8 = 0;
pub const RESPONSE: u8 = 2;
pub const FAULT: u8 = 3;
pub const BIND: u8 = 11;
pub const BIND_ACK: u8 = 12;
pub const BIND_NAK: u8 = 13;
pub const ALTER_CONTEXT: u8 = 14;
pub const ALTER_CONTEXT_RESP: u8 = 15;
pub const AUTH3: u8 = 16;
pub const SHUTDOWN: u8 = 17;
pub const CO_CANCEL: u8 = 18;
pub const ORPHANED: u8 = 19;

pub const PFC_FIRST_FRAG: u8 = 0x01;
pub const PFC_LAST_FRAG: u8 = 0x02;
pub const PFC_OBJECT_UUID: u8 = 0x80;

pub const HEADER_LEN: usize = 16;
/// Presentation contexts accepted from one bind; real clients offer a handful.
pub const MAX_CONTEXTS_PER_BIND: usize = 64;
/// Transfer syntaxes accepted per context.
pub const MAX_TRANSFER_SYNTAXES: usize = 16;

/// The 16-byte common header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub vers_minor: u8,
    pub ptype: u8,
    pub flags: u8,
    pub drep: [u8; 4],
    pub frag_len: u16,
    pub auth_len: u16,
    pub call_id: u32,
}

impl Header {
    /// Integer representation from drep byte 0: bit 4 set means little-endian.
    pub fn little_endian(&self) -> bool {
        self.drep[0] & 0x10 != 0
    }
    pub fn endianness(&self) -> Endianness {
        if self.little_endian() {
            Endianness::Little
        } else {
            Endianness::Big
        }
    }
    pub fn first(&self) -> bool {
        self.flags & PFC_FIRST_FRAG != 0
    }
    pub fn last(&self) -> bool {
        self.flags & PFC_LAST_FRAG != 0
    }
}

/// Parse the common header without judging it. Needs 16 bytes.
pub fn header(i: &[u8]) -> IResult<&[u8], Header> {
    let (i, (vers, vers_minor, ptype, flags, drep)) =
        (nu8, nu8, nu8, nu8, take(4usize)).parse(i)?;
    if vers != 5 {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    let d: [u8; 4] = [drep[0], drep[1], drep[2], drep[3]];
    let e = if d[0] & 0x10 != 0 {
        Endianness::Little
    } else {
        Endianness::Big
    };
    let (i, (frag_len, auth_len, call_id)) = (nu16(e), nu16(e), nu32(e)).parse(i)?;
    Ok((
        i,
        Header {
            vers_minor,
            ptype,
            flags,
            drep: d,
            frag_len,
            auth_len,
            call_id,
        },
    ))
}

/// A header that a real DCE-RPC peer could have sent: used to recognise DCE-RPC by
/// content on any port and to resynchronise after a gap.
pub fn plausible_header(b: &[u8]) -> Option<Header> {
    let (_, h) = header(b.get(..HEADER_LEN)?).ok()?;
    let drep_ok = h.drep[0] & 0xee == 0 && h.drep[1] <= 3 && h.drep[2] == 0 && h.drep[3] == 0;
    let auth_room = if h.auth_len > 0 {
        h.auth_len as usize + 8
    } else {
        0
    };
    let len_ok = h.frag_len as usize >= HEADER_LEN + auth_room;
    (h.vers_minor <= 1 && h.ptype <= ORPHANED && drep_ok && len_ok).then_some(h)
}

/// Zeek's DPD signature for DCE-RPC: `\x05[\x00\x01][\x00-\x13]` at stream start.
pub fn zeek_signature(b: &[u8]) -> bool {
    b.len() >= 3 && b[0] == 5 && b[1] <= 1 && b[2] <= 0x13
}

/// Abstract or transfer syntax: interface UUID (raw wire bytes) and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxId {
    pub uuid_raw: [u8; 16],
    pub major: u16,
    pub minor: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextElem {
    pub ctx_id: u16,
    pub abstract_syntax: SyntaxId,
    /// First transfer syntax offered (NDR, NDR64, bind-time feature negotiation...).
    pub transfer_syntaxes: Vec<SyntaxId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextResult {
    /// 0 acceptance, 1 user rejection, 2 provider rejection, 3 negotiate ack.
    pub result: u16,
    pub reason: u16,
    pub transfer_syntax: SyntaxId,
}

/// The sec_trailer in front of an auth verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthTrailer {
    pub auth_type: u8,
    pub auth_level: u8,
    pub pad_len: u8,
    pub context_id: u32,
}

/// Packet privacy: the stub is encrypted.
pub const AUTH_LEVEL_PKT_PRIVACY: u8 = 6;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    Bind {
        assoc_group: u32,
        contexts: Vec<ContextElem>,
    },
    AlterContext {
        assoc_group: u32,
        contexts: Vec<ContextElem>,
    },
    BindAck {
        sec_addr: &'a [u8],
        results: Vec<ContextResult>,
    },
    AlterContextResp {
        sec_addr: &'a [u8],
        results: Vec<ContextResult>,
    },
    BindNak {
        reason: u16,
    },
    Request {
        alloc_hint: u32,
        ctx_id: u16,
        opnum: u16,
        object: Option<[u8; 16]>,
        stub: &'a [u8],
    },
    Response {
        alloc_hint: u32,
        ctx_id: u16,
        stub: &'a [u8],
    },
    Fault {
        ctx_id: u16,
        status: u32,
    },
    /// AUTH3, SHUTDOWN, CO_CANCEL, ORPHANED and anything else: nothing we need inside.
    Other,
}

/// A whole PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu<'a> {
    pub header: Header,
    pub body: Body<'a>,
    pub auth: Option<AuthTrailer>,
    /// Bytes between the header and the auth trailer (the part Zeek reassembles).
    pub body_bytes: &'a [u8],
}

fn syntax_id(e: Endianness) -> impl Fn(&[u8]) -> IResult<&[u8], SyntaxId> {
    move |i| {
        let (i, (u, major, minor)) = (take(16usize), nu16(e), nu16(e)).parse(i)?;
        let mut uuid_raw = [0u8; 16];
        uuid_raw.copy_from_slice(u);
        Ok((
            i,
            SyntaxId {
                uuid_raw,
                major,
                minor,
            },
        ))
    }
}

fn contexts(i: &[u8], e: Endianness) -> IResult<&[u8], (u32, Vec<ContextElem>)> {
    let (i, (_max_xmit, _max_recv, assoc_group, n, _pad)) =
        (nu16(e), nu16(e), nu32(e), nu8, take(3usize)).parse(i)?;
    let mut out = Vec::with_capacity((n as usize).min(MAX_CONTEXTS_PER_BIND));
    let mut i = i;
    for _ in 0..(n as usize).min(MAX_CONTEXTS_PER_BIND) {
        let (r, (ctx_id, n_ts, _pad, abs)) = (nu16(e), nu8, nu8, syntax_id(e)).parse(i)?;
        let mut ts = Vec::with_capacity((n_ts as usize).min(MAX_TRANSFER_SYNTAXES));
        let mut r = r;
        for k in 0..n_ts as usize {
            let (r2, s) = syntax_id(e)(r)?;
            if k < MAX_TRANSFER_SYNTAXES {
                ts.push(s);
            }
            r = r2;
        }
        out.push(ContextElem {
            ctx_id,
            abstract_syntax: abs,
            transfer_syntaxes: ts,
        });
        i = r;
    }
    Ok((i, (assoc_group, out)))
}

/// bind_ack / alter_context_resp body. `hdr_off` is the PDU offset of `i` (for alignment).
fn ack(i: &[u8], e: Endianness) -> IResult<&[u8], (&[u8], Vec<ContextResult>)> {
    let start_len = i.len();
    let (i, (_max_xmit, _max_recv, _assoc, sa_len)) =
        (nu16(e), nu16(e), nu32(e), nu16(e)).parse(i)?;
    let (i, sec_addr) = take(sa_len as usize)(i)?;
    // The result list is 4-byte aligned relative to the PDU start (header is 16 bytes).
    let consumed = HEADER_LEN + (start_len - i.len());
    let pad = (4 - consumed % 4) % 4;
    let (i, _) = take(pad.min(i.len()))(i)?;
    let (i, (n, _)) = (nu8, take(3usize)).parse(i)?;
    let mut results = Vec::with_capacity((n as usize).min(MAX_CONTEXTS_PER_BIND));
    let mut i = i;
    for _ in 0..(n as usize).min(MAX_CONTEXTS_PER_BIND) {
        let (r, (result, reason, ts)) = (nu16(e), nu16(e), syntax_id(e)).parse(i)?;
        results.push(ContextResult {
            result,
            reason,
            transfer_syntax: ts,
        });
        i = r;
    }
    Ok((i, (sec_addr, results)))
}

/// Strip one trailing NUL (the sec_addr string is NUL-terminated on the wire).
pub fn trim_nul(b: &[u8]) -> &[u8] {
    match b.split_last() {
        Some((0, rest)) => rest,
        _ => b,
    }
}

/// Why a PDU could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    #[error("not a DCE-RPC v5 header")]
    BadHeader,
    #[error("PDU shorter than its header says")]
    Short,
    #[error("malformed {0} body")]
    BadBody(&'static str),
}

/// Parse one complete PDU; `b` must hold at least `frag_len` bytes (extra bytes ignored).
pub fn parse_pdu(b: &[u8]) -> Result<Pdu<'_>, PduError> {
    let (_, h) = header(b).map_err(|_| PduError::BadHeader)?;
    let frag_len = h.frag_len as usize;
    if frag_len < HEADER_LEN || b.len() < frag_len {
        return Err(PduError::Short);
    }
    let pdu = &b[..frag_len];
    let e = h.endianness();
    let auth_room = if h.auth_len > 0 {
        h.auth_len as usize + 8
    } else {
        0
    };
    if HEADER_LEN + auth_room > frag_len {
        return Err(PduError::Short);
    }
    let body_end = frag_len - auth_room;
    let body_bytes = &pdu[HEADER_LEN..body_end];
    let auth = if h.auth_len > 0 {
        let t = &pdu[body_end..body_end + 8];
        let ctx = match e {
            Endianness::Big => u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
            _ => u32::from_le_bytes([t[4], t[5], t[6], t[7]]),
        };
        Some(AuthTrailer {
            auth_type: t[0],
            auth_level: t[1],
            pad_len: t[2],
            context_id: ctx,
        })
    } else {
        None
    };
    let pad = auth.map(|a| a.pad_len as usize).unwrap_or(0);
    let i = body_bytes;
    let body = match h.ptype {
        BIND | ALTER_CONTEXT => {
            let (_, (assoc_group, contexts)) =
                contexts(i, e).map_err(|_| PduError::BadBody("bind"))?;
            if h.ptype == BIND {
                Body::Bind {
                    assoc_group,
                    contexts,
                }
            } else {
                Body::AlterContext {
                    assoc_group,
                    contexts,
                }
            }
        }
        BIND_ACK | ALTER_CONTEXT_RESP => {
            let (_, (sec_addr, results)) = ack(i, e).map_err(|_| PduError::BadBody("bind_ack"))?;
            if h.ptype == BIND_ACK {
                Body::BindAck { sec_addr, results }
            } else {
                Body::AlterContextResp { sec_addr, results }
            }
        }
        BIND_NAK => {
            let (_, reason) = nu16::<_, nom::error::Error<&[u8]>>(e)(i)
                .map_err(|_| PduError::BadBody("bind_nak"))?;
            Body::BindNak { reason }
        }
        REQUEST => {
            let (r, (alloc_hint, ctx_id, opnum)) = (nu32(e), nu16(e), nu16(e))
                .parse(i)
                .map_err(|_: nom::Err<nom::error::Error<&[u8]>>| PduError::BadBody("request"))?;
            let (r, object) = if h.flags & PFC_OBJECT_UUID != 0 {
                let o = r.get(..16).ok_or(PduError::BadBody("request"))?;
                let mut u = [0u8; 16];
                u.copy_from_slice(o);
                (&r[16..], Some(u))
            } else {
                (r, None)
            };
            let stub = &r[..r.len().saturating_sub(pad)];
            Body::Request {
                alloc_hint,
                ctx_id,
                opnum,
                object,
                stub,
            }
        }
        RESPONSE => {
            let (r, (alloc_hint, ctx_id, _cancel, _res)) = (nu32(e), nu16(e), nu8, nu8)
                .parse(i)
                .map_err(|_: nom::Err<nom::error::Error<&[u8]>>| PduError::BadBody("response"))?;
            let stub = &r[..r.len().saturating_sub(pad)];
            Body::Response {
                alloc_hint,
                ctx_id,
                stub,
            }
        }
        FAULT => {
            let (_, (_alloc, ctx_id, _cancel, _res, status)) =
                (nu32(e), nu16(e), nu8, nu8, nu32(e))
                    .parse(i)
                    .map_err(|_: nom::Err<nom::error::Error<&[u8]>>| PduError::BadBody("fault"))?;
            Body::Fault { ctx_id, status }
        }
        _ => Body::Other,
    };
    Ok(Pdu {
        header: h,
        body,
        auth,
        body_bytes,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Build a PDU by hand: header + body (+ optional sec_trailer and token).
    pub fn build(
        ptype: u8,
        flags: u8,
        le: bool,
        call_id: u32,
        body: &[u8],
        auth: Option<(u8, u8, &[u8])>,
    ) -> Vec<u8> {
        let mut body = body.to_vec();
        let mut trailer = Vec::new();
        if let Some((t, l, tok)) = auth {
            let pad = (4 - body.len() % 4) % 4;
            body.extend(std::iter::repeat_n(0u8, pad));
            trailer.extend_from_slice(&[t, l, pad as u8, 0, 0, 0, 0, 0]);
            trailer.extend_from_slice(tok);
        }
        let auth_len = if auth.is_some() { trailer.len() - 8 } else { 0 } as u16;
        let frag_len = (16 + body.len() + trailer.len()) as u16;
        let mut v = vec![5, 0, ptype, flags, if le { 0x10 } else { 0 }, 0, 0, 0];
        let w16 = |v: &mut Vec<u8>, x: u16| {
            v.extend_from_slice(&if le { x.to_le_bytes() } else { x.to_be_bytes() })
        };
        w16(&mut v, frag_len);
        w16(&mut v, auth_len);
        v.extend_from_slice(&if le {
            call_id.to_le_bytes()
        } else {
            call_id.to_be_bytes()
        });
        v.extend_from_slice(&body);
        v.extend_from_slice(&trailer);
        v
    }

    pub fn request_body(le: bool, ctx: u16, opnum: u16, stub: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        if le {
            b.extend_from_slice(&(stub.len() as u32).to_le_bytes());
            b.extend_from_slice(&ctx.to_le_bytes());
            b.extend_from_slice(&opnum.to_le_bytes());
        } else {
            b.extend_from_slice(&(stub.len() as u32).to_be_bytes());
            b.extend_from_slice(&ctx.to_be_bytes());
            b.extend_from_slice(&opnum.to_be_bytes());
        }
        b.extend_from_slice(stub);
        b
    }

    pub fn response_body(le: bool, ctx: u16, stub: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        if le {
            b.extend_from_slice(&(stub.len() as u32).to_le_bytes());
            b.extend_from_slice(&ctx.to_le_bytes());
        } else {
            b.extend_from_slice(&(stub.len() as u32).to_be_bytes());
            b.extend_from_slice(&ctx.to_be_bytes());
        }
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(stub);
        b
    }

    /// Bind body with (ctx_id, uuid canonical bytes, major) contexts, NDR transfer syntax.
    pub fn bind_body(le: bool, ctxs: &[(u16, [u8; 16], u16)]) -> Vec<u8> {
        let w16 = |x: u16| if le { x.to_le_bytes() } else { x.to_be_bytes() };
        let w32 = |x: u32| if le { x.to_le_bytes() } else { x.to_be_bytes() };
        let mut b = Vec::new();
        b.extend_from_slice(&w16(4280));
        b.extend_from_slice(&w16(4280));
        b.extend_from_slice(&w32(0));
        b.extend_from_slice(&[ctxs.len() as u8, 0, 0, 0]);
        for (id, u, major) in ctxs {
            b.extend_from_slice(&w16(*id));
            b.extend_from_slice(&[1, 0]);
            b.extend_from_slice(&uuid_wire(u, le));
            b.extend_from_slice(&w16(*major));
            b.extend_from_slice(&w16(0));
            b.extend_from_slice(&uuid_wire(&NDR, le));
            b.extend_from_slice(&w32(2));
        }
        b
    }

    pub const NDR: [u8; 16] = [
        0x8a, 0x88, 0x5d, 0x04, 0x1c, 0xeb, 0x11, 0xc9, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48,
        0x60,
    ];

    /// Canonical UUID bytes to wire order for the given integer representation.
    pub fn uuid_wire(u: &[u8; 16], le: bool) -> [u8; 16] {
        let mut w = *u;
        if le {
            w[0..4].reverse();
            w[4..6].reverse();
            w[6..8].reverse();
        }
        w
    }

    pub fn ack_body(le: bool, sec_addr: &[u8], results: &[u16]) -> Vec<u8> {
        let w16 = |x: u16| if le { x.to_le_bytes() } else { x.to_be_bytes() };
        let mut b = Vec::new();
        b.extend_from_slice(&w16(4280));
        b.extend_from_slice(&w16(4280));
        b.extend_from_slice(&[0x12, 0x34, 0, 0]);
        b.extend_from_slice(&w16(sec_addr.len() as u16));
        b.extend_from_slice(sec_addr);
        while (16 + b.len()) % 4 != 0 {
            b.push(0);
        }
        b.extend_from_slice(&[results.len() as u8, 0, 0, 0]);
        for r in results {
            b.extend_from_slice(&w16(*r));
            b.extend_from_slice(&w16(0));
            b.extend_from_slice(&uuid_wire(&NDR, le));
            b.extend_from_slice(&if le {
                2u32.to_le_bytes()
            } else {
                2u32.to_be_bytes()
            });
        }
        b
    }

    const SVCCTL: [u8; 16] = [
        0x36, 0x7a, 0xbb, 0x81, 0x98, 0x44, 0x35, 0xf1, 0xad, 0x32, 0x98, 0xf0, 0x38, 0x00, 0x10,
        0x03,
    ];

    #[test]
    fn bind_both_byte_orders() {
        for le in [true, false] {
            let b = build(
                BIND,
                3,
                le,
                7,
                &bind_body(le, &[(0, SVCCTL, 2), (1, SVCCTL, 3)]),
                None,
            );
            let p = parse_pdu(&b).expect("parse");
            assert_eq!(p.header.call_id, 7);
            assert_eq!(p.header.frag_len as usize, b.len());
            let Body::Bind { contexts, .. } = p.body else {
                panic!("not a bind")
            };
            assert_eq!(contexts.len(), 2);
            assert_eq!(contexts[1].ctx_id, 1);
            assert_eq!(contexts[1].abstract_syntax.major, 3);
            assert_eq!(contexts[0].abstract_syntax.uuid_raw, uuid_wire(&SVCCTL, le));
            assert_eq!(
                contexts[0].transfer_syntaxes[0].uuid_raw,
                uuid_wire(&NDR, le)
            );
        }
    }

    #[test]
    fn bind_ack_sec_addr_and_results() {
        let b = build(
            BIND_ACK,
            3,
            true,
            7,
            &ack_body(true, b"\\PIPE\\svcctl\0", &[0, 2]),
            None,
        );
        let p = parse_pdu(&b).expect("parse");
        let Body::BindAck { sec_addr, results } = p.body else {
            panic!()
        };
        assert_eq!(trim_nul(sec_addr), b"\\PIPE\\svcctl");
        assert_eq!(
            results.iter().map(|r| r.result).collect::<Vec<_>>(),
            vec![0, 2]
        );
    }

    #[test]
    fn request_with_object_and_auth() {
        let mut body = Vec::new();
        body.extend_from_slice(&8u32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&24u16.to_le_bytes());
        body.extend_from_slice(&[0xaa; 16]);
        body.extend_from_slice(b"STUBDATA!");
        let b = build(
            REQUEST,
            3 | PFC_OBJECT_UUID,
            true,
            9,
            &body,
            Some((10, 6, &[1; 16])),
        );
        let p = parse_pdu(&b).expect("parse");
        let Body::Request {
            ctx_id,
            opnum,
            object,
            stub,
            ..
        } = p.body
        else {
            panic!()
        };
        assert_eq!((ctx_id, opnum), (1, 24));
        assert_eq!(object, Some([0xaa; 16]));
        assert_eq!(stub, b"STUBDATA!");
        let a = p.auth.expect("auth");
        assert_eq!((a.auth_type, a.auth_level, a.pad_len), (10, 6, 3));
    }

    #[test]
    fn big_endian_fault() {
        let mut body = Vec::new();
        body.extend_from_slice(&0u32.to_be_bytes());
        body.extend_from_slice(&2u16.to_be_bytes());
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&5u32.to_be_bytes());
        body.extend_from_slice(&0u32.to_be_bytes());
        let b = build(FAULT, 3, false, 0x01020304, &body, None);
        let p = parse_pdu(&b).expect("parse");
        assert_eq!(p.header.call_id, 0x01020304);
        assert_eq!(
            p.body,
            Body::Fault {
                ctx_id: 2,
                status: 5
            }
        );
    }

    #[test]
    fn plausibility_and_signature() {
        let b = build(REQUEST, 3, true, 1, &[0; 8], None);
        assert!(plausible_header(&b).is_some());
        assert!(zeek_signature(&b));
        let mut bad = b.clone();
        bad[0] = 4;
        assert!(plausible_header(&bad).is_none());
        let mut bad = b.clone();
        bad[8] = 4; // frag_len 4 < 16
        bad[9] = 0;
        assert!(plausible_header(&bad).is_none());
        assert!(plausible_header(&b[..10]).is_none());
    }

    #[test]
    fn truncated_and_garbage_never_panic() {
        let b = build(BIND, 3, true, 7, &bind_body(true, &[(0, SVCCTL, 2)]), None);
        for n in 0..b.len() {
            let _ = parse_pdu(&b[..n]);
        }
        let mut lie = b.clone();
        lie[HEADER_LEN + 8] = 200; // claims 200 contexts
        assert!(parse_pdu(&lie).is_err());
        // auth_len larger than the PDU
        let mut lie = b.clone();
        lie[10] = 0xff;
        assert_eq!(parse_pdu(&lie), Err(PduError::Short));
    }
}

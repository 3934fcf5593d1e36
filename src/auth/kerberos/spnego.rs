//! SPNEGO (RFC 4178, with Microsoft's NegTokenInit2) and the GSS-API token framing
//! (RFC 2743 3.1) around Kerberos tokens: just enough DER to reach the inner token.
//!
//! Hand-written on purpose: the walk needs three tag checks and two optional fields, while
//! a schema-driven decoder (rasn) rejects the NegTokenInit2 variant servers send
//! (`negHints` at tag 3) and would allocate every OID it meets. Every length is checked
//! against its parent; nesting is fixed (no recursion on input).

/// One DER element: tag byte, value, and what follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub rest: &'a [u8],
}

/// Read one element (single-byte tags, definite lengths of up to 4 length bytes).
pub fn tlv(b: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, b) = b.split_first()?;
    let (&l0, mut b) = b.split_first()?;
    let len = if l0 < 0x80 {
        l0 as usize
    } else {
        let n = (l0 & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, r) = (b.get(..n)?, b.get(n..)?);
        b = r;
        bytes.iter().fold(0usize, |a, &x| (a << 8) | x as usize)
    };
    Some(Tlv {
        tag,
        value: b.get(..len)?,
        rest: b.get(len..)?,
    })
}

/// The elements of a constructed value, in order (stops at the first malformed one).
pub fn children(mut v: &[u8]) -> impl Iterator<Item = Tlv<'_>> {
    std::iter::from_fn(move || {
        let t = tlv(v)?;
        v = t.rest;
        Some(t)
    })
}

/// DER of the SPNEGO OID 1.3.6.1.5.5.2.
pub const OID_SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// DER of the Kerberos 5 OID 1.2.840.113554.1.2.2.
pub const OID_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// DER of Microsoft's (mistaken) Kerberos OID 1.2.840.48018.1.2.2.
pub const OID_MS_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];

/// The NegotiationToken of an SPNEGO message: its choice tag (`0xa0` NegTokenInit, `0xa1`
/// NegTokenResp) and the contents of its SEQUENCE, whether the message is wrapped in the
/// GSS-API InitialContextToken (`60 .. 06 <spnego oid>`) or not.
fn neg_token(blob: &[u8]) -> Option<(u8, &[u8])> {
    let mut t = tlv(blob)?;
    if t.tag == 0x60 {
        // [APPLICATION 0] { thisMech OID, innerContextToken }
        let oid = tlv(t.value)?;
        if oid.tag != 0x06 || oid.value != OID_SPNEGO {
            return None;
        }
        t = tlv(oid.rest)?;
    }
    // NegotiationToken ::= CHOICE { negTokenInit [0], negTokenResp [1] }
    if !matches!(t.tag, 0xa0 | 0xa1) {
        return None;
    }
    let seq = tlv(t.value)?;
    (seq.tag == 0x30).then_some((t.tag, seq.value))
}

/// The mechanism token an SPNEGO message carries: NegTokenInit's mechToken or
/// NegTokenResp's responseToken (both `[2]`), wrapped in the GSS-API framing or not.
pub fn inner_token(blob: &[u8]) -> Option<&[u8]> {
    let (_, seq) = neg_token(blob)?;
    let field = children(seq).find(|c| c.tag == 0xa2)?;
    let os = tlv(field.value)?;
    (os.tag == 0x04).then_some(os.value)
}

/// NegTokenInit's mechTypes as sent: the DER `SEQUENCE OF OID` (tag and length
/// included), which a mechListMIC covers (RFC 4178 5).
pub fn mech_types(blob: &[u8]) -> Option<&[u8]> {
    let (tag, seq) = neg_token(blob)?;
    if tag != 0xa0 {
        return None;
    }
    let field = children(seq).find(|c| c.tag == 0xa0)?;
    let list = tlv(field.value)?;
    (list.tag == 0x30).then_some(&field.value[..field.value.len() - list.rest.len()])
}

/// NegTokenResp's mechListMIC (`[3] OCTET STRING`): a per-message token of the
/// negotiated mechanism over the mechTypes (for NTLM, a signature that uses up one
/// sequence number and, with key exchange, 8 bytes of the sealing keystream).
pub fn mech_list_mic(blob: &[u8]) -> Option<&[u8]> {
    let (tag, seq) = neg_token(blob)?;
    if tag != 0xa1 {
        return None;
    }
    let field = children(seq).find(|c| c.tag == 0xa3)?;
    let os = tlv(field.value)?;
    (os.tag == 0x04).then_some(os.value)
}

/// A Kerberos GSS token without its framing: for `60 .. 06 <krb5 oid> TOK_ID ..` returns
/// `(TOK_ID, inner)`; a bare token (an AP-REQ `6e ..`, an AP-REP `6f ..`, as DCE-RPC
/// sometimes sends them) comes back with TOK_ID None.
pub fn krb5_token(blob: &[u8]) -> Option<(Option<[u8; 2]>, &[u8])> {
    let t = tlv(blob)?;
    match t.tag {
        0x60 => {
            let oid = tlv(t.value)?;
            if oid.tag != 0x06 || (oid.value != OID_KRB5 && oid.value != OID_MS_KRB5) {
                return None;
            }
            let id: [u8; 2] = oid.rest.get(..2)?.try_into().ok()?;
            Some((Some(id), oid.rest.get(2..)?))
        }
        0x6e | 0x6f | 0x7e => Some((None, blob)),
        _ => None,
    }
}

/// TOK_ID of an AP-REQ and an AP-REP inside the GSS framing (RFC 4121 4.1).
pub const TOK_AP_REQ: [u8; 2] = [0x01, 0x00];
pub const TOK_AP_REP: [u8; 2] = [0x02, 0x00];

/// The Kerberos message (AP-REQ, AP-REP or KRB-ERROR, from its application tag) in an
/// authentication blob: SPNEGO-wrapped, GSS-framed or bare.
pub fn kerberos_message(blob: &[u8]) -> Option<&[u8]> {
    let inner = inner_token(blob).unwrap_or(blob);
    let (_, msg) = krb5_token(inner)?;
    matches!(msg.first(), Some(0x6e | 0x6f | 0x7e)).then_some(msg)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn der(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        let n = body.len();
        if n < 0x80 {
            v.push(n as u8);
        } else if n < 0x100 {
            v.extend_from_slice(&[0x81, n as u8]);
        } else {
            v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
        }
        v.extend_from_slice(body);
        v
    }

    /// A GSS-framed Kerberos token.
    pub(crate) fn gss_krb5(tok_id: [u8; 2], msg: &[u8]) -> Vec<u8> {
        let mut body = der(0x06, OID_KRB5);
        body.extend_from_slice(&tok_id);
        body.extend_from_slice(msg);
        der(0x60, &body)
    }

    /// A client NegTokenInit (GSS-wrapped) carrying `mech_token`.
    pub(crate) fn neg_token_init(mech_token: &[u8]) -> Vec<u8> {
        let mech_types = der(0xa0, &der(0x30, &der(0x06, OID_MS_KRB5)));
        let mut seq = mech_types;
        seq.extend_from_slice(&der(0xa2, &der(0x04, mech_token)));
        let init = der(0xa0, &der(0x30, &seq));
        let mut body = der(0x06, OID_SPNEGO);
        body.extend_from_slice(&init);
        der(0x60, &body)
    }

    pub(crate) fn neg_token_resp(token: &[u8]) -> Vec<u8> {
        let mut seq = der(0xa0, &der(0x0a, &[0]));
        seq.extend_from_slice(&der(0xa1, &der(0x06, OID_MS_KRB5)));
        seq.extend_from_slice(&der(0xa2, &der(0x04, token)));
        der(0xa1, &der(0x30, &seq))
    }

    #[test]
    fn unwraps_init_and_resp() {
        let ap_req = der(0x6e, &[0x30, 0x00]);
        let framed = gss_krb5(TOK_AP_REQ, &ap_req);
        let init = neg_token_init(&framed);
        assert_eq!(inner_token(&init), Some(&framed[..]));
        assert_eq!(kerberos_message(&init), Some(&ap_req[..]));
        assert_eq!(krb5_token(&framed), Some((Some(TOK_AP_REQ), &ap_req[..])));
        let ap_rep = der(0x6f, &[0x30, 0x00]);
        let resp = neg_token_resp(&gss_krb5(TOK_AP_REP, &ap_rep));
        assert_eq!(kerberos_message(&resp), Some(&ap_rep[..]));
        // Bare tokens pass through; long lengths work.
        assert_eq!(kerberos_message(&ap_rep), Some(&ap_rep[..]));
        let long = der(0x6e, &vec![0u8; 300]);
        assert_eq!(kerberos_message(&neg_token_init(&long)), Some(&long[..]));
    }

    #[test]
    fn mech_types_and_mech_list_mic() {
        let init = neg_token_init(b"tok");
        let list = der(0x30, &der(0x06, OID_MS_KRB5));
        assert_eq!(mech_types(&init), Some(&list[..]));
        assert_eq!(mech_list_mic(&init), None);
        let mut seq = der(0xa0, &der(0x0a, &[1]));
        seq.extend_from_slice(&der(0xa2, &der(0x04, b"tok")));
        seq.extend_from_slice(&der(0xa3, &der(0x04, &[1, 0, 0, 0, 9, 9, 9, 9])));
        let resp = der(0xa1, &der(0x30, &seq));
        assert_eq!(mech_list_mic(&resp), Some(&[1, 0, 0, 0, 9, 9, 9, 9][..]));
        assert_eq!(inner_token(&resp), Some(&b"tok"[..]));
        assert_eq!(mech_types(&resp), None);
        for cut in 0..resp.len() {
            assert_eq!(mech_list_mic(&resp[..cut]), None);
        }
        assert_eq!(mech_list_mic(b"NTLMSSP\0"), None);
    }

    #[test]
    fn damage_gives_none() {
        let init = neg_token_init(&gss_krb5(TOK_AP_REQ, &der(0x6e, &[])));
        for cut in 0..init.len() {
            assert!(kerberos_message(&init[..cut]).is_none() || cut == init.len());
        }
        assert_eq!(tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(tlv(&[0x30, 0x80]), None);
        assert_eq!(kerberos_message(b"NTLMSSP\0"), None);
        assert_eq!(inner_token(&der(0x60, &der(0x06, &[1, 2, 3]))), None);
    }
}

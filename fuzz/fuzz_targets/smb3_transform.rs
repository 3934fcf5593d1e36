#![no_main]
//! SMB3 transform messages over arbitrary bytes: header parsing, decryption with a wrong key
//! for every cipher (must fail the tag check, never panic), and NEGOTIATE response parsing.
use libfuzzer_sys::fuzz_target;
use rpcsift::auth::smb3::{self, Cipher, Decryptor, Smb3Error, TRANSFORM_HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let _ = smb3::negotiate_response(data);
    let _ = smb3::smb2_session_id(data);
    if let Some((h, n)) = smb3::parse_transform(data) {
        assert!(TRANSFORM_HEADER_LEN + n <= data.len());
        assert_eq!(h.original_size as usize, n);
    }
    for c in [Cipher::Aes128Ccm, Cipher::Aes128Gcm, Cipher::Aes256Ccm, Cipher::Aes256Gcm] {
        let d = Decryptor::new(c, &vec![0x17; c.key_len()]).expect("key");
        let mut buf = data.to_vec();
        match d.decrypt_in_place(&mut buf) {
            Ok(n) => assert!(TRANSFORM_HEADER_LEN + n <= data.len()),
            Err(Smb3Error::Tag | Smb3Error::Malformed) => {}
        }
    }
});

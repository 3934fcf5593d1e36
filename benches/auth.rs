//! Cost of removing packet privacy and SMB3 encryption, per byte: the per-PDU paths the
//! engine will run once keys are wired (NTLM unseal + signature check, Kerberos DCE-style
//! unwrap for AES and RC4, SMB3 transform decryption for each cipher). Sizes are typical:
//! 4 KiB DCE-RPC fragments, 64 KiB SMB3 messages.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rpcsift::auth::kerberos::crypto::{ETYPE_AES256, ETYPE_RC4_HMAC, Key, key_len};
use rpcsift::auth::kerberos::gss::{GssContext, Sender};
use rpcsift::auth::ntlm::{Direction, Response, SessionKeys};
use rpcsift::auth::smb3::{Cipher, Decryptor};
use std::hint::black_box;

const PDU: usize = 4096;
const SMB: usize = 64 << 10;

fn bench(c: &mut Criterion) {
    let header = [
        5u8, 0, 0, 3, 0x10, 0, 0, 0, 0, 0x10, 0x4c, 0, 1, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0,
    ];
    let trailer = [10u8, 6, 0, 0, 0, 0, 0, 0];

    let mut g = c.benchmark_group("dcerpc_privacy");
    g.throughput(Throughput::Bytes(PDU as u64));
    // NTLM: seal a stream of PDUs once, then measure the receiver unsealing them in order
    // (the RC4 state must advance through every one, so each iteration replays a fresh
    // receiver over the whole batch).
    let keys = SessionKeys::from_exported(0xe28a_8233, Response::NtlmV2, [0x42; 16]);
    let mut tx = keys.sealer(Direction::ClientToServer);
    let batch: Vec<(Vec<u8>, [u8; 16])> = (0..64)
        .map(|i| {
            let mut d = vec![i as u8; PDU];
            let s = tx.seal(&header, &mut d, &trailer);
            (d, s)
        })
        .collect();
    g.throughput(Throughput::Bytes((PDU * batch.len()) as u64));
    g.bench_function("ntlm_unseal_4k_x64", |b| {
        b.iter(|| {
            let mut rx = keys.sealer(Direction::ClientToServer);
            for (d, s) in &batch {
                let mut buf = d.clone();
                rx.unseal(&header, &mut buf, &trailer, s).unwrap();
                black_box(&buf);
            }
        })
    });
    for etype in [ETYPE_AES256, ETYPE_RC4_HMAC] {
        let n = key_len(etype).unwrap();
        let key = Key::new(etype, &vec![7; n]).unwrap();
        let mut tx = GssContext::new(key.clone(), Some(key.clone()), Some(key.clone()));
        let mut rx = GssContext::new(key.clone(), Some(key.clone()), Some(key.clone()));
        let mut wire = vec![3u8; PDU];
        let av = tx.wrap_dce(Sender::Initiator, 1, &header, &mut wire, &trailer);
        g.throughput(Throughput::Bytes(PDU as u64));
        g.bench_with_input(
            BenchmarkId::new("kerberos_unwrap_4k", etype),
            &etype,
            |b, _| {
                b.iter(|| {
                    let mut buf = wire.clone();
                    rx.unwrap_dce(&av, &header, &mut buf, &trailer).unwrap();
                    black_box(&buf);
                })
            },
        );
    }
    g.finish();

    let mut g = c.benchmark_group("smb3_decrypt");
    g.throughput(Throughput::Bytes(SMB as u64));
    for cipher in [
        Cipher::Aes128Ccm,
        Cipher::Aes128Gcm,
        Cipher::Aes256Ccm,
        Cipher::Aes256Gcm,
    ] {
        let d = Decryptor::new(cipher, &vec![9; cipher.key_len()]).unwrap();
        let msg = d.encrypt([1; 16], 1, 7, &vec![0x5a; SMB]);
        g.bench_with_input(
            BenchmarkId::new("transform_64k", format!("{cipher:?}")),
            &cipher,
            |b, _| {
                b.iter(|| {
                    let mut buf = msg.clone();
                    black_box(d.decrypt_in_place(&mut buf).unwrap());
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

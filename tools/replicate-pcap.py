#!/usr/bin/env python3
"""Replicate small pcap files into one large capture, for benchmarks (standard library only).

    tools/replicate-pcap.py --size 200M OUT.pcap IN.pcap [IN.pcap ...]

The inputs are written again and again, in turn, until OUT reaches SIZE bytes. Copy k of
a file has every IPv4 address rewritten to 10.H.L.A (H, L: the copy number; A: the old
address's last byte), so that its connections are new ones and the host pairs spread over
the decoder workers, and its timestamps shifted to follow the previous copy. Frames must be
Ethernet (link type 1) with IPv4; others are copied unchanged. IP checksums are not
recomputed (rpcsift checks them only with --verify-checksums).

Used for the decryption benchmark (benches/RESULTS.md): the labs' packet-privacy and
SMB3-encrypted captures replicated to 200 MB, decoded with and without their keys.
"""

import argparse
import struct
import sys


def read_pcap(path):
    data = open(path, "rb").read()
    if data[:4] != b"\xd4\xc3\xb2\xa1":
        sys.exit(f"{path}: not a little-endian microsecond pcap")
    linktype = struct.unpack_from("<I", data, 20)[0]
    frames, at = [], 24
    while at + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, at)
        frames.append((sec, usec, orig, data[at + 16 : at + 16 + incl]))
        at += 16 + incl
    return linktype, frames


def size(text):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:].upper(), 1)
    return int(text.rstrip("KkMmGg")) * mult


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", required=True, type=size)
    ap.add_argument("out")
    ap.add_argument("inputs", nargs="+")
    a = ap.parse_args()
    files = [read_pcap(p) for p in a.inputs]
    linktypes = {lt for lt, _ in files}
    if len(linktypes) != 1:
        sys.exit("the inputs have different link types")
    out = open(a.out, "wb")
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktypes.pop()))
    written, copy, clock = 24, 0, 1_800_000_000.0
    while written < a.size:
        for lt, frames in files:
            if not frames:
                continue
            copy += 1
            hi, lo = (copy >> 8) & 0xFF, copy & 0xFF
            first = frames[0][0] + frames[0][1] / 1e6
            for sec, usec, orig, frame in frames:
                t = clock + (sec + usec / 1e6 - first)
                f = bytearray(frame)
                if lt == 1 and len(f) >= 34 and f[12:14] == b"\x08\x00":
                    f[26:30] = bytes([10, hi, lo, f[29]])
                    f[30:34] = bytes([10, hi, lo, f[33]])
                s = int(t)
                out.write(struct.pack("<IIII", s, int((t - s) * 1e6), len(f), orig))
                out.write(f)
                written += 16 + len(f)
            clock = t + 0.001
    out.close()
    print(f"{a.out}: {written} bytes, {copy} copies", file=sys.stderr)


if __name__ == "__main__":
    main()

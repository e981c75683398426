#!/usr/bin/env python3
"""Regenerates digits.bin from scikit-learn's digits.csv.gz (standard library only).

Usage:
    pip download --no-deps -d /tmp/skl scikit-learn==1.9.1
    unzip -j /tmp/skl/scikit_learn-*.whl 'sklearn/datasets/data/digits.csv.gz' -d /tmp/skl
    python3 crates/workload/data/pack_digits.py /tmp/skl/digits.csv.gz crates/workload/data/digits.bin

Format (little-endian): magic b"AIMDIG01", u16 sample count, then per sample
one label byte followed by 40 bytes holding 64 pixels of 5 bits each
(values 0..=16), packed LSB-first into one bit stream per sample.
"""
import gzip
import hashlib
import struct
import sys


def main(src, dst):
    rows = []
    with gzip.open(src, "rt") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            vals = [int(float(v)) for v in line.split(",")]
            assert len(vals) == 65, len(vals)
            rows.append((vals[64], vals[:64]))
    out = bytearray(b"AIMDIG01")
    out += struct.pack("<H", len(rows))
    for label, pixels in rows:
        assert 0 <= label <= 9 and all(0 <= p <= 16 for p in pixels)
        out.append(label)
        acc = 0
        for i, p in enumerate(pixels):
            acc |= p << (5 * i)
        out += acc.to_bytes(40, "little")
    with open(dst, "wb") as f:
        f.write(out)
    print(f"{len(rows)} samples, {len(out)} bytes, sha256 {hashlib.sha256(out).hexdigest()}")
    counts = [sum(1 for l, _ in rows if l == c) for c in range(10)]
    print("class counts", counts)
    print("pixel sum", sum(sum(p) for _, p in rows))
    print("first", rows[0])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

#!/usr/bin/env python3
"""Vendor the 8x8 handwritten digits data set into data/digits/digits.csv.gz.

Provenance: the UCI "Optical Recognition of Handwritten Digits" data (E. Alpaydin and C. Kaynak,
1998; the 1,797-image test part), as shipped inside the scikit-learn wheel, version 1.9.1 (PyPI),
file `sklearn/datasets/data/digits.csv.gz`. scikit-learn is BSD-3-Clause; UCI publishes the data
under CC BY 4.0 (attribution: Alpaydin & Kaynak 1998, UCI Machine Learning Repository). See
DATA_LICENSES.md at the repository root.

What it downloads: `pip download --no-deps scikit-learn==1.9.1` into a temporary folder outside
the repository (or use --wheel PATH for a wheel you already have). Only the one member is read.
The decompressed CSV is checked against the sha256 it had when the committed file was made.

Output: data/digits/digits.csv.gz, gzip (mtime 0, no file name) of a CSV without header, one
image per line: 64 integers 0..16 (the 8x8 image, row-major), then the label 0..9. The script
re-serialises the parsed integers, so the output bytes depend only on the values.

Run:  python3 tools/vendor_data/digits.py [--wheel PATH]
It is deterministic (same output bytes on every run). Its output is committed, so CI and the
Rust tests need neither Python nor network.
"""
import argparse
import collections
import glob
import gzip
import os
import sys
import tempfile
import zipfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import DATA, gzip_bytes, run, sha256_bytes, write_output  # noqa: E402

PACKAGE = "scikit-learn==1.9.1"
MEMBER = "sklearn/datasets/data/digits.csv.gz"
# sha256 of the decompressed member in scikit-learn 1.9.1
CSV_SHA256 = "6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8"
OUT = os.path.join(DATA, "digits", "digits.csv.gz")
ROWS = 1797


def read_member(wheel):
    with zipfile.ZipFile(wheel) as z:
        return gzip.decompress(z.read(MEMBER))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheel", help="a scikit-learn 1.9.1 wheel already downloaded")
    ap.add_argument("--allow-other-input", action="store_true",
                    help="go on when the input's sha256 differs from the recorded one")
    args = ap.parse_args()

    if args.wheel:
        raw = read_member(args.wheel)
    else:
        with tempfile.TemporaryDirectory(prefix="vendor_digits_") as tmp:
            run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", tmp, PACKAGE], cwd=tmp)
            wheels = glob.glob(os.path.join(tmp, "scikit_learn-*.whl"))
            if len(wheels) != 1:
                sys.exit("error: expected one scikit-learn wheel, got %r" % wheels)
            raw = read_member(wheels[0])
    got = sha256_bytes(raw)
    if got != CSV_SHA256:
        msg = "%s: sha256 %s, expected %s" % (MEMBER, got, CSV_SHA256)
        if not args.allow_other_input:
            sys.exit("error: " + msg + " (pass --allow-other-input to go on anyway)")
        print("warning: " + msg, file=sys.stderr)

    rows = []
    for n, line in enumerate(raw.decode("ascii").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != 65:
            sys.exit("error: line %d has %d fields, expected 65" % (n, len(fields)))
        # values are integers, possibly written as floats ("16.0"); keep them as integers
        vals = []
        for f in fields:
            v = float(f)
            if v != int(v):
                sys.exit("error: line %d: non-integer value %r" % (n, f))
            vals.append(int(v))
        if not all(0 <= v <= 16 for v in vals[:64]):
            sys.exit("error: line %d: pixel out of 0..16" % n)
        if not 0 <= vals[64] <= 9:
            sys.exit("error: line %d: label %d out of 0..9" % (n, vals[64]))
        rows.append(vals)
    if len(rows) != ROWS:
        sys.exit("error: %d rows, expected %d" % (len(rows), ROWS))

    text = "".join(",".join(map(str, r)) + "\n" for r in rows).encode("ascii")
    write_output(OUT, gzip_bytes(text))
    counts = collections.Counter(r[64] for r in rows)
    print("rows: %d; uncompressed %d bytes; labels: %s"
          % (len(rows), len(text), " ".join("%d:%d" % (k, counts[k]) for k in range(10))))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Vendor Fashion-MNIST (70,000 28x28 grey images, 10 classes) into data/fashion-mnist/.

Provenance: Fashion-MNIST by Zalando Research (H. Xiao, K. Rasul, R. Vollgraf, "Fashion-MNIST: a
Novel Image Dataset for Benchmarking Machine Learning Algorithms", arXiv:1708.07747, 2017),
https://github.com/zalandoresearch/fashion-mnist, as packaged by Debian 12 (bookworm): package
`dataset-fashion-mnist` 0.0~git20200523.55506a9-1, files
`usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`. Licence: MIT
("Expat" in the package's debian/copyright), Copyright 2017 Zalando SE; the notice must be kept
(it is in data/fashion-mnist/README.md and DATA_LICENSES.md at the repository root).

What it downloads: `apt-get download dataset-fashion-mnist=0.0~git20200523.55506a9-1` into a
temporary folder outside the repository (needs Debian 12 "bookworm" apt sources; run
`apt-get update` first on a fresh machine). If apt-get fails, the same .deb is fetched from the
Debian archive, http://deb.debian.org/debian/pool/main/d/dataset-fashion-mnist/. Or use
--deb PATH for the .deb you already have. The .deb is checked against the sha256 it had when the
committed files were made, then read in Python (ar archive, data.tar.xz); nothing is installed.

Conversion: none. The four IDX files are committed exactly as the package ships them (each
already a gzip of raw u8 data). Recompressing them at gzip level 9 would save 0.9% (30,878,551 ->
30,610,758 bytes), one combined file per split about as much, and a PNG-style "up" row filter
2.5% more; none is worth losing byte identity with the package (anyone can check the files
against the .deb's md5sums) or depending on the local zlib build for reproducible bytes. The
script checks every IDX header, count, shape and label, prints the label histograms and pixel
checksums, and checks the sha256 of each output file.

Output, in data/fashion-mnist/ (all integers in the IDX headers are big-endian u32):
  train-images-idx3-ubyte.gz  gzip of: 00 00 08 03 | n=60000 | rows=28 | cols=28 | n*28*28 u8
  train-labels-idx1-ubyte.gz  gzip of: 00 00 08 01 | n=60000 | n u8
  t10k-images-idx3-ubyte.gz   gzip of: 00 00 08 03 | n=10000 | rows=28 | cols=28 | n*28*28 u8
  t10k-labels-idx1-ubyte.gz   gzip of: 00 00 08 01 | n=10000 | n u8
Each .gz is one gzip member (RFC 1952, deflate, no file name; flate2::read::GzDecoder reads it).
Images follow each other; each is 28 rows of 28 pixels, row-major, top row first, 0 = background,
255 = full intensity. Label i (0..9) belongs to image i. Classes, in label order: T-shirt/top,
Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot. train = upstream's
60,000-image training set, t10k = its 10,000-image test set (6,000 / 1,000 per class).

Run:  python3 tools/vendor_data/fashion_mnist.py [--deb PATH]
It is deterministic (same output bytes on every run). Its output is committed, so CI and the
Rust tests need neither Python nor network.
"""
import argparse
import collections
import glob
import gzip
import hashlib
import os
import struct
import subprocess
import sys
import tempfile
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import DATA, REPO, check_sha256, deb_files, run, sha256_bytes, write_output  # noqa: E402

PACKAGE = "dataset-fashion-mnist"
VERSION = "0.0~git20200523.55506a9-1"
DEB_NAME = "%s_%s_all.deb" % (PACKAGE, VERSION)
POOL_URL = "http://deb.debian.org/debian/pool/main/d/%s/%s" % (PACKAGE, DEB_NAME)
DEB_SHA256 = "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0"
PREFIX = "usr/share/datasets/fashion-mnist/"
COPYRIGHT = "usr/share/doc/dataset-fashion-mnist/copyright"
# sha256 of the package's debian/copyright (its text is quoted in data/fashion-mnist/README.md)
COPYRIGHT_SHA256 = "193c9c47fa3dc7e614dcd5f4ea5315d69c0a542b698b64dc34ac5bc4b09d5c3a"
OUT_DIR = os.path.join(DATA, "fashion-mnist")
SPLITS = {"train": 60000, "t10k": 10000}
ROWS = COLS = 28
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]
# sha256 of each vendored file (= the file in the package, unchanged)
OUT_SHA256 = {
    "train-images-idx3-ubyte.gz":
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz":
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz":
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz":
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
# sum of all pixel values and sha256 of the pixel bytes (after the 16-byte header), per split
PIXELS = {
    "train": (3431114169,
              "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012"),
    "t10k": (573469082,
             "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a"),
}


def package_files(path, wanted):
    """{path inside the package: bytes} for the files named in wanted, all of them."""
    files = deb_files(path, lambda name: name in wanted)
    missing = sorted(set(wanted) - set(files))
    if missing:
        sys.exit("error: %s lacks %s" % (path, ", ".join(missing)))
    return files


def download(tmp):
    """Fetch the .deb into tmp with apt-get, or from the Debian archive if apt-get fails."""
    try:
        run(["apt-get", "download", "%s=%s" % (PACKAGE, VERSION)], cwd=tmp)
    except (OSError, subprocess.CalledProcessError) as e:  # no apt-get, or no bookworm sources
        print("apt-get download failed (%s); fetching %s" % (e, POOL_URL), file=sys.stderr)
        with urllib.request.urlopen(POOL_URL) as r, open(os.path.join(tmp, DEB_NAME), "wb") as f:
            f.write(r.read())
    debs = glob.glob(os.path.join(tmp, "%s_*.deb" % PACKAGE))
    if len(debs) != 1:
        sys.exit("error: expected one %s .deb, got %r" % (PACKAGE, debs))
    return debs[0]


def check_idx(name, gz, magic, dims):
    """Decompress one IDX file, check magic and dimensions, return the payload after the header."""
    raw = gzip.decompress(gz)
    head = 4 + 4 * len(dims)
    if len(raw) < head:
        sys.exit("error: %s: %d bytes, shorter than its header" % (name, len(raw)))
    got_magic, = struct.unpack(">I", raw[:4])
    got_dims = list(struct.unpack(">%dI" % len(dims), raw[4:head]))
    if got_magic != magic:
        sys.exit("error: %s: magic 0x%08x, expected 0x%08x" % (name, got_magic, magic))
    if got_dims != dims:
        sys.exit("error: %s: dimensions %r, expected %r" % (name, got_dims, dims))
    n = 1
    for d in dims:
        n *= d
    if len(raw) != head + n:
        sys.exit("error: %s: %d bytes, expected %d" % (name, len(raw), head + n))
    return raw[head:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deb", help="the %s .deb already downloaded" % DEB_NAME)
    ap.add_argument("--allow-other-input", action="store_true",
                    help="go on when the input's sha256 differs from the recorded one")
    args = ap.parse_args()

    wanted = [PREFIX + f for f in OUT_SHA256] + [COPYRIGHT]
    with tempfile.TemporaryDirectory(prefix="vendor_fashion_mnist_") as tmp:
        deb = args.deb or download(tmp)
        check_sha256(deb, DEB_SHA256, args.allow_other_input)
        files = package_files(deb, wanted)

    copyright_sha256 = sha256_bytes(files[COPYRIGHT])
    if copyright_sha256 != COPYRIGHT_SHA256:
        print("warning: %s changed (sha256 %s): re-read its licence and update README.md"
              % (COPYRIGHT, copyright_sha256), file=sys.stderr)
    text = files[COPYRIGHT]
    if b"Copyright: 2017, Zalando SE" not in text or b"License: Expat" not in text:
        sys.exit("error: %s no longer says MIT (Expat), Zalando SE" % COPYRIGHT)

    ok = True
    for split, n in SPLITS.items():
        img_name = "%s-images-idx3-ubyte.gz" % split
        lab_name = "%s-labels-idx1-ubyte.gz" % split
        pixels = check_idx(img_name, files[PREFIX + img_name], 0x00000803, [n, ROWS, COLS])
        labels = check_idx(lab_name, files[PREFIX + lab_name], 0x00000801, [n])
        hist = collections.Counter(labels)
        if set(hist) - set(range(10)):
            sys.exit("error: %s: labels outside 0..9: %r" % (lab_name, sorted(set(hist))))
        per_class = n // 10
        if any(hist[k] != per_class for k in range(10)):
            sys.exit("error: %s: label counts %r, expected %d each"
                     % (lab_name, dict(hist), per_class))
        total = sum(pixels)
        digest = hashlib.sha256(pixels).hexdigest()
        print("%s: %d images %dx%d, %d labels; %d per class; pixel sum %d, pixel sha256 %s"
              % (split, n, ROWS, COLS, len(labels), per_class, total, digest))
        print("  labels: %s" % " ".join("%d:%d" % (k, hist[k]) for k in range(10)))
        if (total, digest) != PIXELS[split]:
            print("error: %s pixels differ from the recorded sum/sha256 %r"
                  % (split, PIXELS[split]), file=sys.stderr)
            ok = False

    size = 0
    for name, expected in OUT_SHA256.items():
        data = files[PREFIX + name]
        got = write_output(os.path.join(OUT_DIR, name), data)
        size += len(data)
        if got != expected:
            print("error: %s: sha256 %s, expected %s" % (name, got, expected), file=sys.stderr)
            ok = False
    print("total added under %s: %d bytes (%.1f MiB)"
          % (os.path.relpath(OUT_DIR, REPO), size, size / 2 ** 20))
    if not ok:
        sys.exit("error: output differs from the recorded digests (see above)")


if __name__ == "__main__":
    main()

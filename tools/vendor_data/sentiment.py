#!/usr/bin/env python3
"""Vendor the "Sentiment Labelled Sentences" data set into data/sentiment/sentiment.tsv.

Provenance: UCI "Sentiment Labelled Sentences" (D. Kotzias, M. Denil, N. de Freitas, P. Smyth,
"From Group to Individual Labels using Deep Features", KDD 2015), as shipped in the npm package
`sentiment` version 5.0.2 (MIT), files `package/test/fixtures/{amazon,imdb,yelp}.json`. UCI
publishes the data under CC BY 4.0 (attribution: Kotzias et al. 2015, UCI Machine Learning
Repository). See DATA_LICENSES.md at the repository root.

What it downloads: `npm pack sentiment@5.0.2` into a temporary folder outside the repository (or
use --tgz PATH for a tarball you already have). The three JSON files are checked against the
sha256 they had when the committed file was made.

Conversion: each JSON file is an array of {"text": ..., "class": 0|1} (0 negative, 1 positive)
ending in one empty entry {"text": "", "class": null}, which is dropped. Text has whitespace runs
(tabs and newlines included) collapsed to one space and is trimmed. Rows whose cleaned text
equals an earlier row's (in the order amazon, imdb, yelp, file order within each) are dropped.

Output: data/sentiment/sentiment.tsv, UTF-8, LF line ends, header `label<TAB>source<TAB>text`,
label `pos`/`neg`, source `amazon`/`imdb`/`yelp`; text is not quoted (it never holds a tab).

Run:  python3 tools/vendor_data/sentiment.py [--tgz PATH]
It is deterministic (same output bytes on every run). Its output is committed, so CI and the
Rust tests need neither Python nor network.
"""
import argparse
import collections
import glob
import json
import os
import sys
import tarfile
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import DATA, run, sha256_bytes, write_output  # noqa: E402

PACKAGE = "sentiment@5.0.2"
SOURCES = ["amazon", "imdb", "yelp"]
# sha256 of package/test/fixtures/<source>.json in sentiment 5.0.2
JSON_SHA256 = {
    "amazon": "bc5eb0cac49fc45987301f1dc2d02cf5ca356ba6c882be179dce77d74e666ed9",
    "imdb": "44a7b9082ed732ee2de3c858ea5ee2e99aca34f239a1c4359d3a300bf099bdb5",
    "yelp": "9f3f47983f21eeb819380767b74bfa648eca208f156241111454b3e122773ff7",
}
OUT = os.path.join(DATA, "sentiment", "sentiment.tsv")


def read_fixtures(tgz):
    out = {}
    with tarfile.open(tgz, "r:gz") as t:
        for name in SOURCES:
            f = t.extractfile("package/test/fixtures/%s.json" % name)
            out[name] = f.read()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tgz", help="sentiment-5.0.2.tgz already fetched with `npm pack`")
    ap.add_argument("--allow-other-input", action="store_true",
                    help="go on when an input's sha256 differs from the recorded one")
    args = ap.parse_args()

    if args.tgz:
        raw = read_fixtures(args.tgz)
    else:
        with tempfile.TemporaryDirectory(prefix="vendor_sentiment_") as tmp:
            run(["npm", "pack", "--silent", PACKAGE], cwd=tmp)
            tgzs = glob.glob(os.path.join(tmp, "sentiment-*.tgz"))
            if len(tgzs) != 1:
                sys.exit("error: expected one sentiment tarball, got %r" % tgzs)
            raw = read_fixtures(tgzs[0])
    for name in SOURCES:
        got = sha256_bytes(raw[name])
        if got != JSON_SHA256[name]:
            msg = "%s.json: sha256 %s, expected %s" % (name, got, JSON_SHA256[name])
            if not args.allow_other_input:
                sys.exit("error: " + msg + " (pass --allow-other-input to go on anyway)")
            print("warning: " + msg, file=sys.stderr)

    seen = set()
    rows = []
    dropped_empty = 0
    dropped_dup = []
    for name in SOURCES:
        entries = json.loads(raw[name].decode("utf-8"))
        for i, e in enumerate(entries):
            text = " ".join(str(e.get("text") or "").split())
            cls = e.get("class")
            if not text and cls is None:
                dropped_empty += 1
                continue
            if cls not in (0, 1) or not text:
                sys.exit("error: %s.json entry %d: unexpected %r" % (name, i, e))
            if text in seen:
                dropped_dup.append((name, i, text))
                continue
            seen.add(text)
            rows.append(("pos" if cls == 1 else "neg", name, text))

    lines = ["label\tsource\ttext\n"] + ["\t".join(r) + "\n" for r in rows]
    write_output(OUT, "".join(lines).encode("utf-8"))

    print("rows: %d (dropped %d empty trailing entries, %d duplicates)"
          % (len(rows), dropped_empty, len(dropped_dup)))
    for name, i, text in dropped_dup:
        print("  duplicate dropped: %s[%d] %r" % (name, i, text))
    counts = collections.Counter((r[1], r[0]) for r in rows)
    for name in SOURCES:
        print("  %-6s pos %d neg %d" % (name, counts[(name, "pos")], counts[(name, "neg")]))
    labels = collections.Counter(r[0] for r in rows)
    print("  total  pos %d neg %d" % (labels["pos"], labels["neg"]))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Vendor English-Spanish Bible verse pairs into data/bible-en-es/verses.tsv.gz.

Provenance: two public-domain SWORD Bible modules from Debian 12 (bookworm) packages:
  - English: module `engWEB2015eb`, the World English Bible (2020 stable text, with
    Deuterocanon), package `sword-text-web` 426.0-1;
  - Spanish: module `spaRV1909eb`, the Reina-Valera 1909, package `sword-text-sparv` 2.60-1.
Both texts are in the public domain (see the packages' debian/copyright). The English side is
changed here (footnotes and markup removed), so, as eBible.org asks, it must not be called the
"World English Bible": call it "derived from the World English Bible (WEB), footnotes removed".
See DATA_LICENSES.md at the repository root.

What it downloads: `apt-get download sword-text-web=426.0-1 sword-text-sparv=2.60-1` into a
temporary folder outside the repository (needs Debian 12 "bookworm" apt sources; run
`apt-get update` first on a fresh machine), or use --deb-dir DIR holding those two .deb files
(e.g. fetched from a Debian mirror's pool/main/s/ folders). The .deb files are checked against
the sha256 they had when the committed file was made, then read in Python (ar archive,
data.tar.xz); nothing is installed.

Reader (written for this script; standard library only): a SWORD zText module holds, per
testament (ot, nt), `.bzs` = 12-byte records (u32 LE offset, u32 compressed size, u32 raw size)
of zlib blocks in `.bzz`, and `.bzv` = 10-byte records (u32 block, u32 offset in the decompressed
block, u16 size), one per index of the module's versification: 0 = module heading, 1 = testament
heading, then per book a book-heading entry and per chapter a chapter-heading entry followed by
its verses. The Spanish module uses the KJV versification; the English one uses NRSVA (its
.conf says so), which is KJV plus the deuterocanonical books after Malachi in the OT part and, in
the NT, one more verse in 3 John 1 (15) and in Revelation 12 (18). Verses are therefore paired by
reference (book, chapter, verse) over the KJV references, not by index. In this module those two
extra NRSVA verses are empty (the WEB keeps the KJV verse division there); the script checks it.
The mapping is checked against the `<chapter osisID="Book.N">` marks in every chapter-heading
entry of both modules, and Genesis 1:1 and John 3:16 are printed in both languages.

Text clean-up (OSIS): what follows a chapter's end mark is cut (after Revelation 22:21 the WEB
module carries its glossary there); `<note>` elements are removed with their content (where a
note sat between two words a space is left, not before punctuation); where the markup joins two
words with no space between elements (RV1909 `<transChange>` added words), a space is put, except
that an added enclitic pronoun is joined to its verb ("sáca" + "lo" = "sácalo"); remaining tags
are removed (word-level tags leave nothing, line/paragraph/other block tags a space); XML
entities are unescaped; whitespace is collapsed and trimmed. Canonical psalm titles stay (they
are part of verse 1 in both texts). The RV1909's all-capitals first word of each chapter
("EN el principio") is left as it is.

Alignment filters (the two texts do not always divide verses the same way; the RV1909 follows the
Hebrew/Spanish division in places, its KJV slots then hold shifted text):
  1. a chapter where either side has an empty verse is dropped, with the next chapter of the same
     book (the missing text sits in a neighbouring verse or was pushed into the next chapter);
  2. a pair whose log(characters es / characters en) is more than 0.7 from the median over all
     pairs is dropped, and a chapter with two or more such pairs is dropped whole;
  3. the last verse of Romans..Hebrews is dropped (the RV1909 appends the epistle's traditional
     subscription to it, the WEB does not);
  4. kept: both sides non-empty and each side at most 20 words (split on whitespace).
The script prints what each step removed. Some pairs still differ where one text moves a clause
across a verse boundary or follows another manuscript reading; this is ordinary for verse-aligned
Bible data.

Output: data/bible-en-es/verses.tsv.gz, gzip (mtime 0, no file name) of UTF-8 TSV with LF line
ends, header `ref<TAB>en<TAB>es`, ref as OSIS `Book.chapter.verse` (e.g. `Gen.1.1`), in canonical
order.

Run:  python3 tools/vendor_data/bible.py [--deb-dir DIR]
It is deterministic (same output bytes on every run). Its output is committed, so CI and the
Rust tests need neither Python nor network.
"""
import argparse
import collections
import html
import math
import os
import re
import statistics
import struct
import sys
import tempfile
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import DATA, check_sha256, deb_files, gzip_bytes, run, write_output  # noqa: E402

PACKAGES = {
    # package: (version, sha256 of the .deb, module name)
    "sword-text-web": (
        "426.0-1", "930b23670b352f0829a306501de4bebb5e654a2df02cde2cbe86b802177868e1",
        "engWEB2015eb"),
    "sword-text-sparv": (
        "2.60-1", "5c87f9b2bc97457e8a872f5bae7ea7ce59cb3de1dcee73e4d4740451863694cf",
        "spaRV1909eb"),
}
EN, ES = "sword-text-web", "sword-text-sparv"
MAX_WORDS = 20
MAX_DEV = 0.7  # see the length check in main()
SUBSCRIPTIONS = ["Rom", "1Cor", "2Cor", "Gal", "Eph", "Phil", "Col", "1Thess", "2Thess", "1Tim",
                 "2Tim", "Titus", "Phlm", "Heb"]
OUT = os.path.join(DATA, "bible-en-es", "verses.tsv.gz")

# KJV versification: OSIS book id, then the number of verses of each chapter. Matthew starts the
# New Testament. (Checked against the chapter marks of both modules at run time.)
KJV = """
Gen    31 25 24 26 32 22 24 22 29 32 32 20 18 24 21 16 27 33 38 18 34 24 20 67 34 35 46 22 35
       43 55 32 20 31 29 43 36 30 23 23 57 38 34 34 28 34 31 22 33 26
Exod   22 25 22 31 23 30 25 32 35 29 10 51 22 31 27 36 16 27 25 26 36 31 33 18 40 37 21 43 46
       38 18 35 23 35 35 38 29 31 43 38
Lev    17 16 17 35 19 30 38 36 24 20 47 8 59 57 33 34 16 30 37 27 24 33 44 23 55 46 34
Num    54 34 51 49 31 27 89 26 23 36 35 16 33 45 41 50 13 32 22 29 35 41 30 25 18 65 23 31 40
       16 54 42 56 29 34 13
Deut   46 37 29 49 33 25 26 20 29 22 32 32 18 29 23 22 20 22 21 20 23 30 25 22 19 19 26 68 29
       20 30 52 29 12
Josh   18 24 17 24 15 27 26 35 27 43 23 24 33 15 63 10 18 28 51 9 45 34 16 33
Judg   36 23 31 24 31 40 25 35 57 18 40 15 25 20 20 31 13 31 30 48 25
Ruth   22 23 18 22
1Sam   28 36 21 22 12 21 17 22 27 27 15 25 23 52 35 23 58 30 24 42 15 23 29 22 44 25 12 25 11
       31 13
2Sam   27 32 39 12 25 23 29 18 13 19 27 31 39 33 37 23 29 33 43 26 22 51 39 25
1Kgs   53 46 28 34 18 38 51 66 28 29 43 33 34 31 34 34 24 46 21 43 29 53
2Kgs   18 25 27 44 27 33 20 29 37 36 21 21 25 29 38 20 41 37 37 21 26 20 37 20 30
1Chr   54 55 24 43 26 81 40 40 44 14 47 40 14 17 29 43 27 17 19 8 30 19 32 31 31 32 34 21 30
2Chr   17 18 17 22 14 42 22 18 31 19 23 16 22 15 19 14 19 34 11 37 20 12 21 27 28 23 9 27 36 27
       21 33 25 33 27 23
Ezra   11 70 13 24 17 22 28 36 15 44
Neh    11 20 32 23 19 19 73 18 38 39 36 47 31
Esth   22 23 15 17 14 14 10 17 32 3
Job    22 13 26 21 27 30 21 22 35 22 20 25 28 22 35 22 16 21 29 29 34 30 17 25 6 14 23 28 25 31
       40 22 33 37 16 33 24 41 30 24 34 17
Ps     6 12 8 8 12 10 17 9 20 18 7 8 6 7 5 11 15 50 14 9 13 31 6 10 22 12 14 9 11 12 24 11 22
       22 28 12 40 22 13 17 13 11 5 26 17 11 9 14 20 23 19 9 6 7 23 13 11 11 17 12 8 12 11 10
       13 20 7 35 36 5 24 20 28 23 10 12 20 72 13 19 16 8 18 12 13 17 7 18 52 17 16 15 5 23 11
       13 12 9 9 5 8 28 22 35 45 48 43 13 31 7 10 10 9 8 18 19 2 29 176 7 8 9 4 8 5 6 5 6 8 8 3
       18 3 3 21 26 9 8 24 13 10 7 12 15 21 10 20 14 9 6
Prov   33 22 35 27 23 35 27 36 18 32 31 28 25 35 33 33 28 24 29 30 31 29 35 34 28 28 27 28 27
       33 31
Eccl   18 26 22 16 20 12 29 17 18 20 10 14
Song   17 17 11 16 16 13 13 14
Isa    31 22 26 6 30 13 25 22 21 34 16 6 22 32 9 14 14 7 25 6 17 25 18 23 12 21 13 29 24 33 9
       20 24 17 10 22 38 22 8 31 29 25 28 28 25 13 15 22 26 11 23 15 12 17 13 12 21 14 21 22 11
       12 19 12 25 24
Jer    19 37 25 31 31 30 34 22 26 25 23 17 27 22 21 21 27 23 15 18 14 30 40 10 38 24 22 17 32
       24 40 44 26 22 19 32 21 28 18 16 18 22 13 30 5 28 7 47 39 46 64 34
Lam    22 22 66 22 22
Ezek   28 10 27 17 17 14 27 18 11 22 25 28 23 23 8 63 24 32 14 49 32 31 49 27 17 21 36 26 21 26
       18 32 33 31 15 38 28 23 29 49 26 20 27 31 25 24 23 35
Dan    21 49 30 37 31 28 28 27 27 21 45 13
Hos    11 23 5 19 15 11 16 14 17 15 12 14 16 9
Joel   20 32 21
Amos   15 16 15 13 27 14 17 14 15
Obad   21
Jonah  17 10 10 11
Mic    16 13 12 13 15 16 20
Nah    15 13 19
Hab    17 20 19
Zeph   18 15 20
Hag    15 23
Zech   21 13 10 14 11 15 14 23 17 12 17 14 9 21
Mal    14 17 18 6
Matt   25 23 17 25 48 34 29 34 38 42 30 50 58 36 39 28 27 35 30 34 46 46 39 51 46 75 66 20
Mark   45 28 35 41 43 56 37 38 50 52 33 44 37 72 47 20
Luke   80 52 38 44 39 49 50 56 62 42 54 59 35 35 32 31 37 43 48 47 38 71 56 53
John   51 25 36 54 47 71 53 59 41 42 57 50 38 31 27 33 26 40 42 31 25
Acts   26 47 26 37 42 15 60 40 43 48 30 25 52 28 41 40 34 28 41 38 40 30 35 27 27 32 44 31
Rom    32 29 31 25 21 23 25 39 33 21 36 21 14 23 33 27
1Cor   31 16 23 21 13 20 40 13 27 33 34 31 13 40 58 24
2Cor   24 17 18 18 21 18 16 24 15 18 33 21 14
Gal    24 21 29 31 26 18
Eph    23 22 21 32 33 24
Phil   30 30 21 23
Col    29 23 25 18
1Thess 10 20 13 18 28
2Thess 12 17 18
1Tim   20 15 16 16 25 21
2Tim   18 26 17 22
Titus  16 15 15
Phlm   25
Heb    14 18 19 16 14 20 28 13 28 39 40 29 25
Jas    27 26 18 17 20
1Pet   25 25 22 19 14
2Pet   21 22 18
1John  10 29 24 21 21
2John  13
3John  14
Jude   25
Rev    20 29 22 11 14 17 17 13 21 11 19 17 18 20 8 21 18 24 21 15 27 21
"""

# NRSVA differs from KJV, for the 66 books, only in these chapters' lengths (NT); its OT part
# also holds the deuterocanonical books after Malachi, which this script does not read.
NRSVA_CHANGES = {("3John", 1): 15, ("Rev", 12): 18}
# entries in each testament file (the NRSVA OT count includes the deuterocanon)
ENTRIES = {"KJV": {"ot": 24115, "nt": 8246}, "NRSVA": {"ot": 31027, "nt": 8248}}


def parse_kjv():
    books, current = [], None
    for line in KJV.strip("\n").split("\n"):
        if not line.startswith(" "):
            name, line = line.split(None, 1)
            current = (name, [])
            books.append(current)
        current[1].extend(int(x) for x in line.split())
    assert len(books) == 66 and books[39][0] == "Matt"
    assert sum(len(c) for _, c in books) == 1189 and sum(sum(c) for _, c in books) == 31102
    return {"ot": books[:39], "nt": books[39:]}


def versification(name):
    """{testament: [(book, [verse counts])]} for the 66 books, in module index order."""
    books = parse_kjv()
    if name == "KJV":
        return books
    if name == "NRSVA":
        out = {}
        for t, bl in books.items():
            out[t] = []
            for b, counts in bl:
                counts = [NRSVA_CHANGES.get((b, c), n) for c, n in enumerate(counts, 1)]
                out[t].append((b, counts))
        return out
    sys.exit("error: versification %r not supported" % name)


def layout(vers):
    """{testament: (refs, book_heads, chapter_heads)}: refs maps (book, ch, v) -> index."""
    out = {}
    for t, books in vers.items():
        refs, book_heads, chapter_heads = {}, {}, {}
        i = 2  # 0 = module heading, 1 = testament heading
        for b, counts in books:
            book_heads[b] = i
            i += 1
            for c, n in enumerate(counts, 1):
                chapter_heads[(b, c)] = i
                i += 1
                for v in range(1, n + 1):
                    refs[(b, c, v)] = i
                    i += 1
        out[t] = (refs, book_heads, chapter_heads, i)
    return out


def read_conf(text):
    conf = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            conf.setdefault(k.strip(), v.strip())
    return conf


# --- zText reading -----------------------------------------------------------------------------

def ztext_entries(files, folder, testament):
    """All entries of one testament file as raw strings ('' for empty ones), by index."""
    bzs = files[folder + testament + ".bzs"]
    bzv = files[folder + testament + ".bzv"]
    bzz = files[folder + testament + ".bzz"]
    assert len(bzs) % 12 == 0 and len(bzv) % 10 == 0
    blocks = []
    for off, csize, rsize in struct.iter_unpack("<III", bzs):
        raw = zlib.decompress(bzz[off:off + csize])
        if len(raw) != rsize:
            sys.exit("error: %s%s block at %d: %d bytes, expected %d"
                     % (folder, testament, off, len(raw), rsize))
        blocks.append(raw)
    out = []
    for block, off, size in struct.iter_unpack("<IIH", bzv):
        out.append(blocks[block][off:off + size].decode("utf-8") if size else "")
    return out


def read_module(deb, module):
    files = deb_files(deb, lambda name: name.startswith("usr/share/sword/"))
    confs = [n for n in files if n.lower() == "usr/share/sword/mods.d/%s.conf" % module.lower()]
    if len(confs) != 1:
        sys.exit("error: %s: no single .conf for module %s" % (deb, module))
    conf = read_conf(files[confs[0]].decode("utf-8"))
    if "[%s]" % module not in files[confs[0]].decode("utf-8"):
        sys.exit("error: %s does not define module %s" % (confs[0], module))
    for key, want in [("ModDrv", "zText"), ("CompressType", "ZIP"), ("Encoding", "UTF-8"),
                      ("SourceType", "OSIS")]:
        if conf.get(key, "").lower() != want.lower():
            sys.exit("error: %s: %s=%r, expected %r" % (module, key, conf.get(key), want))
    folder = "usr/share/sword/" + conf["DataPath"].lstrip("./").rstrip("/") + "/"
    vname = conf.get("Versification", "KJV")
    entries = {t: ztext_entries(files, folder, t) for t in ("ot", "nt")}
    for t in ("ot", "nt"):
        want = ENTRIES[vname][t]
        if len(entries[t]) != want:
            sys.exit("error: %s %s: %d entries, expected %d for %s"
                     % (module, t, len(entries[t]), want, vname))
    return conf, vname, entries


CHAPTER_MARK = re.compile(r'<chapter\b[^>]*\bosisID="([^".]+)\.(\d+)"')


def check_marks(module, entries, lay):
    """Every chapter-heading entry must carry its own chapter mark, and no other entry one."""
    bad = 0
    for t, (refs, book_heads, chapter_heads, end) in lay.items():
        where = {i: (b, c) for (b, c), i in chapter_heads.items()}
        books = set(book_heads)
        for i, e in enumerate(entries[t][:end]):
            for m in CHAPTER_MARK.finditer(e):
                b, c = m.group(1), int(m.group(2))
                if b in books and where.get(i) != (b, c):
                    print("  %s: mark %s.%d at %s index %d (expected %s)"
                          % (module, b, c, t, i, where.get(i)), file=sys.stderr)
                    bad += 1
        for (b, c), i in chapter_heads.items():
            if not any((m.group(1), int(m.group(2))) == (b, c)
                       for m in CHAPTER_MARK.finditer(entries[t][i])):
                print("  %s: no mark for %s.%d at %s index %d" % (module, b, c, t, i),
                      file=sys.stderr)
                bad += 1
    if bad:
        sys.exit("error: %s: %d chapter marks disagree with the versification" % (module, bad))
    n = sum(len(ch) for _, _, ch, _ in lay.values())
    print("%s: all %d chapter marks at their expected index" % (module, n))


# --- OSIS to plain text ------------------------------------------------------------------------

NOTE = re.compile(r"<note\b[^>]*?(?:/>|>.*?</note>)", re.S)
TAG = re.compile(r"<(/?)([A-Za-z][\w:.-]*)\b[^>]*>")
INLINE = {"w", "transChange", "q", "name", "seg", "reference", "catchWord", "rdg", "hi",
          "foreign", "divineName", "abbr", "added", "mentioned", "index", "a"}
GAP = "\x00"  # where a note was
CLOSING = ".,;:!?)]\u201d\u2019"  # punctuation that takes no space before it


CHAPTER_END = re.compile(r"<chapter\b[^>]*\beID=")
# Tags standing between two letters with no space. The modules leave the space out where one
# inline element ends and the next begins (RV1909: `allí</w><transChange>también`, WEB:
# `weeds</w></q><q ...>also`); there a space is put. The RV1909 also marks added enclitic
# pronouns that way (`sáca</w><transChange>lo` = "sácalo", `preguntándo<transChange>le`):
# a transChange holding just one such pronoun is joined to the word before when that word looks
# like a verb taking it (accented, or ending in -r, -d, -z, -ndo, or in a first enclitic) and is
# not a particle or a name ("no lo", "Josué los", "como lo" stay apart).
JUNCTION = re.compile(r"(?<=\w)((?:<[^>]+>)+)(?=\w)")
ENCLITIC = {"me", "te", "se", "lo", "la", "le", "los", "las", "les", "nos", "os"}
PARTICLE = {"no", "y", "e", "o", "ó", "u", "ni", "que", "ya", "a", "á", "se", "me", "te", "le",
            "lo", "la", "nos", "os", "cuánto", "cuanto", "como", "cómo"}
VERB_LIKE = re.compile(r"[áéíóú]|(?:[rdz]|ndo|me|nos|te)$|^(?:da|di|vi|he)$", re.I)
JUNCTIONS = collections.Counter()  # what junction() did, for the report


def junction(m):
    run = m.group(1)
    names = [(t.group(1), t.group(2)) for t in TAG.finditer(run)]
    if all(n == "transChange" for _, n in names) or (
            names[-1] == ("", "transChange") and all(n in ("w", "transChange") for _, n in names)):
        added = re.match(r"([^<]*)</transChange>", m.string[m.end():])
        before = TAG.sub("", m.string[max(0, m.start() - 200):m.start()])
        word = re.search(r"(\S*?)(\w+)$", before)
        sentence_start = not before[:word.start(2)].strip() or \
            before[:word.start(2)].rstrip()[-1] in ".:;!?¿¡"
        w = word.group(2)
        if added and added.group(1) in ENCLITIC and w.lower() not in PARTICLE and \
                VERB_LIKE.search(w) and (sentence_start or not w[0].isupper()):
            JUNCTIONS["enclitic joined: %s+%s" % (word.group(2), added.group(1))] += 1
            return run
        if all(n == "transChange" for _, n in names):
            JUNCTIONS["transChange inside a word"] += 1
            return run
    JUNCTIONS["space put between %s" % "".join("<%s%s>" % t for t in names)] += 1
    return run + " "


def clean(osis):
    # what follows the chapter's end mark is not verse text (book end; after Revelation 22:21
    # the WEB module carries its glossary there)
    osis = CHAPTER_END.split(osis, 1)[0]
    for m in NOTE.finditer(osis):
        if m.group(0).count("<note") != 1:
            sys.exit("error: nested note: %r" % m.group(0)[:200])
    s = NOTE.sub(GAP, osis)
    if "<note" in s or "</note" in s:
        sys.exit("error: unmatched note tag in %r" % osis[:200])
    s = JUNCTION.sub(junction, s)
    s = TAG.sub(lambda m: "" if m.group(2) in INLINE else " ", s)
    if "<" in s or ">" in s:
        sys.exit("error: markup left after stripping tags: %r" % s[:200])
    s = html.unescape(s)
    s = re.sub(GAP + r"[\s" + GAP + r"]*(?=[" + re.escape(CLOSING) + r"]|$)", "", s)
    s = s.replace(GAP, " ")
    return " ".join(s.split())


def fetch(deb_dir, allow_other):
    debs = {}
    for pkg, (version, sha, _) in PACKAGES.items():
        path = os.path.join(deb_dir, "%s_%s_all.deb" % (pkg, version))
        if not os.path.exists(path):
            sys.exit("error: %s not found" % path)
        check_sha256(path, sha, allow_other)
        debs[pkg] = path
    return debs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deb-dir", help="folder already holding the two .deb files")
    ap.add_argument("--allow-other-input", action="store_true",
                    help="go on when an input's sha256 differs from the recorded one")
    args = ap.parse_args()

    modules = {}
    with tempfile.TemporaryDirectory(prefix="vendor_bible_") as tmp:
        deb_dir = args.deb_dir
        if not deb_dir:
            deb_dir = tmp
            run(["apt-get", "download"] + ["%s=%s" % (p, v[0]) for p, v in PACKAGES.items()],
                cwd=tmp)
        debs = fetch(deb_dir, args.allow_other_input)
        for pkg, path in debs.items():
            modules[pkg] = read_module(path, PACKAGES[pkg][2])

    lays, texts = {}, {}
    for pkg, (conf, vname, entries) in modules.items():
        module = PACKAGES[pkg][2]
        print("%s (%s %s): %s versification, %d + %d entries"
              % (module, pkg, PACKAGES[pkg][0], vname, len(entries["ot"]), len(entries["nt"])))
        lay = layout(versification(vname))
        check_marks(module, entries, lay)
        lays[pkg] = lay
        texts[pkg] = {ref: clean(entries[t][i])
                      for t, (refs, _, _, _) in lay.items() for ref, i in refs.items()}

    # NRSVA-only verses: must be empty, their text is in the KJV-numbered verse before
    for (b, c), n in NRSVA_CHANGES.items():
        kjv_n = dict(parse_kjv()["nt"])[b][c - 1]
        for pkg, (conf, vname, entries) in modules.items():
            if vname != "NRSVA":
                continue
            refs = lays[pkg]["nt"][0]
            for v in range(kjv_n + 1, n + 1):
                extra = clean(entries["nt"][refs[(b, c, v)]])
                if extra:
                    sys.exit("error: %s %s.%d.%d is not empty: %r" % (pkg, b, c, v, extra))
                print("%s %s.%d.%d (NRSVA only) is empty, as expected" % (pkg, b, c, v))

    en, es = texts[EN], texts[ES]
    order = [(b, c, v) for t in ("ot", "nt") for b, counts in parse_kjv()[t]
             for c, n in enumerate(counts, 1) for v in range(1, n + 1)]
    next_chapter = {}
    for t in ("ot", "nt"):
        for b, counts in parse_kjv()[t]:
            for c in range(1, len(counts)):
                next_chapter[(b, c)] = (b, c + 1)

    def ref(r):
        return "%s.%d.%d" % r

    def chapters(cs):
        return " ".join("%s.%d" % c for c in sorted(cs, key=lambda c: order.index(c + (1,))))

    for r in [("Gen", 1, 1), ("John", 3, 16)]:
        print("%s en: %s" % (ref(r), en[r]))
        print("%s es: %s" % (ref(r), es[r]))

    both = [r for r in order if en[r] and es[r]]
    print("KJV references: %d; empty en: %d; empty es: %d; both non-empty: %d"
          % (len(order), sum(1 for r in order if not en[r]), sum(1 for r in order if not es[r]),
             len(both)))
    print("  empty en: " + " ".join(ref(r) for r in order if not en[r]))
    print("  empty es: " + " ".join(ref(r) for r in order if not es[r]))

    # (1) a verse missing on one side: the two texts number that stretch differently (the RV1909
    # follows the Hebrew/Spanish division in places, the WEB leaves some verses out); its text
    # usually sits in a neighbouring verse or the next chapter, so drop both chapters.
    gap = {r[:2] for r in order if not en[r] or not es[r]}
    drop_gap = gap | {next_chapter[c] for c in gap if c in next_chapter}
    # (2) length check: log(len(es)/len(en)) in characters, against its median over all pairs;
    # a pair off by more than MAX_DEV is not a translation of the same text (verse boundaries
    # differ, or one side carries extra text such as the RV1909 epistle subscriptions); a
    # chapter with two or more such pairs is taken as shifted and dropped whole.
    logr = {r: math.log(len(es[r]) / len(en[r])) for r in both}
    mid = statistics.median(logr.values())
    off = {r for r in both if abs(logr[r] - mid) > MAX_DEV}
    per_chapter = collections.Counter(r[:2] for r in off)
    drop_len = {c for c, n in per_chapter.items() if n >= 2}
    dropped = drop_gap | drop_len
    print("median log length ratio es/en %.3f; %d pairs off by more than %.2f"
          % (mid, len(off), MAX_DEV))
    print("chapters dropped for a missing verse (and the next one): %d: %s"
          % (len(drop_gap), chapters(drop_gap)))
    print("chapters dropped for 2+ length outliers: %d: %s"
          % (len(drop_len - drop_gap), chapters(drop_len - drop_gap)))
    # (3) the RV1909 ends each of Romans..Hebrews with the epistle's traditional subscription
    # ("Fué escrita de Corinto á los Romanos, ...") inside the last verse; the WEB has none
    last = {b: (b, len(c), c[-1]) for b, c in parse_kjv()["nt"]}
    subscribed = {last[b] for b in SUBSCRIPTIONS}
    aligned = [r for r in both if r[:2] not in dropped and r not in off and r not in subscribed]
    print("last verses dropped for the RV1909 subscriptions: %s"
          % " ".join(ref(r) for r in order if r in subscribed))
    kept = [r for r in aligned
            if len(en[r].split()) <= MAX_WORDS and len(es[r].split()) <= MAX_WORDS]
    print("pairs: both non-empty %d; in dropped chapters %d; other length outliers %d; "
          "other subscription verses %d; aligned %d; kept (<= %d words each side) %d"
          % (len(both), sum(1 for r in both if r[:2] in dropped),
             sum(1 for r in off if r[:2] not in dropped),
             sum(1 for r in both if r in subscribed and r[:2] not in dropped and r not in off),
             len(aligned), MAX_WORDS, len(kept)))
    print("text junctions: " + "; ".join(
        "%s %d" % (k, v) for k, v in sorted(JUNCTIONS.items()) if not k.startswith("enclitic"))
        + "; enclitic pronouns joined %d" % sum(
            v for k, v in JUNCTIONS.items() if k.startswith("enclitic")))

    lines = ["ref\ten\tes\n"] + ["%s\t%s\t%s\n" % (ref(r), en[r], es[r]) for r in kept]
    data = "".join(lines).encode("utf-8")
    write_output(OUT, gzip_bytes(data))
    print("rows: %d; uncompressed %d bytes" % (len(kept), len(data)))


if __name__ == "__main__":
    main()

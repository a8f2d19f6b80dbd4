"""Small helpers shared by the tools/vendor_data/*.py scripts (standard library only).

Nothing here touches the network by itself; the scripts call the package clients (pip, npm,
apt-get) through `run` with a working directory outside the repository.
"""
import gzip
import hashlib
import io
import os
import subprocess
import sys
import tarfile

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DATA = os.path.join(REPO, "data")


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    with open(path, "rb") as f:
        return sha256_bytes(f.read())


def run(cmd, cwd):
    """Run a command (list of args), echoing it; fail loudly on a non-zero exit."""
    print("+ (cd %s && %s)" % (cwd, " ".join(cmd)), file=sys.stderr)
    subprocess.run(cmd, cwd=cwd, check=True)


def check_sha256(path, expected, allow_other):
    """Check a downloaded input against the digest it had when the committed data was made."""
    got = sha256_file(path)
    if got == expected:
        print("input ok: %s sha256 %s" % (os.path.basename(path), got), file=sys.stderr)
        return
    msg = "%s: sha256 %s, expected %s" % (path, got, expected)
    if not allow_other:
        sys.exit("error: " + msg + " (pass --allow-other-input to go on anyway)")
    print("warning: " + msg, file=sys.stderr)


def gzip_bytes(data):
    """Deterministic gzip: no file name, mtime 0, fixed level, so equal input gives equal bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def write_output(path, data):
    """Write bytes (creating folders), print size and sha256, and return the sha256."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    digest = sha256_bytes(data)
    print("wrote %s (%d bytes, sha256 %s)" % (os.path.relpath(path, REPO), len(data), digest))
    return digest


def deb_files(path, keep):
    """{path inside the package: bytes} for the regular files of a .deb (an ar archive holding
    data.tar.*) whose path satisfies keep(path)."""
    with open(path, "rb") as f:
        blob = f.read()
    if not blob.startswith(b"!<arch>\n"):
        sys.exit("error: %s is not an ar archive" % path)
    pos, data_tar = 8, None
    while pos + 60 <= len(blob):
        name = blob[pos:pos + 16].decode("ascii").strip().rstrip("/")
        size = int(blob[pos + 48:pos + 58].decode("ascii").strip())
        body = blob[pos + 60:pos + 60 + size]
        if name.startswith("data.tar"):
            data_tar = body
        pos += 60 + size + (size & 1)
    if data_tar is None:
        sys.exit("error: %s has no data.tar member" % path)
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data_tar), mode="r:*") as t:
        for m in t.getmembers():
            name = m.name[2:] if m.name.startswith("./") else m.name
            if m.isfile() and keep(name):
                files[name] = t.extractfile(m).read()
    return files

"""Reading and hand-writing OCI image directories in the tests, independently
of the code under test: tags, manifests, blobs, and new tags whose rootfs or
chunk blobs the test made up (to reach the decoder with input that passes
the sha256 checks in front of it).
"""
import hashlib
import json
import os
import subprocess

ROOTFS = "application/vnd.puzzlefs.image.rootfs.v1"
CHUNK = "application/vnd.puzzlefs.image.filedata.v1"
VERITY = "io.puzzlefsoci.puzzlefs.puzzlefs_verity_root_hash"
REFNAME = "org.opencontainers.image.ref.name"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def canonical(obj):
    # RFC 8785 for what we write: ASCII keys, integers and strings.
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def fsverity_digest(*paths):
    """`fsverity digest` of files, as hex strings."""
    out = subprocess.run(["fsverity", "digest", *map(os.fspath, paths)],
                         check=True, capture_output=True, text=True).stdout
    return [line.split()[0].split(":")[1] for line in out.splitlines()]


class Oci:
    def __init__(self, path):
        self.path = os.fspath(path)

    def blob_path(self, digest):
        return os.path.join(self.path, "blobs", "sha256", digest)

    def blob(self, digest):
        with open(self.blob_path(digest), "rb") as f:
            return f.read()

    def blobs(self):
        return set(os.listdir(os.path.join(self.path, "blobs", "sha256")))

    def index(self):
        with open(os.path.join(self.path, "index.json"), "rb") as f:
            return json.loads(f.read())

    def descriptor(self, tag):
        for m in self.index()["manifests"]:
            if m.get("annotations", {}).get(REFNAME) == tag:
                return m
        raise KeyError(tag)

    def manifest_digest(self, tag):
        return self.descriptor(tag)["digest"].split(":")[1]

    def manifest(self, tag):
        return json.loads(self.blob(self.manifest_digest(tag)))

    def rootfs_layer(self, tag):
        return next(l for l in self.manifest(tag)["layers"]
                    if l["mediaType"] == ROOTFS)

    def rootfs_digest(self, tag):
        return self.rootfs_layer(tag)["digest"].split(":")[1]

    def rootfs(self, tag):
        return self.blob(self.rootfs_digest(tag))

    def chunk_layers(self, tag):
        return [l for l in self.manifest(tag)["layers"]
                if l["mediaType"].startswith(CHUNK)]

    def put_blob(self, data):
        d = sha256(data)
        path = self.blob_path(d)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
        return d

    def write_index(self, index):
        with open(os.path.join(self.path, "index.json"), "wb") as f:
            f.write(canonical(index))

    def tag_manifest(self, tag, manifest_bytes):
        """Point tag at a manifest (given as bytes, stored as a blob)."""
        d = self.put_blob(manifest_bytes)
        index = self.index()
        index["manifests"] = [m for m in index["manifests"]
                              if m.get("annotations", {}).get(REFNAME) != tag]
        index["manifests"].append({
            "annotations": {REFNAME: tag}, "digest": "sha256:" + d,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": len(manifest_bytes)})
        self.write_index(index)
        return d

    def retag(self, base, tag, rootfs=None, replace=None):
        """A new tag like base, with another rootfs blob and/or chunk blobs
        replaced: replace maps an old chunk digest to new blob bytes; every
        reference to the old digest and to its fs-verity digest in the
        rootfs is rewritten (the rootfs holds them as raw 32-byte
        strings)."""
        rootfs = self.rootfs(base) if rootfs is None else rootfs
        man = self.manifest(base)
        layers = [l for l in man["layers"] if l["mediaType"] != ROOTFS]
        for old, data in (replace or {}).items():
            new = self.put_blob(data)
            rootfs = rootfs.replace(bytes.fromhex(old), bytes.fromhex(new))
            # Its fsVerityData entry too.
            was, now = fsverity_digest(self.blob_path(old),
                                       self.blob_path(new))
            rootfs = rootfs.replace(bytes.fromhex(was), bytes.fromhex(now))
            for l in layers:
                if l["digest"] == "sha256:" + old:
                    l["digest"], l["size"] = "sha256:" + new, len(data)
        d = self.put_blob(rootfs)
        verity, = fsverity_digest(self.blob_path(d))
        man["layers"] = [{"annotations": {VERITY: verity},
                          "digest": "sha256:" + d, "mediaType": ROOTFS,
                          "size": len(rootfs)}] + layers
        self.tag_manifest(tag, canonical(man))
        return d

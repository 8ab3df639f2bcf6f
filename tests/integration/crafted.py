"""Rootfs blobs that no writer makes but readers must serve, made with the
official `capnp convert` from a built image's rootfs."""
import json
import os
import shutil
import subprocess

import capnp_msg

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCHEMA = os.path.join(TOP, "core", "metadata.capnp")


def capnp(direction, data):
    return subprocess.run(["capnp", "convert", direction, SCHEMA, "Rootfs"],
                          input=data, check=True, capture_output=True).stdout


def make_merged_tree(src):
    """The base tree of merged_rootfs: /d/f1..f5 and /other."""
    os.makedirs(os.path.join(src, "d"))
    for i in range(1, 6):
        with open(os.path.join(src, "d", f"f{i}"), "w") as f:
            f.write(f"file {i}\n")
    with open(os.path.join(src, "other"), "w") as f:
        f.write("other\n")


def _inode(ino, kind, payload=None, target=None):
    i = {"ino": str(ino), "mode": {kind: payload}, "uid": 0, "gid": 0,
         "permissions": 0o777 if kind == "lnk" else 0o644}
    if target is not None:
        i["additional"] = {"symlinkTarget": list(target)}
    return i


def _dir(ino, entries):
    ents = [{"ino": str(n), "name": list(name.encode())}
            for name, n in entries]
    return {"ino": str(ino), "mode": {"dir": {"entries": ents,
                                              "lookBelow": True}},
            "uid": 0, "gid": 0, "permissions": 0o755}


# What /d shows: names and types (as ls -l shows them).
MERGED_D = {"f1": "l", "f4": "-", "f5": "-", "mid": "p", "new": "p"}


def make_merged_expected(src, dst):
    """The tree a mount of merged_rootfs over src shows."""
    shutil.copytree(src, dst, symlinks=True)
    d = os.path.join(dst, "d")
    for name in ("f1", "f2", "f3"):
        os.unlink(os.path.join(d, name))
    os.symlink("t1", os.path.join(d, "f1"))
    for name in ("mid", "new"):
        os.mkfifo(os.path.join(d, name))
        os.chmod(os.path.join(d, name), 0o644)


def merged_rootfs(rootfs):
    """Two layers over a rootfs of make_merged_tree, each a version of /d
    with lookBelow set.  The top one replaces f1 by a symlink, whites out
    f2 and adds 'new'; the middle one whites out f3, adds 'mid' and
    replaces f1 too (hidden by the top)."""
    r = json.loads(capnp("binary:json", rootfs))
    base = r["metadatas"][0]["inodes"]
    (d,) = [i for i in base if "dir" in i["mode"] and i["ino"] != "1"]
    big = max(int(i["ino"]) for i in base)
    top = [_dir(d["ino"], sorted([("f1", big + 1), ("f2", big + 2),
                                  ("new", big + 3)])),
           _inode(big + 1, "lnk", target=b"t1"), _inode(big + 2, "wht"),
           _inode(big + 3, "fifo")]
    mid = [_dir(d["ino"], [("f1", big + 6), ("f3", big + 4),
                           ("mid", big + 5)]),
           _inode(big + 4, "wht"), _inode(big + 5, "fifo"),
           _inode(big + 6, "fifo")]
    r["metadatas"] = [{"inodes": top}, {"inodes": mid}] + r["metadatas"]
    return capnp("json:binary", json.dumps(r).encode())


def make_runs_tree(src, n=300):
    """/d with n files f000... (their names as contents), for runs_rootfs."""
    os.makedirs(os.path.join(src, "d"))
    for i in range(n):
        with open(os.path.join(src, "d", f"f{i:03d}"), "w") as f:
            f.write(f"f{i:03d}")


def runs_rootfs(rootfs, nruns, size=300):
    """A rootfs of make_runs_tree whose /d lists its entries in nruns
    ascending runs, last run first, with the layer repeated so the image
    has as many layers as /d has runs (what nruns - 1 reference delta
    generations could make)."""
    r = json.loads(capnp("binary:json", rootfs))
    (d,) = [i for i in r["metadatas"][0]["inodes"]
            if len(i["mode"].get("dir", {}).get("entries", [])) == size]
    e = d["mode"]["dir"]["entries"]
    step = -(-size // nruns)
    e[:] = [x for k in range(nruns - 1, -1, -1)
            for x in e[step * k:step * (k + 1)]]
    r["metadatas"] += [r["metadatas"][0]] * (nruns - 1)
    return capnp("json:binary", json.dumps(r).encode())


def shared_dirs_rootfs(rootfs, name, k):
    """k more directories in / (e0000, e0001, ...) that all point at the
    entry list of the directory /name: a few words each, and a walk of the
    tree visits that list k more times."""
    root = capnp_msg.decode(rootfs)
    (layer,) = root.ptrs[0].items
    inodes = layer.ptrs[0]
    entries = inodes.items[0].ptrs[0].ptrs[0]      # / -> Dir -> entries
    ino = lambda st: int.from_bytes(st.data[:8], "little")
    (ent,) = [e for e in entries.items if bytes(e.ptrs[0].data) == name]
    (d,) = [i for i in inodes.items if ino(i) == ino(ent)]
    big = max(ino(i) for i in inodes.items)
    for n in range(k):
        new = big + 1 + n
        inode = capnp_msg.Struct(new.to_bytes(8, "little") + d.data[8:],
                                 list(d.ptrs))
        inodes.items.append(inode)
        label = b"e%04d" % n
        entries.items.append(capnp_msg.Struct(
            new.to_bytes(8, "little") + ent.data[8:],
            [capnp_msg.List(2, len(label), data=label)]))
    inodes.count, entries.count = len(inodes.items), len(entries.items)
    return capnp_msg.encode(root)

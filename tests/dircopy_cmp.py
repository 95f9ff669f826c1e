#!/usr/bin/env python3
"""dircopy_cmp.py - compares two trees entry by entry for tests/dircopy.sh:
type, permission bits, owner, size, modification time (nanoseconds), bytes
(SHA-256), symbolic link targets, device numbers, allocated blocks of
sparse files, and the hard-link structure (names sharing an inode in one
tree share one in the other, and nothing more).  Walks with directory
descriptors (os.fwalk), so paths longer than PATH_MAX work.

Usage: dircopy_cmp.py A B [--exclude NAME]... [--no-dir-times]
Prints one line per difference; exit status 0 when there is none."""
import hashlib
import os
import stat
import sys


def scan(top, exclude):
    out = {}
    for dirpath, dirnames, filenames, dirfd in os.fwalk(top, follow_symlinks=False):
        rel = os.path.relpath(dirpath, top)
        dirnames[:] = [d for d in dirnames if d not in exclude]
        for name in [None] + dirnames + filenames:
            if name is not None and name in exclude:
                continue
            if name is None:
                st = os.stat(dirfd)
                key = rel
            else:
                st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                key = os.path.normpath(os.path.join(rel, name))
                if stat.S_ISDIR(st.st_mode):
                    continue  # seen as its own dirpath
            info = {
                "type": stat.S_IFMT(st.st_mode),
                "mode": stat.S_IMODE(st.st_mode),
                "uid": st.st_uid,
                "gid": st.st_gid,
                "mtime": st.st_mtime_ns,
                "ino": st.st_ino,
                "nlink": st.st_nlink,
            }
            if stat.S_ISREG(st.st_mode):
                info["size"] = st.st_size
                info["blocks"] = st.st_blocks
                fd = os.open(name, os.O_RDONLY, dir_fd=dirfd)
                h = hashlib.sha256()
                while True:
                    b = os.read(fd, 1 << 20)
                    if not b:
                        break
                    h.update(b)
                os.close(fd)
                info["sha"] = h.hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                info["target"] = os.readlink(name, dir_fd=dirfd)
                del info["mode"]
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                info["rdev"] = st.st_rdev
            out[key] = info
    return out


def main():
    args = sys.argv[1:]
    exclude, dir_times, pos = set(), True, []
    while args:
        a = args.pop(0)
        if a == "--exclude":
            exclude.add(args.pop(0))
        elif a == "--no-dir-times":
            dir_times = False
        else:
            pos.append(a)
    a, b = scan(pos[0], exclude), scan(pos[1], exclude)
    bad = 0
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            print("only in %s: %r" % (pos[0] if k in a else pos[1], k))
            bad += 1
            continue
        x, y = a[k], b[k]
        for f in x:
            if f in ("ino",):
                continue
            if f == "mtime" and x["type"] == stat.S_IFDIR and not dir_times:
                continue
            if x.get(f) != y.get(f):
                print("%r: %s differs: %r vs %r" % (k, f, x.get(f), y.get(f)))
                bad += 1
    # Hard links: the same grouping of names by inode on both sides.
    def groups(t):
        g = {}
        for k, v in t.items():
            if v["type"] != stat.S_IFDIR:
                g.setdefault(v["ino"], []).append(k)
        return sorted(sorted(v) for v in g.values() if len(v) > 1)
    if groups(a) != groups(b):
        print("hard links differ: %r vs %r" % (groups(a), groups(b)))
        bad += 1
    sys.exit(1 if bad else 0)


main()

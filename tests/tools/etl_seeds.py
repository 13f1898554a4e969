#!/usr/bin/env python3
# etl_seeds.py - cuts fuzz seeds for tests/fuzz/corpus/fuzz_etl from the
# real .etl files: the log-file header buffer and one or two data buffers,
# each uncompressed buffer trimmed to at most LIMIT bytes of whole events
# (BufferSize and FilledBytes rewritten, BuffersWritten set to the count);
# compressed buffers are kept whole (they cannot be trimmed).
# usage: etl_seeds.py OUTDIR FILE.etl...
import os
import struct
import sys

LIMIT = 3072


def events_end(b, filled, limit):
    """Offset of the last whole event boundary <= limit (ETL.md 3.3)."""
    p = end = 0x48
    while p + 4 <= filled:
        m = struct.unpack_from("<I", b, p)[0]
        if m == 0xFFFFFFFF:
            break
        fl, ht = m >> 24, (m >> 16) & 0xFF
        if fl & 0xC0 == 0xC0 and ht in (1, 2, 3, 4, 0x10, 0x11):
            size = struct.unpack_from("<H", b, p + 4)[0]
        else:
            size = struct.unpack_from("<H", b, p)[0]
        if size == 0:
            break
        q = p + ((size + 7) & ~7)
        if q > limit and end > 0x48:
            break
        p = end = min(q, filled)
    return end


def trim(b, limit):
    size, filled = struct.unpack_from("<I", b, 0)[0], \
        struct.unpack_from("<I", b, 0x30)[0]
    flags = struct.unpack_from("<H", b, 0x34)[0]
    if flags & 0x40:
        return bytes(b[:size])
    end = events_end(b, min(filled, size), limit)
    out = bytearray(b[:end])
    struct.pack_into("<I", out, 0, end)
    struct.pack_into("<I", out, 4, end)
    struct.pack_into("<I", out, 0x30, end)
    return bytes(out)


def main():
    outdir = sys.argv[1]
    for path in sys.argv[2:]:
        data = open(path, "rb").read()
        bufs, off = [], 0
        while off + 0x48 <= len(data):
            size = struct.unpack_from("<I", data, off)[0]
            if size < 0x48:
                break
            bufs.append(data[off:off + size])
            off += size
        picks = [bufs[0]]
        cpus = set()
        for b in bufs[1:]:
            cpu = struct.unpack_from("<H", b, 0x28)[0] & 0x7FF
            comp = struct.unpack_from("<H", b, 0x34)[0] & 0x40
            if cpu in cpus or (comp and len(b) > 16384):
                continue
            cpus.add(cpu)
            picks.append(b)
            if len(picks) == 3:
                break
        out = [bytearray(trim(b, 1 << 20 if i == 0 else LIMIT))
               for i, b in enumerate(picks)]
        # BuffersWritten of the 64- or 32-bit log-file header
        struct.pack_into("<I", out[0], 0x48 + 0x20 + 0x24, len(out))
        name = os.path.basename(path).split("__")[-1].replace(".etl", "")
        with open(os.path.join(outdir, "real-" + name[:40]), "wb") as f:
            for b in out:
                f.write(b)


main()

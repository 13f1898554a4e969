#!/usr/bin/env python3
"""etlmk.py - heap events of one thread in an .etl, byte by byte, to test
what the importer does with sequences etlgen does not make.

usage: etlmk.py BASE.etl OUT.etl EVENT...
BASE.etl: an etlgen file (its first 1 KiB, the header buffer, is kept).
EVENT: KIND:ADDR:... in hex, KIND one of
  alloc:ADDR:SIZE      Heap/Alloc (33): handle, size, address
  free:ADDR            Heap/Free (36): handle, address
  realloc:NEW:OLD:NSIZE:OSIZE  Heap/ReAlloc (34)
The events are of pid 1000, tid 1100, heap 0x10000, 10 us apart, in one
buffer, with SYSTEM64 event headers (type 2; ETL.md 4.2,
7.2: the last field a 32-bit Source).
"""
import struct
import sys

T0 = 123456789012
HEAP = 0x10000


def event(typ, ts, fields):
    payload = b''.join(struct.pack('<Q', f) for f in fields)
    payload += struct.pack('<I', 3)                  # Source
    size = 0x20 + len(payload)
    # SYSTEM64 header (type 2): marker, size, type, group 0x10 (heap),
    # tid, pid, time stamp, then 8 bytes of CPU times
    head = struct.pack('<IHBBIIQII', 0xC0000000 | 2 << 16 | 2, size, typ,
                       0x10, 1100, 1000, ts, 0, 0)
    return head + payload


def buffer(events):
    body = b''
    for e in events:
        body += e + b'\0' * ((-len(e)) % 8)
    filled = 0x48 + len(body)
    size = max(0x400, filled)
    h = bytearray(0x48)
    struct.pack_into('<IIIiqq', h, 0, size, filled, filled, 0, 0, 1)
    struct.pack_into('<HH', h, 0x28, 0, 1)
    struct.pack_into('<IHH', h, 0x30, filled, 0x20, 0)
    return bytes(h) + body + b'\xff' * (size - filled)


def main():
    base, out = sys.argv[1], sys.argv[2]
    evs = []
    for i, spec in enumerate(sys.argv[3:]):
        f = spec.split(':')
        v = [int(x, 16) for x in f[1:]]
        ts = T0 + 100 + 10 * i
        if f[0] == 'alloc':
            evs.append(event(33, ts, [HEAP, v[1], v[0]]))
        elif f[0] == 'free':
            evs.append(event(36, ts, [HEAP, v[0]]))
        elif f[0] == 'realloc':
            evs.append(event(34, ts, [HEAP, v[0], v[1], v[2], v[3]]))
        else:
            sys.exit('etlmk.py: unknown event ' + spec)
    h = bytearray(open(base, 'rb').read()[:0x400])
    struct.pack_into('<I', h, 0x48 + 0x20 + 0x24, 2)  # BuffersWritten
    open(out, 'wb').write(bytes(h) + buffer(evs))


if __name__ == '__main__':
    main()

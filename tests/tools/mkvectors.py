#!/usr/bin/env python3
"""mkvectors.py - (re)makes spec/vectors/ from traces written by gentrace.

Good vectors are htdump output of small traces written without zstd (and
one with).  Each bad vector is min.hex (or meta.hex) with one rule broken
by a patch of a few bytes; hashes are then recomputed with `unhex -f`
unless the broken rule is the hash itself (those lines say "nofix"), so
that the vector breaks exactly its rule.  Run from the top of the tree
after `make tests`:  python3 tests/tools/mkvectors.py
The vectors are checked in; this script only documents how they were made.
"""
import os
import subprocess
import sys

B = 'build/tests'
V = 'spec/vectors'


def run(*a):
    subprocess.run(a, check=True)


class Hex:
    """An annotated hex file: lines, and where each byte's token is."""

    def __init__(self, path):
        self.lines = open(path).read().split('\n')

    def toks(self):
        out = []  # (line, token index within the data part)
        for i, l in enumerate(self.lines):
            data = l.split('#', 1)[0].split()
            for k in range(len(data)):
                out.append((i, k))
        return out

    def set(self, off, values, note=None, nofix=False):
        t = self.toks()
        for j, v in enumerate(values):
            i, k = t[off + j]
            data, _, com = self.lines[i].partition('#')
            d = data.split()
            d[k] = '%02x' % v
            text = ' '.join(d)
            com = com.strip()
            if note and j == 0:
                com += '  <-- ' + note
            if nofix and 'nofix' not in com:
                com += ' (nofix)'
            self.lines[i] = '%-23s # %s' % (text, com)

    def flip(self, off, note):
        i, k = self.toks()[off]
        v = int(self.lines[i].split('#', 1)[0].split()[k], 16)
        self.set(off, [v ^ 1], note, nofix=True)

    def nofix_line(self, off):
        i, _ = self.toks()[off]
        self.lines[i] += ' (nofix)'

    def insert(self, off, values, comment):
        """Inserts bytes before byte off (or at the end)."""
        t = self.toks()
        line = ' '.join('%02x' % v for v in values)
        new = '%-23s # %s' % (line, comment)
        if off >= len(t):
            while self.lines and self.lines[-1] == '':
                self.lines.pop()
            self.lines.append(new)
            self.lines.append('')
        else:
            self.lines.insert(t[off][0], new)

    def truncate(self, n, comment):
        t = self.toks()
        i, k = t[n]
        data, _, com = self.lines[i].partition('#')
        d = data.split()[:k]
        keep = self.lines[:i]
        if d:
            keep.append('%-23s # %s' % (' '.join(d), com.strip()))
        keep.append('# ' + comment)
        keep.append('')
        self.lines = keep

    def head(self, text):
        self.lines = ['# ' + x for x in text.split('\n')] + self.lines

    def save(self, path, fix=True):
        with open(path, 'w') as f:
            f.write('\n'.join(self.lines))
        if fix:
            run(B + '/unhex', '-f', path)


def le(v, n):
    return [(v >> (8 * i)) & 0xff for i in range(n)]


def good(name, args, title, tool='gentrace'):
    tmp = '/tmp/mkvectors.htape'
    run(B + '/' + tool, *args, tmp)
    out = subprocess.run([B + '/htdump', tmp], check=True,
                         capture_output=True, text=True).stdout
    with open(os.path.join(V, name + '.hex'), 'w') as f:
        f.write(''.join('# ' + x + '\n' for x in title.split('\n')))
        f.write('# Made with: %s %s %s.htape && htdump\n' %
                (tool, ' '.join(args), name))
        f.write(out)


def main():
    os.makedirs(V + '/bad', exist_ok=True)
    good('min', ['-x', '-u', '-s', '1'],
         'min.hex - the smallest useful trace: one PROCESS block (the clock),\n'
         'one EVENTS block of four events (malloc, calloc, realloc, free) of\n'
         'thread 100/101 stored without zstd, one INDEX and the END block.')
    good('meta', ['-s', '9', '-m', '-u', '-n', '3', '-t', '2', '-b', '2',
                  '-i', '2'],
         'meta.hex - two threads, blocks of 2 events, an INDEX every 2 blocks\n'
         '(a chain of five), PROCESS keys, a thread name, RSS samples and a\n'
         'loss record; random ops including an unknown one (200); no zstd.')
    good('lifo', ['-s', '1', '-n', '69', '-t', '1'],
         'lifo.hex - one thread, 69 events of genlifo (addresses reused\n'
         'last-freed-first, as glibc does): the 1.2 and 1.4 encodings,\n'
         'op as OPMAP_BITS (4-bit op map indices), ts as UDELTA_BSS,\n'
         'addr as MRU_BSS; op stored as is, ts and addr through zstd.',
         tool='genlifo')
    good('zstd', ['-s', '10', '-n', '120', '-t', '1'],
         'zstd.hex - one thread, 120 events: columns compressed with zstd\n'
         '(Codec 1) where that is smaller.')
    good('edge', ['-s', '11', '-e', '-u', '-n', '24', '-t', '1'],
         'edge.hex - every op and edge values: addresses 0 and 2^64-1,\n'
         'sizes 0 and 2^64-1, 32-bit addresses, failed calls; no zstd.')
    good('dur', ['-s', '12', '-d', '-u', '-n', '24', '-t', '1'],
         'dur.hex - one thread, 24 events timed as `record --latency`\n'
         'times them (1.3): column 13 dur, its bit in every op\'s\n'
         'Column_Mask; no zstd.')

    def bad(name, title, patch, base='min', fix=True):
        h = Hex(os.path.join(V, base + '.hex'))
        patch(h)
        h.head('bad/%s.hex - MUST be rejected: %s\n(made from %s.hex by '
               'tests/tools/mkvectors.py)' % (name, title, base))
        h.save(os.path.join(V, 'bad', name + '.hex'), fix)

    # min.htape layout: header 0; PROCESS 64 (payload 112); EVENTS 160
    # (payload 208: op map 240, directory 256 + 24k for op ts addr size
    # old_addr nmemb, data 400: op 400, ts 404, addr 412, size 416);
    # INDEX 424 (entries 488 and 536); END 584 (payload 632).
    IX, ENT1, END = 424, 536, 584
    E, D = 160, 256

    def dir_(k, f):
        return D + 24 * k + f
    bad('R-HDR-1-magic', 'the file does not start with Magic',
        lambda h: h.set(1, [0x58], 'X instead of H'))
    bad('R-HDR-2-header-hash', 'Header_Hash is wrong',
        lambda h: h.flip(56, 'one bit flipped'))
    bad('R-HDR-3-major', 'Major_Version is 2',
        lambda h: h.set(8, [2], 'major 2'))
    bad('R-HDR-4-header-length', 'Header_Length is 72',
        lambda h: h.set(12, [72], '72'))
    bad('R-HDR-5-incompat', 'an unknown Incompat_Features bit',
        lambda h: h.set(16, [8], 'bit 3'))
    bad('R-HDR-6-reserved', 'the header Reserved field is not 0',
        lambda h: h.set(52, [1], 'not 0'))
    bad('R-HDR-7-short', 'the file is 40 bytes: a cut file header',
        lambda h: h.truncate(40, 'the file ends here'))
    bad('R-BLK-1-gap', '8 bytes between the header and the first block',
        lambda h: h.insert(64, [0xde, 0xad, 0xbe, 0xef] * 2,
                           'not a block'), fix=False)
    bad('R-BLK-2-magic', 'the EVENTS block has a wrong Block_Magic',
        lambda h: h.set(E, [0xb0], 'b0, not b1'))
    bad('R-BLK-3-header-hash', 'the EVENTS block Header_Hash is wrong',
        lambda h: h.flip(E + 40, 'one bit flipped'))
    bad('R-BLK-4-flags', 'Block_Flags is 1',
        lambda h: h.set(E + 6, [1], 'not 0'))

    bad('R-BLK-5-cut', 'the file ends inside the EVENTS block',
        lambda h: h.truncate(300, 'the file ends here (writer died)'))

    def p6(h):
        h.set(416, [0x41], 'size 65, not 64')
        h.nofix_line(E + 32)
    bad('R-BLK-6-payload-hash', 'a payload byte changed, Payload_Hash not',
        p6)
    bad('R-BLK-7-padding', 'a padding byte is not 0',
        lambda h: h.set(419, [1], 'padding must be 0'))

    def p8(h):
        h.set(E + 16, [5], 'sequence 5 after 0: blocks 1-4 missing')
        h.set(ENT1 + 8, [5], 'the index says so too')
        h.set(IX + 16, [6], 'INDEX follows as 6')
        h.set(END + 16, [7], 'END follows as 7')
        h.set(END + 48 + 16, [7], 'Block_Count follows')
    bad('R-BLK-8-sequence', 'a gap in the block sequence numbers', p8)

    def p9(h):
        h.set(E + 4, [0x02], 'type 0x02, unknown, not safe to skip')
        h.set(ENT1 + 44, [0x02], 'the index agrees')
    bad('R-BLK-9-unknown-type', 'an unknown block type without bit 7', p9)

    bad('R-EV-1-tid', 'the prefix Tid differs from Stream_Id',
        lambda h: h.set(228, [0x66], 'tid 102'))

    def p2(h):
        h.set(216, [0xb9], 'Ts_Max 3001, the largest ts is 3000')
        h.set(ENT1 + 24, [0xb9], 'the index agrees')
    bad('R-EV-2-ts-max', 'Ts_Max is not the largest ts', p2)
    bad('R-EV-3-opmap-reserved', 'an op map Reserved byte is 1',
        lambda h: h.set(241, [1], 'not 0'))
    bad('R-EV-4-op-not-in-map', 'op 4 appears in the op column only',
        lambda h: h.set(403, [4], 'reallocarray: not in the op map'))
    def op_data(h):
        # offset of lifo.hex's first op column byte (4-bit indices)
        t = h.toks()
        return next(off for off, (i, k) in enumerate(t)
                    if '# column op data' in h.lines[i])

    def p_opidx(h):
        o = op_data(h)
        h.set(o, [0x1f], 'first index 15: the op map has 12 entries')

    def p_oppad(h):
        o = op_data(h) + 34  # 69 values of 4 bits: the last byte's
        h.set(o, [0x77], 'high half not 0 (after the last value)')
    bad('R-EV-4-op-index', 'an OPMAP_BITS index past the op map',
        p_opidx, base='lifo')
    bad('R-EV-7-opmap-padding', 'OPMAP_BITS bits after the last value '
        'are not 0', p_oppad, base='lifo')
    bad('R-EV-5-duplicate-column', 'column 4 appears twice',
        lambda h: h.set(dir_(5, 0), [4], 'size again (was nmemb)'))
    bad('R-EV-6-values', 'nmemb says 2 values, one calloc carries it',
        lambda h: h.set(dir_(5, 4), [2], '2, not 1'))
    bad('R-EV-7-width', 'the op column says width 2 with 4 bytes',
        lambda h: h.set(dir_(0, 3), [2], 'width 2'))
    bad('R-EV-8-codec', 'the size column has codec 2 (unknown)',
        lambda h: h.set(dir_(3, 2), [2], 'codec 2'))
    bad('R-EV-9-encoding', 'the size column has encoding 12 (unknown)',
        lambda h: h.set(dir_(3, 1), [12], 'encoding 12'))
    # flags.hex (not kept): min's events with flags INPLACE, so that
    # the flags column is CONST 2 at directory entry 6.
    good('flags', ['-x', '-u', '-s', '1', '-f', '2'], 'temporary')
    bad('R-EV-10-too-wide', 'flags is CONST 2^32 + 2',
        lambda h: h.set(dir_(6, 16), le((1 << 32) + 2, 8),
                        'Param 2^32 + 2'), base='flags')
    os.unlink(os.path.join(V, 'flags.hex'))

    def p11(h):
        h.set(dir_(3, 1), [2], 'VARINT')
        h.set(dir_(3, 3), [0], 'width 0')
    bad('R-EV-11-varint', 'size as VARINT 40 10 80: the last is cut', p11)

    def p12(h):
        h.set(dir_(0, 1), [6], 'REL_ADDR on the op column')
        h.set(dir_(0, 3), [0], 'width 0')
    bad('R-EV-12-rel-addr', 'REL_ADDR used for the op column', p12)

    def p13(h):
        h.set(E + 12, le((1 << 20) + 1, 4), 'Count 2^20 + 1')
        h.set(ENT1 + 40, le((1 << 20) + 1, 4), 'the index agrees')
    bad('R-EV-13-count', 'an EVENTS block of 2^20 + 1 events', p13)

    bad('R-META-1-reserved', 'a PROCESS prefix Reserved byte is 1',
        lambda h: h.set(113, [1], 'not 0'))
    bad('R-META-2-nul-key', 'a key holds a NUL byte',
        lambda h: h.set(125, [0], 'NUL inside "clock.unit_num"'))
    bad('R-META-3-clock', 'clock.unit_den is "0"',
        lambda h: h.set(153, [0x30], '"0"'))

    def p_meta4(h):
        t = h.toks()
        for off, (i, k) in enumerate(t):
            if 'Ts_From = 10' in h.lines[i]:
                h.set(off, [0x1e], 'Ts_From 30 > Ts_To 20')
                return
        raise SystemExit('no Ts_From in meta.hex')
    bad('R-META-4-loss', 'a LOSS row ends before it starts', p_meta4,
        base='meta')

    bad('R-IDX-1-length', 'INDEX Count 3 with two entries',
        lambda h: h.set(IX + 12, [3], '3, not 2'))
    bad('R-IDX-2-chain', 'the first INDEX points back to offset 64',
        lambda h: h.set(IX + 56, [0x40], 'Prev_Index_Offset 64, not 0'))
    bad('R-END-1-magic', 'End_Magic is wrong',
        lambda h: h.set(END + 72, [0x58], 'X, not H'))

    def pe2(h):
        blk = ([0xb1, 0xc3, 0xe7, 0xf9, 0x8a, 0, 0, 0] + le(8, 4) +
               le(0, 4) + le(4, 8) + [0] * 8 + [0] * 16 + [0] * 8)
        h.insert(END + 80, blk, 'a PADDING block (seq 4) after END')
    bad('R-END-2-after-end', 'a block follows the END block', pe2)
    bad('R-END-3-total', 'END says 5 events, there are 4',
        lambda h: h.set(END + 56, [5], '5, not 4'))
    bad('R-RD-3-no-end', 'the trace has no END block (strict mode)',
        lambda h: h.truncate(END, 'the file ends here: no END block'))

    # Good vectors for the extensibility rules.
    def ext(name, title, patch):
        h = Hex(os.path.join(V, 'min.hex'))
        patch(h)
        h.head('%s.hex - valid: %s\n(made from min.hex by '
               'tests/tools/mkvectors.py; reads as min.cat)' % (name, title))
        h.save(os.path.join(V, name + '.hex'))

    def x1(h):
        blk = ([0xb1, 0xc3, 0xe7, 0xf9, 0xc0, 0, 0, 0] + le(5, 4) +
               le(0, 4) + le(3, 8) + [0] * 8 + [0] * 16)
        h.insert(END, [0x68, 0x65, 0x6c, 0x6c, 0x6f, 0, 0, 0],
                 'payload "hello", padding')
        h.insert(END, blk, 'a block of unknown type 0xC0 (safe to skip), '
                 'seq 3')
        # END is now 56 bytes later: its Sequence and Block_Count are 4
        h.set(END + 56 + 16, [4], 'END is block 4')
        h.set(END + 56 + 48 + 16, [4], 'Block_Count 4')
    ext('R-EXT-1-skippable', 'an unknown block type with bit 7 set', x1)

    def x2(h):
        ent = ([16, 1, 0, 0] + le(0, 4) + le(0, 4) + le(0, 4) + le(7, 8))
        h.insert(400, ent, 'column 16 (unknown), CONST 7, no values')
        h.set(232, [7], 'Column_Count 7')
        h.set(E + 8, le(211 + 24, 4), 'Payload_Length 235')
        h.set(END + 24 + 48, le(IX + 24, 2), 'Last_Index_Offset 448')
    ext('R-EXT-2-unknown-column', 'an EVENTS column of unknown id 16', x2)

    def x3(h):
        h.set(10, [7], 'Minor_Version 7')
        h.set(24, [0x01], 'an unknown Compat_Features bit')
    ext('R-EXT-3-compat', 'minor version 7 and a compat feature bit', x3)

    # Bad vectors whose INDEX and END agree with the damage, so that a
    # reader taking the index path must find it there.
    def p9i(h):
        p9(h)
        h.set(END + 56, [0], 'Total_Events 0: the block is no EVENTS')
    bad('R-BLK-9-unknown-type-indexed', 'an unknown block type without '
        'bit 7, in the INDEX, END not counting its events', p9i)

    def p6s(h):
        h.set(E + 4, [0x8a], 'type 0x8A: PADDING, safe to skip')
        h.set(ENT1 + 44, [0x8a], 'the index agrees')
        h.set(END + 56, [0], 'Total_Events 0: the block is no EVENTS')
        h.set(416, [0x41], 'a payload byte changed')
        h.nofix_line(E + 32)
    bad('R-BLK-6-padding-hash', 'a PADDING block in the INDEX, a '
        'payload byte changed, Payload_Hash not', p6s)


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""csv_check.py - loads CSV written by `heaptape convert` with Python's csv
module and checks it against `heaptape stat --json` of the same trace,
recomputing what stat computes (live bytes, peaks) from the rows alone.

usage: csv_check.py events    OUT.csv STAT.json
       csv_check.py lifetimes OUT.csv STAT.json
       csv_check.py interval  OUT.csv STAT.json INTERVAL_NS
Prints one TAP line per check, numbered from $TAP_FIRST (default 1), and
the number of the next test on stdout's last line as "next N"."""
import csv, json, os, re, sys

EVENT_COLS = ['time_ns', 'pid', 'tid', 'op', 'heap', 'address', 'size',
              'old_address', 'old_size', 'alignment', 'nmemb', 'result']
# Optional cells that apply to each op (README "CSV"); any other optional
# cell must be empty unless its value is nonzero (csvgen never sets them).
APPLIES = {
    'malloc': 'address size', 'valloc': 'address size',
    'pvalloc': 'address size', 'free_sized': 'address size',
    'calloc': 'address size nmemb',
    'realloc': 'address size old_address',
    'reallocarray': 'address size old_address nmemb',
    'free': 'address',
    'free_aligned_sized': 'address size alignment',
    'posix_memalign': 'address size alignment',
    'aligned_alloc': 'address size alignment',
    'memalign': 'address size alignment',
    'HeapCreate': 'heap', 'HeapDestroy': 'heap',
    'HeapAlloc': 'heap address size',
    'HeapReAlloc': 'heap address size old_address old_size',
    'HeapFree': 'heap address', 'thread_exit': '',
}
OPTIONAL = ['heap', 'address', 'size', 'old_address', 'old_size',
            'alignment', 'nmemb']
HEX = {'heap', 'address', 'old_address'}
ALLOCATES = {'malloc', 'calloc', 'realloc', 'reallocarray', 'posix_memalign',
             'aligned_alloc', 'memalign', 'valloc', 'pvalloc', 'HeapAlloc',
             'HeapReAlloc'}
FREES = {'free', 'free_sized', 'free_aligned_sized', 'HeapFree'}
REALLOCS = {'realloc', 'reallocarray', 'HeapReAlloc'}
RE_HEX = re.compile(r'^0x[0-9a-f]+$')
RE_DEC = re.compile(r'^(0|[1-9][0-9]*)$')
RE_RESULT = re.compile(r'^(ok|failed|E[A-Z0-9]+|-?[1-9][0-9]*)$')

n = int(os.environ.get('TAP_FIRST', '1'))


def check(ok, what, detail=''):
    global n
    print(('ok %d - %s' if ok else 'not ok %d - %s') % (n, what))
    if not ok and detail:
        print('# ' + str(detail))
    n += 1


class Live:
    """The live-block rules of convert/live.h, on CSV rows."""

    def __init__(self):
        self.blocks = {}            # (pid, heap, addr) -> size
        self.by_heap = {}           # (pid, heap) -> set of addr
        self.bytes = self.nblocks = self.peak = self.peak_blocks = 0
        self.unknown = self.reused = self.added = 0

    def release(self, pid, heap, addr):
        size = self.blocks.pop((pid, heap, addr), None)
        if size is None:
            self.unknown += 1
            return 0
        self.by_heap.get((pid, heap), set()).discard(addr)
        self.bytes -= size
        self.nblocks -= 1
        return 1

    def add(self, pid, heap, addr, size):
        old = self.blocks.get((pid, heap, addr))
        if old is not None:
            self.reused += 1
            self.bytes -= old
            self.nblocks -= 1
        self.blocks[(pid, heap, addr)] = size
        self.by_heap.setdefault((pid, heap), set()).add(addr)
        self.added += 1
        self.bytes += size
        self.nblocks += 1
        self.peak = max(self.peak, self.bytes)
        self.peak_blocks = max(self.peak_blocks, self.nblocks)

    def apply(self, r):
        op = r['op']
        pid = int(r['pid'])
        heap = int(r['heap'] or '0', 16)
        addr = int(r['address'] or '0', 16)
        if op == 'HeapDestroy':
            for a in list(self.by_heap.get((pid, heap), ())):
                self.release(pid, heap, a)
            return
        if r['result'] != 'ok':
            return
        if op in REALLOCS:
            old = int(r['old_address'] or '0', 16)
            if old:
                self.release(pid, heap, old)
            if addr:
                self.add(pid, heap, addr, nbytes(r))
        elif op in FREES:
            if addr:
                self.release(pid, heap, addr)
        elif op in ALLOCATES and addr:
            self.add(pid, heap, addr, nbytes(r))


def nbytes(r):
    size = int(r['size'] or '0')
    if r['op'] in ('calloc', 'reallocarray'):
        return min(size * int(r['nmemb'] or '0'), 2**64 - 1)
    return size


def load(path):
    with open(path, newline='') as f:
        data = f.read()
    rows = list(csv.reader(data.splitlines(keepends=True)))
    return data, rows


def events(path, st):
    data, rows = load(path)
    check(data.endswith('\r\n') and '\n' not in data.replace('\r\n', ''),
          'every line ends with CRLF (RFC 4180)')
    check(rows[0] == EVENT_COLS, 'header row names the 12 columns', rows[0])
    recs = [dict(zip(EVENT_COLS, r)) for r in rows[1:]]
    check(all(len(r) == 12 for r in rows), 'every row has 12 fields')
    check(len(recs) == st['events'], 'row count equals stat events',
          (len(recs), st['events']))
    bad = []
    last = None
    for i, r in enumerate(recs):
        t = r['time_ns']
        if not re.match(r'^-?(0|[1-9][0-9]*)$', t):
            bad.append((i, 'time_ns', t))
        elif last is not None and int(t) < last:
            bad.append((i, 'time order', t))
        else:
            last = int(t)
        for c in ('pid', 'tid'):
            if not RE_DEC.match(r[c]) or int(r[c]) >= 2**32:
                bad.append((i, c, r[c]))
        if r['op'] not in APPLIES:
            bad.append((i, 'op', r['op']))
            continue
        ap = APPLIES[r['op']].split()
        for c in OPTIONAL:
            v = r[c]
            if v == '':
                if c in ap:
                    bad.append((i, 'empty ' + c, r['op']))
                continue
            if not (RE_HEX if c in HEX else RE_DEC).match(v):
                bad.append((i, c, v))
            elif c not in ap and int(v, 0) == 0:
                bad.append((i, 'zero in ' + c, r['op']))
            elif c not in ap and not (c == 'old_size' and
                                      r['op'] in REALLOCS):
                bad.append((i, 'field does not apply: ' + c, r['op']))
        if not RE_RESULT.match(r['result']):
            bad.append((i, 'result', r['result']))
    check(not bad, 'cell types, time order and empty cells per op',
          bad[:5])
    ops = {}
    for r in recs:
        ops[r['op']] = ops.get(r['op'], 0) + 1
    check(ops == st['ops'], 'per-op counts equal stat ops', (ops, st['ops']))
    failed = sum(1 for r in recs if r['result'] != 'ok')
    check(failed == st['failed_calls'], 'failed rows equal stat failed_calls',
          (failed, st['failed_calls']))
    th = {(r['pid'], r['tid']) for r in recs}
    check(len(th) == st['threads'] and
          len({p for p, _ in th}) == st['processes'],
          'threads and processes equal stat')
    lv = Live()
    for r in recs:
        lv.apply(r)
    check(lv.peak == st['peak_live_bytes'] and
          lv.peak_blocks == st['peak_live_blocks'],
          'peak live bytes and blocks recomputed from the rows equal stat',
          (lv.peak, st['peak_live_bytes'], lv.peak_blocks,
           st['peak_live_blocks']))
    check(lv.bytes == st['live_at_end_bytes'] and
          lv.nblocks == st['live_at_end_blocks'] and
          lv.unknown == st['unknown_frees'] and
          lv.reused == st['reused_addresses'],
          'live at end, unknown frees and reused addresses equal stat',
          (lv.bytes, lv.nblocks, lv.unknown, lv.reused))
    return lv


def lifetimes(path, st):
    data, rows = load(path)
    cols = ['address', 'size', 'op', 'alloc_time_ns', 'free_time_ns',
            'lifetime_ns', 'alloc_tid', 'free_tid', 'chain_id', 'id',
            'free_op', 'pid', 'heap']
    check(rows[0] == cols, 'lifetimes header', rows[0])
    recs = [dict(zip(cols, r)) for r in rows[1:]]
    never = [r for r in recs if r['free_time_ns'] == '']
    check(len(never) == st['lifetime_histogram']['never_freed'] ==
          st['live_at_end_blocks'], 'never-freed rows equal stat',
          (len(never), st['live_at_end_blocks']))
    bad = []
    ids = set()
    for i, r in enumerate(recs):
        if r['free_time_ns'] == '':
            if r['lifetime_ns'] or r['free_tid'] or r['free_op']:
                bad.append((i, 'never freed but free cells set'))
        elif int(r['lifetime_ns']) != (int(r['free_time_ns']) -
                                        int(r['alloc_time_ns'])):
            bad.append((i, 'lifetime'))
        if int(r['chain_id']) > int(r['id']) or r['id'] in ids:
            bad.append((i, 'ids'))
        ids.add(r['id'])
        if not RE_HEX.match(r['address']) or not RE_DEC.match(r['size']):
            bad.append((i, 'types'))
    check(not bad, 'lifetime = free - alloc, ids unique, chains point back',
          bad[:5])
    lost = sum(1 for r in recs if r['free_op'] == 'lost')
    freed = len(recs) - len(never) - lost
    hist = sum(b['count'] for b in st['lifetime_histogram']['buckets'])
    check(freed == hist and lost == st['reused_addresses'],
          'freed rows equal the lifetime histogram, lost ones the reused',
          (freed, hist, lost, st['reused_addresses']))
    return recs


def interval(path, st, dur):
    data, rows = load(path)
    cols = ['start_ns', 'allocs', 'frees', 'reallocs', 'bytes_allocated',
            'bytes_freed', 'live_bytes', 'live_blocks', 'peak_live_bytes']
    check(rows[0] == cols, 'interval header', rows[0])
    recs = [[int(x) for x in r] for r in rows[1:]]
    bad = []
    live = 0
    for i, r in enumerate(recs):
        if i and r[0] != recs[i - 1][0] + dur:
            bad.append((i, 'bucket start'))
        if live + r[4] - r[5] != r[6]:
            bad.append((i, 'live bytes = before + allocated - freed'))
        if r[8] < max(live, r[6]):
            bad.append((i, 'peak below live'))
        live = r[6]
    check(not bad, 'buckets contiguous, live bytes add up, peaks cover live',
          bad[:5])
    check(max(r[8] for r in recs) == st['peak_live_bytes'],
          'largest bucket peak equals stat peak_live_bytes')
    check(recs[-1][6] == st['live_at_end_bytes'] and
          recs[-1][7] == st['live_at_end_blocks'],
          'last bucket live bytes and blocks equal stat live at end')
    rea = sum(st['ops'].get(o, 0) for o in REALLOCS)
    check(sum(r[3] for r in recs) == rea, 'reallocs add up to stat ops')


def main():
    mode, path, stat = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(stat) as f:
        st = json.load(f)
    if mode == 'events':
        events(path, st)
    elif mode == 'lifetimes':
        lifetimes(path, st)
    else:
        interval(path, st, int(sys.argv[4]))
    print('next %d' % n)


main()

#!/usr/bin/env python3
"""lttng_check.py - the independent side of t_lttng.sh: parses the text
that `babeltrace2 --clock-seconds TRACE` prints for lttng_ust_libc events
and compares it with a heaptape CSV of the imported trace.

  lttng_check.py compare BT_TEXT CSV ORIGIN_NS [PID]
      same events per op, the same (time, op, pointers, sizes, result)
      sequence per thread; prints one summary line, exit 1 on a mismatch
  lttng_check.py pids BT_TEXT [PROCNAME]    vpids seen (of PROCNAME only)
  lttng_check.py losses BT_STDERR           "FROM TO COUNT" per warning
  lttng_check.py between CSV|BT_TEXT        per-op counts of the events
      from malloc(SIZE_MAX - 1) to malloc(SIZE_MAX - 2) (lttng_kinds)
"""
import csv
import errno
import re
import sys
from collections import Counter, defaultdict

LINE = re.compile(r'^\[(\d+)\.(\d{9})\] \([^)]*\) \S+ lttng_ust_libc:(\w+): '
                  r'(.*)$')
KV = re.compile(r'(\w+) = ("(?:[^"\\]|\\.)*"|[^,}]+)')
M64 = (1 << 64) - 1


def groups(rest):
    """'{ a = 1 }, { b = 2, c = "x" }' -> list of dicts"""
    out = []
    for g in re.findall(r'\{([^{}]*)\}', rest):
        out.append({k: v.strip() for k, v in KV.findall(g)})
    return out


def num(v):
    return int(v, 16) if v.lower().startswith('0x') else int(v)


def bt_events(path, pid=None, procname=None):
    """Events as dicts, in the text's order."""
    evs = []
    for line in open(path, errors='replace'):
        m = LINE.match(line.rstrip('\n'))
        if not m:
            continue
        ts = int(m.group(1)) * 10**9 + int(m.group(2))
        g = groups(m.group(4))
        ctx, pay = {}, g[-1]
        for d in g[:-1]:
            ctx.update(d)
        e = {'ts': ts, 'name': m.group(3),
             'pid': int(ctx['vpid']) if 'vpid' in ctx else 0,
             'tid': int(ctx['vtid']) if 'vtid' in ctx else 0,
             'proc': ctx.get('procname', '').strip('"')}
        e.update({k: num(v) for k, v in pay.items()})
        if pid is not None and e['pid'] != pid:
            continue
        if procname is not None and e['proc'] != procname:
            continue
        evs.append(e)
    return evs


def canon_bt(e):
    """(ts, tid, op, addr, size, old, align, nmemb, result) as the rules
    of the importer say, written from the tracepoint definitions."""
    n = e['name']
    addr = size = old = align = nmemb = 0
    res = 'ok'
    if n == 'malloc':
        size, addr = e['size'], e['ptr']
        if addr == 0 and size:
            res = 'failed'
    elif n == 'free':
        addr = e['ptr']
    elif n == 'calloc':
        nmemb, size, addr = e['nmemb'], e['size'], e['ptr']
        if addr == 0 and size and nmemb:
            res = 'failed'
    elif n == 'realloc':
        old, size, addr = e['in_ptr'], e['size'], e['ptr']
        if addr == 0 and size:
            res = 'failed'
    elif n == 'memalign':
        align, size, addr = e['alignment'], e['size'], e['ptr']
        if addr == 0 and size:
            res = 'failed'
    elif n == 'posix_memalign':
        align, size = e['alignment'], e['size']
        r = e['result']
        if r:
            res = errno.errorcode.get(r, 'failed')
        else:
            addr = e['out_ptr']
    return (e['ts'], e['tid'], n, addr, size, old, align, nmemb, res)


def csv_rows(path, origin, pid=None):
    rows = []
    with open(path, newline='') as f:
        for r in csv.DictReader(f):
            if pid is not None and int(r['pid']) != pid:
                continue
            h = lambda k: int(r[k], 16) if r[k] else 0
            d = lambda k: int(r[k]) if r[k] else 0
            rows.append((int(r['time_ns']) + origin, int(r['tid']), r['op'],
                         h('address'), d('size'), h('old_address'),
                         d('alignment'), d('nmemb'), r['result']))
    return rows


def per_thread(rows):
    t = defaultdict(list)
    for r in rows:
        t[r[1]].append(r)
    return t


def compare(bt, cv, origin, pid):
    want = [canon_bt(e) for e in bt_events(bt, pid)]
    got = csv_rows(cv, origin, pid)
    wops, gops = Counter(r[2] for r in want), Counter(r[2] for r in got)
    fails = sum(r[8] != 'ok' for r in want)
    wt, gt = per_thread(want), per_thread(got)
    bad = []
    if wops != gops:
        bad.append('ops %s != %s' % (dict(wops), dict(gops)))
    if sorted(wt) != sorted(gt):
        bad.append('threads %s != %s' % (sorted(wt), sorted(gt)))
    for tid in wt:
        a, b = wt[tid], gt.get(tid, [])
        if a != b:
            i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y),
                     min(len(a), len(b)))
            bad.append('thread %d differs at its event %d: %s / %s' % (
                tid, i, a[i] if i < len(a) else None,
                b[i] if i < len(b) else None))
            break
    if not want:
        bad.append('no events in the text')
    print('%d events, %d threads, %d failed calls, ops %s' % (
        len(want), len(wt), fails,
        ' '.join('%s=%d' % kv for kv in sorted(wops.items()))))
    for b in bad:
        print('MISMATCH ' + b)
    return 1 if bad else 0


def between(path):
    if path.endswith('.csv'):
        seq = [(r[2], r[4], r[8]) for r in csv_rows(path, 0)]
    else:
        seq = [(e['name'], e.get('size', 0), canon_bt(e)[8])
               for e in bt_events(path)]
    first = next(i for i, s in enumerate(seq)
                 if s[0] == 'malloc' and s[1] == M64 - 1)
    last = next(i for i, s in enumerate(seq)
                if s[0] == 'malloc' and s[1] == M64 - 2)
    c = Counter(s[0] for s in seq[first:last + 1])
    out = Counter(s[0] for s in seq[:first] + seq[last + 1:])
    print(' '.join('%s=%d' % kv for kv in sorted(c.items())))
    print('outside: ' + (' '.join('%s=%d' % kv for kv in sorted(out.items()))
                         or 'none'))


def main():
    a = sys.argv[1:]
    if a[0] == 'compare':
        sys.exit(compare(a[1], a[2], int(a[3]),
                         int(a[4]) if len(a) > 4 else None))
    if a[0] == 'pids':
        evs = bt_events(a[1], procname=a[2] if len(a) > 2 else None)
        print(' '.join(str(p) for p in sorted({e['pid'] for e in evs})))
    elif a[0] == 'losses':
        w = re.compile(r'discarded (\d+) events between \[(\d+)\.(\d{9})\] '
                       r'and \[(\d+)\.(\d{9})\]')
        for line in open(a[1]):
            m = w.search(line)
            if m:
                g = m.groups()
                print(int(g[1]) * 10**9 + int(g[2]),
                      int(g[3]) * 10**9 + int(g[4]), g[0])
    elif a[0] == 'between':
        between(a[1])


if __name__ == '__main__':
    main()

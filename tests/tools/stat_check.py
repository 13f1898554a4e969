#!/usr/bin/env python3
"""stat_check.py - checks `heaptape stat --json` (and `heaptape cat`)
against numbers computed here, independently of the C code, from the dump
that tests/tools/mktrace_stat.c writes beside its trace.

usage: stat_check.py DUMP.txt STAT.json [CAT.txt]

Live-block rules (convert/live.h): an allocation that did not fail adds
a block of size bytes (nmemb*size for calloc/reallocarray) unless its
address is 0; a free releases addr; a realloc releases old_addr and adds
addr; HeapDestroy releases its heap's blocks; a release of a block that
is not live is an unknown free; an add over a live block drops it
(reused).  Prints TAP-free "ok"/"FAIL" lines; exits 1 on any mismatch.
"""
import json
import sys

ALLOC = {"malloc", "calloc", "realloc", "reallocarray", "posix_memalign",
         "aligned_alloc", "memalign", "valloc", "pvalloc", "HeapAlloc",
         "HeapReAlloc"}
FREE = {"free", "free_sized", "free_aligned_sized", "HeapFree"}
REALLOC = {"realloc", "reallocarray", "HeapReAlloc"}
FAILED = 1


def expected(dump_path):
    ev = []
    rss, lost, names, meta, nloss = [], 0, {}, {}, 0
    for line in open(dump_path):
        f = line.split()
        if not f:
            continue
        if f[0] == "ev":
            ev.append((int(f[1]), int(f[2]), int(f[3]), f[4], int(f[5]),
                       int(f[6]), int(f[7]), int(f[8]), int(f[9]),
                       int(f[10]), int(f[11])))
        elif f[0] == "rss":
            rss.append(int(f[3]))
        elif f[0] == "loss":
            lost += int(f[1])
            nloss += 1
        elif f[0] == "thread":
            names[(int(f[1]), int(f[2]))] = line.split(None, 3)[3].strip()
        elif f[0] == "meta":
            meta[f[1]] = line.split(None, 2)[2].rstrip("\n")
    live = {}
    cur = peak = blocks = peak_blocks = at_peak = 0
    unknown = reused = failed = 0
    ops, sizes, size_hist, life_hist = {}, {}, {}, {}
    thr = {}

    def life(ts0, ts1):
        d, b = ts1 - ts0, 0
        while d >= 10 and b < 12:
            d //= 10
            b += 1
        life_hist[b] = life_hist.get(b, 0) + 1

    def release(key, ts, t):
        nonlocal cur, blocks, unknown
        if key not in live:
            unknown += 1
            return
        size, ts0 = live.pop(key)
        cur -= size
        blocks -= 1
        life(ts0, ts)
        t["frees"] += 1

    for (ts, pid, tid, op, addr, size, old, nmemb, align, heap,
         flags) in ev:
        ops[op] = ops.get(op, 0) + 1
        t = thr.setdefault((pid, tid), {"events": 0, "allocs": 0,
                                        "frees": 0})
        t["events"] += 1
        if flags & FAILED:
            failed += 1
        if flags & FAILED:
            continue
        if op == "HeapDestroy":
            for key in [k for k in live if k[0] == pid and k[1] == heap
                        and heap]:
                release(key, ts, t)
            continue
        add = False
        if op in REALLOC:
            if old:
                release((pid, heap, old), ts, t)
            add = addr != 0
        elif op in FREE:
            if addr:
                release((pid, heap, addr), ts, t)
        elif op in ALLOC:
            add = addr != 0
        if add:
            n = nmemb * size if op in ("calloc", "reallocarray") else size
            key = (pid, heap, addr)
            if key in live:
                reused += 1
                cur -= live[key][0]
                blocks -= 1
            live[key] = (n, ts)
            cur += n
            blocks += 1
            if cur > peak:
                peak, at_peak = cur, blocks
            peak_blocks = max(peak_blocks, blocks)
            sizes[n] = sizes.get(n, 0) + 1
            b = n.bit_length()
            size_hist[b] = size_hist.get(b, 0) + 1
            t["allocs"] += 1
    top = sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    return {
        "events": len(ev),
        "ops": ops,
        "threads": len(thr),
        "processes": len({p for p, _ in thr}),
        "time_span_ns": (max(e[0] for e in ev) - min(e[0] for e in ev))
        if ev else 0,
        "peak_live_bytes": peak,
        "peak_live_blocks": peak_blocks,
        "blocks_at_peak": at_peak,
        "unknown_frees": unknown,
        "reused_addresses": reused,
        "failed_calls": failed,
        "lost_events": lost,
        "loss_records": nloss,
        "live_at_end_bytes": cur,
        "live_at_end_blocks": blocks,
        "recorded_peak_rss_bytes": max(rss) if rss else None,
        "size_histogram": size_hist,
        "lifetime_histogram": life_hist,
        "never_freed": len(live),
        "top_sizes": top,
        "per_thread": thr,
        "names": names,
        "meta": meta,
    }, ev


def main():
    exp, ev = expected(sys.argv[1])
    got = json.load(open(sys.argv[2]))
    bad = 0

    def check(name, a, b):
        nonlocal bad
        if a == b:
            print("ok %s = %s" % (name, str(a)[:60]))
        else:
            print("FAIL %s: stat says %r, expected %r" % (name, a, b))
            bad += 1

    for k in ("events", "ops", "threads", "processes", "time_span_ns",
              "peak_live_bytes", "peak_live_blocks", "blocks_at_peak",
              "unknown_frees",
              "reused_addresses", "failed_calls", "lost_events",
              "loss_records",
              "live_at_end_bytes", "live_at_end_blocks",
              "recorded_peak_rss_bytes"):
        check(k, got.get(k, "<missing>"), exp[k])
    for k in ("blocks", "file_bytes", "bytes_per_event", "per_thread",
              "meta", "problems", "size_histogram", "lifetime_histogram",
              "top_sizes"):
        check("has " + k, k in got, True)
    sh = {b["min"].bit_length(): b["count"]
          for b in got["size_histogram"] if b["count"]}
    check("size_histogram", sh, exp["size_histogram"])
    for b in got["size_histogram"]:
        if b["min"] and b["max"] != 2 * b["min"] - 1:
            check("size bucket bounds", (b["min"], b["max"]), "2^k..")
    lh = {}
    for b in got["lifetime_histogram"]["buckets"]:
        if b["count"]:
            lh[len(str(b["min"])) - 1 if b["min"] else 0] = b["count"]
    check("lifetime_histogram", lh, exp["lifetime_histogram"])
    check("never_freed", got["lifetime_histogram"]["never_freed"],
          exp["never_freed"])
    check("top_sizes", [(t["size"], t["count"]) for t in got["top_sizes"]],
          exp["top_sizes"])
    pt = {(t["pid"], t["tid"]): {"events": t["events"],
                                 "allocs": t["allocs"], "frees": t["frees"]}
          for t in got["per_thread"]}
    check("per_thread", pt, exp["per_thread"])
    names = {(t["pid"], t["tid"]): t["name"] for t in got["per_thread"]
             if t["name"] is not None}
    check("thread names", names,
          {k: v for k, v in exp["names"].items() if k in pt})
    check("meta", {k: got["meta"].get(k) for k in exp["meta"]
                   if k != "process.exe"},
          {k: v for k, v in exp["meta"].items() if k != "process.exe"})
    check("bytes_per_event",
          abs(got["bytes_per_event"] -
              got["file_bytes"] / max(1, got["events"])) < 0.001, True)
    if len(sys.argv) > 3:
        lines = open(sys.argv[3]).read().splitlines()
        check("cat lines", len(lines), len(ev))
        mism = 0
        for line, e in zip(lines, ev):
            f = line.split()
            sec, ns = f[0].split(".")
            want = (e[0], "%d/%d" % (e[1], e[2]), e[3])
            if (int(sec) * 10**9 + int(ns), f[1], f[2]) != want:
                if not mism:
                    print("# first difference: %r vs %r" % (line, want))
                mism += 1
            elif e[4] and e[3] != "HeapDestroy" and \
                    ("%x" % e[4]) not in line:
                mism += 1
        check("cat lines match the events written", mism, 0)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

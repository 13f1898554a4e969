#!/usr/bin/env python3
# etl_check.py - acceptance checks of the .etl reader for t_etl.sh.
#
#   etl_check.py counts REFERENCE.txt NAME STAT.json
#       compares `heaptape stat --json` of one real file with its section
#       of reference/event_counts_by_type.txt: total, every kind (kernel by
#       group/type/version/header type, EVENT_HEADER by provider/id/opcode/
#       ext, classic by guid/type/header type), header-type totals,
#       buffers, pointer size, clock, lost counters.
#   etl_check.py baseline BASELINE.txt DUMP.txt
#       every "EVENT ms: name PID=..; TID=..; ProceNum=..; DataLen=.." line
#       of a TraceEvent baseline must match an event of `etldump` with the
#       same processor and data length, the same time to the printed
#       precision (0.001 ms, rounded), and the same PID and TID where the
#       event header carries them (PERFINFO headers carry none).  For
#       "Windows Kernel/..." events other than EventTrace, TraceEvent takes
#       PID/TID from the payload (Process, Thread, Image, SystemConfig
#       fix-ups), so those are compared on time, processor and length.
# Prints "ok"/"problem" lines; exits 1 on any mismatch.
import ast
import json
import re
import sys


def section(path, name):
    out, on = [], False
    for line in open(path, encoding="utf-8"):
        if line.startswith("===== "):
            on = line[6:].strip() == name
            continue
        if on:
            out.append(line.rstrip("\n"))
    if not out:
        sys.exit("no section for %s in %s" % (name, path))
    return out


def counts(ref, name, stat_path):
    lines = section(ref, name)
    st = json.load(open(stat_path))
    bad = []
    hdr = ast.literal_eval(lines[0].split("header:", 1)[1].strip())
    m = re.match(r"\s*buffers (\d+) pointer size (\d+) header types (\{.*\}) "
                 r"total events (\d+)", lines[1])
    nbuf, psize, htypes, total = (int(m.group(1)), int(m.group(2)),
                                  ast.literal_eval(m.group(3)),
                                  int(m.group(4)))
    want = {}
    for line in lines[2:]:
        mm = re.match(r"\s*(\(.*\))\s+(\d+)\s*$", line)
        if not mm:
            continue
        t = ast.literal_eval(mm.group(1))
        n = int(mm.group(2))
        if len(t) == 4 and t[1] == "classic-type":
            key = ("classic", t[0], t[2], t[3])
        elif len(t) == 4 and isinstance(t[1], int) and isinstance(t[0], str) \
                and "-" in t[0]:
            key = ("event", t[0], t[1], t[2], t[3] == "ext")
        else:
            key = ("kernel", t[0], t[1], t[2], t[3])
        want[key] = want.get(key, 0) + n
    got = {}
    for k in st["kinds"]:
        if k["class"] == "kernel":
            key = ("kernel", k["group"], k["type"], k["version"], k["header"])
        elif k["class"] == "event":
            key = ("event", k["provider"], k["id"], k["opcode"], k["ext"])
        elif k["class"] == "classic":
            key = ("classic", k["guid"], k["type"], k["header"])
        else:
            key = (k["class"], k.get("header"), k.get("id"))
        got[key] = got.get(key, 0) + k["count"]
    for key in sorted(set(want) | set(got), key=str):
        if want.get(key) != got.get(key):
            bad.append("kind %s: reference %s, heaptape %s"
                       % (key, want.get(key), got.get(key)))
    if st["events"] != total:
        bad.append("events: reference %d, heaptape %d" % (total, st["events"]))
    if sum(want.values()) != total:
        bad.append("reference rows do not add up to the total")
    ht = dict(st["header_types"])
    comp = htypes.pop("COMPRESSED_BUFFER", 0)
    if ht != htypes:
        bad.append("header types: reference %s, heaptape %s" % (htypes, ht))
    if st["compressed_buffers"] != comp:
        bad.append("compressed buffers: reference %d, heaptape %d"
                   % (comp, st["compressed_buffers"]))
    for mine, theirs in (("buffers", nbuf), ("pointer_size", psize),
                         ("lost_events", hdr["EventsLost"]),
                         ("lost_buffers", hdr["BuffersLost"]),
                         ("perf_freq", hdr["PerfFreq"]),
                         ("start_time", hdr["StartTime"]),
                         ("end_time", hdr["EndTime"]),
                         ("clock_type", hdr["ReservedFlags"]),
                         ("os_build", hdr["Build"]),
                         ("buffers_written", hdr["BuffersWritten"]),
                         ("logger_name", hdr["LoggerName"]),
                         ("heap_events", 0)):
        if st[mine] != theirs:
            bad.append("%s: reference %r, heaptape %r"
                       % (mine, theirs, st[mine]))
    for b in bad:
        print("problem: " + b)
    print("%s: %d events, %d kinds compared" % (name, total, len(want)))
    return not bad


def baseline(base, dump):
    ev = {}
    for line in open(dump):
        f = line.split()
        ms = float(f[0])
        key = (int(f[3]), int(f[4]))
        ev.setdefault(key, []).append((ms, int(f[1]), int(f[2]), f[6]))
    n = bad = nid = 0
    rx = re.compile(r"EVENT ([\d,.-]+): (.+?) PID=(-?\d+); TID=(-?\d+);.*"
                    r"ProceNum=(\d+); DataLen=(\d+);")
    for line in open(base, encoding="utf-8"):
        m = rx.match(line)
        if not m:
            continue
        n += 1
        ms = float(m.group(1).replace(",", ""))
        name, pid, tid = m.group(2), int(m.group(3)), int(m.group(4))
        cands = [e for e in ev.get((int(m.group(5)), int(m.group(6))), [])
                 if abs(e[0] - ms) <= 0.0005 + 1e-9]
        ids = not name.startswith("Windows Kernel/") or \
            name == "Windows Kernel/EventTrace"
        if ids:
            nid += 1
        ok = [e for e in cands if not ids or
              ((e[1] == -1 or e[1] == pid) and (e[2] == -1 or e[2] == tid))]
        if not ok:
            bad += 1
            print("problem: no event for baseline line %s %s PID=%d TID=%d "
                  "(candidates %s)" % (m.group(1), name, pid, tid, cands[:3]))
    print("%s: %d baseline events (%d with PID/TID compared), %d unmatched"
          % (base, n, nid, bad))
    return n > 0 and bad == 0


if __name__ == "__main__":
    if sys.argv[1] == "counts":
        sys.exit(0 if counts(sys.argv[2], sys.argv[3], sys.argv[4]) else 1)
    if sys.argv[1] == "baseline":
        sys.exit(0 if baseline(sys.argv[2], sys.argv[3]) else 1)
    sys.exit("usage")

# pythreads.py [N] - a python3 workload for recorder and importer tests:
# JSON of N dicts (default 20000) and three threads growing byte arrays.
import json, sys, threading
n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
d = [{"k": i, "v": "x" * (i % 300)} for i in range(n)]
s = json.dumps(d)
def work():
    b = bytearray()
    for i in range(n // 7):
        b += b"y" * (i % 50)
    return len(b)
ts = [threading.Thread(target=work) for _ in range(3)]
[t.start() for t in ts]; [t.join() for t in ts]
print(len(json.loads(s)))

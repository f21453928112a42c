"""pybench.py - the Python worker of `make bench` (gobench starts it; see
gobench/workers.go for the protocol): the Python binding's blocking
Client.call from N threads, the way a Python till would call it.

Environment: BENCH_CONFIG, BENCH_GET, BENCH_POST, SECUCARD_LIBRARY and
PYTHONPATH (bindings/python/src).
"""

import json
import os
import resource
import sys
import threading
import time

import secucard

client = secucard.Client(json.loads(os.environ["BENCH_CONFIG"]))
REQUESTS = [json.loads(os.environ["BENCH_GET"]), json.loads(os.environ["BENCH_POST"])]


def caller(n, errors):
    bad = 0
    for j in range(n):
        try:
            client.call(REQUESTS[j % 2])
        except secucard.SecucardError:
            bad += 1
    errors.append(bad)


def run(n, callers):
    errors = []
    threads = [threading.Thread(target=caller, args=(n // callers + (i < n % callers), errors))
               for i in range(callers)]
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic_ns()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, r1 = time.monotonic_ns() - t0, resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    csw = (r1.ru_nvcsw + r1.ru_nivcsw) - (r0.ru_nvcsw + r0.ru_nivcsw)
    return (f"result calls={n} errors={sum(errors)} wall_ns={wall} cpu_ns={int(cpu * 1e9)} csw={csw}")


def main():
    caller(200, [])  # token, connections
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if len(words) != 3 or words[0] != "calls":
            sys.exit(f"pybench: bad command {line!r}")
        print(run(int(words[1]), int(words[2])), flush=True)
    client.close()


main()

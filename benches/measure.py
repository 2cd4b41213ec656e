"""Run a command and report wall time, client CPU time (user + sys of the command and its
children), and the time until its first line of output. Prints JSON.

usage: python measure.py -- CMD ARGS...
"""
import json
import resource
import subprocess
import sys
import time


def main():
    cmd = sys.argv[sys.argv.index("--") + 1:]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = None
    lines = 0
    for _ in p.stdout:
        if first is None:
            first = time.perf_counter() - t0
        lines += 1
    code = p.wait()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss of the children: the largest resident set of the command (KiB on Linux)
    rss = after.ru_maxrss / 1024
    print(json.dumps({"wall": wall, "cpu": cpu, "first_line": first, "lines": lines, "exit": code,
                      "maxrss_mib": rss}))


if __name__ == "__main__":
    main()

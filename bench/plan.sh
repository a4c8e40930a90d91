#!/bin/sh
# End-to-end `plan` on the bundled demo (12 components, 4 partitions,
# 11 days of 1-minute history): wall time and peak memory.
set -eu
BIN=$1
TOP=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
RUNS=${BENCH_RUNS:-10}
/usr/bin/python3 - "$BIN" "$TOP" "$TMP" "$RUNS" <<'PY'
import resource, subprocess, sys, time
bin, top, tmp, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
cmd = [bin, "plan", "-i", top + "/testdata/demo/inventory.json",
       "-s", top + "/testdata/demo/schedule.json",
       "--now", "2018-05-06T00:00:00Z", "-f", tmp + "/plan.json"]
times = []
for _ in range(runs):
    t = time.perf_counter()
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode
    times.append(time.perf_counter() - t)
    if rc not in (0, 2):
        sys.exit("plan failed with %d" % rc)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
times.sort()
print("plan demo: %d runs, median %.1f ms, min %.1f ms, peak RSS %.1f MiB"
      % (runs, 1000 * times[len(times) // 2], 1000 * times[0], rss / 1024))
PY

#!/bin/sh
# End-to-end `plan` at scale: N components (cpu and memory) of LEN 5-minute
# steps on P partitions, generated at run time (seeded synthetic daily and
# weekly patterns with noise and spikes) into a temporary directory. Prints
# the wall and CPU time and the peak RSS of one run, against the size of
# the history held as doubles, and the plan file's size. By default two
# runs: 1,000 components on 200 partitions, then 10,000 on 500 (about a
# quarter of an hour, most of it making the history; SCALE_LARGE=0 skips it).
#   SCALE_COMPONENTS  components: one run of that many
#   SCALE_POINTS      history steps per series (8640: 30 days)
#   SCALE_PARTITIONS  partitions (200)
#   SCALE_KEEP        a directory to keep the inputs and the plan in (to
#                     profile the same run again), instead of a temporary one
set -eu
BIN=$1
if [ -z "${SCALE_COMPONENTS:-}" ]; then
	SCALE_COMPONENTS=1000 SCALE_PARTITIONS=${SCALE_PARTITIONS:-200} sh "$0" "$@"
	[ "${SCALE_LARGE:-1}" = 0 ] || SCALE_COMPONENTS=10000 SCALE_PARTITIONS=500 sh "$0" "$@"
	exit 0
fi
if [ -n "${SCALE_KEEP:-}" ]; then
	TMP=$SCALE_KEEP
	mkdir -p "$TMP"
	rm -rf "$TMP/history"
else
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/adpart-bench.XXXXXX")
	trap 'rm -rf "$TMP"' EXIT
fi
N=${SCALE_COMPONENTS:-1000}
LEN=${SCALE_POINTS:-8640}
P=${SCALE_PARTITIONS:-200}
/usr/bin/python3 - "$BIN" "$TMP" "$N" "$LEN" "$P" <<'PY'
import json, math, os, random, resource, subprocess, sys, time
bin, tmp, N, LEN, P = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
NOW = 1525564800  # 2018-05-06T00:00:00Z: the history ends here
rng = random.Random(2026)
os.makedirs(tmp + "/history")
comps = []
for c in range(N):
    name = "c%04d" % c
    base, amp, ph = rng.uniform(0.5, 2), rng.uniform(0.1, 1), rng.uniform(0, 2 * math.pi)
    noise, week = rng.uniform(0.02, 0.2), rng.uniform(0, 0.3)
    rows = ["t,cpu,mem"]
    for i in range(LEN):
        t = NOW - (LEN - i) * 300
        d, w = 2 * math.pi * (t % 86400) / 86400, 2 * math.pi * (t % 604800) / 604800
        v = base + amp * math.sin(d + ph) + week * math.sin(w) + rng.gauss(0, noise)
        if rng.random() < 0.001:
            v *= 3
        rows.append("%d,%.4f,%.4f" % (t, max(v, 0), 1 + 0.5 * base + 0.1 * math.sin(d) + rng.gauss(0, 0.01)))
    with open("%s/history/%s.csv" % (tmp, name), "w") as f:
        f.write("\n".join(rows) + "\n")
    a = c % P
    comps.append({"name": name, "tier": c % 3, "replicas": 2,
                  "placement": ["p%03d" % a, "p%03d" % ((a + P // 2) % P)],
                  "history": {"file": "history/%s.csv" % name, "format": "columns", "delimiter": ",",
                              "time_column": "t", "time_format": "epoch",
                              "columns": {"cpu": {"column": "cpu"},
                                          "memory": {"column": "mem", "scale": 1073741824}}}})
parts = [{"name": "p%03d" % i, "zone": "zone-%d" % (i % 4), "capacity": {"cpu": 64, "memory": "256GiB"}}
         for i in range(P)]
json.dump({"partitions": parts, "components": comps}, open(tmp + "/inventory.json", "w"))
json.dump({"name": "scale", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z",
                                       "timezone": "UTC"},
           "cutoff": "30m", "partitions": [p["name"] for p in parts], "max_concurrency": max(1, P // 6),
           "update_duration": {"default": "20m"}, "drain_duration": "2m", "verify_duration": "3m",
           "step": "5m", "max_gap": "1h", "confidence": {"cpu": 0.95, "memory": 0.99},
           "plan_ttl": "24h", "period": "1d"}, open(tmp + "/schedule.json", "w"))
cmd = [bin, "plan", "-i", tmp + "/inventory.json", "-s", tmp + "/schedule.json",
       "--now", "2018-05-06T00:00:00Z", "-f", tmp + "/plan.json"]
t = time.perf_counter()
rc = subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode
wall = time.perf_counter() - t
if rc not in (0, 2):
    sys.exit("scale: plan failed with %d" % rc)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
hist = N * 2 * LEN * 8 / 2**20
size = os.path.getsize(tmp + "/plan.json") if rc == 2 else 0
form = ""
if size and open(tmp + "/plan.json", "rb").read(2) == b"\x1f\x8b":
    import gzip
    with gzip.open(tmp + "/plan.json") as f:
        text = sum(len(b) for b in iter(lambda: f.read(1 << 20), b""))
    form = " (gzip; %.1f MiB of JSON)" % (text / 2**20)
print("plan scale: %d components x %d steps, %d partitions: wall %.1f s, CPU %.1f s (user %.1f), "
      "peak RSS %.0f MiB for %.0f MiB of history as doubles (%.1fx), plan %.1f MiB%s"
      % (N, LEN, P, wall, ru.ru_utime + ru.ru_stime, ru.ru_utime, ru.ru_maxrss / 1024, hist,
         ru.ru_maxrss / 1024 / hist, size / 2**20, form))
PY

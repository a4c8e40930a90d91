"""Prepares the forecasting benchmark's series: every trace resampled to
5 minutes (mean), short gaps interpolated, one value per line, so that
both engines see exactly the same numbers. Bitbrains is skipped when its
folder is absent."""
import csv, glob, math, os, sys

STEP = 300


def regular(points):
    points.sort()
    t0 = points[0][0] - points[0][0] % STEP
    buckets = {}
    for t, v in points:
        buckets.setdefault((t - t0) // STEP, []).append(v)
    n = max(buckets) + 1
    out = [sum(buckets[i]) / len(buckets[i]) if i in buckets else math.nan for i in range(n)]
    last = None
    for i, v in enumerate(out):  # linear interpolation; edges hold
        if not math.isnan(v):
            if last is not None and i - last > 1:
                for k in range(last + 1, i):
                    out[k] = out[last] + (v - out[last]) * (k - last) / (i - last)
            last = i
    first = next(i for i, v in enumerate(out) if not math.isnan(v))
    return [v for v in out[first:] if not math.isnan(v)]


def parse_time(s):
    import datetime
    s = s.strip().strip('"').replace("Z", "").replace("T", " ")
    return int(datetime.datetime.fromisoformat(s).replace(tzinfo=datetime.timezone.utc).timestamp())


def spread(files, key):
    """Round-robin over groups (a folder, a metric) so that a few files
    sample every kind rather than the first one in sorted order."""
    groups = {}
    for f in sorted(files):
        groups.setdefault(key(f), []).append(f)
    order, lists = [], [groups[k] for k in sorted(groups)]
    for i in range(max(map(len, lists), default=0)):
        order += [g[i] for g in lists if i < len(g)]
    return order


def main(data, out, per_set):
    os.makedirs(out, exist_ok=True)
    names = []
    for f in spread(glob.glob(os.path.join(data, "nab/realAWSCloudwatch/*.csv")),
                    lambda f: os.path.basename(f).rsplit("_", 1)[0])[:per_set]:
        rows = list(csv.reader(open(f)))[1:]
        names.append(("nab-" + os.path.basename(f)[:-4], regular([(parse_time(r[0]), float(r[1])) for r in rows])))
    for f in spread(glob.glob(os.path.join(data, "ms-cloud-monitoring/*/*.csv")),
                    lambda f: os.path.dirname(f))[:per_set]:
        rows = list(csv.reader(open(f)))[1:]
        names.append(("ms-" + os.path.basename(f)[:-4], regular([(parse_time(r[0]), float(r[1])) for r in rows])))
    # Bitbrains is only read from there, never copied (it has no licence);
    # each VM gives a cpu and a memory series, per_set of each.
    bb = sorted(glob.glob(os.path.join(data, "bitbrains-rnd/2013-8/*.csv")))[:per_set]
    for f in bb:
        rows = [r for r in csv.reader(open(f), delimiter=";")][1:]
        cpu = [(int(r[0]), float(r[4])) for r in rows if len(r) > 6]
        mem = [(int(r[0]), float(r[6]) / 1048576) for r in rows if len(r) > 6]
        names.append(("bb-cpu-" + os.path.basename(f)[:-4], regular(cpu)))
        names.append(("bb-mem-" + os.path.basename(f)[:-4], regular(mem)))
    if not bb:
        print("bitbrains: ../shared/datasets/bitbrains-rnd absent, skipped")
    for name, v in names:
        with open(os.path.join(out, name + ".txt"), "w") as f:
            f.write("\n".join("%.9g" % x for x in v) + "\n")
    print("prepared %d series" % len(names))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))

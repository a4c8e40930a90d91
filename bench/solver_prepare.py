"""Prepares the solver benchmark's traces: NAB realAWSCloudwatch (5-minute)
and the 1-minute Microsoft cloud-monitoring series (MongoDB, ingress),
resampled to 5 minutes, one value per line."""
import csv, glob, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fc_prepare import parse_time, regular  # noqa: E402


def main(data, out):
    os.makedirs(out, exist_ok=True)
    files = sorted(glob.glob(os.path.join(data, "nab/realAWSCloudwatch/*.csv")))
    for sub in ("mongodb-application-rps", "mongodb-machine-rps", "data-ingress-rate"):
        files += sorted(glob.glob(os.path.join(data, "ms-cloud-monitoring", sub, "*.csv")))
    n = 0
    for f in files:
        rows = list(csv.reader(open(f)))[1:]
        v = regular([(parse_time(r[0]), float(r[1])) for r in rows])
        with open(os.path.join(out, "%02d-%s.txt" % (n, os.path.basename(f)[:-4])), "w") as fp:
            fp.write("\n".join("%.9g" % x for x in v) + "\n")
        n += 1
    print("solver bench: %d traces prepared" % n)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

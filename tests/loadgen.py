"""A bounded HTTP load generator for the apply tests and benches.

usage: loadgen.py OUT RATE MAX_SECONDS URL...

Sends GET requests round-robin over the URLs at about RATE per second
(a new connection each, 5 s timeout) until the file OUT.stop exists or
MAX_SECONDS pass, then writes one line to OUT:
  requests=N failed=N p50_ms=X p99_ms=X max_ms=X outage_s=X
(outage_s: the longest time from a failed request to the next one that
succeeded, i.e. how long no instance served) and the first failures, one per line. Loopback only: it refuses other
hosts.
"""
import http.client
import os
import sys
import time
import urllib.parse


def main():
    out, rate, limit = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    urls = [urllib.parse.urlsplit(u) for u in sys.argv[4:]]
    for u in urls:
        if u.hostname not in ("127.0.0.1", "localhost"):
            sys.exit("loadgen: loopback only, not %s" % u.hostname)
    period = 1.0 / rate
    start = time.monotonic()
    lat, failures, n = [], [], 0
    down_since, outage = None, 0.0
    nxt = start
    while time.monotonic() - start < limit and not os.path.exists(out + ".stop"):
        u = urls[n % len(urls)]
        n += 1
        t0 = time.monotonic()
        good = False
        try:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
            c.request("GET", u.path or "/", headers={"Connection": "close"})
            r = c.getresponse()
            r.read()
            c.close()
            good = r.status == 200
            if not good:
                failures.append("%.3f %s status %d" % (t0 - start, u.geturl(), r.status))
        except Exception as e:  # every failure counts, whatever its kind
            failures.append("%.3f %s %s" % (t0 - start, u.geturl(), e))
        if good and down_since is not None:
            outage = max(outage, t0 - down_since)
            down_since = None
        elif not good and down_since is None:
            down_since = t0
        lat.append((time.monotonic() - t0) * 1000.0)
        nxt += period
        pause = nxt - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            nxt = time.monotonic()
    if down_since is not None:
        outage = max(outage, time.monotonic() - down_since)
    lat.sort()

    def q(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else 0.0

    with open(out + ".tmp", "w") as f:
        f.write("requests=%d failed=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f outage_s=%.2f\n"
                % (n, len(failures), q(0.5), q(0.99), lat[-1] if lat else 0.0, outage))
        for line in failures[:20]:
            f.write(line + "\n")
    os.rename(out + ".tmp", out)


main()

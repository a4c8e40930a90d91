"""Scores our forecasts beside three baselines on the same series and
origins, and prints issue 13's tables and verdict.

  fc_eval.py FOLDER ORIGINS OURS_DUMP OUTDIR [NAME=DUMP...]

FOLDER holds the prepared series (bench/fc_prepare.py), OURS_DUMP is
`fcbench -d`'s output; each NAME=DUMP another of our models (`fcbench -d
-m`), scored beside them on the series and origins it forecast among
those every other method did (its series column says how many), and left
out of the verdict. The baselines are written to OUTDIR in the same
format, then every method is scored by the same code from its dump:
  hw      statsmodels damped additive Holt-Winters with a daily season;
          p50 its point forecast, the other levels quantiles of 200
          simulated paths
  snaive  the value one day earlier (wrapping beyond a day), bands from
          its own errors over the 28 days before the origin
  vpa     VPA-like: P90 of the history weighted by a 24 h half-life,
          times 1.15, as the upper bound at p95 and p99; no p50 or lower
BENCH_JOBS (default: the CPUs) series are worked on at once; times are
CPU seconds of the process, so that parallel workers do not skew them."""
import glob, math, os, sys, time

for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(k, "1")  # one core per worker, as ours runs
import numpy as np

M = 288  # one day of 5-minute steps
HS = (48, 288)
LEVELS = (0.025, 0.5, 0.95, 0.975, 0.99)
SETS = (("bb-cpu", "Bitbrains cpu"), ("bb-mem", "Bitbrains memory"), ("ms", "Microsoft"), ("nab", "NAB"))
METHODS = (("ours", "ours"), ("hw", "statsmodels HW"), ("snaive", "seasonal naive"), ("vpa", "VPA-like"))
NAN = float("nan")


def origins_of(n, H, R):
    # as fcbench -d: one day apart going back from the end, enough history
    return [n - r * M for r in range(1, R + 1)] if n >= R * M + 3 * M + H else []


def hw(x, o, H):
    import warnings
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    warnings.filterwarnings("ignore")
    fit = ExponentialSmoothing(x[:o], trend="add", damped_trend=True, seasonal="add",
                               seasonal_periods=M).fit()
    sims = np.asarray(fit.simulate(nsimulations=H, repetitions=200, error="add", anchor="end",
                                   random_state=o + H)).reshape(H, -1)
    lo, q95, q975, q99 = np.quantile(sims, [0.025, 0.95, 0.975, 0.99], axis=1)
    return np.column_stack([lo, np.asarray(fit.forecast(H)), q95, q975, q99])


def snaive(x, o, H):
    # A one-day naive forecasts step t by t - M whatever the lead (below a
    # day), so its errors at a lead bucket are x[t] - x[t - lag] over the
    # window; the buckets differ only beyond a day.
    lag = M * (np.arange(H) // M + 1)
    point = x[o + np.arange(H) - lag]
    q = np.empty((H, 5))
    for k in np.unique(lag):
        t = np.arange(max(k, o - 28 * M), o)
        e = np.quantile(x[t] - x[t - k], [0.025, 0.5, 0.95, 0.975, 0.99])
        e[1] = 0  # the median is the point itself
        q[lag == k] = point[lag == k, None] + e
    return q


def vpa(x, o, H):
    # as partition/simulate.c: weights halve every day back from the origin
    v = x[:o]
    w = 2.0 ** (-(o - np.arange(o)) / M)
    i = np.argsort(v, kind="stable")
    cw = np.cumsum(w[i])
    p90 = v[i][min(np.searchsorted(cw, 0.9 * cw[-1]), o - 1)]
    q = np.full((H, 5), NAN)
    q[:, 2] = q[:, 4] = 1.15 * p90
    return q


def baselines(path, R):
    """Dump lines and times of the three baselines on one series."""
    x = np.loadtxt(path)
    name = os.path.basename(path)[:-4]
    out = {m: [] for m in ("hw", "snaive", "vpa")}
    notes = []
    for H in HS:
        for m, f in (("hw", hw), ("snaive", snaive), ("vpa", vpa)):
            t = 0.0
            for o in origins_of(len(x), H, R):
                t0 = time.process_time()
                try:
                    q = f(x, o, H)
                except Exception as e:  # a failed fit drops the series for every method
                    notes.append("%s %s %d origin %d failed: %s" % (m, name, H, o, e))
                    continue
                t += time.process_time() - t0
                out[m].extend("%s %d %d %d %.9g %s" % (name, H, o, h, x[o + h], " ".join("%.9g" % v for v in q[h]))
                              for h in range(H))
            out[m].append("time %s %d %.6f" % (name, H, t))
    return out, notes


def read_dump(path):
    pts, secs = {}, {}
    for line in open(path):
        f = line.split()
        if f[0] == "time":
            secs[f[1], int(f[2])] = float(f[3])
        else:
            pts.setdefault((f[0], int(f[1])), {}).setdefault(int(f[2]), []).append([float(v) for v in f[3:]])
    return pts, secs


def fmt(v, spec):
    return "-" if v is None or math.isnan(v) else spec % v


def score(folder, dumps, extra=()):
    """Per (dataset, horizon, method) the metrics, over the series and
    origins that every method but the extra ones forecast."""
    data = {m: read_dump(p) for m, p in dumps.items()}
    keys = sorted(k for k in data["ours"][0]
                  if all(set(data[m][0].get(k, {})) == set(data["ours"][0][k]) for m in dumps if m not in extra))
    dropped = len(data["ours"][0]) - len(keys)
    res = {}
    for key in keys:
        name, H = key
        x = np.loadtxt(os.path.join(folder, name + ".txt"))
        first = min(data["ours"][0][key])
        scale = np.mean(np.abs(x[M:first] - x[:first - M]))  # one-day naive before the oldest origin
        ds = next((d for d, _ in SETS if name.startswith(d + "-")), None)
        for m in dumps:
            if m in extra and set(data[m][0].get(key, {})) != set(data["ours"][0][key]):
                continue  # too short for it at some origin
            r = res.setdefault((ds, H, m), {"y": [], "q": [], "mase": [], "sec": []})
            ys, qs = [], []
            for o, rows in sorted(data[m][0][key].items()):
                a = np.array(rows)
                ys.append(x[o + a[:, 0].astype(int)])
                qs.append(a[:, 2:])
            y, q = np.concatenate(ys), np.vstack(qs)
            r["y"].append(y)
            r["q"].append(q)
            r["mase"].append(np.mean(np.abs(y - q[:, 1])) / scale if scale > 0 else NAN)
            r["sec"].append(data[m][1].get(key, NAN))
    out = {}
    for k, r in res.items():
        y, q = np.concatenate(r["y"]), np.vstack(r["q"])
        mase = np.array(r["mase"])
        ok = mase[~np.isnan(mase)]
        two = NAN if np.isnan(q[:, 0]).all() else float(np.mean((q[:, 0] <= y) & (y <= q[:, 3])))
        out[k] = {
            "series": len(r["y"]), "points": len(y),
            "cov95": float(np.mean(y <= q[:, 2])), "cov99": float(np.mean(y <= q[:, 4])),
            "ru95": float(q[:, 2].sum() / y.sum()), "ru99": float(q[:, 4].sum() / y.sum()),
            "two": two,
            "mase": float(np.mean(ok)) if len(ok) else NAN,
            "mase_med": float(np.median(ok)) if len(ok) else NAN,
            "sec": float(np.nanmean(r["sec"])),
        }
    return out, dropped


def tables(out, R, extra=()):
    cols = "%-17s %-15s %6s %7s  %7s %7s  %7s %7s  %10s  %9s %9s  %9s"
    for H in HS:
        print("\nforecast %d h (%d steps of 5 min), %d daily origins per series; coverage and reserved/used pooled over"
              " the dataset's series and origins" % (H // 12, H, R))
        print(cols % ("dataset", "method", "series", "points", "cov p95", "cov p99", "r/u p95", "r/u p99",
                      "[p2.5,97.5]", "MASE mean", "MASE med", "s/series"))
        for ds, label in SETS:
            for m, mlabel in METHODS[:1] + tuple((e, "ours " + e) for e in extra) + METHODS[1:]:
                s = out.get((ds, H, m))
                if s:
                    print(cols % (label, mlabel, s["series"], s["points"], fmt(s["cov95"], "%.3f"),
                                  fmt(s["cov99"], "%.3f"), fmt(s["ru95"], "%.2f"), fmt(s["ru99"], "%.2f"),
                                  fmt(s["two"], "%.3f"), fmt(s["mase"], "%.3f"), fmt(s["mase_med"], "%.3f"),
                                  fmt(s["sec"], "%.4f")))


def verdict(out):
    """MET/MISSED for ours, per target, horizon and dataset."""
    def cmp(ok):
        return "n/a" if ok is None else ("MET" if ok else "MISSED")

    def t_cov(lv, goal):
        return lambda d, H, s: (s["cov%d" % lv] >= goal, "%.3f" % s["cov%d" % lv])

    def t_vpa(d, H, s):
        v = out.get((d, H, "vpa"))
        if not v or s["cov95"] < v["cov95"]:
            return None, "cov<vpa"  # only binding at equal or better coverage
        return s["ru95"] <= v["ru95"], "%.2f/%.2f" % (s["ru95"], v["ru95"])

    def t_hw(key):
        def t(d, H, s):
            v = out.get((d, H, "hw"))
            if not v or math.isnan(v[key]) or math.isnan(s[key]):
                return None, "-"
            return s[key] <= v[key], "%.3f/%.3f" % (s[key], v[key])
        return t

    def t_speed(d, H, s):
        v = out.get((d, H, "hw"))
        if not v or not s["sec"] > 0:
            return None, "-"
        return v["sec"] / s["sec"] >= 20, "%.0fx" % (v["sec"] / s["sec"])

    targets = (
        ("upper coverage p95 >= 0.95", t_cov(95, 0.95)),
        ("upper coverage p99 >= 0.99", t_cov(99, 0.99)),
        ("[p2.5,p97.5] within [0.93, 0.97]", lambda d, H, s: (0.93 <= s["two"] <= 0.97, "%.3f" % s["two"])),
        ("r/u p95 <= 1.6 (4 h), 1.9 (24 h)",
         lambda d, H, s: (s["ru95"] <= (1.6 if H == 48 else 1.9), "%.2f" % s["ru95"])),
        ("r/u p95 <= VPA-like's (ours/vpa)", t_vpa),
        ("r/u p99 <= 2.0 (memory)",
         lambda d, H, s: (s["ru99"] <= 2.0, "%.2f" % s["ru99"]) if d == "bb-mem" else (None, "")),
        ("MASE mean <= HW's (ours/hw)", t_hw("mase")),
        ("MASE median <= HW's (ours/hw)", t_hw("mase_med")),
        ("speed >= 20x HW per series", t_speed),
    )
    sets = [(d, l) for d, l in SETS if any(k[0] == d for k in out)]
    print("\nverdict for ours (value in brackets; n/a: the target does not apply)")
    print("%-34s %4s  %s" % ("target", "h", "  ".join("%-22s" % l for _, l in sets)))
    met = total = 0
    for label, f in targets:
        for H in HS:
            cells = []
            for d, _ in sets:
                s = out.get((d, H, "ours"))
                ok, v = f(d, H, s) if s else (None, "")
                if ok is not None:
                    total += 1
                    met += bool(ok)
                cells.append("%-22s" % ("" if not s or (ok is None and v == "") else "%s (%s)" % (cmp(ok), v)))
            print("%-34s %4s  %s" % (label, "%dh" % (H // 12), "  ".join(cells)))
    print("met %d of %d" % (met, total))


def main(folder, origins, ours, outdir, more):
    from functools import partial
    from multiprocessing import Pool
    files = sorted(glob.glob(os.path.join(folder, "*.txt")))
    os.makedirs(outdir, exist_ok=True)
    dumps = {"ours": ours}
    extra = tuple(a.split("=", 1)[0] for a in more)
    dumps.update(a.split("=", 1) for a in more)
    lines = {m: [] for m in ("hw", "snaive", "vpa")}
    with Pool(int(os.environ.get("BENCH_JOBS") or os.cpu_count() or 1)) as pool:
        for out, notes in pool.imap(partial(baselines, R=origins), files):
            for m in lines:
                lines[m].extend(out[m])
            for n in notes:
                print("note:", n)
    for m, ls in lines.items():
        dumps[m] = os.path.join(outdir, m + ".txt")
        with open(dumps[m], "w") as f:
            f.write("\n".join(ls) + "\n")
    out, dropped = score(folder, dumps, extra)
    if dropped:
        print("note: %d series and horizons dropped, not forecast at every origin by every method" % dropped)
    tables(out, origins, extra)
    verdict(out)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:])

"""statsmodels on the same series and splits as bench/fcbench.c:
seasonal naive and damped additive ExponentialSmoothing, MASE with the
seasonal scale (in-sample seasonal naive MAE before the first origin)."""
import glob, math, os, sys, time, warnings

import numpy as np
from statsmodels.tsa.holtwinters import ExponentialSmoothing

warnings.filterwarnings("ignore")
M = 288


def main(folder, origins):
    for H, label in ((48, "4h"), (288, "24h")):
        tot = {"snaive": [], "ets": []}
        t0 = time.time()
        for f in sorted(glob.glob(os.path.join(folder, "*.txt"))):
            x = np.loadtxt(f)
            n = len(x)
            first = n - origins * H
            if first < 3 * M + H:
                continue
            scale = np.mean(np.abs(x[M:first] - x[: first - M]))
            if not scale > 0:
                continue
            err = {"snaive": [], "ets": []}
            for r in range(1, origins + 1):
                o = n - r * H
                train, test = x[:o], x[o:o + H]
                sn = np.array([train[o + h - M * (h // M + 1)] for h in range(H)])
                err["snaive"].extend(np.abs(test - sn))
                try:
                    fit = ExponentialSmoothing(train, trend="add", damped_trend=True, seasonal="add",
                                               seasonal_periods=M).fit()
                    err["ets"].extend(np.abs(test - fit.forecast(H)))
                except Exception:
                    err["ets"].extend(np.abs(test - sn))
            for k in err:
                tot[k].append(np.mean(err[k]) / scale)
        wall = time.time() - t0
        print("statsmodels %-4s series %3d  MASE snaive %.3f  ets %.3f  (mean over series)  wall %.1fs"
              % (label, len(tot["ets"]), np.mean(tot["snaive"]), np.mean(tot["ets"]), wall))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))

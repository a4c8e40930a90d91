"""Advice that holds: each remedy a plan lists, done to its inputs and
planned again through the CLI, must come out as the remedy says.

check-remedies.py BIN INVENTORY SCHEDULE NOW PLAN_JSON prints a line per
remedy: "ok REMEDY" when planning again gives what it says (a plan that
fits: exit 0 or 2; a remedy said not to fit: exit 3), "BAD ..." when not.
Runs the binary with an argument list (no shell)."""
import json
import re
import subprocess
import sys

binp, inv_path, sched_path, now, plan_path = sys.argv[1:6]
UNITS = {"cores": 1.0, "MiB": 1048576.0, "MiB/s": 1048576.0}
for i, remedy in enumerate(json.load(open(plan_path)).get("remedies", [])):
    inv, sched = json.load(open(inv_path)), json.load(open(sched_path))
    fits = "the plan fits" in remedy
    timing_ok = False
    m = re.match(r"more capacity: (.*?)(?:: the plan fits| is not enough)", remedy)
    c = re.match(r"(?:no )?(cpu|memory|io|net) confidence (?:down to )?([0-9.]+)", remedy)
    if m:
        for amount, unit, res, part in re.findall(r"([0-9.e+]+) (cores|MiB/s|MiB)(?: (memory|io|net))? on '([^']+)'",
                                                  m.group(1)):
            p = next(p for p in inv["partitions"] if p["name"] == part)
            p["capacity"][res or "cpu"] += float(amount) * UNITS[unit]
    elif c:
        sched.setdefault("confidence", {})[c.group(1)] = float(c.group(2))
    elif remedy.startswith("max_concurrency "):
        sched["max_concurrency"] = int(remedy.split()[1].rstrip(":"))
        timing_ok = True
    else:
        print("BAD: a remedy this check does not know:", remedy)
        continue
    json.dump(inv, open("remedy-inv-%d.json" % i, "w"))
    json.dump(sched, open("remedy-sched-%d.json" % i, "w"))
    out = subprocess.run([binp, "plan", "-i", "remedy-inv-%d.json" % i, "-s", "remedy-sched-%d.json" % i,
                          "--now", now, "--no-write"], capture_output=True, text=True)
    good = out.returncode in (0, 2) if fits else out.returncode == 3
    if timing_ok and "timing:" in out.stdout:
        good = False
    print("ok" if good else "BAD (exit %d)" % out.returncode, remedy)

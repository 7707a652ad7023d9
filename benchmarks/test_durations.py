"""Measure every test's duration and write tests/slow_tests.json: the tests over the threshold, which
tests/conftest.py marks slow at collection (so `python -m pytest` stays a few minutes on 2 cores).

    python benchmarks/test_durations.py [--threshold 4] [--from durations.jsonl] [--update]

Runs the whole suite (fast and slow, on every core, `-p no:randomly`) with a plugin that records each
test's setup + call + teardown seconds, unless `--from` gives such a record already. The machine's load
changes the figures: the file records the load average and the date of the run. With `--update`, the
record (e.g. of the slow set alone: `-m slow`) refreshes the seconds of the tests it measured and adds
those over the threshold; the other tests keep their entries. tests/conftest.py also runs the tests in
the order of these seconds, longest first, so the longest do not start last on a worker.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "slow_tests.json")

PLUGIN = '''
import json, os
def pytest_runtest_logreport(report):
    if getattr(report, "node", None) is not None:
        return   # pytest-xdist's controller hears each worker's report again (with the worker as `node`)
    with open(os.environ["SWS_DURATIONS"], "a") as f:
        f.write(json.dumps({"id": report.nodeid, "d": report.duration}) + "\\n")
'''


def measure(record: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "sws_durations_plugin.py"), "w") as f:
            f.write(PLUGIN)
        env = dict(os.environ, SWS_DURATIONS=record,
                   PYTHONPATH=os.pathsep.join([tmp, ROOT, os.environ.get("PYTHONPATH", "")]))
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "sws_durations_plugin", "-m", "slow or not slow"],
                       cwd=ROOT, env=env, check=False)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # The project's threshold (CONTRIBUTING.md, "Testing"): 4 s since 2026-12-07, 10 s before
    ap.add_argument("--threshold", type=float, default=4.0, help="seconds (default %(default)s)")
    ap.add_argument("--from", dest="record", help="a durations record (JSON lines: id, d) instead of a run")
    ap.add_argument("--update", action="store_true",
                    help="refresh the tests the record measured, keep the others (default: rewrite the file)")
    args = ap.parse_args(argv)
    record = args.record
    if record is None:
        record = os.path.join(tempfile.mkdtemp(), "durations.jsonl")
        load = os.getloadavg()[0]
        measure(record)
    else:
        load = None
    total = collections.defaultdict(float)
    with open(record) as f:
        for line in f:
            r = json.loads(line)
            total[r["id"]] += r["d"]
    slow = {k: round(v, 1) for k, v in sorted(total.items()) if v > args.threshold}
    fast = round(sum(v for k, v in total.items() if k not in slow))
    if args.update:
        with open(OUT) as f:
            before = json.load(f)
        kept = before["tests"]
        # The record of an update is usually the slow set's (`-m slow`): its other tests are those marked slow
        # in their files, not the fast run, whose seconds stay those of the last whole run.
        fast = before.get("seconds_fast")
        slow = dict(sorted({**kept, **{k: round(v, 1) for k, v in total.items() if k in kept}, **slow}.items()))
    doc = {"threshold_s": args.threshold, "measured": datetime.date.today().isoformat(),
           "load_average_at_start": load, "tests_measured": len(total),
           "seconds_fast": fast, "updated": args.update,
           "seconds_slow": round(sum(slow.values())), "tests": slow}
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    if args.update:
        print(f"{len(total)} tests measured, {len(slow)} in the file ({doc['seconds_slow']} s), written to "
              f"{os.path.relpath(OUT, ROOT)}")
        return 0
    print(f"{len(slow)} of {len(total)} tests over {args.threshold:g} s ({doc['seconds_slow']} s); the others "
          f"{doc['seconds_fast']} s in all; written to {os.path.relpath(OUT, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Long measurement for docs/results/analog.md, "The side-by-side study" (issue 26 item 3): MiniLM through the PCM
preset (read at one hour, global drift compensation) at 0%, 30% and 50% SparseGPT sparsity, with the dense, natural
order, SWS and objective plans, at noise x0.3 (where the plans differ) and x0.1, token cosine and (some points)
paraphrase retrieval with its margin and own-paraphrase rank (at 30%: x0.3, and x1 without and with the 1 x remedy),
2 chip instances a point.

    OPENBLAS_NUM_THREADS=1 nice -n 10 python benchmarks/analog_side_by_side.py [--out build/study3] [--only N]
        [--plot-only]

Runs one `sws fidelity --analog` command per sparsity and plan (in the priority order of RUNS; a result already in
--out is reused, so an interrupted study resumes; a run whose result is not in --out but whose points, by their
command, are in the docs/results/analog_side_by_side.json of an earlier session is not run again: its points are
kept, unless it is a retrieval run made before the retrieval margin and rank were reported), adds the 30% points measured earlier with the same commands
(docs/results/analog.json, benchmarks/analog_minilm_study.py), prints the table and writes
docs/results/analog_side_by_side.json and docs/results/analog_side_by_side.png. One run: ~8 min a chip instance
on the loaded shared 2-core machine (3 min of CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

BASE = ["--analog", "pcm", "--prune", "sparsegpt", "--seeds", "2"]
#: The cheapest remedy that met the goal at the preset's own noise (docs/results/analog.md, "At the preset's own
#: noise"): sign-magnitude drive, input-aware conversions, two more ADC bits on the top 7 weight bits, leak correction.
REMEDY_1X = ("--input-encoding", "signmag", "--input-aware", "--fine-bits", "7", "--fine-extra", "2",
             "--leak-correction")
#: (name, sparsity, plan, noise scale, retrieval, remedy arguments) in the order they run: the three plans at 50%, SWS
#: and dense at 0% (SWS and dense at 30% come from docs/results/analog.json), the objective's choice at 30% (where it
#: was measured), natural at 30% and 0%, the objective at 0% and 50%; then paraphrase retrieval at 30% (the paraphrase
#: sentences' tokens through the crossbars too, 4.1x the tokens: dense, SWS, the objective), x0.1 at 50%, paraphrase
#: retrieval at 30% and 1 x (SWS and dense without remedy, then with REMEDY_1X), then x0.1 at 0%.
RUNS = [(f"s{int(100 * s)}_{p}", s, p, 0.3, False, ()) for s, p in
        [(0.5, "sws"), (0.5, "dense"), (0.5, "natural"), (0.0, "sws"), (0.0, "dense"), (0.3, "objective"),
         (0.3, "natural"), (0.0, "natural"), (0.0, "objective"), (0.5, "objective")]] + \
       [(f"s30_{p}_retrieval", 0.3, p, 0.3, True, ()) for p in ("dense", "sws", "objective")] + \
       [(f"s50_{p}_x0.1", 0.5, p, 0.1, False, ()) for p in ("sws", "dense")] + \
       [(f"s30_{p}_x1_retrieval", 0.3, p, 1.0, True, ()) for p in ("sws", "dense")] + \
       [(f"s30_{p}_x1_remedy_retrieval", 0.3, p, 1.0, True, REMEDY_1X) for p in ("sws", "dense")] + \
       [(f"s0_{p}_x0.1", 0.0, p, 0.1, False, ()) for p in ("sws", "dense")]
#: The earlier runs at 30% reused (docs/results/analog.json), by their name there.
EARLIER = ("s30_plain", "s30_scales")


def command(sparsity: float, plan: str, scale: float = 0.3, retrieval: bool = False, remedy=()) -> list[str]:
    return ["sws", "fidelity", *BASE, *([] if retrieval else ["--no-retrieval"]), "--noise-scales", f"{scale:g}",
            "--sparsities", f"{sparsity:g}", "--plans", plan, *remedy]


def run_label(sparsity: float, plan: str, scale: float, retrieval: bool, remedy=()) -> str:
    """What a run adds to (or, for its noise scale and retrieval, changes in) the table's base command."""
    return (f"--sparsities {sparsity:g} --plans {plan}" + (f" --noise-scales {scale:g}" if scale != 0.3 else "")
            + "".join(f" {a}" for a in remedy) + (" (retrieval)" if retrieval else ""))


def _predates_margin(points: list[dict]) -> bool:
    """Kept points of a retrieval run made before the retrieval margin and rank were reported: run it again."""
    return any(r["with_paraphrases"] and "retrieval_margin" not in r for r in points)


def _done(path: str) -> bool:
    """A run's result file is there and not empty (an interrupted run leaves none, or an empty one)."""
    return os.path.exists(path) and os.path.getsize(path) > 0


def run_all(out: str, only: int | None, kept: dict[str, list[dict]]) -> None:
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1")
    for k, (name, *spec) in enumerate(RUNS[:only]):
        path = os.path.join(out, f"{name}.json")
        old = kept.get(" ".join(command(*spec)))
        if _done(path) or (old and not _predates_margin(old)):
            continue
        cmd = [sys.executable, "-m", *command(*spec), "-o", os.path.join(out, name), "--json"]
        print(f"[{k + 1}/{len(RUNS)}] {' '.join(command(*spec))}", file=sys.stderr, flush=True)
        t = time.time()
        with open(path + ".part", "w") as f:
            subprocess.run(cmd, env=env, stdout=f, check=True, cwd=ROOT)
        os.replace(path + ".part", path)
        print(f"    {time.time() - t:.0f} s", file=sys.stderr, flush=True)


def kept_points() -> dict[str, list[dict]]:
    """The points of RUNS in the docs/results/analog_side_by_side.json written earlier, by their command (their run
    folders may be gone: each session's build/study3 is its own)."""
    path = os.path.join(ROOT, "docs", "results", "analog_side_by_side.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        old = json.load(f)
    ours = {" ".join(command(*spec)) for _, *spec in RUNS}
    kept: dict[str, list[dict]] = {}
    for r in old["points"]:
        if r["command"] in ours:
            kept.setdefault(r["command"], []).append(r)
    return kept


def collect(out: str, kept: dict[str, list[dict]] | None = None) -> list[dict]:
    """Every point: one dict per sparsity, plan and noise scale, with the command that measured it; a run of RUNS
    not in `out` gives the points of `kept` (kept_points) with its command."""
    from sws.experiments.analog import remedy_label
    points = []
    for name, *spec in RUNS:
        path = os.path.join(out, f"{name}.json")
        if not _done(path):
            points.extend((kept or {}).get(" ".join(command(*spec)), []))
            continue
        with open(path) as f:
            res = json.load(f)
        for r in res["rows"]:
            points.append({**r, "remedy": remedy_label(res), "seeds": res["seeds"],
                           "with_paraphrases": res["retrieval"], "paraphrase_sentences": 2 * res["paraphrase_pairs"],
                           "command": " ".join(command(*spec)), "run": run_label(*spec)})
    with open(os.path.join(ROOT, "docs", "results", "analog.json")) as f:
        earlier = json.load(f)
    for name, res in zip(earlier["commands"], earlier["results"]):
        for r in res["rows"]:
            cmd = earlier["commands"][name]
            points.append({**r, "remedy": remedy_label(res), "seeds": res["seeds"], "command": " ".join(cmd),
                           "with_paraphrases": res["retrieval"],
                           "run": "analog.json " + " ".join(a for a in cmd[cmd.index("--plans"):])})
    return points


def table(points: list[dict]) -> str:
    """Every point; `run` is what its command adds to `sws fidelity` + BASE + `--no-retrieval --noise-scales 0.3`
    (or, for the earlier points, to the command of docs/results/analog.json). Retrieval: the fraction of the
    paraphrase sentences whose nearest neighbour is their own paraphrase, on the ideal crossbars / through the analog
    model; a run with retrieval puts the paraphrase sentences' tokens through the crossbars too (one input scale per
    layer over all the tokens), so its cosines differ a little from the same point's without. Retrieval margin and
    rank (sws.experiments.pruning.retrieval_ranking; the runs made since it exists): the own paraphrase's cosine less
    the nearest other sentence's, and its rank among the 63 others, means over the sentences."""
    plans = ["dense", "natural", "sws", "objective"]
    lines = ["| sparsity | plan | noise x | remedy | ADC nJ/token (planned) | ideal crossbars | analog cosine (2 chips) "
             "| per chip | retrieval: ideal, analog (2 chips) | retrieval margin: ideal, analog (2 chips); own rank "
             "| run |",
             "|---:|---|---:|---|---:|---:|---:|---|---:|---:|---|"]
    key = lambda r: (r["sparsity"], r["remedy"] != "no remedy", r["noise_scale"], r["remedy"], plans.index(r["plan"]),
                     r["with_paraphrases"])
    for r in sorted(points, key=key):
        c, q = r["cosine"], r.get("retrieval")
        ret = (f"{100 * r['retrieval_digital']:.1f}%, {100 * q['mean']:.1f}% +- {100 * q['std']:.1f}%" if q else "-")
        m, k = r.get("retrieval_margin"), r.get("retrieval_rank")
        margin = (f"{r['retrieval_margin_digital']:.4f}, {m['mean']:.4f} +- {m['std']:.4f}; "
                  f"{r['retrieval_rank_digital']:.2f}, {k['mean']:.2f} +- {k['std']:.2f}" if m else "-")
        lines.append(f"| {r['sparsity']:g} | {r['plan']} | {r['noise_scale']:g} | {r['remedy']} | "
                     f"{r['energy_pj'] / 1000:.0f} | {r['cosine_digital']:.4f} | {c['mean']:.4f} +- {c['std']:.4f} | "
                     f"{', '.join(f'{v:.4f}' for v in c['per_seed'])} | {ret} | {margin} | `{r['run']}` |")
    return "\n".join(lines) + "\n"


LOW = 0.84   # the plot's lowest cosine; points below it are drawn on the axis and given as text
STYLE = {"dense": ("s", "C0"), "natural": ("^", "C2"), "sws": ("o", "C3"), "objective": ("D", "C4")}


def plot(points: list[dict], path: str) -> None:
    """One panel per sparsity: token cosine against noise level per plan (ideal crossbars at 0), error bars the
    chips' std; at 1 x with the remedy (sign-magnitude drive, input-aware, +2 ADC bits, leak correction, 2 cells a bit),
    measured at 30% for SWS and dense, as an open marker of its own. The cosines are those of the runs without the
    paraphrase sentences. A second row: paraphrase retrieval, its margin and the own paraphrase's rank against noise
    level, per plan (at 30%; the runs with the paraphrase sentences), the 1 x remedy of one cell a bit (sign-magnitude
    drive, input-aware, +2 ADC bits, leak correction) as an open marker."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    levels = ["0 (ideal)", "0.1", "0.3", "1", "1, remedy"]
    cos_points = [r for r in points if not r["with_paraphrases"]]
    ret_points = [r for r in points if r.get("retrieval")]
    sparsities = sorted({r["sparsity"] for r in cos_points})
    cols = max(len(sparsities), 3)
    fig, axes = plt.subplots(1 + bool(ret_points), cols, figsize=(4.6 * cols, 4.4 * (1 + bool(ret_points))),
                             squeeze=False)
    axes = list(axes.ravel())
    for ax, s in zip(axes, sparsities):
        notes = []
        for plan, (marker, colour) in STYLE.items():
            rs = [r for r in cos_points if r["sparsity"] == s and r["plan"] == plan]
            if not rs:
                continue
            pts = {0: (rs[0]["cosine_digital"], 0.0)}
            for r in rs:
                if r["remedy"] == "no remedy":
                    pts[levels.index(f"{r['noise_scale']:g}")] = (r["cosine"]["mean"], r["cosine"]["std"])
                elif r["noise_scale"] == 1 and "2 cells per bit" in r["remedy"]:   # measured for both SWS and dense
                    pts[4] = (r["cosine"]["mean"], r["cosine"]["std"])
            off = (list(STYLE).index(plan) - 1.5) * 0.06
            plain = sorted(x for x in pts if x < 4)
            ax.errorbar([x + off for x in plain], [max(pts[x][0], LOW) for x in plain],
                        yerr=[pts[x][1] for x in plain], marker=marker, color=colour, capsize=3, lw=0.8, label=plan)
            below = [f"{levels[x]}: {pts[x][0]:.3f}" for x in plain if pts[x][0] < LOW]
            if below:   # off the axis (the preset's own noise without remedy): the value as text
                notes.append(f"{plan} " + ", ".join(below))
            if 4 in pts:   # with the remedy: another configuration, not on the line
                ax.errorbar([4 + off], [pts[4][0]], yerr=[pts[4][1]], marker=marker, color=colour, mfc="white",
                            capsize=3, ls="none")
        if notes:
            ax.text(0.98, 0.02, "below the axis at\n" + "\n".join(notes), transform=ax.transAxes, ha="right",
                    va="bottom", fontsize=7)
        ax.axhline(0.95, color="red", lw=0.6, ls=":")
        ax.set_xticks(range(len(levels)), levels, fontsize=8)
        ax.set_title(f"token cosine, sparsity {s:g} (SparseGPT)", fontsize=9)
        ax.set_xlabel("noise level (x every noise std of the PCM preset)", fontsize=8)
        ax.set_ylim(LOW, 0.99)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    axes[0].set_ylabel("token cosine vs unpruned float model")
    if ret_points:
        n = ret_points[0].get("paraphrase_sentences")
        panels_ret = [("retrieval", 100, "own paraphrase nearest, %",
                       "paraphrase retrieval" + (f" ({n} sentences)" if n else "")),
                      ("retrieval_margin", 1, "own paraphrase's cosine less the nearest other's (mean)",
                       "retrieval margin"),
                      ("retrieval_rank", 1, "own paraphrase's rank among the others (mean; 1 = nearest)",
                       "own paraphrase's rank")]
        ret_sparsities = sorted({r["sparsity"] for r in ret_points})
        for ax, (key, unit, ylabel, title) in zip(axes[len(sparsities):], panels_ret):
            for s in ret_sparsities:
                for plan, (marker, colour) in STYLE.items():
                    rs = sorted((r for r in ret_points if r["sparsity"] == s and r["plan"] == plan and r.get(key)),
                                key=lambda r: r["noise_scale"])
                    if not rs:
                        continue
                    off = (list(STYLE).index(plan) - 1.5) * 0.06
                    plain = [r for r in rs if r["remedy"] == "no remedy"]
                    xs = [0] + [levels.index(f"{r['noise_scale']:g}") for r in plain]
                    ax.errorbar([x + off for x in xs], [unit * rs[0][f"{key}_digital"]] +
                                [unit * r[key]["mean"] for r in plain], yerr=[0] + [unit * r[key]["std"] for r in plain],
                                marker=marker, color=colour, capsize=3, lw=0.8,
                                label=plan + (f", sparsity {s:g}" if len(ret_sparsities) > 1 else ""))
                    for r in rs:   # 1 x with the remedy (one cell a bit): another configuration, not on the line
                        if r["remedy"] != "no remedy" and r["noise_scale"] == 1:
                            ax.errorbar([4 + off], [unit * r[key]["mean"]], yerr=[unit * r[key]["std"]],
                                        marker=marker, color=colour, mfc="white", capsize=3, ls="none")
            ax.set_xticks(range(len(levels)), levels, fontsize=8)
            if key == "retrieval":
                ax.set_ylim(-2, 102)
            ax.set_title(title + (f", sparsity {ret_sparsities[0]:g} (SparseGPT)" if len(ret_sparsities) == 1 else ""),
                         fontsize=9)
            ax.set_ylabel(ylabel, fontsize=8)
            ax.set_xlabel("noise level (x every noise std of the PCM preset)", fontsize=8)
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7, loc="best")
    fig.suptitle("MiniLM through PCM crossbars read 1 h after programming (2 chips a point; red: 0.95)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(ROOT, "build", "study3"))
    p.add_argument("--only", type=int, default=None, help="run only the first N of RUNS")
    p.add_argument("--plot-only", action="store_true", help="run nothing: table and plot of the results in --out")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    kept = kept_points()
    if not args.plot_only:
        run_all(args.out, args.only, kept)
    points = collect(args.out, kept)
    print(table(points))
    with open(os.path.join(ROOT, "docs", "results", "analog_side_by_side.json"), "w") as f:
        json.dump({"base": BASE, "points": points}, f, indent=1)
    plot(points, os.path.join(ROOT, "docs", "results", "analog_side_by_side.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

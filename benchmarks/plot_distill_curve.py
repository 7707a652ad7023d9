"""The measured curve of docs/results/minilm-distill.md's block-wise section: token cosine against training minutes.

    python benchmarks/plot_distill_curve.py [docs/results/minilm-distill-blockwise.json] [out.png]

The JSON holds what build/trials measured (each point: a `sws prune` model or checkpoint exported as int8 ONNX
and compared with the unpruned int8 model on the 16 evaluation sentences, as the page's table is).
"""

import json
import os
import sys


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join("docs", "results", "minilm-distill-blockwise.json")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join("docs", "results", "distill_blockwise_curve.png")
    with open(src) as f:
        data = json.load(f)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for run in data["runs"]:
        xs, ys = zip(*run["points"])
        ax.plot(xs, ys, marker=run.get("marker", "o"), label=run["label"])
    ax.set_xlim(0, max(x for run in data["runs"] for x, _ in run["points"]) * 1.1)
    for ref in data.get("references", []):
        ax.axhline(ref["cosine"], ls=":", color=ref.get("color", "grey"), lw=1)
        ax.text(0.5, ref["cosine"] + 0.004, ref["label"], fontsize=8, color="dimgrey")
    ax.set_xlabel("training wall time, minutes (2 XLA threads, nice 10, shared 2-core machine)")
    ax.set_ylabel("token cosine vs unpruned int8")
    ax.set_title(data.get("title", "MiniLM at 70% sparsity"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper right", bbox_to_anchor=(1, 0.93))
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(out)


if __name__ == "__main__":
    main()

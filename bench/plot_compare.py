#!/usr/bin/python3
"""Draws compare_cpu's JSON report into one PNG: recall@k vs queries/s per system (left, log-scale
queries/s) and the build time of each system (right, bars labelled with build seconds, vectors/s
and peak build memory). The title names the metric; the recall axis says "(ties)" for a report
scored with --recall ties.

usage: /usr/bin/python3 bench/plot_compare.py REPORT.json OUT.png

compare_cpu --plot OUT.png runs it. It needs matplotlib (Debian: python3-matplotlib), which the
Debian interpreter /usr/bin/python3 has; another python3 first on PATH may not.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

# One fixed colour and marker per system, so that figures of several runs compare at a glance.
STYLE = {
    "annforge": ("#d62728", "o"),
    "hnswlib": ("#1f77b4", "s"),
    "export-hnswlib": ("#ff7f0e", "P"),  # annforge's graph searched by hnswlib
    "faiss-export": ("#8c564b", "X"),    # annforge's graph searched by FAISS
    "faiss-hnsw40": ("#2ca02c", "^"),
    "faiss-hnsw200": ("#006400", "v"),
    "faiss-nsg": ("#9467bd", "D"),
    "exact": ("#000000", "*"),
}


def style(key):
    return STYLE.get(key, ("#7f7f7f", "x"))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot_compare.py REPORT.json OUT.png")
    with open(sys.argv[1]) as handle:
        report = json.load(handle)
    if report.get("mode", "compare") != "compare":
        sys.exit("plot_compare.py: %s is not a comparison report (mode %s)" % (sys.argv[1], report.get("mode")))
    systems = [s for s in report["systems"] if not s.get("error")]
    if not systems:
        sys.exit("plot_compare.py: no system in %s has figures" % sys.argv[1])
    k = report["k"]
    # Reports written before --metric and --recall have neither: L2, recall by ids.
    metric = report.get("metric", "l2")
    ties = report.get("recall_mode", "ids") == "ties"
    recall_name = "recall@%d%s" % (k, " (ties)" if ties else "")

    figure, (curves, bars) = plt.subplots(1, 2, figsize=(15, 6.2), gridspec_kw={"width_ratios": [1.25, 1]})

    # Left: the search trade-off, one line per system, each point labelled with its width.
    for system in systems:
        colour, marker = style(system["system"])
        points = [p for p in system["search"] if p["recall"] is not None and p["qps"] is not None]
        if not points:
            continue
        qps = [p["qps"] for p in points]
        recall = [p["recall"] for p in points]
        exact = system["system"] == "exact"
        curves.plot(qps, recall, marker=marker, color=colour, linestyle="none" if exact else "-",
                    markersize=13 if exact else 6, label=system["label"])
        for point in points:
            if point["width"] is not None:
                curves.annotate(str(point["width"]), (point["qps"], point["recall"]), textcoords="offset points",
                                xytext=(4, -10), fontsize=7, color=colour)
    curves.set_xscale("log")
    # Ticks at 1, 2 and 5 of each decade, written as 2K, 5K, 10K: a log axis with labels only at
    # the powers of ten often shows a single number over a recall curve.
    curves.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    curves.xaxis.set_major_formatter(FuncFormatter(lambda value, _: format_tick(value)))
    curves.xaxis.set_minor_formatter(NullFormatter())
    curves.set_xlabel("queries/s (log scale)")
    curves.set_ylabel(recall_name)
    curves.set_title("%s vs queries/s (point labels: search width)" % recall_name, fontsize=11)
    curves.grid(True, which="both", alpha=0.3)
    curves.legend(loc="lower left", fontsize=8)

    # Right: build time per system; the exact row's "build" is its exact search of every query.
    labels, seconds, colours, notes = [], [], [], []
    for system in systems:
        if system["build_seconds"] is None:
            continue
        label = system["label"]
        if system["system"] == "exact":
            label += "\n(search of all queries)"
        labels.append(label)
        seconds.append(system["build_seconds"])
        colours.append(style(system["system"])[0])
        note = "%.2f s, %s vec/s" % (system["build_seconds"], format_rate(system["vectors_per_second"]))
        if system.get("build_peak_mib") is not None:
            note += ", %.0f MiB" % system["build_peak_mib"]
        notes.append(note)
    positions = list(range(len(labels)))
    bars.barh(positions, seconds, color=colours, alpha=0.85)
    bars.set_yticks(positions)
    bars.set_yticklabels(labels, fontsize=8)
    bars.invert_yaxis()
    bars.set_xlabel("build seconds")
    memory = "peak build memory" if any(s.get("build_peak_is_hwm") for s in systems) else "RSS growth of the build"
    bars.set_title("build time (bar labels: seconds, vectors/s, %s)" % memory, fontsize=11)
    top = max(seconds) if seconds else 1.0
    bars.set_xlim(0, top * 1.75)
    for position, value, note in zip(positions, seconds, notes):
        bars.text(value + top * 0.02, position, note, va="center", fontsize=8)
    bars.grid(True, axis="x", alpha=0.3)

    rows = report["rows"]
    title = "%s: %s%d x %d %s, metric %s, %d queries, %d threads" % (
        report["base"], "first " if report.get("rows_are_slice") else "", rows, report["dim"],
        report["element_type"], metric, report["queries"], report["threads"])
    figure.suptitle(title, fontsize=12)
    figure.tight_layout()
    figure.savefig(sys.argv[2], dpi=110)


def format_rate(value):
    if value is None:
        return "?"
    if value >= 1e6:
        return "%.2fM" % (value / 1e6)
    if value >= 1e3:
        return "%.1fK" % (value / 1e3)
    return "%.0f" % value


def format_tick(value):
    if value >= 1e6:
        return "%gM" % (value / 1e6)
    if value >= 1e3:
        return "%gK" % (value / 1e3)
    return "%g" % value


if __name__ == "__main__":
    main()

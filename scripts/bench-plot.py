"""Plots the scale curves of `scripts/bench scale`: one PNG beside each CSV in the folder given.

    python scripts/bench-plot.py docs/bench

- ingest_shards.csv       -> ingest_shards.png       (CPU ms per 1,000 dispatches; RSS each added
  shard costs, idle and after the dispatches, and the whole node's)
- projection_members.csv  -> projection_members.png  (events/s and writes/s, Redis bytes)
- pipeline_load.csv       -> pipeline_load.png       (end-to-end p50/p99 and delivered rate vs
  offered rate; written by another script, columns offered_per_s,delivered_per_s,p50_ms,p99_ms)

A CSV that is missing is skipped with a note. The title of every plot names the machine as
read from machine.txt in the same folder (written by `scripts/bench scale`), when present.
"""

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def rows(path):
    with path.open(newline="") as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def by_run(data):
    runs = {}
    for r in data:
        runs.setdefault(int(r.get("run", 1)), []).append(r)
    return runs


def machine(folder):
    m = folder / "machine.txt"
    return m.read_text().strip().splitlines()[0] if m.exists() else ""


def save(fig, path, title, folder):
    sub = machine(folder)
    fig.suptitle(title + (f"\n{sub}" if sub else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def ingest(folder):
    data = rows(folder / "ingest_shards.csv")
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    bt = b.twinx()
    for run, rs in by_run(data).items():
        x = [r["shards"] for r in rs]
        a.plot(x, [r["cpu_ms_per_1k_events"] for r in rs], "o-", label=f"pass {run}")
        # What each shard adds: RSS above the smallest shard count of the pass, per extra shard.
        first = min(rs, key=lambda r: r["shards"])
        more = [r for r in rs if r["shards"] > first["shards"]]
        xm = [r["shards"] for r in more]
        for key, style, what in [("rss_bytes", "o-", "after the dispatches"),
                                 ("rss_idle_bytes", "^-", "connected, idle")]:
            b.plot(xm, [(r[key] - first[key]) / (r["shards"] - first["shards"]) / 1024
                        for r in more], style, label=f"{what}, pass {run}")
        bt.plot(x, [r["rss_bytes"] / 2**20 for r in rs], "s--", color="tab:red", alpha=0.5,
                label=f"whole node, pass {run}")
    for ax in (a, b):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("shards on one ingest node")
        ax.grid(True, which="both", alpha=0.3)
    a.legend(fontsize=8)
    a.set_ylabel("ingest CPU ms per 1,000 dispatches")
    a.set_ylim(bottom=0)
    b.set_ylabel("RSS per added shard, KiB")
    b.set_ylim(bottom=0)
    bt.set_ylabel("RSS of the whole node, MiB", color="tab:red")
    bt.set_ylim(bottom=0)
    h1, l1 = b.get_legend_handles_labels()
    h2, l2 = bt.get_legend_handles_labels()
    b.legend(h1 + h2, l1 + l2, fontsize=7, loc="center right")
    save(fig, folder / "ingest_shards.png", "Ingest: CPU and memory as shards grow", folder)


def projection(folder):
    data = rows(folder / "projection_members.csv")
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for run, rs in by_run(data).items():
        x = [r["members"] for r in rs]
        sfx = f", pass {run}" if len(by_run(data)) > 1 else ""
        a.plot(x, [r["mix_events_per_s"] for r in rs], "o-", label="dispatch mix events/s" + sfx)
        a.plot(x, [r["mix_writes_per_s"] for r in rs], "s-", label="dispatch mix writes/s" + sfx)
        a.plot(x, [r["fill_writes_per_s"] for r in rs], "^--", label="GUILD_CREATE writes/s" + sfx)
        b.plot(x, [r["bytes_per_member"] for r in rs], "o-", label="bytes per member" + sfx)
    bt = b.twinx()
    for run, rs in by_run(data).items():
        bt.plot([r["members"] for r in rs], [r["used_memory_bytes"] / 2**20 for r in rs],
                "s--", color="tab:red", alpha=0.6, label="used_memory delta (MiB)")
    bt.set_ylabel("Redis used_memory delta, MiB", color="tab:red")
    for ax in (a, b):
        ax.set_xscale("log")
        ax.set_xlabel("cached members")
        ax.grid(True, which="both", alpha=0.3)
    a.set_ylabel("per second")
    a.set_yscale("log")
    a.legend(fontsize=8)
    b.set_ylabel("Redis bytes per cached member")
    b.set_ylim(bottom=0)
    lines = b.get_legend_handles_labels()
    extra = bt.get_legend_handles_labels()
    b.legend(lines[0] + extra[0][:1], lines[1] + extra[1][:1], fontsize=8, loc="lower right")
    save(fig, folder / "projection_members.png", "State worker: projection as the cache grows", folder)


def pipeline(folder):
    data = sorted(rows(folder / "pipeline_load.csv"), key=lambda r: r["offered_per_s"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    x = [r["offered_per_s"] for r in data]
    a.plot(x, [r["p50_ms"] for r in data], "o-", label="p50")
    a.plot(x, [r["p99_ms"] for r in data], "s-", label="p99")
    a.set_ylabel("end-to-end latency, ms")
    a.set_yscale("log")
    b.plot(x, [r["delivered_per_s"] for r in data], "o-", label="delivered")
    b.plot(x, x, "k:", alpha=0.5, label="offered")
    b.set_ylabel("events/s")
    for ax in (a, b):
        ax.set_xlabel("offered events/s")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    save(fig, folder / "pipeline_load.png", "Pipeline: latency vs offered load", folder)


def main():
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/bench")
    for name, plot in [
        ("ingest_shards.csv", ingest),
        ("projection_members.csv", projection),
        ("pipeline_load.csv", pipeline),
    ]:
        if (folder / name).exists():
            plot(folder)
        else:
            print(f"{folder / name}: not there, not plotted")


if __name__ == "__main__":
    main()

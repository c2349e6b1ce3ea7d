"""Benchmark results: the JSON record, a PNG chart, and the table in the README."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _fmt(value, unit=""):
    return "—" if value is None else f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"


def _verdict(ok) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def table_rows(result: dict) -> list[tuple[str, str, str, str]]:
    """(case, measured, target, verdict) rows."""
    rows = []
    a = result.get("audience_build")
    if a:
        rows.append(
            (
                "1. Audience build",
                f"{a['rows']:,} rows in {a['ours_seconds']} s vs psql {a['psql_seconds']} s (ratio {a['ratio']})",
                "ratio ≤ 1.5",
                _verdict(a["ratio"] <= 1.5),
            )
        )
    d = result.get("dispatch")
    if d:
        rate = d["messages_per_second"]
        rows.append(
            (
                "2. Dispatch",
                f"{rate['1']:,}/s with 1 worker, {rate['2']:,}/s with 2; bare HTTP loop "
                f"{d['http_baseline_per_second']['2']:,}/s (ratio {d['ratio_2_workers']})",
                "≥ 1,000/s, ratio ≥ 0.5",
                _verdict(rate["2"] >= 1000 and (d["ratio_2_workers"] or 0) >= 0.5),
            )
        )
    m = result.get("memory")
    if m and m.get("ratio") is not None:
        peaks = ", ".join(
            f"{int(k):,}: {v} MB" for k, v in sorted(m["worker_peak_mb"].items(), key=lambda kv: int(kv[0]))
        )
        rows.append(
            (
                "3. Memory (peak RSS per worker process)",
                f"{peaks}; beat {m['beat_peak_mb']} MB (ratio {m['ratio']})",
                "largest / 10,000 ≤ 1.25",
                _verdict(m["ratio"] <= 1.25),
            )
        )
    o = (result.get("end_to_end") or {}).get("optout_under_load")
    if o:
        rows.append(
            (
                "4. STOP under load",
                f"{o['ok']:,} STOPs at 200/s: p50 {o['p50_ms']} ms, p99 {o['p99_ms']} ms; "
                f"{o['sent_after_stop']} sent after STOP",
                "p99 ≤ 50 ms, 0 after STOP",
                _verdict(o["p99_ms"] is not None and o["p99_ms"] <= 50 and o["sent_after_stop"] == 0),
            )
        )
    adm = result.get("admin")
    if adm:
        worst = max(v["p95_ms"] for v in adm["pages"].values())
        detail = "; ".join(f"{k} {v['p95_ms']} ms" for k, v in adm["pages"].items())
        rows.append(("5. Admin at scale (p95)", detail, "≤ 300 ms", _verdict(worst <= 300)))
    e = result.get("end_to_end")
    if e:
        rows.append(
            (
                "6. Campaign wall time",
                f"{e['recipients']:,} recipients: {e['wall_seconds']} s end to end "
                f"(build {e['build_seconds']} s, last send at {e['sending_done_seconds']} s, "
                f"{e['callbacks_done']:,} receipts)",
                "reported",
                "—",
            )
        )
    return rows


def markdown_table(result: dict) -> str:
    lines = [
        f"Latest run: `make bench SCALE={result['scale']}` on {result['machine']} ({result['finished_at'][:10]}, "
        f"commit {result['git'][:7]}); full record in `benchmarks/results/latest.json`.",
        "",
        "| case | measured | target | |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in table_rows(result)]
    return "\n".join(lines)


def readme_update(result: dict) -> None:
    text = README.read_text()
    block = f"{START}\n{markdown_table(result)}\n{END}"
    if START in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n## Benchmarks\n\n" + block + "\n"
    README.write_text(text)


def chart_write(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    a = result.get("audience_build")
    if a:
        axes[0].bar(
            ["smsconsent", "psql INSERT…SELECT"], [a["ours_seconds"], a["psql_seconds"]], color=["#2b6cb0", "#999"]
        )
        axes[0].set_title(f"1. Audience build, {a['rows']:,} rows (s)")
    d = result.get("dispatch")
    if d:
        labels = ["1 worker", "2 workers", "HTTP loop ×1", "HTTP loop ×2"]
        values = [
            d["messages_per_second"]["1"],
            d["messages_per_second"]["2"],
            d["http_baseline_per_second"]["1"],
            d["http_baseline_per_second"]["2"],
        ]
        axes[1].bar(labels, values, color=["#2b6cb0", "#2b6cb0", "#999", "#999"])
        axes[1].axhline(1000, color="#c53030", linestyle="--", linewidth=1)
        axes[1].set_title("2. Dispatch (messages/s)")
        axes[1].tick_params(axis="x", labelsize=8)
    m = result.get("memory")
    if m:
        scales = sorted(m["worker_peak_mb"], key=int)
        axes[2].plot([int(s) for s in scales], [m["worker_peak_mb"][s] for s in scales], marker="o")
        axes[2].set_xscale("log")
        axes[2].set_ylim(bottom=0)
        axes[2].set_title("3. Peak RSS per worker (MB) vs recipients")
    o = (result.get("end_to_end") or {}).get("optout_under_load")
    if o:
        axes[3].bar(["p50", "p99"], [o["p50_ms"], o["p99_ms"]], color="#2b6cb0")
        axes[3].axhline(50, color="#c53030", linestyle="--", linewidth=1)
        axes[3].set_title(f"4. STOP latency (ms); {o['sent_after_stop']} sent after STOP")
    fig.suptitle(f"smsconsent benchmarks at {result['scale']:,} contacts")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def results_write(result: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = result["finished_at"].replace(":", "").replace("-", "")[:15]
    path = RESULTS / f"{stamp}-{result['scale']}.json"
    payload = json.dumps(result, indent=2, default=str)
    path.write_text(payload)
    (RESULTS / "latest.json").write_text(payload)
    chart_write(result, RESULTS / "latest.png")
    return path

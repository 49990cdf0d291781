"""Figures out of a run: percentiles, the targets they are held to, a terminal table and a markdown note."""

from __future__ import annotations

import math
from typing import Any


def pct(values: list[float], *qs: float) -> dict[str, float | None]:
    if not values:
        return {f"p{q:g}": None for q in qs} | {"max": None}
    ordered = sorted(values)
    out: dict[str, float | None] = {}
    for q in qs:
        out[f"p{q:g}"] = round(ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))], 2)
    out["max"] = round(ordered[-1], 2)
    return out


def machine_share(cpu_s: float, wall_s: float, cores: int) -> float:
    """The share of the whole machine, in percent, that cpu_s of CPU time over wall_s took."""
    if wall_s <= 0 or cores <= 0:
        return 0.0
    return round(100 * cpu_s / (wall_s * cores), 1)


def generator(tool: str, cpu_s: float, wall_s: float, cores: int, **extra: Any) -> dict[str, Any]:
    """What the load generator itself cost over a phase, as the results file keeps it."""
    return {"tool": tool, "cpu_s": round(cpu_s, 3), "wall_s": round(wall_s, 3), "cores": cores,
            "machine_share_pct": machine_share(cpu_s, wall_s, cores), **extra}


def _get(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


# (name, path into the results, comparison, target, unit)
TARGETS = [
    ("gateway throughput (closed loop, max)", "closed.accepted_per_s", ">=", 6000, "scans/s"),
    ("closed loop: every scan a check-in or check-out", "closed.not_in_or_out", "==", 0, "scans"),
    ("closed loop: scan-to-Postgres p99 at saturation", "closed.postgres.lag_ms.p99", "<", 1000, "ms"),
    ("closed loop: load generator's share of the machine", "closed.generator.machine_share_pct", "<=", 10, "%"),
    ("open loop: accepted rate at the target", "open.accepted_per_s", ">=", None, "scans/s"),
    ("open loop: gateway p99", "open.latency_ms.p99", "<", 50, "ms"),
    ("open loop: every answered scan in Postgres", "open.postgres.missing", "==", 0, "rows"),
    ("open loop: scan-to-Postgres p99", "open.postgres.lag_ms.p99", "<", 1000, "ms"),
    ("recorder drain", "drain.rows_per_s", ">=", 50000, "rows/s"),
    ("dashboards: scan-to-screen p99", "dashboards.lag_ms.p99", "<", 500, "ms"),
    ("gateway peak RSS (open loop)", "open.peak_rss_mb.gateway", "<", 150, "MB"),
]


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, path, op, target, unit in TARGETS:
        if target is None:  # the open-loop target is whatever rate was asked for
            target = _get(results, "config.open_rate")
        value = _get(results, path)
        if value is None or target is None:
            out.append({"target": name, "value": None, "goal": f"{op} {target} {unit}", "met": None})
            continue
        met = {">=": value >= target, "<": value < target, "<=": value <= target, "==": value == target}[op]
        if op == ">=" and target:
            gap = f"{100 * value / target:.0f}% of target"
        elif op in ("<", "<=") and target:
            gap = f"{value / target:.2f}x the limit"
        else:
            gap = ""
        out.append({"target": name, "value": value, "goal": f"{op} {target} {unit}", "met": met, "gap": gap})
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(results: dict[str, Any]) -> str:
    rows = [("figure", "value")]
    m = results["machine"]
    rows.append(("machine", f"{m['cores_logical']} cores, {m['memory_gib']} GiB, {m['cpu_model']}"))
    rows.append(("servers", f"PostgreSQL {results['versions']['postgres']}, {results['versions']['redis']}"))
    for phase in ("open", "dashboards", "closed"):
        p = results.get(phase)
        if not p:
            continue
        if "error" in p:
            rows.append((f"{phase}: FAILED", str(p["error"])))
            continue
        gen = p.get("generator") or {}
        # The generator's own share of the machine goes beside every figure it could have bent.
        beside = f"  [generator {_fmt(gen.get('machine_share_pct'))}% of the machine]" if gen else ""
        lat = p.get("latency_ms", {})
        rows.append((f"{phase}: accepted", f"{_fmt(p['accepted_per_s'])} scans/s of {_fmt(p.get('target_rate'))} asked"
                     f" ({_fmt(p['answered_scans'])} scans, {_fmt(p['failed_scans'])} failed){beside}"))
        rows.append((f"{phase}: latency ms", f"p50 {_fmt(lat.get('p50'))}  p95 {_fmt(lat.get('p95'))}  "
                     f"p99 {_fmt(lat.get('p99'))}  max {_fmt(lat.get('max'))}{beside}"))
        if p.get("postgres"):
            lag = p["postgres"]["lag_ms"]
            rows.append((f"{phase}: to Postgres ms", f"p50 {_fmt(lag.get('p50'))}  p99 {_fmt(lag.get('p99'))}  "
                         f"(stored {_fmt(p['postgres']['stored'])}, missing {_fmt(p['postgres']['missing'])}){beside}"))
        if p.get("stored_verdicts"):
            rows.append((f"{phase}: stored verdicts", ", ".join(f"{k} {v:,}" for k, v in p["stored_verdicts"].items())))
        if gen:
            rows.append((f"{phase}: generator", f"{gen['tool']}: {_fmt(gen['cpu_s'])} CPU s over {_fmt(gen['wall_s'])} s"
                         f" on {gen['cores']} cores = {_fmt(gen['machine_share_pct'])}% of the machine"))
        rows.append((f"{phase}: load avg", f"{p.get('load_before')} -> {p.get('load_after')}"))
    d = results.get("dashboards")
    if d and "error" not in d:
        dgen = d.get("generator") or {}
        rows.append(("dashboards: scan-to-screen ms", f"p50 {_fmt(d['lag_ms'].get('p50'))}  p99 "
                     f"{_fmt(d['lag_ms'].get('p99'))}  ({d['clients']} clients, {d['deltas']:,} deltas)"
                     f"  [generator and clients {_fmt(dgen.get('machine_share_pct'))}% of the machine]"))
    if results.get("drain") and "error" in results["drain"]:
        rows.append(("drain: FAILED", str(results["drain"]["error"])))
    elif results.get("drain"):
        rows.append(("recorder drain", f"{_fmt(results['drain'].get('rows_per_s'))} rows/s over "
                     f"{_fmt(results['drain'].get('rows'))} rows"))
    ref = results.get("reference") or {}
    if ref and "error" in ref:
        rows.append(("reference: FAILED", str(ref["error"])))
    if ref and "error" not in ref:
        rows.append(("reference: scan script", f"{_fmt(ref['evalsha']['per_s'])} EVALSHA/s (pipelined)"))
        rows.append(("reference: XADD", f"{_fmt(ref['xadd']['per_s'])} /s"))
        rows.append(("reference: COPY", f"{_fmt(ref['copy'].get('indexed_per_s'))} rows/s into a scans-like table, "
                     f"{_fmt(ref['copy'].get('bare_temp_per_s'))} into a bare temp table"))
    for name, mb in (results.get("peak_rss_mb") or {}).items():
        rows.append((f"peak RSS {name}", f"{_fmt(mb)} MB"))
    for v in results.get("targets", []):
        mark = {True: "met", False: "MISSED", None: "n/a"}[v["met"]]
        rows.append((f"target: {v['target']}", f"{_fmt(v['value'])} ({v['goal']}) {mark} {v.get('gap', '')}"))
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{width}}  {b}" for a, b in rows)


def markdown(results: dict[str, Any]) -> str:
    m, c = results["machine"], results["config"]
    lines = [
        "# Benchmark: a Lantern Festival shift change, replayed", "",
        f"Run {results['started_at']} ({results['mode']}), `{results['command']}`.",
        f"Machine: {m['cores_logical']} cores ({m['cpu_model']}), {m['memory_gib']} GiB; Python {m['python']}; "
        f"PostgreSQL {results['versions']['postgres']}; {results['versions']['redis']}. Load average at start "
        f"{m['load_average_at_start']} (other work shares this machine).",
        f"System: {c['gateway_workers']} gateway processes, 1 recorder (batch {c['recorder_batch']}), 1 live server; "
        f"{c['volunteers']:,} volunteers, {c['kiosks']} kiosks on {c['gates']} gates, "
        f"load generators on the same machine.", "",
        "| target | measured | goal | |", "|---|---|---|---|",
    ]
    for v in results.get("targets", []):
        mark = {True: "met", False: "**missed**", None: "n/a"}[v["met"]]
        lines.append(f"| {v['target']} | {_fmt(v['value'])} | {v['goal']} | {mark} {v.get('gap', '')} |")
    shares = [(phase, results[phase]["generator"]) for phase in ("open", "dashboards", "closed")
              if isinstance(results.get(phase), dict) and results[phase].get("generator")]
    if shares:
        lines += ["", "What the load generators themselves took (CPU seconds / (wall seconds x cores)):", ""]
        lines += [f"- {phase}: {gen['machine_share_pct']}% of the machine ({gen['tool']}, {gen['cpu_s']} CPU s over"
                  f" {gen['wall_s']} s)" for phase, gen in shares]
    ref = results.get("reference") or {}
    if ref and "error" not in ref:
        lines += ["", f"Underneath, on the same machine: the scan script {_fmt(ref['evalsha']['per_s'])} calls/s "
                  f"pipelined, XADD {_fmt(ref['xadd']['per_s'])}/s, COPY {_fmt(ref['copy'].get('indexed_per_s'))} "
                  "rows/s into a table indexed like `scans`."]
    lines += ["", "Full figures: `loadtest/results/latest.json`; the method and notes: `docs/benchmarks.md`.", ""]
    return "\n".join(lines)

#!/usr/bin/env python3
"""The README's guard table: each profile's runs with the original's guard
against its runs with the newer-than-read guard.

    scripts/experiments/guard-table.py ORIGINAL_DIR NEWER_DIR

ORIGINAL_DIR and NEWER_DIR are report folders of scripts/experiments/
profiles.sh, set 1 and set 5 (give set 5 set 1's rate: RATE=N). For every
profile in both, the runs are copied to a temporary folder labelled
"<profile> as-original" and "<profile> newer-than-read" and compared with
`estune compare --baseline "<profile> as-original"`: capacity, p99 at the
fixed rate, and the append statement's mean time and shared buffers per
call on the primary (from the statements the results record). Markdown on
stdout. Uses ./target/release/estune (build it first).
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

from compare_json import ESTUNE, row


def runs(folder, profile):
    out = []
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        if path.endswith("experiment.json"):
            continue
        doc = json.load(open(path))
        exp = (doc["metadata"].get("extra") or {}).get("experiment") or {}
        if exp.get("profile") == profile:
            out.append((path, doc))
    return out


def append_cost(docs):
    """Mean ms and shared buffers per call of the conditional appends."""
    ms = calls = blocks = 0.0
    for _, doc in docs:
        for server in doc["statements"]["servers"]:
            pss = server.get("pg_stat_statements")
            if server["role"] != "primary" or not pss:
                continue
            for s in pss["top"]:
                if s["query"].lstrip().startswith(("WITH context", "INSERT INTO events")):
                    ms += s["total_exec_ms"]
                    calls += s["calls"]
                    blocks += s["shared_blks_hit"] + s["shared_blks_read"]
    if not calls:
        return "not recorded"
    return f"{ms / calls:.2f} ms, {blocks / calls:.0f} buffers"


def figure(doc, mode, key, label):
    _, r = row(doc, mode, key)
    if r is None:
        return None, None
    return r["unit"], next(v for v in r["values"] if v["label"] == label)


def cell(unit, v):
    if v is None:
        return "–"
    f = (lambda x: f"{x:.0f}") if unit == "rate" else (lambda x: f"{x:.1f}")
    text = ", ".join(f(x) for x in v["runs"])
    d = v.get("delta")
    if d and d.get("change_pct") is not None:
        text += f" ({d['change_pct']:+.0f} % ± {d['threshold_pct']:.0f} %: {d['verdict'].replace('-', ' ')})"
    return text


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    original, newer = sys.argv[1:]
    manifest = json.load(open(os.path.join(original, "experiment.json")))
    print("| profile | guard | capacity ops/s, per round | p99 ms at the fixed rate, per round | append on the primary, per call |")
    print("|---|---|---|---|---|")
    for profile in manifest["profiles"]:
        sides = [("as-original", runs(original, profile)), ("newer-than-read", runs(newer, profile))]
        if not all(docs for _, docs in sides):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            for guard, docs in sides:
                for path, doc in docs:
                    doc["metadata"]["label"] = f"{profile} {guard}"
                    name = f"{guard}-{os.path.basename(path)}"
                    json.dump(doc, open(os.path.join(tmp, name), "w"))
            out = subprocess.run(
                [ESTUNE, "compare", tmp, "--format", "json", "--baseline", f"{profile} as-original"],
                check=True, capture_output=True, text=True,
            ).stdout
            cmp = json.loads(out)
        for guard, docs in sides:
            label = f"{profile} {guard}"
            cap = figure(cmp, "closed-loop", "capacity", label)
            p99 = figure(cmp, "open-loop", "latency.p99", label)
            print(f"| {profile} | {guard} | {cell(*cap)} | {cell(*p99)} | {append_cost(docs)} |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The README's profile tables from an experiment's report folder.

    scripts/experiments/profile-table.py REPORT_DIR [PROFILE]

For every profile: its capacity and its p99 at the fixed rate, run by run,
and PROFILE (default eventstore) against it as `estune compare --baseline
<that profile>` judges it (delta, noise threshold, verdict). Markdown on
stdout. Uses ./target/release/estune (build it first).
"""
import json
import sys

from compare_json import compare, row


def fmt(v, unit):
    if v is None:
        return "–"
    return f"{v:.0f}" if unit == "rate" else f"{v:.1f}"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    folder = sys.argv[1]
    hero = sys.argv[2] if len(sys.argv) > 2 else "eventstore"
    manifest = json.load(open(f"{folder}/experiment.json"))
    profiles = [p if isinstance(p, str) else p.get("label", p.get("profile")) for p in manifest["profiles"]]
    others = [p for p in profiles if p != hero]
    docs = {p: compare(folder, p) for p in others}
    any_doc = next(iter(docs.values()))
    _, cap_any = row(any_doc, "closed-loop", "capacity")
    group, p99_any = row(any_doc, "open-loop", "latency.p99")
    title = group["title"] if group else "open-loop"
    print(f"| profile | capacity ops/s, per round | {hero} vs it | p99 ms {title.removeprefix('open-loop ')}, per round | {hero} vs it | rate runs: errors, dropped |")
    print("|---|---|---|---|---|---|")
    for p in profiles:
        cells = [p]
        for mode, key in (("closed-loop", "capacity"), ("open-loop", "latency.p99")):
            doc = docs[p] if p != hero else any_doc
            _, r = row(doc, mode, key)
            if r is None:
                cells += ["–", "–"]
                continue
            mine = next(v for v in r["values"] if v["label"] == p)
            cells.append(", ".join(fmt(x, r["unit"]) for x in mine["runs"]))
            if p == hero:
                cells.append("")
                continue
            h = next(v for v in r["values"] if v["label"] == hero)
            d = h["delta"]
            if d is None or d.get("change_pct") is None:
                cells.append("–")
            else:
                cells.append(f"{d['change_pct']:+.0f} % ± {d['threshold_pct']:.0f} %: {d['verdict'].replace('-', ' ')}")
        doc = docs[p] if p != hero else any_doc
        lost = []
        for key in ("errors.total", "dropped"):
            _, r = row(doc, "open-loop", key)
            mine = next((v for v in r["values"] if v["label"] == p), None) if r else None
            if mine is None:
                # a figure equal on every side is still in the rows
                lost.append("–")
            else:
                lost.append("/".join(fmt(x, "rate") for x in mine["runs"]))
        cells.append(", ".join(lost))
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

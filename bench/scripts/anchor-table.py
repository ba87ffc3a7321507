#!/usr/bin/env python3
"""The markdown table of a scan-vs-anchor log (scan-vs-anchor.sh and scan-vs-anchor-bundle.sh write the same
line format): per shape and thread count, the median ns/elem of each side, the ratio of the medians and the
median of the per-round ratios (each round's Java run next to its own anchor run: steadier when the machine's
speed drifts during the run).

    python3 bench/scripts/anchor-table.py LOG
"""
import json
import re
import statistics
import sys

rows = {}
for line in open(sys.argv[1]):
    m = re.match(r'(\w+) shape=(\S+) threads=(\d+) round=(\d+) (.*)', line.strip())
    if not m:
        continue
    kind, shape, t, r, rest = m.groups()
    d = rows.setdefault((shape, int(t)), {"java": {}, "anchor": {}, "err": None})
    if kind == "JAVA":
        if not rest.startswith("{"):
            continue  # the Java run printed no JSON (its error is in the log)
        j = json.loads(rest)
        d["java"][r] = j["ns_per_elem"]
        d["err"] = j.get("check_rel_err")
    else:
        a = re.search(r'\| ([0-9.]+) ns/elem', rest)
        if a:
            d["anchor"][r] = float(a.group(1))
names = {"4,768,4,3136,1": "S1", "8,1536,4,784,1": "S3", "2,2048,1,4096,16": "S5"}
print("| shape (Bt, D, G, L, N) | threads | Java ns/elem | anchor ns/elem | ratio of medians | median of round ratios "
      "| round ratios | Java check rel err |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for (shape, t), d in rows.items():
    rr = [d["java"][r] / d["anchor"][r] for r in sorted(d["java"], key=int) if r in d["anchor"]]
    if not rr:
        continue
    j, a = statistics.median(d["java"].values()), statistics.median(d["anchor"].values())
    label = names.get(shape, "") + " (" + shape.replace(",", ", ") + ")"
    err = f"{d['err']:.1e}" if d["err"] is not None else "-"
    print(f"| {label} | {t} | {j:.3f} | {a:.3f} | {j / a:.2f} | {statistics.median(rr):.2f} | "
          + ", ".join(f"{x:.2f}" for x in rr) + f" | {err} |")

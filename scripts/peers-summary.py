#!/usr/bin/env python3
"""Medians and ratios of the gateway against the reference peers from the TSVs of scripts/peers-bench.sh.

Every ratio is taken within one run (the gateway row against the reference row of the same run), then the
median over runs is printed, as BENCHMARKS.md quotes them.
usage: peers-summary.py DIR   (DIR holds dns-forward-N.tsv, dns-cache-N.tsv, wg-N.tsv, http-N.tsv)
"""
import csv
import glob
import os
import statistics
import sys


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def median(values):
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def runs(directory, name):
    return sorted(glob.glob(os.path.join(directory, f"{name}-*.tsv")))


def dns(directory, name):
    lines = []
    for path in runs(directory, name):
        table = rows(path)
        gw = next((r for r in table if r["peer"] not in ("dnsdist", "stubby", "unbound-fwd", "unbound-upstream")), None)
        ref = next((r for r in table if gw and r["peer"] == "dnsdist" and r["role"] == gw["role"] and r["client_transport"] == gw["client_transport"]), None)
        if ref and gw:
            lines.append((num(gw["qps"]), num(ref["qps"]), num(gw["sut_cpu_us_per_query"]), num(ref["sut_cpu_us_per_query"]),
                          gw["foreign_cpu_pct"] + "/" + ref["foreign_cpu_pct"]))
    if not lines:
        return
    print(f"\n{name} ({len(lines)} runs): gateway qps, dnsdist qps, qps ratio, gateway µs/query, dnsdist µs/query, µs ratio, foreign % gw/dnsdist")
    for g, r, gu, ru, foreign in lines:
        print(f"  {g:9.0f} {r:9.0f} {g / r:6.2f}x {gu:7.1f} {ru:7.1f} {gu / ru:6.2f}x  {foreign}")
    print(f"  median qps ratio {median([g / r for g, r, *_ in lines]):.2f}x, median µs ratio {median([gu / ru for _, _, gu, ru, _ in lines]):.2f}x,"
          f" median gateway µs/query {median([l[2] for l in lines]):.1f}")


def wg(directory):
    table_by_run = [rows(p) for p in runs(directory, "wg")]
    if not table_by_run:
        return
    print(f"\nwg ({len(table_by_run)} runs): receiver Mbit/s (wg cpu s/Gbit) and ratio to wireguard-go of the same run")
    ratios = {}
    for table in table_by_run:
        for streams in ("1", "4"):
            ref = next((r for r in table if r["path"] == "wireguard-go" and r["streams"] == streams), None)
            if not ref:
                continue
            cells = [f"wg-go {num(ref['receiver_mbps']):.0f} ({ref['wg_cpu_s_per_gbit']}) f{ref['foreign_cpu_pct']}"]
            for path in ("custom", "custom-both"):
                row = next((r for r in table if r["path"] == path and r["streams"] == streams), None)
                if row:
                    ratio = num(row["receiver_mbps"]) / num(ref["receiver_mbps"])
                    ratios.setdefault((path, streams), []).append(ratio)
                    cells.append(f"{path} {num(row['receiver_mbps']):.0f} ({row['wg_cpu_s_per_gbit']}) {ratio:.2f}x f{row['foreign_cpu_pct']}")
            print(f"  P{streams}: " + "; ".join(cells))
    for (path, streams), values in sorted(ratios.items()):
        print(f"  median {path} P{streams}: {median(values):.2f}x wireguard-go")


def http(directory):
    table_by_run = [rows(p) for p in runs(directory, "http")]
    if not table_by_run:
        return
    print(f"\nhttp ({len(table_by_run)} runs): wrk rows, gateway vs tinyproxy of the same run")
    ratios = {}
    for table in table_by_run:
        for file in ("1k", "1m"):
            ref = next((r for r in table if r["tool"] == "wrk" and r["path"] == "tinyproxy" and r["file"] == file), None)
            gw = next((r for r in table if r["tool"] == "wrk" and r["path"] not in ("tinyproxy", "direct") and r["file"] == file), None)
            direct = next((r for r in table if r["tool"] == "wrk" and r["path"] == "direct" and r["file"] == file), None)
            if not (ref and gw):
                continue
            key = "req_per_s" if file == "1k" else "mbytes_per_s"
            ratio = num(gw[key]) / num(ref[key])
            ratios.setdefault(file, []).append(ratio)
            print(f"  {file}: gateway {num(gw[key]):.1f} ({gw['sut_cpu_us_per_req']} µs/req, f{gw['foreign_cpu_pct']}), tinyproxy {num(ref[key]):.1f}"
                  f" ({ref['sut_cpu_us_per_req']} µs/req, f{ref['foreign_cpu_pct']}), direct {num(direct[key]) if direct else float('nan'):.1f}: {ratio:.2f}x {key}")
    for file, values in sorted(ratios.items()):
        print(f"  median {file}: {median(values):.2f}x tinyproxy")


def rss(directory):
    path = os.path.join(directory, "rss.tsv")
    if not os.path.exists(path):
        return
    by_run = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 4 and parts[3].isdigit():
                by_run.setdefault(parts[0], []).append(int(parts[3]) / 1024)
    print("\ngateway VmRSS while measured (MB): first sample, max, last sample (each gateway process of the run)")
    for label, values in by_run.items():
        print(f"  {label}: {values[0]:.0f} / {max(values):.0f} / {values[-1]:.0f} ({len(values)} samples)")


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "."
    dns(directory, "dns-forward")
    dns(directory, "dns-cache")
    wg(directory)
    http(directory)
    rss(directory)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Renders an rbe-train --log file (JSON lines) as an SVG loss chart, with no
plotting library: training loss (a moving average of 20 steps) and validation
loss against the step.

Usage: docs/plot_loss.py LOG.jsonl OUT.svg [--title TEXT]
"""
import json
import sys


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit("usage: plot_loss.py LOG.jsonl OUT.svg [--title TEXT]")
    title = args[args.index("--title") + 1] if "--title" in args else "Training loss"
    rows = [json.loads(line) for line in open(args[0]) if line.strip()]
    train = [(r["step"], r["loss"]) for r in rows]
    val = [(r["step"], r["val_loss"]) for r in rows if "val_loss" in r]
    window = 20
    smooth = []
    for i in range(len(train)):
        chunk = train[max(0, i - window + 1): i + 1]
        smooth.append((train[i][0], sum(v for _, v in chunk) / len(chunk)))

    W, H, L, R, T, B = 720, 400, 60, 20, 40, 50
    max_step = max(s for s, _ in train)
    lo = min(min(v for _, v in smooth), min((v for _, v in val), default=9)) - 0.1
    hi = min(4.5, max(v for _, v in smooth))
    x = lambda s: L + (W - L - R) * s / max_step
    y = lambda v: T + (H - T - B) * (hi - v) / (hi - lo)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>']
    for i in range(6):  # grid and y labels
        v = lo + (hi - lo) * i / 5
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{L - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>')
    for i in range(6):  # x labels
        s = max_step * i / 5
        out.append(f'<text x="{x(s):.1f}" y="{H - B + 18}" text-anchor="middle">{int(s)}</text>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 10}" text-anchor="middle">step</text>')
    out.append(f'<text x="16" y="{(T + H - B) / 2}" transform="rotate(-90 16 {(T + H - B) / 2})" text-anchor="middle">loss (nats/char)</text>')
    clip = lambda v: min(max(v, lo), hi)
    pts = " ".join(f"{x(s):.1f},{y(clip(v)):.1f}" for s, v in smooth)
    out.append(f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{pts}"/>')
    if val:
        pts = " ".join(f"{x(s):.1f},{y(clip(v)):.1f}" for s, v in val)
        out.append(f'<polyline fill="none" stroke="#d62728" stroke-width="2" points="{pts}"/>')
        for s, v in val:
            out.append(f'<circle cx="{x(s):.1f}" cy="{y(clip(v)):.1f}" r="3" fill="#d62728"/>')
    out.append(f'<text x="{W - R - 150}" y="{T + 16}" fill="#1f77b4">train (avg of {window} steps)</text>')
    out.append(f'<text x="{W - R - 150}" y="{T + 32}" fill="#d62728">validation</text>')
    out.append("</svg>")
    open(args[1], "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()

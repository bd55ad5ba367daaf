#!/usr/bin/env python3
"""Renders packaging/rbe-workbench.svg's shapes (rounded rectangles only) to a
PNG, for platforms and Qt builds without an SVG image plugin.
Usage: render_icon.py SVG PNG [SIZE]"""
import re
import struct
import sys
import zlib

import numpy as np


def rounded_rect_mask(xs, ys, x, y, w, h, r):
    # Distance test against the rectangle shrunk by r, then inflated by r.
    cx = np.clip(xs, x + r, x + w - r)
    cy = np.clip(ys, y + r, y + h - r)
    return (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r


def render(svg_text, size, ss=4):
    vb = [float(v) for v in re.search(r'viewBox="([^"]+)"', svg_text).group(1).split()]
    scale = size / vb[2]
    n = size * ss
    coords = (np.arange(n) + 0.5) / ss / scale
    xs, ys = np.meshgrid(coords, coords)
    img = np.zeros((n, n, 4))
    for m in re.finditer(r"<rect ([^>]+)/>", svg_text):
        a = dict(re.findall(r'(\w+)="([^"]+)"', m.group(1)))
        x, y, w, h = (float(a[k]) for k in ("x", "y", "width", "height"))
        r = float(a.get("rx", 0))
        colour = a["fill"].lstrip("#")
        rgb = [int(colour[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        mask = rounded_rect_mask(xs, ys, x, y, w, h, r)
        img[mask] = rgb + [1.0]
    img = img.reshape(size, ss, size, ss, 4).mean(axis=(1, 3))
    # Premultiplied average -> straight alpha.
    alpha = img[..., 3:4]
    rgb = np.where(alpha > 0, img[..., :3] / np.maximum(alpha, 1e-6), 0)
    return (np.concatenate([rgb, alpha], axis=2) * 255 + 0.5).astype(np.uint8)


def write_png(path, rgba):
    h, w, _ = rgba.shape
    raw = b"".join(b"\x00" + rgba[row].tobytes() for row in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


if __name__ == "__main__":
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 256
    write_png(sys.argv[2], render(open(sys.argv[1]).read(), size))

#!/usr/bin/env python3
"""Golden image augmentation moves, for attn's `ImageAugment` tests (attn-runtime/src/data/augment.rs).

Provenance: attn-runtime/tests/fixtures/data/augment.json comes from this script, run with NumPy
from PyPI:

    python3 -m venv /tmp/venv-np && /tmp/venv-np/bin/pip install numpy
    /tmp/venv-np/bin/python tools/gen_augment_fixtures.py

The reference is what torchvision's `RandomHorizontalFlip` followed by `RandomCrop(size=(H, W),
padding=p)` (zero fill) does once its random draws are fixed, written in NumPy: mirror the last
axis (`x[..., ::-1]`), pad every image plane by p zeros on each side (`np.pad`), and crop the
H × W window at offset (p - dy, p - dx), which shows the picture moved dx pixels right and dy
down. Each case stores the image `[C, H, W]`, the draws (flip, dx, dy) and the result.
"""
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "attn-runtime", "tests", "fixtures", "data")


def moved(x, flip, dx, dy):
    if flip:
        x = x[..., ::-1]
    p = max(abs(dx), abs(dy))
    padded = np.pad(x, ((0, 0), (p, p), (p, p)))
    _, h, w = x.shape
    return padded[:, p - dy:p - dy + h, p - dx:p - dx + w]


def main():
    rng = np.random.default_rng(17)
    cases = []
    for (c, h, w) in [(1, 3, 4), (2, 5, 6), (3, 7, 7)]:
        for flip in (False, True):
            for (dx, dy) in [(0, 0), (1, -1), (-2, 0), (0, 2), (-1, -2), (2, 1)]:
                # whole pixel values 1..255, none 0, so a misplaced border shows
                image = rng.integers(1, 256, size=(c, h, w)).astype(np.float32)
                out = moved(image, flip, dx, dy)
                cases.append({
                    "shape": [c, h, w],
                    "flip": flip,
                    "dx": dx,
                    "dy": dy,
                    "image": [int(v) for v in image.ravel()],
                    "expected": [int(v) for v in np.ascontiguousarray(out).ravel()],
                })
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "augment.json"), "w") as f:
        json.dump({"numpy": np.__version__, "cases": cases}, f)
    print(f"{len(cases)} cases -> {OUT}/augment.json")


if __name__ == "__main__":
    main()

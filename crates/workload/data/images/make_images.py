"""Writes the built-in images of the `denoise` and `sr2` workloads: public-
domain / CC0 images shipped with scikit-image, converted to grayscale
(skimage.color.rgb2gray for colour images), centre-cropped to the largest
square of side 128·k that fits, reduced to 128×128 by averaging k×k blocks
(rounded to 8 bits), stored as binary PGM.

    pip install scikit-image==0.26.0
    python3 crates/workload/data/images/make_images.py crates/workload/data/images
"""
import hashlib
import sys

import numpy as np
import skimage.color
import skimage.data

SIDE = 128
out = sys.argv[1]
for name in ["camera", "coffee", "chelsea", "brick", "grass", "astronaut", "rocket"]:
    im = getattr(skimage.data, name)()
    if im.ndim == 3:
        im = skimage.color.rgb2gray(im) * 255.0
    im = im.astype(np.float64)
    h, w = im.shape
    k = min(h, w) // SIDE
    s = SIDE * k
    y, x = (h - s) // 2, (w - s) // 2
    crop = im[y : y + s, x : x + s]
    small = crop.reshape(SIDE, k, SIDE, k).mean(axis=(1, 3))
    px = np.clip(np.round(small), 0, 255).astype(np.uint8)
    data = f"P5\n{SIDE} {SIDE}\n255\n".encode() + px.tobytes()
    with open(f"{out}/{name}.pgm", "wb") as f:
        f.write(data)
    print(name, (h, w), k, len(data), hashlib.sha256(data).hexdigest(), int(px.astype(np.int64).sum()))

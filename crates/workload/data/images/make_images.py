"""Writes the built-in images of the `denoise` and `sr2` workloads: four CC0
images shipped with scikit-image, each reduced to 64×64 by averaging 8×8
blocks of the 512×512 original (rounded to 8 bits), stored as binary PGM.

    pip install scikit-image==0.26.0
    python3 crates/workload/data/images/make_images.py crates/workload/data/images
"""
import hashlib
import sys

import numpy as np
import skimage.data

out = sys.argv[1]
for name in ["camera", "brick", "grass", "gravel"]:
    im = getattr(skimage.data, name)().astype(np.float64)
    assert im.shape == (512, 512), (name, im.shape)
    small = im.reshape(64, 8, 64, 8).mean(axis=(1, 3))
    px = np.clip(np.round(small), 0, 255).astype(np.uint8)
    data = b"P5\n64 64\n255\n" + px.tobytes()
    with open(f"{out}/{name}.pgm", "wb") as f:
        f.write(data)
    print(name, len(data), hashlib.sha256(data).hexdigest(), int(px.astype(np.int64).sum()))

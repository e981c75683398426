import numpy as np
from skimage.metrics import structural_similarity, peak_signal_noise_ratio
for (h, w) in [(16, 16), (23, 19), (32, 40)]:
    i, j = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    a = ((i * 7 + j * 13) * 31 % 256).astype(np.float64)
    n = (i * j * 17 % 41) - 20
    for b in [np.clip(a + n, 0, 255), np.clip(a // 2 + 64 + 3 * n, 0, 255)]:
        s = structural_similarity(a / 255, b / 255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
        p = peak_signal_noise_ratio(a / 255, b / 255, data_range=1.0)
        print(f"({h}, {w}, {p!r}, {s!r}),")

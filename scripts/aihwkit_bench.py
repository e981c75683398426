#!/usr/bin/env python3
"""Training samples/s of aihwkit 1.1.0 (ConstantStep device, analog SGD) on
the networks aimsim's `cargo bench -p aimsim --bench scale` trains, one CPU
thread, for the side-by-side figures in docs/performance.md.

Needs `pip install aihwkit==1.1.0 torch==2.10.0` (aihwkit 1.1.0 fails with
torch 2.9.1). Usage:

    python3 scripts/aihwkit_bench.py --network digits-mlp --batch 1 --steps 1000
    python3 scripts/aihwkit_bench.py --network mlp-256-1024-1024-10 --batch 32 --steps 6
    python3 scripts/aihwkit_bench.py --network digits-cnn --batch 1 --steps 200
    python3 scripts/aihwkit_bench.py --network mlp-2236-2236-10 --steps 2 --warmup 0

Prints one JSON object per run: network, batch, steps, seconds, samples/s.
Only the training steps are timed (after --warmup untimed steps); data and
model are built first. Inputs: scikit-learn's 8×8 digits scaled to [0, 1]
(digits-mlp, and digits-cnn as 1 × 8 × 8 images) or seeded Gaussian data
with 10 random classes (synthetic, as the network file's `data.synthetic`
asks for: 4096 training samples). digits-cnn is
`networks/digits-cnn.network.json`: two 3 × 3 convolutions (8 and 16
channels, padding 1, ReLU), each followed by a 2 × 2 max pool, then a
dense layer to 10 outputs; the convolutions are aihwkit's `AnalogConv2d`
(im2col on the analog tile, as aimsim maps them onto crossbars).
`mlp-N-N-10` (any N) is the network of `scripts/scaling.sh`: N inputs,
N tanh units, 10 outputs, on 64 seeded Gaussian training samples; its
JSON line adds `build_seconds`, the time to build the model (aihwkit
places its tiles then), for the scaling series beside aimsim's.
"""

import argparse
import json
import re
import time

import numpy as np
import torch
from torch import nn

from aihwkit.nn import AnalogConv2d, AnalogLinear, AnalogSequential
from aihwkit.optim import AnalogSGD
from aihwkit.simulator.configs import SingleRPUConfig
from aihwkit.simulator.configs.devices import ConstantStepDevice

NETWORKS = {
    # name: (inputs, hidden sizes, outputs)
    "digits-mlp": (64, [128], 10),
    "mlp-256-1024-1024-10": (256, [1024, 1024], 10),
    # (convolutions: built in `model`)
    "digits-cnn": None,
}


def scaling_n(name):
    """N of an `mlp-N-N-10` network name, else None."""
    m = re.fullmatch(r"mlp-(\d+)-(\d+)-10", name)
    if m and m.group(1) == m.group(2) and int(m.group(1)) > 0:
        return int(m.group(1))
    return None


def network_name(name):
    """argparse type: a name of NETWORKS or `mlp-N-N-10`."""
    if name in NETWORKS or scaling_n(name):
        return name
    raise argparse.ArgumentTypeError(
        f"{name!r}: expected one of {', '.join(sorted(NETWORKS))} or mlp-N-N-10")


def data(name, rng):
    n = scaling_n(name)
    if n:
        x = rng.standard_normal((64, n)).astype(np.float32)
        y = rng.integers(0, 10, 64).astype(np.int64)
        return x, y
    if name in ("digits-mlp", "digits-cnn"):
        from sklearn.datasets import load_digits

        d = load_digits()
        x = (d.data / 16.0).astype(np.float32)
        y = d.target.astype(np.int64)
        if name == "digits-cnn":
            x = x.reshape(-1, 1, 8, 8)
        return x[:1438], y[:1438]
    inputs = NETWORKS[name][0]
    x = rng.standard_normal((4096, inputs)).astype(np.float32)
    y = rng.integers(0, 10, 4096).astype(np.int64)
    return x, y


def model(name):
    cfg = SingleRPUConfig(device=ConstantStepDevice())
    if name == "digits-cnn":
        return AnalogSequential(
            AnalogConv2d(1, 8, kernel_size=3, padding=1, bias=True, rpu_config=cfg),
            nn.ReLU(),
            nn.MaxPool2d(2),
            AnalogConv2d(8, 16, kernel_size=3, padding=1, bias=True, rpu_config=cfg),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            AnalogLinear(16 * 2 * 2, 10, bias=True, rpu_config=cfg),
        )
    size = scaling_n(name)
    inputs, hidden, outputs = (size, [size], 10) if size else NETWORKS[name]
    layers = []
    n = inputs
    for h in hidden:
        layers += [AnalogLinear(n, h, bias=True, rpu_config=cfg), nn.Tanh()]
        n = h
    layers.append(AnalogLinear(n, outputs, bias=True, rpu_config=cfg))
    return AnalogSequential(*layers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--network", type=network_name, default="digits-mlp",
                    help=f"{', '.join(sorted(NETWORKS))} or mlp-N-N-10 (default digits-mlp)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    x, y = data(a.network, rng)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    t_build = time.perf_counter()
    net = model(a.network)
    build = time.perf_counter() - t_build
    opt = AnalogSGD(net.parameters(), lr=0.05)
    opt.regroup_param_groups(net)
    loss_fn = nn.CrossEntropyLoss()
    n = x.shape[0]

    def step(i):
        lo = (i * a.batch) % n
        idx = torch.arange(lo, lo + a.batch) % n
        opt.zero_grad()
        loss = loss_fn(net(x[idx]), y[idx])
        loss.backward()
        opt.step()

    for i in range(a.warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(a.steps):
        step(a.warmup + i)
    dt = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "tool": "aihwkit",
                "version": __import__("aihwkit").__version__,
                "torch": torch.__version__,
                "device": "ConstantStep",
                "network": a.network,
                "batch": a.batch,
                "steps": a.steps,
                "threads": a.threads,
                "seconds": round(dt, 4),
                "samples_per_s": round(a.steps * a.batch / dt, 1),
                "build_seconds": round(build, 4),
            }
        )
    )


if __name__ == "__main__":
    main()

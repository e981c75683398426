#!/usr/bin/env python3
"""Writes networks/resnet50.network.json: ResNet-50 (v1.5, torchvision's
layout) in the aimsim.network/1 format as far as its layer kinds allow.

Departures from ResNet-50 (docs/gpu-model.md, "ResNet-50 against MLPerf"):
- no batch normalisation (aimsim has no such layer);
- the stem's overlapping 3x3 stride-2 max-pool becomes a non-overlapping
  2x2 max-pool (same 112 -> 56 output);
- a chain of layers cannot branch, so a block with a projection shortcut
  runs the projection (1x1, stride s) first and its main path on the
  projection's output: conv1 is 4C -> C at the block's output size (instead
  of C_in -> C at its input size) and the 3x3 conv has stride 1; the add
  takes the projection's output;
- the ReLU after each residual add is absent (add has no activation).

Run from the repository root: python3 scripts/resnet50-network.py
"""
import json

layers = [
    {"kind": "conv2d", "out_channels": 64, "kernel": 7, "stride": 2, "padding": 3, "activation": "relu"},
    {"kind": "maxpool", "size": 2},
]


def conv(out, kernel, stride=1, padding=0, act="relu"):
    l = {"kind": "conv2d", "out_channels": out, "kernel": kernel}
    if stride != 1:
        l["stride"] = stride
    if padding:
        l["padding"] = padding
    if act != "identity":
        l["activation"] = act
    return l


for width, blocks, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
    for b in range(blocks):
        if b == 0:
            layers.append(conv(4 * width, 1, stride=stride, act="identity"))
        shortcut = len(layers) - 1
        layers.append(conv(width, 1))
        layers.append(conv(width, 3, padding=1))
        layers.append(conv(4 * width, 1, act="identity"))
        layers.append({"kind": "add", "from": shortcut})

layers += [{"kind": "avgpool", "size": 7}, {"kind": "flatten"}, {"kind": "dense", "outputs": 1000}]

net = {
    "schema": "aimsim.network/1",
    "name": "resnet50",
    "input": [3, 224, 224],
    "data": {"synthetic": {"train": 1024, "test": 64, "classes": 1000, "seed": 1}},
    "layers": layers,
    "loss": "cross_entropy",
    "metric": "accuracy",
}

with open("networks/resnet50.network.json", "w") as f:
    f.write("{\n")
    f.write('  "schema": "aimsim.network/1",\n')
    f.write('  "name": "resnet50",\n')
    f.write('  "input": [3, 224, 224],\n')
    f.write('  "data": ' + json.dumps(net["data"]) + ",\n")
    f.write('  "layers": [\n')
    f.write(",\n".join("    " + json.dumps(l) for l in layers))
    f.write("\n  ],\n")
    f.write('  "loss": "cross_entropy",\n')
    f.write('  "metric": "accuracy"\n')
    f.write("}\n")
assert json.load(open("networks/resnet50.network.json")) == net

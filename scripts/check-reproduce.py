#!/usr/bin/env python3
"""Checks the output folder of `aimsim reproduce eapu`: reproduce.json has
every claim row (one per claim, the energy rows once per update unit it
lists), each with its paper value, aimsim value, workload, commands and
what drives the difference; reproduce.md and one well-formed SVG plot per
claim group are beside it. Usage: check-reproduce.py DIR"""
import json
import math
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

out = Path(sys.argv[1])
rep = json.loads((out / "reproduce.json").read_text())
assert rep["schema"] == "aimsim.reproduce/1", rep["schema"]
units = rep["update_units"]
assert units and units[0] == "digital-mac", units

expected = [f"accuracy.digits-cnn.{r}" for r in ("eapu", "bp", "ideal")]
expected += [f"restoration.{w}.{r}" for w in ("denoise", "sr2") for r in ("eapu", "bp", "ideal")]
expected += [f"update_ratio.{w}.eapu" for w in ("digits-cnn", "digits-mlp")]
for u in units:
    expected += [
        f"training_energy.digits-mlp.vs_bp.{u}",
        f"training_energy.digits-mlp.vs_madem.{u}",
        f"training_energy.digits-cnn.vs_bp.{u}",
        f"inference_energy.digits-mlp.vs_bp.{u}",
        f"inference_energy.digits-mlp.vs_madem.{u}",
    ]
expected += ["lifetime.digits-mlp.vs_bp", "gpu.digits-mlp.eapu"]

rows = {c["id"]: c for c in rep["claims"]}
missing = [i for i in expected if i not in rows]
assert not missing, f"claim rows missing: {missing}"
for i in expected:
    c = rows[i]
    for key in ("claim", "paper", "paper_source", "aimsim", "workload", "drives"):
        assert c[key].strip(), f"{i}: empty {key}"
    assert c["commands"] and all(x.startswith("aimsim run ") for x in c["commands"]), i
    if not i.startswith("lifetime."):
        assert c["value"] is not None and math.isfinite(c["value"]), f"{i}: value {c['value']}"

groups = sorted({c["group"] for c in rep["claims"]})
for g in groups:
    root = ET.parse(out / f"{g}.svg").getroot()
    assert root.tag.endswith("svg"), g
md = (out / "reproduce.md").read_text()
assert md.count("\n| ") >= len(expected), "reproduce.md lacks rows"
print(f"reproduce.json: {len(expected)} claim rows, {len(groups)} plots ({rep['mode']} mode)")

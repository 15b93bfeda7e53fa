#!/usr/bin/env python3
"""Writes the PyTorch reference values that Tests/NNTests read (the tests never need PyTorch).

Run: python scripts/make_nn_fixtures.py   (needs torch and safetensors)
Writes Tests/NNTests/Fixtures/optimizers.json and Tests/NNTests/Fixtures/python_written.safetensors.
"""
import json
import pathlib

import torch
from safetensors.torch import save_file

out = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "NNTests" / "Fixtures"
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)

# Optimizers: a fixed start and a fixed sequence of gradients; record the parameter after each step.
start = torch.randn(7)
grads = [torch.randn(7) for _ in range(6)]
cases = {}
for name, make in {
    "adam": lambda p: torch.optim.Adam([p], lr=2e-4, betas=(0.5, 0.999)),
    "adam_lr1e-2": lambda p: torch.optim.Adam([p], lr=1e-2, betas=(0.9, 0.99), eps=1e-6),
    "sgd": lambda p: torch.optim.SGD([p], lr=0.1),
    "sgd_momentum": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9),
}.items():
    p = torch.nn.Parameter(start.clone())
    opt = make(p)
    trajectory = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        trajectory.append(p.detach().tolist())
    cases[name] = trajectory
json.dump({"start": start.tolist(), "grads": [g.tolist() for g in grads], "trajectories": cases},
          open(out / "optimizers.json", "w"), indent=1)

# A checkpoint written by Python's safetensors, to prove we read the standard format.
save_file({"fc.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3),
           "fc.bias": torch.tensor([0.5, -1.5])},
          str(out / "python_written.safetensors"), metadata={"stage": "1"})
print("wrote", out)

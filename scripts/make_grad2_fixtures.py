#!/usr/bin/env python3
"""Writes the PyTorch reference values for second-order autodiff (`Tensor.gradients(createGraph:)`)
and the gradient penalties built on it:

    python scripts/make_grad2_fixtures.py     # needs torch and safetensors (CPU is enough); not an install dependency

Tests/AutogradTests/Fixtures/doubleBackward.json, in make_torch_fixtures.py's format: one case per op
(or small net), each in float64 from 4-digit inputs:
  - "upstream": the seed u of the first gradient G_k = d<u, f>/d input_k (torch.autograd.grad with
    create_graph=True), for the inputs the case lists in params "first.<name>" = 1;
  - "upstream2.<name>": a random r_k, and S = sum_k <r_k, G_k>;
  - "grad.<name>": G_k, and "grad2.<name>": dS/d(name) for u ("grad2.upstream") and every input
    (zeros where S does not depend on it).
The "net" case is conv(3->4, 4x4 s2 p1, bias) LReLU(0.2) conv(4->5, 3x3 p1) flatten linear(80->3):
P = |d sum(out) / dx|^2 ("penalty") and dP/d(every weight, x) ("grad2.<name>").

Tests/StackGANTests/Fixtures/penalties/: a Stage-I discriminator of df_dim 1 with spectral norm, its
caption embedding through D's own Linear(6, 4) LReLU (times embedding_scale 2), the projection,
single and split heads (weights.safetensors, with the Swift checkpoint names), on two pattern images
translated by DiffAugment's shift; expected.safetensors: per head, R1 = mean over the batch of
|d logit / d image|^2 summed over the head's logits, MA-GP = mean((|d match / d image|^2 + |d match /
d embedding|^2)^3) (DF-GAN's p = 6, without its k), and each one's gradient w.r.t. every parameter,
computed in float64 from the float32 weights with the Swift engine's spectral norm (one power-
iteration step in training mode, u and v constants for the gradient, as torch.nn.utils.spectral_norm).
"""
import os

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from make_quality_fixtures import color, translate
from make_quality_fixtures import spectral as spectral_and_u
from make_torch_fixtures import randn, write

SCRIPT = "scripts/make_grad2_fixtures.py"
PENALTIES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "StackGANTests", "Fixtures", "penalties")


def second_order(name, inputs, fn, first, params=None):
    """G = d<u, fn(inputs)>/d(first) with create_graph, then dS/d(u, inputs) for S = sum <r_k, G_k>."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    out = fn(**leaves)
    u = randn(*out.shape).requires_grad_(True)
    grads = torch.autograd.grad(out, [leaves[k] for k in first], grad_outputs=u, create_graph=True)
    r = {k: randn(*g.shape) for k, g in zip(first, grads)}
    s = sum((g * r[k]).sum() for k, g in zip(first, grads))
    wrt = [u] + list(leaves.values())
    second = torch.autograd.grad(s, wrt, allow_unused=True)
    tensors = dict(inputs)
    tensors["upstream"] = u.detach()
    for k, g in zip(first, grads):
        tensors["upstream2." + k] = r[k]
        tensors["grad." + k] = g.detach()
    for k, g in zip(["upstream"] + list(leaves), second):
        tensors["grad2." + k] = torch.zeros_like(wrt[0] if k == "upstream" else leaves[k]) if g is None else g
    shown = set(inputs) | {"upstream"} | {"upstream2." + k for k in first}
    return {"name": name, "params": {**(params or {}), **{"first." + k: 1 for k in first}}, "tensors": tensors, "inputs": shown}


def spectral(weight, u):
    """The Swift engine's spectral norm in training mode: one power-iteration step, u and v constants."""
    return spectral_and_u(weight, u)[0]


def op_cases():
    cases = []
    lrelu = lambda x: F.leaky_relu(x, 0.2)  # noqa: E731
    # 5x5 and 6x6 leave a row and a column past the last window (a transposed conv's output padding).
    for name, size, k, s, p, bias in [("conv4s2p1", 6, 4, 2, 1, True), ("conv4s2p1_leftover", 5, 4, 2, 1, False),
                                      ("conv3s1p1", 4, 3, 1, 1, False), ("conv3s2p0_leftover", 6, 3, 2, 0, True)]:
        inputs = {"x": randn(2, 2, size, size), "weight": randn(3, 2, k, k, scale=0.3)}
        if bias:
            inputs["bias"] = randn(3)
        cases.append(second_order(name, inputs, lambda s=s, p=p, **t: F.conv2d(t["x"], t["weight"], t.get("bias"), s, p),
                                  list(inputs), params={"stride": s, "padding": p}))
    for name, size, k, s, p, bias in [("deconv4s2p1", 3, 4, 2, 1, True), ("deconv3s1p1", 3, 3, 1, 1, False)]:
        inputs = {"x": randn(2, 2, size, size), "weight": randn(2, 3, k, k, scale=0.3)}
        if bias:
            inputs["bias"] = randn(3)
        cases.append(second_order(name, inputs, lambda s=s, p=p, **t: F.conv_transpose2d(t["x"], t["weight"], t.get("bias"), s, p),
                                  list(inputs), params={"stride": s, "padding": p}))
    cases.append(second_order("linear", {"x": randn(3, 5), "weight": randn(4, 5), "bias": randn(4)},
                              lambda x, weight, bias: F.linear(x, weight, bias), ["x", "weight", "bias"]))
    cases.append(second_order("linearNoBias", {"x": randn(3, 5), "weight": randn(4, 5)},
                              lambda x, weight: F.linear(x, weight), ["x", "weight"]))
    for ta in (0, 1):
        for tb in (0, 1):
            a = randn(*((4, 3) if ta else (3, 4)))
            b = randn(*((5, 4) if tb else (4, 5)))
            cases.append(second_order("matmul%d%d" % (ta, tb), {"a": a, "b": b},
                                      lambda a, b, ta=ta, tb=tb: (a.t() if ta else a) @ (b.t() if tb else b), ["a", "b"],
                                      params={"transposeA": ta, "transposeB": tb}))
    x = lambda: randn(2, 3, 2, 2)  # noqa: E731
    cases.append(second_order("leakyRelu", {"x": randn(2, 3, 3, 3, away=0.1)}, lrelu, ["x"]))
    cases.append(second_order("relu", {"x": randn(2, 3, 3, 3, away=0.1)}, lambda x: F.relu(x), ["x"]))
    cases.append(second_order("multiply", {"a": x(), "b": x()}, lambda a, b: a * b, ["a", "b"]))
    cases.append(second_order("add", {"a": x(), "b": x()}, lambda a, b: a + b, ["a", "b"]))
    cases.append(second_order("subtract", {"a": x(), "b": x()}, lambda a, b: a - b, ["a", "b"]))
    cases.append(second_order("scaledPlus", {"x": x()}, lambda x: x * -1.5 + 0.75, ["x"]))
    cases.append(second_order("sumSquares", {"x": x()}, lambda x: (x * x).sum(), ["x"]))
    cases.append(second_order("meanSquares", {"x": x()}, lambda x: (x * x).mean(), ["x"]))
    cases.append(second_order("rowSums", {"x": randn(3, 5)}, lambda x: x.sum(dim=1), ["x"]))
    cases.append(second_order("reshapeSquare", {"x": x()}, lambda x: x.reshape(6, 4) * x.reshape(6, 4), ["x"]))
    cases.append(second_order("tile", {"x": randn(2, 3)}, lambda x: (x[:, :, None, None].expand(2, 3, 2, 3)) ** 2, ["x"]))
    cases.append(second_order("concat", {"a": randn(2, 2, 3), "b": randn(2, 3, 3)},
                              lambda a, b: torch.cat([a, b], 1) * torch.cat([b, a], 1), ["a", "b"]))
    cases.append(second_order("batchSlice", {"x": randn(4, 3)}, lambda x: x[1:3] * x[0:2], ["x"]))
    cases.append(second_order("roll", {"x": randn(4, 3)}, lambda x: torch.roll(x, -1, 0) * x, ["x"]))
    dx, dy = [2, -1], [-1, 3]
    cases.append(second_order("translate", {"x": randn(2, 2, 5, 6)}, lambda x: translate(x, dx, dy) ** 2, ["x"],
                              params={"dx0": 2, "dx1": -1, "dy0": -1, "dy1": 3}))
    factors = {"b0": 0.3, "b1": -0.2, "s0": 1.5, "s1": 0.4, "k0": 0.8, "k1": 1.3}
    cases.append(second_order("colorJitter", {"x": randn(2, 3, 3, 4)},
                              lambda x: color(x, torch.tensor([0.3, -0.2], dtype=torch.float64), torch.tensor([1.5, 0.4], dtype=torch.float64),
                                              torch.tensor([0.8, 1.3], dtype=torch.float64)) ** 2, ["x"], params=factors))
    u = F.normalize(randn(4), dim=0)
    cases.append(second_order("spectralNorm", {"weight": randn(4, 3, 2, 2, scale=0.3), "u": u},
                              lambda weight, u: spectral(weight, u.detach()), ["weight"]))
    cases.append(second_order("reciprocal", {"x": randn(3, 5, away=0.5)}, lambda x: torch.reciprocal(x), ["x"]))
    return cases


def net_case():
    inputs = {"x": randn(2, 3, 8, 8), "w1": randn(4, 3, 4, 4, scale=0.3), "b1": randn(4, scale=0.3),
              "w2": randn(5, 4, 3, 3, scale=0.3), "wl": randn(3, 80, scale=0.3), "bl": randn(3)}
    t = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    h = F.leaky_relu(F.conv2d(t["x"], t["w1"], t["b1"], 2, 1), 0.2)
    out = F.linear(F.conv2d(h, t["w2"], None, 1, 1).reshape(2, -1), t["wl"], t["bl"])
    (gx,) = torch.autograd.grad(out.sum(), t["x"], create_graph=True)
    penalty = (gx * gx).sum()
    grads = torch.autograd.grad(penalty, list(t.values()), allow_unused=True)
    tensors = dict(inputs)
    tensors["out"] = out.detach()
    tensors["grad.x"] = gx.detach()
    tensors["penalty"] = penalty.detach().reshape(1)
    for k, g in zip(t, grads):
        tensors["grad2." + k] = torch.zeros_like(inputs[k]) if g is None else g
    return {"name": "net", "params": {}, "tensors": tensors, "inputs": set(inputs)}


# The penalised discriminator: Stage-I, df_dim 1 (features [N, 8, 4, 4]), condition_dim 4,
# embedding_dim 6, embedding_scale 2, spectral norm everywhere. Names as the Swift checkpoint keys.
NDF, C, E, SCALE, N = 1, 4, 6, 2.0, 2
ENCODER = [("encode_img.0", 3, NDF), ("encode_img.2", NDF, 2 * NDF), ("encode_img.5", 2 * NDF, 4 * NDF), ("encode_img.8", 4 * NDF, 8 * NDF)]
F8 = 8 * NDF


def d_weights():
    """Weights N(0, 0.3) (wider than the published 0.02, so that the gradients are far from 0) and unit u."""
    shapes = {name + ".weight": (o, i, 4, 4) for name, i, o in ENCODER}
    shapes.update({"get_cond_logits.projection.0.weight": (C, E), "get_cond_logits.projection.0.bias": (C,),
                   "get_projection_logits.psi.weight": (1, F8), "get_projection_logits.psi.bias": (1,),
                   "get_projection_logits.embed.weight": (F8, C),
                   "get_cond_logits.outlogits.0.weight": (F8, F8 + C, 3, 3),
                   "get_cond_logits.outlogits.3.weight": (1, F8, 4, 4), "get_cond_logits.outlogits.3.bias": (1,),
                   "get_uncond_logits.outlogits.0.weight": (1, F8, 4, 4), "get_uncond_logits.outlogits.0.bias": (1,)})
    weights = {}
    for name, shape in shapes.items():
        weights[name] = randn(*shape, scale=0.1 if name.endswith("bias") else 0.3)
        if name.endswith(".weight"):
            weights[name[:-len("weight")] + "weight_u"] = F.normalize(randn(shape[0]), dim=0)
    return {k: v.float().double() for k, v in weights.items()}  # the float32 values both sides hold


def discriminator(p, images, embedding, head):
    """logits (match, realness or None) of the Swift StackGANDiscriminator for `head`."""
    sn = lambda name: spectral(p[name + ".weight"], p[name + ".weight_u"])  # noqa: E731
    h = images
    for name, _, _ in ENCODER:
        h = F.leaky_relu(F.conv2d(h, sn(name), None, 2, 1), 0.2)
    code = F.leaky_relu(F.linear(embedding * SCALE, sn("get_cond_logits.projection.0"), p["get_cond_logits.projection.0.bias"]), 0.2)
    if head == "projection":
        phi = h.sum(dim=(2, 3))
        realness = F.linear(phi, sn("get_projection_logits.psi"), p["get_projection_logits.psi.bias"]).reshape(-1)
        return realness + (phi * F.linear(code, sn("get_projection_logits.embed"))).sum(dim=1), None
    joined = torch.cat([h, code[:, :, None, None].expand(-1, -1, 4, 4)], dim=1)
    m = F.leaky_relu(F.conv2d(joined, sn("get_cond_logits.outlogits.0"), None, 1, 1), 0.2)
    match = F.conv2d(m, sn("get_cond_logits.outlogits.3"), p["get_cond_logits.outlogits.3.bias"], 4).reshape(-1)
    if head == "single":
        return match, None
    real = F.conv2d(h, sn("get_uncond_logits.outlogits.0"), p["get_uncond_logits.outlogits.0.bias"], 4).reshape(-1)
    return match, real


HEAD_PARAMETERS = {
    "projection": ["get_projection_logits.psi.weight", "get_projection_logits.psi.bias", "get_projection_logits.embed.weight"],
    "single": ["get_cond_logits.outlogits.0.weight", "get_cond_logits.outlogits.3.weight", "get_cond_logits.outlogits.3.bias"],
}
HEAD_PARAMETERS["split"] = HEAD_PARAMETERS["single"] + ["get_uncond_logits.outlogits.0.weight", "get_uncond_logits.outlogits.0.bias"]


def penalties():
    weights = d_weights()
    i = np.arange(N * 3 * 64 * 64, dtype=np.float64)
    images = torch.from_numpy((0.9 * np.sin(0.61 * i)).astype(np.float32).astype(np.float64).reshape(N, 3, 64, 64))
    embedding = randn(N, E).float().double()
    dx, dy = [3, -2], [-1, 4]
    expected = {"embedding": embedding}
    for head in ("projection", "single", "split"):
        names = [name + ".weight" for name, _, _ in ENCODER] + ["get_cond_logits.projection.0.weight", "get_cond_logits.projection.0.bias"]
        names += HEAD_PARAMETERS[head]
        for penalty in ("r1", "ma_gp"):
            p = {k: (v.clone().requires_grad_(True) if k in names else v.clone()) for k, v in weights.items()}
            x, e = images.clone().requires_grad_(True), embedding.clone().requires_grad_(True)
            match, real = discriminator(p, translate(x, dx, dy), e, head)
            if penalty == "r1":
                value = sum((torch.autograd.grad(logits.sum(), x, create_graph=True)[0] ** 2).sum(dim=(1, 2, 3))
                            for logits in (match, real) if logits is not None).mean()
            else:
                gx, ge = torch.autograd.grad(match.sum(), (x, e), create_graph=True)
                value = (((gx ** 2).sum(dim=(1, 2, 3)) + (ge ** 2).sum(dim=1)) ** 3).mean()
            grads = torch.autograd.grad(value, [p[k] for k in names], allow_unused=True)
            grads = [torch.zeros_like(p[k]) if g is None else g for k, g in zip(names, grads)]
            expected["%s.%s.match" % (head, penalty)] = match.detach()
            expected["%s.%s" % (head, penalty)] = value.detach().reshape(1)
            expected.update({"%s.%s.grad.%s" % (head, penalty, k): g for k, g in zip(names, grads)})
    os.makedirs(PENALTIES, exist_ok=True)
    meta = {"script": SCRIPT, "dx": "3,-2", "dy": "-1,4", "embedding_scale": str(SCALE)}
    save_file({k: v.float().contiguous() for k, v in weights.items()}, os.path.join(PENALTIES, "weights.safetensors"), meta)
    save_file({k: v.float().contiguous() for k, v in expected.items()}, os.path.join(PENALTIES, "expected.safetensors"), meta)


def main():
    torch.manual_seed(26)
    write("doubleBackward", op_cases() + [net_case()], script=SCRIPT)
    penalties()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the PyTorch reference values that Tests/AutogradTests checks the Autograd ops against.

    python scripts/make_torch_fixtures.py      # needs torch (CPU is enough); not an install dependency

One JSON file per op under Tests/AutogradTests/Fixtures/:
    {"script": ..., "cases": [{"name": ..., "params": {name: number},
                               "tensors": {name: {"shape": [...], "values": [...]}}}]}
Tensor names: the op's inputs ("x", "weight", ...), "out" (forward), "upstream" (the gradient fed to
backward) and "grad.<input>" for every differentiated input. Inputs are random values rounded to 4
significant digits (so the file holds them exactly and stays small); everything computed from them is
computed in float64 and written with 7 significant digits (float32 precision, ample for the tests'
1e-4 relative tolerance).

training.json is the end-to-end check: a tiny conv net trained in float32 with plain SGD, its initial
weights, data, labels and the loss of every step.
"""
import json
import os

import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "AutogradTests", "Fixtures")
SCRIPT = "scripts/make_torch_fixtures.py"


def encode(t, digits=7):
    values = ",".join("%.*g" % (digits, v) for v in t.detach().double().reshape(-1).tolist())
    return '{"shape":%s,"values":[%s]}' % (json.dumps(list(t.shape)), values)


def short(t):
    """t rounded to 4 significant digits, in float64."""
    return torch.tensor([float("%.4g" % v) for v in t.reshape(-1).tolist()], dtype=torch.float64).reshape(t.shape)


def randn(*shape, scale=1.0, away=0.0):
    """Normal values with 4 significant digits (float64); `away` pushes |x| that far from 0 (kinks)."""
    x = torch.randn(shape, dtype=torch.float64) * scale
    if away:
        x = torch.where(x >= 0, x + away, x - away)
    return short(x)


def case(name, inputs, fn, grad=None, params=None, extra=None):
    """Runs fn(**inputs) in float64 and backpropagates a random upstream gradient."""
    grad = list(inputs) if grad is None else grad
    leaves = {k: (v.clone().requires_grad_(True) if k in grad else v.clone()) for k, v in inputs.items()}
    out = fn(**leaves)
    upstream = randn(*out.shape)
    out.backward(upstream)
    tensors = {k: v for k, v in inputs.items()}
    tensors["out"] = out
    inputs = set(inputs) | {"upstream"}
    tensors["upstream"] = upstream
    for k in grad:
        tensors["grad." + k] = leaves[k].grad
    for k, v in (extra(leaves) if extra else {}).items():
        tensors[k] = v
    return {"name": name, "params": params or {}, "tensors": tensors, "inputs": inputs}


def write(op, cases, script=SCRIPT):
    body = ",\n".join(
        '{"name":%s,"params":%s,"tensors":{%s}}' % (
            json.dumps(c["name"]), json.dumps(c["params"]),
            ",\n".join('"%s":%s' % (k, encode(v, 4 if k in c["inputs"] else 7)) for k, v in c["tensors"].items()))
        for c in cases)
    with open(os.path.join(ROOT, op + ".json"), "w") as f:
        f.write('{"script":"%s","cases":[\n%s]}\n' % (script, body))


def elementwise():
    x = lambda: randn(3, 5, 2, 2)
    write("add", [case("add", {"a": x(), "b": x()}, lambda a, b: a + b),
                  case("subtract", {"a": x(), "b": x()}, lambda a, b: a - b),
                  case("addScalar", {"x": x()}, lambda x: x + 0.75, params={"value": 0.75})])
    write("multiply", [case("multiply", {"a": x(), "b": x()}, lambda a, b: a * b),
                       case("scaled", {"x": x()}, lambda x: x * -1.5, params={"value": -1.5})])
    write("exp", [case("exp", {"x": randn(3, 5, 2, 2, scale=2)}, torch.exp)])
    write("tanh", [case("tanh", {"x": randn(3, 5, 2, 2, scale=2)}, torch.tanh)])
    write("sigmoid", [case("sigmoid", {"x": randn(3, 5, 2, 2, scale=4)}, torch.sigmoid)])
    write("relu", [case("relu", {"x": randn(3, 5, 2, 2, away=0.1)}, torch.relu)])
    write("leakyRelu", [case("leakyRelu", {"x": randn(3, 5, 2, 2, away=0.1)},
                             lambda x: F.leaky_relu(x, 0.2), params={"slope": 0.2})])


def losses():
    big = torch.tensor([30.0, -30.0, 100.0, -100.0, 17.5, -17.5, 0.0, 1e-3], dtype=torch.float64)
    logits = lambda: torch.cat([randn(3, 4, scale=3).reshape(-1), big]).reshape(4, 5)
    write("bceWithLogits", [
        case("target%g" % t, {"x": logits()},
             lambda x, t=t: F.binary_cross_entropy_with_logits(x, torch.full_like(x, t)), params={"target": t})
        for t in (1.0, 0.0, 0.25)])
    write("klDivergence", [case("kl", {"mu": randn(3, 7), "logVariance": randn(3, 7)},
                                lambda mu, logVariance: (-0.5 * (1 + logVariance - mu ** 2 - logVariance.exp())).mean())])
    write("gaussianSample", [case("sample", {"mu": randn(3, 7), "logVariance": randn(3, 7), "noise": randn(3, 7)},
                                  lambda mu, logVariance, noise: mu + (logVariance / 2).exp() * noise,
                                  grad=["mu", "logVariance"])])


def shapes():
    write("reshape", [case("reshape", {"x": randn(3, 5, 2, 2)}, lambda x: x.reshape(3, -1), params={"columns": 20})])
    write("reduce", [case("sum", {"x": randn(3, 5, 2)}, torch.sum), case("mean", {"x": randn(3, 5, 2)}, torch.mean)])
    write("upsample", [case("nearest2x", {"x": randn(3, 5, 3, 3)},
                            lambda x: F.interpolate(x, scale_factor=2, mode="nearest"))])
    write("concat", [case("channels", {"a": randn(3, 2, 2, 3), "b": randn(3, 5, 2, 3), "c": randn(3, 1, 2, 3)},
                          lambda a, b, c: torch.cat([a, b, c], dim=1))])
    write("tile", [case("tile", {"x": randn(3, 5)}, lambda x: x[:, :, None, None].expand(3, 5, 3, 4),
                        params={"height": 3, "width": 4})])
    write("batchSlice", [
        case("slice1to4", {"x": randn(5, 3, 2)}, lambda x: x[1:4], params={"lower": 1, "upper": 4}),
        # Autograd's rolledBatch(by: s) puts example (i + s) mod N at i: torch.roll with -s.
        case("roll1", {"x": randn(5, 3, 2)}, lambda x: torch.roll(x, -1, 0), params={"shift": 1}),
        case("roll-7", {"x": randn(5, 3, 2)}, lambda x: torch.roll(x, 7, 0), params={"shift": -7})])


def layers():
    write("linear", [
        case("bias", {"x": randn(3, 7), "weight": randn(5, 7), "bias": randn(5)}, F.linear),
        case("noBias", {"x": randn(3, 7), "weight": randn(5, 7)}, F.linear)])

    def conv(name, size, k, s, p, bias=True):
        inputs = {"x": randn(3, 5, size, size), "weight": randn(4, 5, k, k, scale=0.3)}
        if bias:
            inputs["bias"] = randn(4)
        return case(name, inputs, lambda **t: F.conv2d(t["x"], t["weight"], t.get("bias"), stride=s, padding=p),
                    params={"stride": s, "padding": p})
    write("conv2d", [conv("k4s2p1", 7, 4, 2, 1), conv("k4s4p0", 9, 4, 4, 0), conv("k3s1p1", 7, 3, 1, 1, bias=False),
                     conv("k3s2p1", 7, 3, 2, 1)])

    def deconv(name, size, k, s, p, bias=True):
        inputs = {"x": randn(3, 5, size, size), "weight": randn(5, 3, k, k, scale=0.3)}
        if bias:
            inputs["bias"] = randn(3)
        return case(name, inputs,
                    lambda **t: F.conv_transpose2d(t["x"], t["weight"], t.get("bias"), stride=s, padding=p),
                    params={"stride": s, "padding": p})
    write("convTranspose2d", [deconv("k4s2p1", 3, 4, 2, 1), deconv("k3s1p1", 4, 3, 1, 1, bias=False),
                              deconv("k4s1p0", 2, 4, 1, 0)])

    def bn(name, shape, training):
        c = shape[1]
        inputs = {"x": randn(*shape, scale=2) + 0.5, "scale": randn(c) + 1, "shift": randn(c),
                  "runningMean": randn(c), "runningVariance": randn(c).abs() + 0.5}

        def f(x, scale, shift, runningMean, runningVariance):
            return F.batch_norm(x, runningMean, runningVariance, scale, shift, training=training, momentum=0.1, eps=1e-5)
        # F.batch_norm updates the running statistics in place (unbiased variance) when training.
        return case(name, inputs, f, grad=["x", "scale", "shift"], params={"training": int(training)},
                    extra=lambda t: {"runningMean.after": t["runningMean"], "runningVariance.after": t["runningVariance"]})
    write("batchNorm", [bn("1dTrain", (5, 4), True), bn("1dEval", (5, 4), False),
                        bn("2dTrain", (3, 5, 3, 3), True), bn("2dEval", (3, 5, 3, 3), False)])

    # StackGAN's upBlock convolution: nearest x2 upsampling, then a 3x3 conv (Autograd computes it as
    # one stride-2 transposed conv). Odd sizes: 3x4 -> 6x8.
    write("upsampledConv3x3", [case("up2conv3x3", {"x": randn(3, 5, 3, 4), "weight": randn(4, 5, 3, 3, scale=0.3)},
                                    lambda x, weight: F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"),
                                                               weight, padding=1))])


def training():
    """A tiny conv net trained in float32 with SGD (lr 0.05) for 30 steps on one fixed batch."""
    torch.manual_seed(1)
    conv1 = torch.nn.Conv2d(3, 8, 4, 2, 1, bias=False)
    bn1 = torch.nn.BatchNorm2d(8)
    conv2 = torch.nn.Conv2d(8, 16, 4, 2, 1, bias=False)
    bn2 = torch.nn.BatchNorm2d(16)
    fc = torch.nn.Linear(16 * 4 * 4, 1)
    params = {"conv1.weight": conv1.weight, "bn1.scale": bn1.weight, "bn1.shift": bn1.bias,
              "conv2.weight": conv2.weight, "bn2.scale": bn2.weight, "bn2.shift": bn2.bias,
              "fc.weight": fc.weight, "fc.bias": fc.bias}
    with torch.no_grad():  # 4-digit weights and data, exact in the file; float32 from here on
        for p in params.values():
            p.copy_(short(p))
    x = short(torch.randn(8, 3, 16, 16)).float()
    labels = torch.tensor([1.0] * 4 + [0.0] * 4)  # real-then-fake, as a discriminator's batch
    tensors = {k: v.detach().clone() for k, v in params.items()}
    tensors["x"], tensors["labels"] = x, labels
    losses = []
    for _ in range(30):
        h = F.leaky_relu(bn1(conv1(x)), 0.2)
        h = torch.relu(bn2(conv2(h)))
        logits = fc(h.reshape(8, -1)).reshape(8)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        for p in params.values():
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params.values():
                p -= 0.05 * p.grad
        losses.append(loss.item())
    tensors["losses"] = torch.tensor(losses, dtype=torch.float64)
    tensors["bn2.runningMean.final"] = bn2.running_mean
    tensors["fc.weight.final"] = fc.weight
    write("training", [{"name": "convNetSGD", "params": {"learningRate": 0.05, "steps": 30, "slope": 0.2},
                        "tensors": tensors, "inputs": set(params) | {"x", "labels"}}])


def pair_ops():
    """The ops that score every image of a batch against every caption (own seed: added later)."""
    torch.manual_seed(1)
    # Autograd's pairwiseSum: example i * Nb + j is a_i + b_j.
    write("pairwiseSum", [case("pairs", {"a": randn(3, 2, 2, 2), "b": randn(4, 2, 2, 2)},
                               lambda a, b: (a[:, None] + b[None, :]).reshape(12, 2, 2, 2))])
    write("transpose", [case("matrix", {"x": randn(3, 5)}, lambda x: x.t())])

    def taps(x, big, window, bias):
        # The w*w taps of Autograd's NeighbourWindow: for each tap t the small image's pixel at
        # offset t around the one containing each output pixel (clamped at the border), [N, C, S, S],
        # and the logit offset that gives the centre tap its bias.
        s, r = x.shape[2], window // 2
        offset = torch.zeros(window * window, dtype=torch.float64)
        offset[window * window // 2] = bias
        rows = torch.arange(big) // (big // s)
        gathered = []
        for t in range(window * window):
            sy = (rows + t // window - r).clamp(0, s - 1)
            sx = (rows + t % window - r).clamp(0, s - 1)
            gathered.append(x[:, :, sy][:, :, :, sx])
        return gathered, offset[None, :, None, None]

    def neighbour_mix(x, logits, window, bias):
        # Autograd's neighbourMix: softmax over the window's taps (centre + bias) of the small
        # image's pixels around the one containing each output pixel, clamped at the border.
        pixels, offset = taps(x, logits.shape[2], window, bias)
        a = torch.softmax(logits + offset, dim=1)
        return sum(a[:, t:t + 1] * pixel for t, pixel in enumerate(pixels))
    write("neighbourMix", [
        case("window3", {"x": randn(2, 3, 3, 3), "logits": randn(2, 9, 12, 12)},
             lambda x, logits: neighbour_mix(x, logits, 3, 1.5), params={"window": 3, "centreBias": 1.5}),
        case("window5", {"x": randn(1, 2, 4, 4), "logits": randn(1, 25, 8, 8)},
             lambda x, logits: neighbour_mix(x, logits, 5, 0.0), params={"window": 5, "centreBias": 0}),
        # 20 columns: one 16-wide block of the vectorised softmax and a scalar tail of 4.
        case("wide", {"x": randn(1, 2, 5, 5), "logits": randn(1, 9, 20, 20)},
             lambda x, logits: neighbour_mix(x, logits, 3, 2.0), params={"window": 3, "centreBias": 2})])
    write("pixelShuffle", [case("factor2", {"x": randn(2, 12, 3, 2)}, lambda x: F.pixel_shuffle(x, 2), params={"factor": 2})])

    def neighbour_choice(x, logits, target, window, bias, temperature):
        # Autograd's neighbourChoiceLoss: cross-entropy of the mix's weights against
        # q = softmax(-|target - pixel_k|_1 / temperature) over the window's taps.
        pixels, offset = taps(x, logits.shape[2], window, bias)
        log_a = torch.log_softmax(logits + offset, dim=1)
        errors = torch.stack([(target - pixel).abs().sum(1) for pixel in pixels], 1)
        q = torch.softmax(-errors / temperature, dim=1)
        return -(q * log_a).sum(1).mean()
    write("neighbourChoice", [
        case("window3", {"x": randn(2, 3, 3, 3), "logits": randn(2, 9, 12, 12), "target": randn(2, 3, 12, 12)},
             lambda x, logits, target: neighbour_choice(x, logits, target, 3, 1.5, 0.5), grad=["logits"],
             params={"window": 3, "centreBias": 1.5, "temperature": 0.5}),
        # The Stage-II recipe's bias and temperature; 20 columns as neighbourMix's "wide".
        case("wide", {"x": randn(1, 3, 5, 5), "logits": randn(1, 9, 20, 20), "target": randn(1, 3, 20, 20)},
             lambda x, logits, target: neighbour_choice(x, logits, target, 3, 2.0, 0.05), grad=["logits"],
             params={"window": 3, "centreBias": 2, "temperature": 0.05})])


if __name__ == "__main__":
    os.makedirs(ROOT, exist_ok=True)
    torch.manual_seed(0)
    elementwise()
    losses()
    shapes()
    layers()
    training()
    pair_ops()

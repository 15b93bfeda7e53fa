#!/usr/bin/env python3
"""Writes the PyTorch reference values for the ops the quality options use (projection head,
spectral normalisation, DiffAugment, the contrastive and mode-seeking losses), in the format and with the helpers of
make_torch_fixtures.py, into Tests/AutogradTests/Fixtures/:

    python scripts/make_quality_fixtures.py     # needs torch (CPU is enough); not an install dependency

abs, reciprocal, rowSums, l2Normalize, softmaxCrossEntropy, spectralNorm (one power-iteration step as
torch.nn.utils.spectral_norm: v = normalise(W^T u), u = normalise(W v), sigma = u.W v, u and v
constants for the gradient), translate and colorJitter (DiffAugment's published transforms with
given per-image factors), modulate (x * scale[n, c] + shift[n, c], conditional batch norm's affine).
"""
import torch
import torch.nn.functional as F

from make_torch_fixtures import case, randn, write, ROOT, SCRIPT  # noqa: F401


def spectral(weight, u):
    w = weight.reshape(weight.shape[0], -1)
    with torch.no_grad():
        v = F.normalize(w.t() @ u, dim=0, eps=1e-12)
        u1 = F.normalize(w @ v, dim=0, eps=1e-12)
    return weight / torch.dot(u1, w @ v), u1


def translate(x, dx, dy):
    n, c, h, w = x.shape
    padded = F.pad(x, (w, w, h, h))
    return torch.stack([padded[i, :, h - dy[i]:2 * h - dy[i], w - dx[i]:2 * w - dx[i]] for i in range(n)])


def color(x, brightness, saturation, contrast):
    x = x + brightness.reshape(-1, 1, 1, 1)
    m = x.mean(dim=1, keepdim=True)
    x = (x - m) * saturation.reshape(-1, 1, 1, 1) + m
    m = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - m) * contrast.reshape(-1, 1, 1, 1) + m


def main():
    torch.manual_seed(5)
    write("abs", [case("abs", {"x": randn(3, 5, away=0.1)}, torch.abs)])
    write("reciprocal", [case("reciprocal", {"x": randn(3, 5, away=0.5)}, torch.reciprocal)])
    write("rowSums", [case("rowSums", {"x": randn(4, 6)}, lambda x: x.sum(dim=1))])
    write("l2Normalize", [case("rows", {"x": randn(4, 6)}, lambda x: F.normalize(x, dim=1, eps=1e-8))])
    targets = [2, 0, 3, 3]
    write("softmaxCrossEntropy", [case("ce", {"x": randn(4, 5, scale=3)}, lambda x: F.cross_entropy(x, torch.tensor(targets)),
                                       params={"t%d" % i: t for i, t in enumerate(targets)})])
    u = F.normalize(randn(4), dim=0)
    write("spectralNorm", [
        case("conv", {"weight": randn(4, 3, 2, 2, scale=0.3), "u": u}, lambda weight, u: spectral(weight, u)[0], grad=["weight"],
             extra=lambda t: {"u.after": spectral(t["weight"].detach(), t["u"])[1]}),
        case("linear", {"weight": randn(4, 7, scale=0.3), "u": u}, lambda weight, u: spectral(weight, u)[0], grad=["weight"],
             extra=lambda t: {"u.after": spectral(t["weight"].detach(), t["u"])[1]})])
    dx, dy = [2, -1, 0, -3], [-2, 3, 0, 1]
    write("translate", [case("translate", {"x": randn(4, 2, 5, 6)}, lambda x: translate(x, dx, dy),
                             params={**{"dx%d" % i: v for i, v in enumerate(dx)}, **{"dy%d" % i: v for i, v in enumerate(dy)}})])
    write("colorJitter", [case("color", {"x": randn(3, 3, 4, 5), "brightness": randn(3, scale=0.3),
                                         "saturation": randn(3).abs(), "contrast": randn(3).abs() + 0.5},
                               color, grad=["x"])])
    write("modulate", [case("modulate", {"x": randn(3, 4, 2, 5), "scale": randn(3, 4), "shift": randn(3, 4)},
                            lambda x, scale, shift: x * scale[:, :, None, None] + shift[:, :, None, None])])


if __name__ == "__main__":
    main()

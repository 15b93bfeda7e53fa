"""Writes Tests/StackGANTests/Fixtures/models/: small-width weights of the reference modules
(scripts/reference/stackgan_torch.py), their inputs, and the outputs, losses and gradients that
PyTorch computes, for the Swift parity tests.

    /tmp/torchenv/bin/python scripts/make_model_fixtures.py

Every weight file goes through scripts/import_torch_checkpoint.py (Stage-I G saved DataParallel-
style, with `module.` prefixes and num_batches_tracked), so the tests also prove the importer.
Images are not stored: both sides compute pattern_images() from the same formula.
"""
import copy
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
import stackgan_torch as ref  # noqa: E402

OUT = os.path.join(HERE, "..", "Tests", "StackGANTests", "Fixtures", "models")
CFG = ref.Config(embedding_dim=16, z_dim=8, condition_dim=8, gf_dim=16, df_dim=4, residual_blocks=1)
EVAL_BATCH, TRAIN_BATCH = 2, 4


def pattern_images(n, size):
    """x[i] = 0.9 sin(0.61 i) over the flat NCHW index, in float64 then cast (as the Swift test)."""
    i = np.arange(n * 3 * size * size, dtype=np.float64)
    return torch.from_numpy((0.9 * np.sin(0.61 * i)).astype(np.float32).reshape(n, 3, size, size))


def randomize(module, gen):
    """Default PyTorch weights, but BN affine and running statistics away from 1/0 so that eval
    mode and the BN scale/shift are really exercised."""
    for m in module.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            with torch.no_grad():
                m.weight.uniform_(0.8, 1.2, generator=gen)
                m.bias.normal_(0, 0.1, generator=gen)
                m.running_mean.normal_(0, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
    return module


def export(module, name, tmp, data_parallel=False):
    state = module.state_dict()
    if data_parallel:
        state = {"module." + k: v for k, v in state.items()}
    pth = os.path.join(tmp, name + ".pth")
    torch.save(state, pth)
    subprocess.run([sys.executable, os.path.join(HERE, "import_torch_checkpoint.py"), pth,
                    os.path.join(OUT, name + ".safetensors")], check=True)
    return pth


# The config of CFG's widths, for a converted checkpoint `stackgan` loads as it is.
STAGE1_CONFIG = f"""family: stackgan
stage: 1
model:
  embedding_dim: {CFG.embedding_dim}
  z_dim: {CFG.z_dim}
  condition_dim: {CFG.condition_dim}
  gf_dim: {CFG.gf_dim}
  df_dim: {CFG.df_dim}
  residual_blocks: {CFG.residual_blocks}
"""


def grads(module, names):
    params = dict(module.named_parameters())
    return {n: params[n].grad.detach().clone() for n in names}


def compute(modules, inputs, dtype):
    """Eval-mode outputs on the first EVAL_BATCH examples and one training step on all of them."""
    g1, d1, g2, d2, gc, dc = modules
    emb, z, eps, eps1 = inputs["embeddings"], inputs["noise"], inputs["eps"], inputs["stage1_eps"]
    n = emb.size(0)
    img64, img256 = pattern_images(n, 64).to(dtype), pattern_images(n, 256).to(dtype)
    out = {}
    fresh_g1, fresh_d1 = copy.deepcopy(g1), copy.deepcopy(d1)  # before any step moves BN statistics

    # Forward parity in eval mode, on the first EVAL_BATCH examples.
    k = EVAL_BATCH
    for m in (g1, d1, g2, d2, gc, dc):
        m.eval()
    with torch.no_grad():
        _, img, mu, logvar = g1(emb[:k], z[:k], eps1[:k])
        out.update({"eval.stage1_g.image": img, "eval.stage1_g.mu": mu, "eval.stage1_g.logvar": logvar})
        out["eval.stage1_d.match"] = d1.get_cond_logits(d1(img64[:k]), mu)
        s1, img2, mu2, logvar2 = g2(emb[:k], z[:k], eps[:k], eps1[:k])
        out.update({"eval.stage2_g.stage1_image": s1, "eval.stage2_g.image": img2,
                    "eval.stage2_g.mu": mu2, "eval.stage2_g.logvar": logvar2})
        f = d2(img256[:k])
        out["eval.stage2_d.match"] = d2.get_cond_logits(f, mu2)
        out["eval.stage2_d.real"] = d2.get_uncond_logits(f)
        out["eval.gan_cls_g.image"] = gc(emb[:k], z[:k])
        out["eval.gan_cls_d.match"] = dc.logits(dc(img64[:k]), emb[:k])

    # One training step (BN batch statistics), StackGAN-Pytorch's order: G forward, D loss and
    # backward, then G loss and backward through the same D (no optimizer step in between).
    def step(prefix, g, d, real, g_args, g_grads, d_grads, running):
        g.train(); d.train()
        _, fake, mu, logvar = g(*g_args)
        d.zero_grad()
        err_d = ref.discriminator_loss(d, real, fake, mu)
        err_d.backward()
        out.update({f"{prefix}.d_loss": err_d.detach().reshape(1)})
        out.update({f"{prefix}.d_grad.{name}": t for name, t in grads(d, d_grads).items()})
        d.zero_grad()
        err_g = ref.generator_loss(d, fake, mu, mu, logvar)
        err_g.backward()
        out.update({f"{prefix}.g_loss": err_g.detach().reshape(1), f"{prefix}.kl": ref.kl_loss(mu, logvar).detach().reshape(1)})
        out.update({f"{prefix}.g_grad.{name}": t for name, t in grads(g, g_grads).items()})
        states = {**dict(d.named_buffers()), **{"G." + k: v for k, v in g.named_buffers()}}
        out.update({f"{prefix}.after.{name}": states[name].clone() for name in running})

    step("train.stage1", g1, d1, img64, (emb, z, eps1),
         ["ca_net.fc.weight", "ca_net.fc.bias", "fc.0.weight", "fc.1.weight", "upsample1.1.weight", "img.0.weight"],
         ["encode_img.0.weight", "encode_img.8.weight", "get_cond_logits.outlogits.0.weight",
          "get_cond_logits.outlogits.3.weight", "get_cond_logits.outlogits.3.bias"],
         ["encode_img.3.running_mean", "get_cond_logits.outlogits.1.running_var", "G.fc.1.running_mean"])
    step("train.stage2", g2, d2, img256, (emb, z, eps, eps1),
         ["ca_net.fc.weight", "encoder.0.weight", "hr_joint.0.weight", "residual.0.block.3.weight",
          "upsample1.1.weight", "img.0.weight"],
         ["encode_img.0.weight", "encode_img.20.weight", "get_cond_logits.outlogits.3.weight",
          "get_uncond_logits.outlogits.0.weight", "get_uncond_logits.outlogits.0.bias"],
         ["encode_img.21.running_var", "G.STAGE1_G.fc.1.running_mean"])

    # Whole training iterations as the Swift GANStep runs them: G forward; D loss on real, wrong
    # (rolled) and detached fake pairs, backward, Adam step; G loss through the updated D, backward,
    # Adam step (lr 2e-4, betas 0.5/0.999, as TrainConfig's defaults). Two iterations on the same
    # batch and noise, so the second sees both updates.
    g, d = fresh_g1, fresh_d1
    g.train(); d.train()
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    for k in range(2):
        _, fake, mu, logvar = g(emb, z, eps1)
        d.zero_grad()
        err_d = ref.discriminator_loss(d, img64, fake, mu)
        err_d.backward()
        opt_d.step()
        g.zero_grad()
        err_g = ref.generator_loss(d, fake, mu, mu, logvar)
        err_g.backward()
        opt_g.step()
        out[f"iteration.stage1.{k}.d_loss"] = err_d.detach().reshape(1)
        out[f"iteration.stage1.{k}.g_loss"] = err_g.detach().reshape(1)

    return out


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    os.makedirs(OUT, exist_ok=True)
    g1 = randomize(ref.STAGE1_G(CFG), gen)
    d1 = randomize(ref.STAGE1_D(CFG, split=False), gen)
    g2 = randomize(ref.STAGE2_G(copy.deepcopy(g1), CFG), gen)  # its own frozen copy
    d2 = randomize(ref.STAGE2_D(CFG, split=True), gen)
    gc = randomize(ref.GAN_CLS_G(CFG), gen)
    dc = randomize(ref.GAN_CLS_D(CFG), gen)
    with tempfile.TemporaryDirectory() as tmp:
        g1_pth = export(g1, "stage1_g", tmp, data_parallel=True)
        d1_pth = export(d1, "stage1_d", tmp)
        for m, name in [(g2, "stage2_g"), (d2, "stage2_d"), (gc, "gan_cls_g"), (dc, "gan_cls_d")]:
            export(m, name, tmp)
        # Stage-I G and D as one checkpoint with its config (import_torch_checkpoint.py --config).
        config = os.path.join(tmp, "stage1.yml")
        with open(config, "w") as f:
            f.write(STAGE1_CONFIG)
        subprocess.run([sys.executable, os.path.join(HERE, "import_torch_checkpoint.py"), g1_pth,
                        os.path.join(OUT, "stage1_checkpoint.safetensors"), "--config", config,
                        "--discriminator", d1_pth], check=True)

    n = TRAIN_BATCH
    inputs = {"embeddings": torch.randn(n, CFG.embedding_dim), "noise": torch.randn(n, CFG.z_dim),
              "eps": torch.randn(n, CFG.condition_dim), "stage1_eps": torch.randn(n, CFG.condition_dim)}
    save_file(inputs, os.path.join(OUT, "inputs.safetensors"))
    modules = (g1, d1, g2, d2, gc, dc)
    # The expected values come from float64 copies of the same float32 weights and inputs (exact
    # conversions); a float32 run gives PyTorch's own rounding error, stored as f32_error.<key>,
    # which the Swift tests use to scale their bounds where a value is ill-conditioned.
    out = compute([copy.deepcopy(m).double() for m in modules], {k: v.double() for k, v in inputs.items()}, torch.float64)
    single = compute([copy.deepcopy(m) for m in modules], inputs, torch.float32)
    errors = {f"f32_error.{k}": ((single[k].double() - v).abs().max() / v.abs().max().clamp_min(1e-30)).reshape(1)
              for k, v in out.items()}
    out.update(errors)
    worst = sorted(errors.items(), key=lambda kv: -kv[1].item())[:5]
    print("PyTorch float32 vs float64, largest relative errors:", [(k, f"{v.item():.2e}") for k, v in worst])
    save_file({k: v.detach().contiguous().float() for k, v in out.items()}, os.path.join(OUT, "expected.safetensors"))
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump({**CFG.__dict__, "eval_batch": EVAL_BATCH, "train_batch": TRAIN_BATCH}, f, indent=1, sort_keys=True)
    print("wrote", OUT)


if __name__ == "__main__":
    main()

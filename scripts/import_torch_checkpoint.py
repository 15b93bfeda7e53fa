"""Convert a StackGAN-Pytorch checkpoint (a netG or netD state_dict saved with torch.save) to the
project's safetensors checkpoint, which the Swift models load by the same names.

    python scripts/import_torch_checkpoint.py netG_epoch_120.pth stage1_g.safetensors
    python scripts/import_torch_checkpoint.py netG_epoch_120.pth stage1.safetensors \
        --config configs/birds_stage1.yml [--discriminator netD_epoch_120.pth]

Without --config the file holds the tensors alone (what the parity tests load by name). With
--config (the YAML the weights belong to) it is a checkpoint as `stackgan train` writes one:
tensors under `generator.` (and `discriminator.`), the config text as `config` metadata, so
`stackgan generate` and `evaluate` (with --discriminator) read it and a Stage-II config can name it
as `train.stage1_checkpoint`.

- `module.` prefixes (nn.DataParallel) are removed;
- `num_batches_tracked` buffers are dropped (the Swift BatchNorm has none);
- every tensor is cast to contiguous float32 (the Swift loader reads F32 only).
The published heads end in Sigmoid, which has no parameters: the Swift heads return the logits
before it, so the weights carry over unchanged.
"""
import argparse
import re
import sys

import torch
from safetensors.torch import save_file


def convert(state_dict):
    if isinstance(state_dict, dict) and "state_dict" in state_dict and isinstance(state_dict["state_dict"], dict):
        state_dict = state_dict["state_dict"]
    out = {}
    for key, value in state_dict.items():
        if not torch.is_tensor(value):
            raise ValueError(f"{key}: not a tensor ({type(value).__name__}); is this a state_dict?")
        name = key[len("module."):] if key.startswith("module.") else key
        if name.endswith("num_batches_tracked"):
            continue
        if name in out:
            raise ValueError(f"{key}: duplicate name {name} after removing the module. prefix")
        out[name] = value.detach().to(torch.float32).contiguous()
    return out


def top_level(text, key, default):
    """A top-level scalar of a config (`family: gan_cls`), for the informational metadata."""
    match = re.search(rf"^{key}:\s*([^\s#]+)", text, re.MULTILINE)
    return match.group(1) if match else default


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input", help="a .pth state_dict (netG or netD)")
    parser.add_argument("output", help="the .safetensors file to write")
    parser.add_argument("--config", help="the YAML config the weights belong to: write a checkpoint `stackgan` loads")
    parser.add_argument("--discriminator", help="with --config: the netD .pth to store beside the generator")
    args = parser.parse_args(argv)
    tensors = convert(torch.load(args.input, map_location="cpu", weights_only=True))
    metadata = {"source": "StackGAN-Pytorch", "converted_from": args.input.split("/")[-1]}
    if args.config:
        with open(args.config) as f:
            text = f.read()
        tensors = {f"generator.{k}": v for k, v in tensors.items()}
        if args.discriminator:
            netd = convert(torch.load(args.discriminator, map_location="cpu", weights_only=True))
            tensors.update({f"discriminator.{k}": v for k, v in netd.items()})
        metadata.update({"config": text, "family": top_level(text, "family", "stackgan"), "stage": top_level(text, "stage", "1")})
    elif args.discriminator:
        parser.error("--discriminator needs --config")
    save_file(tensors, args.output, metadata=metadata)
    print(f"{args.output}: {len(tensors)} tensors, {sum(t.numel() for t in tensors.values())} values")
    return 0


if __name__ == "__main__":
    sys.exit(main())

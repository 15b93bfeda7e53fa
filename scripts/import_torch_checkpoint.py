"""Convert a StackGAN-Pytorch checkpoint (a netG or netD state_dict saved with torch.save) to the
project's safetensors checkpoint, which the Swift models load by the same names.

    python scripts/import_torch_checkpoint.py netG_epoch_120.pth stage1_g.safetensors

- `module.` prefixes (nn.DataParallel) are removed;
- `num_batches_tracked` buffers are dropped (the Swift BatchNorm has none);
- every tensor is cast to contiguous float32 (the Swift loader reads F32 only).
The published heads end in Sigmoid, which has no parameters: the Swift heads return the logits
before it, so the weights carry over unchanged.
"""
import argparse
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input", help="a .pth state_dict (netG or netD)")
    parser.add_argument("output", help="the .safetensors file to write")
    args = parser.parse_args(argv)
    state_dict = torch.load(args.input, map_location="cpu", weights_only=True)
    tensors = convert(state_dict)
    save_file(tensors, args.output, metadata={"source": "StackGAN-Pytorch", "converted_from": args.input.split("/")[-1]})
    print(f"{args.output}: {len(tensors)} tensors, {sum(t.numel() for t in tensors.values())} values")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Convert checkpoints into files that THE-Mask loads safely (``weights_only=True``).

1. Hugging Face MiT weights -> SegFormer's flat ``mit_bX.pth``. A folder from
   ``huggingface-cli download nvidia/mit-b1 --local-dir pretrained/mit-b1`` (``config.json`` and
   ``model.safetensors`` or ``pytorch_model.bin``), a ``.safetensors`` file, or a ``.bin`` with
   transformers' SegFormer key names is recognised by itself:

       python tools/convert_checkpoint.py pretrained/mit-b1 pretrained/mit_b1.pth

   The keys are renamed to SegFormer's (key and value fused into ``kv``, the classifier into
   ``head.*``), so OUT loads exactly as the file linked from the SegFormer README. (The folder also
   loads as it is: ``--options model.pretrained=pretrained/mit-b1``.)

2. A TRUSTED checkpoint that needs arbitrary unpickling:

       python tools/convert_checkpoint.py IN.pth OUT.pth --trust

   THE-Mask loads every checkpoint with ``torch.load(..., weights_only=True)``: only tensors and
   plain Python values. A file holding other Python objects (NumPy scalars, custom classes) is
   refused, because unpickling such objects can run any code the file's author put there. If you
   trust where the file came from, this unpickles IN.pth fully (``weights_only=False``), keeps the
   tensors and plain values (NumPy arrays become tensors, NumPy scalars Python numbers), lists what
   it left out, writes OUT.pth and checks that OUT.pth loads with ``weights_only=True``.
"""
import argparse
import os
import sys
from collections.abc import Mapping

from mmseg.models.backbones.mit_weights import (
    HF_CONFIG,
    HF_WEIGHT_FILES,
    is_hf_segformer_state_dict,
    read_mit_state_dict,
)
from mmseg.utils.checkpoint import (
    UnsafeCheckpointError,
    convert_trusted_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from mmseg.utils.cli import run_cli

SOURCE = 'convert_checkpoint'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Write a Hugging Face MiT folder or .safetensors '
                                                 "file as SegFormer's flat mit_bX.pth, or re-save "
                                                 'a trusted checkpoint so that it loads with '
                                                 'weights_only=True')
    parser.add_argument('src', help='a Hugging Face folder, a .safetensors file or the checkpoint '
                                    'to convert')
    parser.add_argument('dst', help='where to write the converted checkpoint')
    parser.add_argument('--trust', action='store_true',
                        help='confirm that you trust SRC: it will be unpickled, which can run code')
    return parser.parse_args(argv)


def is_hf_source(path: str) -> bool:
    """A ``.safetensors`` file or a folder holding a Hugging Face config or weights file."""
    if os.path.isdir(path):
        return any(os.path.isfile(os.path.join(path, name))
                   for name in (*HF_WEIGHT_FILES, HF_CONFIG))
    return path.endswith('.safetensors')


def convert_hf(src: str, dst: str) -> None:
    """Write the MiT weights of ``src`` (any form ``model.pretrained`` accepts) as a flat
    ``.pth``."""
    state = read_mit_state_dict(src, source=SOURCE)
    save_checkpoint(state, dst, update_latest=False)
    read_checkpoint(dst, SOURCE)
    print(f'wrote {dst}: {len(state)} tensors under SegFormer key names (loads as mit_bX.pth)')


def main(argv=None) -> int:
    args = parse_args(argv)
    if is_hf_source(args.src):
        convert_hf(args.src, args.dst)
        return 0
    try:
        checkpoint = read_checkpoint(args.src, SOURCE)
    except UnsafeCheckpointError:
        if not args.trust:
            print(f'{args.src} needs arbitrary unpickling, which can run code chosen by whoever '
                  f'made the file. Only if you trust its origin, run again with --trust.',
                  file=sys.stderr)
            return 2
        convert_trusted_checkpoint(args.src, args.dst)
        return 0
    # a pytorch_model.bin
    if isinstance(checkpoint, Mapping) and is_hf_segformer_state_dict(checkpoint):
        convert_hf(args.src, args.dst)
        return 0
    print(f'{args.src} already loads with weights_only=True; nothing to convert.')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main))

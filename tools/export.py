"""Export a THE-Mask segmentor's inference as a ``torch.export`` program, then check the saved file.

    python tools/export.py local_configs/themask/video_themask_mit_b1.py work_dirs/b1/latest.pth \
        --clip-len 2 --size 480x853 --out work_dirs/b1_2x480x853.pt2

The program takes one normalised clip (1, T, 3, H, W) float32 (the pipeline's normalisation, as
``tools/test.py`` feeds the model) and returns per-frame class scores (T, K, H, W), as
``encode_decode`` computes them, or with ``--output labels`` the per-frame labels (T, H, W) int64.
T, H and W are fixed at export. The deformable attention is exported as the operator
``themask::ms_deform_attn_forward``: build it (``sh make.sh`` in the op folder) before exporting,
and register it before ``torch.export.load``, by importing ``mmseg.models`` or by
``torch.ops.load_library`` of the op's .so:

    import torch, mmseg.models  # registers themask::ms_deform_attn_forward
    program = torch.export.load('b1.pt2')
    scores = program.module()(clip)

After saving, the file is loaded back and run on a random clip; the tool fails unless the loaded
program reproduces the eager model (scores within ``--atol``, labels equal).
"""
import argparse
import os

import torch
from torch import nn

from mmseg.apis import init_segmentor
from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import available_backends, select_backend
from mmseg.models.utils import fast_mode
from mmseg.utils.cli import run_cli
from mmseg.utils.config import ConfigError
from mmseg.utils.errors import UsageError
from mmseg.utils.paths import check_writable_output


class ClipInference(nn.Module):
    """(1, T, 3, H, W) normalised clip -> scores (T, K, H, W) or labels (T, H, W)."""

    def __init__(self, segmentor: nn.Module, output: str = 'scores') -> None:
        super().__init__()
        self.segmentor = segmentor
        self.output = output

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        scores = self.segmentor.encode_decode(clip)
        return scores.argmax(dim=1) if self.output == 'labels' else scores


def parse_size(text: str) -> tuple:
    try:
        height, width = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise ConfigError(f'--size {text!r}: expected HxW, e.g. 480x853') from None
    if height <= 0 or width <= 0:
        raise ConfigError(f'--size {text!r}: height and width must be positive')
    return height, width


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export a segmentor as a torch.export program')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help="checkpoint file ('none': random weights)")
    parser.add_argument('--clip-len', type=int, default=2, help='frames per clip T')
    parser.add_argument('--size', default='480x480', help='input HxW')
    parser.add_argument('--out', required=True, help='the .pt2 file to write')
    parser.add_argument('--output', choices=['scores', 'labels'], default='scores',
                        help='what the program returns (default: scores)')
    parser.add_argument('--device', default='cpu', help='device to export on (cpu, cuda)')
    parser.add_argument('--atol', type=float, default=1e-5,
                        help='largest allowed score difference of the loaded program vs eager')
    return parser.parse_args(argv)


def export_clip_inference(model: nn.Module, *, clip_len: int, height: int, width: int,
                          output: str, out: str, device: str = 'cpu') -> torch.Tensor:
    """Export ``model``'s inference on (1, clip_len, 3, height, width) clips to ``out``; return
    the example clip used for tracing."""
    clip = torch.randn(1, clip_len, 3, height, width, device=device,
                       generator=torch.Generator(device).manual_seed(0))
    wrapper = ClipInference(model, output).eval()
    with torch.no_grad():
        program = torch.export.export(wrapper, (clip,))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    torch.export.save(program, out)
    return clip


def check_round_trip(model: nn.Module, path: str, clip: torch.Tensor, output: str,
                     atol: float) -> float:
    """Run the saved program and the eager model on a fresh clip; return the largest difference
    (scores) or the fraction of differing labels; raise if it is out of tolerance."""
    fresh = torch.randn(clip.shape, device=clip.device,
                        generator=torch.Generator(clip.device).manual_seed(1))
    loaded = torch.export.load(path).module()
    with torch.no_grad():
        result = loaded(fresh)
        expected = ClipInference(model, output)(fresh)
    if output == 'labels':
        error = (result != expected).float().mean().item()
        ok = error == 0
    else:
        error = (result - expected).abs().max().item()
        ok = error <= atol
    if not ok:
        raise RuntimeError(f'the loaded program differs from the eager model: {output} error '
                           f'{error:.3g} (allowed: {0 if output == "labels" else atol})')
    return error


def main(argv=None) -> None:
    args = parse_args(argv)
    height, width = parse_size(args.size)
    if args.clip_len <= 0:
        raise ConfigError(f'--clip-len must be positive, got {args.clip_len}')
    check_writable_output(args.out, '--out')
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    model = init_segmentor(args.config, checkpoint, device=args.device)
    if not fast_mode():
        raise UsageError('reference mode (THEMASK_MODE=reference) cannot be exported: its '
                         'deformable-attention reference reads the level shapes from a tensor; unset it')
    if select_backend(torch.zeros(1, 1, 1, 1, device=args.device)) == 'reference':
        raise UsageError(f'torch.export needs the deformable-attention kernel on {args.device}, '
                         f'which is unavailable: {available_backends()["extension"]}')
    clip = export_clip_inference(model, clip_len=args.clip_len, height=height, width=width,
                                 output=args.output, out=args.out, device=args.device)
    error = check_round_trip(model, args.out, clip, args.output, args.atol)
    what = 'differing labels' if args.output == 'labels' else 'max score difference'
    print(f'[export] wrote {args.out}: (1, {args.clip_len}, 3, {height}, {width}) -> '
          f'{args.output}; loaded back: {what} vs eager {error:.3g}', flush=True)


if __name__ == '__main__':
    run_cli(main)

"""Export a THE-Mask segmentor: a ``torch.export`` program (.pt2) or ONNX files for ONNX Runtime.

    python tools/export.py local_configs/themask/video_themask_mit_b1.py work_dirs/b1/latest.pth \
        --clip-len 2 --size 480x853 --out work_dirs/b1_2x480x853.pt2
    python tools/export.py CONFIG CHECKPOINT --format onnx --out work_dirs/b1.onnx
    python tools/export.py PUBLISHED_DIR --format onnx --online --out work_dirs/b1.onnx

The model is ``[CONFIG] CHECKPOINT``: without CONFIG, the training config the checkpoint (or a
folder written by ``tools/publish_model.py``) carries; ``CONFIG none`` gives random weights.

``--format pt2`` (default): the program takes one normalised clip (1, T, 3, H, W) float32 (the
pipeline's normalisation, as ``tools/test.py`` feeds the model) and returns per-frame class
scores (T, K, H, W), as ``encode_decode`` computes them, or with ``--output labels`` the per-frame
labels (T, H, W) int64. T, H and W are fixed at export. The deformable attention is exported as
the operator ``themask::ms_deform_attn_forward``: build it (``sh make.sh`` in the op folder) before
exporting, and register it before ``torch.export.load``, by importing ``mmseg.models`` or by
``torch.ops.load_library`` of the op's .so:

    import torch, mmseg.models  # registers themask::ms_deform_attn_forward
    program = torch.export.load('b1.pt2')
    scores = program.module()(clip)

``--format onnx``: standard ONNX operators only (the deformable attention as ``GridSample``), for
stock ONNX Runtime; ``clip`` (1, T, 3, H, W) -> the stride-4 class ``maps`` (T, K, H/4, W/4) with T,
H and W dynamic; ``--online`` writes instead the pair ``OnlineSegmenter`` runs (``OUT_frames.onnx``
and ``OUT_decoder.onnx``, see ``mmseg.apis.onnx_export`` and docs/deploy.md). Run them with
``tools/deploy_test.py`` and ``tools/video_demo.py --backend onnxruntime``.

After saving, the file is loaded back (ONNX: checked with ``onnx.checker`` and run in ONNX Runtime
on another clip length and size) and run on a random clip; the tool fails unless the result
reproduces the eager model (scores or maps within ``--atol``; pt2 labels equal).
"""
import argparse
import os

import torch
from torch import nn

from mmseg.apis import init_segmentor
from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import (
    available_backends,
    select_backend,
)
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
    parser = argparse.ArgumentParser(description='Export a segmentor as a torch.export program '
                                                 'or as ONNX files')
    parser.add_argument('sources', nargs='+', metavar='[CONFIG] CHECKPOINT',
                        help="the config (optional: by default the one the checkpoint or published "
                             "folder carries) and the checkpoint ('none': random weights)")
    parser.add_argument('--format', choices=['pt2', 'onnx'], default='pt2',
                        help='pt2: torch.export program (default); onnx: ONNX for ONNX Runtime')
    parser.add_argument('--online', action='store_true',
                        help='onnx: the online pair (per-frame encoder, clip decoder) instead of '
                             'the clip model')
    parser.add_argument('--clip-len', type=int, default=2, help='frames per clip T')
    parser.add_argument('--size', default='480x480', help='input HxW (onnx: the traced size)')
    parser.add_argument('--out', required=True, help='the .pt2 or .onnx file to write')
    parser.add_argument('--output', choices=['scores', 'labels'],
                        help='pt2: what the program returns (default: scores)')
    parser.add_argument('--device', default='cpu', help='device to export on (cpu, cuda)')
    parser.add_argument('--atol', type=float,
                        help='largest allowed score (pt2, default 1e-5) or map (onnx, default '
                             '1e-4) difference of the saved model vs eager')
    args = parser.parse_args(argv)
    if len(args.sources) > 2:
        parser.error(f'expected [CONFIG] CHECKPOINT, got {len(args.sources)} positional arguments: '
                     f'{" ".join(args.sources)}')
    args.config, args.checkpoint = ([None] * (2 - len(args.sources))) + args.sources
    return args


def check_args(args: argparse.Namespace) -> None:
    """Flag combinations, before the model is built."""
    if args.clip_len <= 0:
        raise ConfigError(f'--clip-len must be positive, got {args.clip_len}')
    if args.format == 'onnx' and args.output is not None:
        raise UsageError('--output is for --format pt2; the ONNX model returns the stride-4 class '
                         'maps (docs/deploy.md)')
    if args.online and args.format != 'onnx':
        raise UsageError('--online exports the ONNX pair: add --format onnx')
    if args.config is None and args.checkpoint.lower() == 'none':
        raise UsageError("random weights ('none') need a config: CONFIG none")
    if args.format == 'onnx':
        from mmseg.apis.onnx_export import MIN_SIZE
        if min(parse_size(args.size)) < MIN_SIZE:
            raise ConfigError(f'--size {args.size}: the ONNX export traces sizes of at least '
                              f'{MIN_SIZE}x{MIN_SIZE}')


def load_model(args: argparse.Namespace) -> nn.Module:
    if args.config is None:
        return init_segmentor(args.checkpoint, device=args.device)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    return init_segmentor(args.config, checkpoint, device=args.device)


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


def export_pt2(model: nn.Module, args: argparse.Namespace, height: int, width: int) -> None:
    output, atol = args.output or 'scores', 1e-5 if args.atol is None else args.atol
    if select_backend(torch.zeros(1, 1, 1, 1, device=args.device)) == 'reference':
        raise UsageError(f'torch.export needs the deformable-attention kernel on {args.device}, '
                         f'which is unavailable: {available_backends()["extension"]}; '
                         f'--format onnx needs none')
    clip = export_clip_inference(model, clip_len=args.clip_len, height=height, width=width,
                                 output=output, out=args.out, device=args.device)
    error = check_round_trip(model, args.out, clip, output, atol)
    what = 'differing labels' if output == 'labels' else 'max score difference'
    print(f'[export] wrote {args.out}: (1, {args.clip_len}, 3, {height}, {width}) -> '
          f'{output}; loaded back: {what} vs eager {error:.3g}', flush=True)


def export_onnx(model: nn.Module, args: argparse.Namespace, height: int, width: int) -> None:
    from mmseg.apis.onnx_export import export_clip_model, export_online_pair, online_pair_paths
    atol = 1e-4 if args.atol is None else args.atol
    if args.online:
        for path in online_pair_paths(args.out):
            check_writable_output(path, '--out')
    print('[export] tracing with dynamic sizes and translating to ONNX (opset 18; a minute or '
          'more)...', flush=True)
    if not args.online:
        check = export_clip_model(model, args.out, clip_len=args.clip_len, height=height,
                                  width=width, atol=atol)
        print(f'[export] wrote {args.out}: clip (1, T, 3, H, W) -> maps (T, K, H/4, W/4), T, H, W '
              f'dynamic; ONNX Runtime on {check["checked_shape"]} vs eager: max map difference '
              f'{check["max_abs_diff"]:.3g}, argmax equal on '
              f'{100 * check["labels_equal_fraction"]:.4f}% of pixels', flush=True)
        return
    pair = export_online_pair(model, args.out, height=height, width=width, atol=atol)
    print(f'[export] wrote {pair["frames"]} (frames (N, 3, H, W) -> features) and '
          f'{pair["decoder"]} (the features of {pair["num_frames"]} frames -> maps of frame '
          f'{pair["target_index"]}); ONNX Runtime vs eager: max feature difference '
          f'{pair["frames_check"]["max_abs_diff"]:.3g}, max map difference '
          f'{pair["decoder_check"]["max_abs_diff"]:.3g}', flush=True)


def main(argv=None) -> None:
    args = parse_args(argv)
    height, width = parse_size(args.size)
    check_args(args)
    check_writable_output(args.out, '--out')
    if args.format == 'onnx':
        from mmseg.apis.onnx_runtime import require_packages
        require_packages('onnx', 'onnxruntime', 'onnxscript')
    model = load_model(args)
    if not fast_mode():
        raise UsageError('reference mode (THEMASK_MODE=reference) cannot be exported: the exported '
                         'model is the fast inference path; unset it')
    (export_onnx if args.format == 'onnx' else export_pt2)(model, args, height, width)


if __name__ == '__main__':
    run_cli(main)

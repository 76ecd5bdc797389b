"""Parameters and GFLOPs of a THE-Mask model per clip.

    python tools/get_flops.py CONFIG [--clip-len 2] [--size 480x480] [--out flops.json]

The model runs ``simple_test`` once on a random clip (1, T, 3, H, W) with random weights. GFLOPs
count matrix products, convolutions and attention (torch's FlopCounterMode, as
``tools/benchmark.py`` reports them); the deformable-attention sampling is not counted.
"""
import argparse
import re
from typing import Tuple

from mmseg.utils.cli import run_cli
from mmseg.utils.config import DictAction
from mmseg.utils.errors import UsageError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Parameters and GFLOPs per clip')
    parser.add_argument('config', help='config file')
    parser.add_argument('--clip-len', type=int, default=None,
                        help='frames per clip T (default: the config\'s '
                             'transformer_decoder_cfg.num_frames)')
    parser.add_argument('--size', default='480x480', help='input HxW, e.g. 480x853')
    parser.add_argument('--options', '--cfg-options', nargs='+', action=DictAction, default={},
                        help='config overrides, e.g. num_classes=3')
    parser.add_argument('--out', help='also write the numbers as JSON here')
    return parser.parse_args(argv)


def parse_size(text: str) -> Tuple[int, int]:
    """``'480x853'`` -> (480, 853)."""
    match = re.fullmatch(r'\s*(\d+)\s*[xX]\s*(\d+)\s*', text)
    if not match or min(int(match.group(1)), int(match.group(2))) < 32:
        raise UsageError(f'--size must be HxW with both at least 32, e.g. 480x853; got {text!r}')
    return int(match.group(1)), int(match.group(2))


def get_flops(cfg, *, clip_len: int, size: Tuple[int, int]) -> dict:
    """{'params', 'params_m', 'gflops_per_clip', 'gflops_per_frame', 'clip_len', 'size'}."""
    import torch

    from mmseg.models import build_segmentor
    from toolkit.benchmark import count_gflops
    cfg.model.pretrained = None
    decoder = cfg.model.decode_head.get('transformer_decoder_cfg')
    if decoder is not None and 'num_frames' in decoder:
        decoder.num_frames = clip_len
    torch.manual_seed(0)
    model = build_segmentor(cfg.model)
    height, width = size
    img = torch.randn(1, clip_len, 3, height, width)
    gflops = count_gflops(model, img, {'ori_shape': (height, width, 3)})
    params = sum(p.numel() for p in model.parameters())
    return dict(params=params, params_m=params / 1e6, gflops_per_clip=gflops,
                gflops_per_frame=gflops / clip_len, clip_len=clip_len, size=f'{height}x{width}')


def main(argv=None):
    args = parse_args(argv)
    size = parse_size(args.size)
    if args.out:
        from mmseg.utils.paths import check_writable_output
        check_writable_output(args.out, '--out')
    from mmseg.utils.config import load_config
    from mmseg.utils.json_io import write_json_atomically
    from mmseg.utils.table import text_table
    cfg = load_config(args.config, args.options)
    clip_len = args.clip_len
    if clip_len is None:
        clip_len = (cfg.model.decode_head.get('transformer_decoder_cfg') or {}).get('num_frames', 1)
    if clip_len < 1:
        raise UsageError(f'--clip-len must be at least 1, got {clip_len}')
    result = dict(config=args.config, **get_flops(cfg, clip_len=clip_len, size=size))
    print(text_table(['config', 'input (T x H x W)', 'params (M)', 'GFLOPs/clip', 'GFLOPs/frame'],
                     [[args.config, f'{clip_len} x {result["size"]}', f'{result["params_m"]:.2f}',
                       f'{result["gflops_per_clip"]:.2f}', f'{result["gflops_per_frame"]:.2f}']]))
    print('GFLOPs count matrix products, convolutions and attention; the deformable-attention '
          'sampling is not counted.')
    if args.out:
        write_json_atomically(args.out, result)
        print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    run_cli(main)

"""Test (and evaluate) an ONNX model with ONNX Runtime, as tools/test.py does for a checkpoint.

    python tools/deploy_test.py CONFIG model.onnx [--eval mIoU mVC] \
        [--options data.test.test_size=2] [--out metrics.json] [--show-dir DIR] [--aug-test] \
        [--threads N]

model.onnx is the clip model ``tools/export.py CONFIG CHECKPOINT --format onnx`` writes. The test
set, its pipeline (the pre-processing), the clips, the post-processing after the network (resize,
original size, flips: ``ClipPredictor``) and the evaluation are those of ``tools/test.py``, shared;
only the network runs in ONNX Runtime (CPU, ``--threads`` intra-op threads). As in tools/test.py,
the config decides the clip settings; where the model's training config differs, a notice says so.
"""
import argparse

from mmseg.utils.cli import positive_int, run_cli
from mmseg.utils.config import DictAction, load_config
from mmseg.utils.errors import UsageError
from mmseg.utils.logger import LOG_LEVELS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test an ONNX model with ONNX Runtime')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('model', help='the clip model (.onnx) tools/export.py --format onnx wrote')
    parser.add_argument('--eval', type=str, nargs='+', default=['mIoU'],
                        help='metrics: mIoU, mVC (mVC8 and mVC16), mDice (default: mIoU)')
    parser.add_argument('--out', help='write the metrics as JSON to this file')
    parser.add_argument('--aug-test', action='store_true',
                        help='multi-scale (0.5-1.75) and flip test-time augmentation')
    parser.add_argument('--show-dir', help='directory where image/prediction overlays are written')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the painted prediction in --show-dir overlays (0, 1]')
    parser.add_argument('--threads', type=positive_int,
                        help='ONNX Runtime intra-op threads (default: as many as torch uses)')
    parser.add_argument('--options', '--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config keys, e.g. data.test.test_size=2')
    parser.add_argument('--eval-options', nargs='+', action=DictAction, default={},
                        help='evaluation options, e.g. imgfile_prefix=DIR vc_gt=raw')
    parser.add_argument('--log-level', choices=LOG_LEVELS,
                        help='log level (default: the config\'s log_level)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.model.endswith('.onnx'):
        raise UsageError(f'{args.model!r}: expected the .onnx clip model tools/export.py --format '
                         f'onnx writes (for a checkpoint use tools/test.py)')
    overrides = dict(args.options, **({'log_level': args.log_level} if args.log_level else {}))
    cfg = load_config(args.config, overrides)
    from mmseg.apis.onnx_runtime import init_onnx_segmentor
    from mmseg.apis.test import test_from_config
    model = init_onnx_segmentor(args.model, cfg, use_model_clip_settings=False,
                                threads=args.threads)
    test_from_config(cfg, args.model, config_path=args.config, metrics=args.eval,
                     eval_options=args.eval_options, out=args.out, show_dir=args.show_dir,
                     opacity=args.opacity, aug_test=args.aug_test, model=model)


if __name__ == '__main__':
    run_cli(main)

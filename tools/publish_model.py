"""Package a trained model as one folder for inference and sharing.

    python tools/publish_model.py work_dirs/b1/iter_160000.pth published/themask_b1 [--config CFG]

writes ``OUT_DIR/config.py`` (the training config, clip settings included), ``model.safetensors``
(the model's weights only: no optimizer state, no pickle) and ``meta.json`` (classes, palette,
frames per clip, training dilation, test clip length, the metrics the run logged for this
iteration if it evaluated, the weights' sha256, the package version). ``--config`` gives the
training config of a checkpoint that carries none (e.g. a converted one). The folder is then used
where a checkpoint is: ``init_segmentor(OUT_DIR)``, ``tools/test.py OUT_DIR``,
``tools/video_demo.py OUT_DIR INPUT``, ``tools/export.py OUT_DIR``; weights that do not match the
sha256 in ``meta.json`` are refused.
"""
import argparse
import json
import os

from mmseg.utils.cli import run_cli
from mmseg.utils.errors import UsageError
from mmseg.utils.paths import check_writable_output
from mmseg.utils.table import text_table


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Package a trained model as one folder')
    parser.add_argument('checkpoint', help='checkpoint file (or a work directory: its latest.pth)')
    parser.add_argument('out_dir', help='the folder to write (new or empty)')
    parser.add_argument('--config', help='the training config, for a checkpoint that carries none')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if os.path.isdir(args.out_dir) and os.listdir(args.out_dir):
        raise UsageError(f'OUT_DIR {args.out_dir!r} is not empty; expected a new or empty folder')
    check_writable_output(args.out_dir, 'OUT_DIR', directory=True)
    from mmseg.apis.publish import publish_model
    meta = publish_model(args.checkpoint, args.out_dir, config=args.config)
    rows = [[name, f'{os.path.getsize(os.path.join(args.out_dir, name)) / 2**20:.2f}']
            for name in sorted(os.listdir(args.out_dir))]
    print(text_table(['file', 'MiB'], rows))
    metrics = meta['metrics'] or {}
    shown = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    print(f'{args.out_dir}: {meta["backbone"]} {meta["head"]}, {meta["num_classes"]} classes, '
          f'{meta["num_frames"]} frames per clip, dilation {meta["dilation"]}; weights sha256 '
          f'{meta["weights_sha256"]}; metrics of iteration {meta["iteration"]}: '
          f'{json.dumps(shown) if shown else "none logged"}')


if __name__ == '__main__':
    run_cli(main)

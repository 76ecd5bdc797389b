"""Look at what the model will be trained on: clips after the training pipeline, as montage PNGs.

    python tools/browse_dataset.py CONFIG [--split train] [--out DIR] [--num 8] [--options ...]

Each PNG shows one clip, a row per frame: the frame after the pipeline (crop, flip, colour
distortion; normalisation undone) | its label map in the dataset's palette, with a legend of the
classes present (void/ignored pixels dark grey). ``--split val``/``test`` shows test clips
(frames only, ground truth read from the masks).
"""
import argparse
import os

import numpy as np
from tqdm import tqdm

from mmseg.utils.cli import run_cli
from mmseg.utils.config import DictAction
from mmseg.utils.errors import UsageError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write montages of dataset clips after the pipeline')
    parser.add_argument('config', help='config file')
    parser.add_argument('--split', choices=['train', 'val', 'test'], default='train',
                        help='which of data.train / data.val / data.test to browse')
    parser.add_argument('--out', default='work_dirs/browse_dataset', help='output folder')
    parser.add_argument('--num', type=int, default=8, help='number of clips to draw')
    parser.add_argument('--seed', type=int, default=0,
                        help='seeds the random clip and augmentation draws')
    parser.add_argument('--options', '--cfg-options', nargs='+', action=DictAction, default={},
                        help='config overrides, e.g. data_root=DIR')
    return parser.parse_args(argv)


def unnormalise(img, meta) -> np.ndarray:
    """(3, H, W) normalised tensor -> (H, W, 3) uint8 RGB."""
    array = img.numpy().transpose(1, 2, 0) if hasattr(img, 'numpy') else np.asarray(img)
    norm = meta.get('img_norm_cfg') or dict(mean=np.zeros(3), std=np.ones(3), to_rgb=False)
    array = array * np.asarray(norm['std'], np.float32) + np.asarray(norm['mean'], np.float32)
    if not norm.get('to_rgb', False):
        array = array[..., ::-1]  # the frames are BGR unless Normalize made them RGB
    return np.clip(array + 0.5, 0, 255).astype(np.uint8)


def clip_arrays(dataset, sample, index):
    """(frames RGB, masks, title) of one sample of the training or the test pipeline."""
    img, metas = sample['img'], sample['img_metas']
    if isinstance(img, list):  # test pipeline: a list over augmentations; take the first
        img, metas = img[0], metas[0]
    frames = [unnormalise(img[t], metas[t]) for t in range(img.shape[0])]
    if 'gt_semantic_seg' in sample:
        masks = [m.numpy().reshape(m.shape[-2:]) for m in sample['gt_semantic_seg']]
    else:  # test clips carry no labels: read them at the frame size and resize like the frame
        import cv2
        masks = []
        for frame, meta in zip(frames, metas):
            try:
                gt = dataset.get_gt_seg_map(meta['video'], meta['frame'])
            except Exception:  # noqa: BLE001  (a test video without masks)
                gt = np.full(frame.shape[:2], dataset.ignore_index, np.uint8)
            masks.append(cv2.resize(gt, frame.shape[1::-1], interpolation=cv2.INTER_NEAREST))
    video = metas[0].get('video', '?')
    names = ', '.join(str(m.get('frame', '?')) for m in metas)
    return frames, masks, f'clip {index}: video {video}, frames {names}'


def main(argv=None):
    args = parse_args(argv)
    if args.num < 1:
        raise UsageError(f'--num must be at least 1, got {args.num}')
    from mmseg.utils.paths import check_writable_output
    check_writable_output(args.out, '--out', directory=True)
    import torch

    from mmseg.datasets import build_dataset
    from mmseg.datasets.dataset_check import dataset_cfgs
    from mmseg.utils.config import load_config
    from toolkit.figures import clip_montage
    cfg = load_config(args.config, args.options)
    configs = dataset_cfgs(cfg.data)
    if args.split not in configs:
        raise UsageError(f'the config has no data.{args.split}')
    dataset = build_dataset(configs[args.split])  # RepeatDataset unwrapped: each video once
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    count = min(args.num, len(dataset))
    written = []
    for index in tqdm(range(count), desc='browse', unit='clip'):
        frames, masks, title = clip_arrays(dataset, dataset[index], index)
        image = clip_montage(frames, masks, classes=dataset.CLASSES, palette=dataset.PALETTE,
                             title=title, ignore_index=dataset.ignore_index)
        path = os.path.join(args.out, f'{args.split}_{index:04d}.png')
        image.save(path)
        written.append(path)
    print(f'wrote {len(written)} montage(s) of data.{args.split} ({len(dataset.CLASSES)} classes) '
          f'to {args.out}')
    return 0


if __name__ == '__main__':
    run_cli(main)

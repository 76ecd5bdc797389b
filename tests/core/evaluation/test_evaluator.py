"""The streaming evaluator: brute-force agreement, order and process independence, errors."""
import json
import os

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from PIL import Image

from mmseg.core.evaluation import VideoSegEvaluator, format_results_table
from mmseg.datasets.file_io import reduce_zero_label, reduce_zero_label_table
from mmseg.utils.dist_utils import close_dist
from ports import free_port

NUM_CLASSES = 6
LENGTHS = [5, 17, 20, 25, 16, 30]  # VC skips the videos of 5 and 16 frames


def make_videos(seed=0, size=(6, 7)):
    """Raw ground truth (values 0..6 and 255, slowly changing) and correlated predictions."""
    rng = np.random.default_rng(seed)
    videos = {}
    for i, length in enumerate(LENGTHS):
        gt = rng.choice([0, 1, 2, 3, 4, 255], size).astype(np.uint8)
        pred = rng.integers(0, NUM_CLASSES, size)
        gts, preds = [], []
        for _ in range(length):
            change = rng.random(size) < 0.05
            gt = np.where(change, rng.choice([0, 1, 2, 6, 255], size), gt).astype(np.uint8)
            pred = np.where(rng.random(size) < 0.1, rng.integers(0, NUM_CLASSES, size), pred)
            gts.append(gt)
            preds.append(pred)
        videos[f'video{i}'] = (gts, preds)
    return videos


def evaluator(videos, **kwargs):
    frames = {v: [f'{t:05d}' for t in range(len(gts))] for v, (gts, _) in videos.items()}
    kwargs.setdefault('metrics', ['mIoU', 'mVC'])
    return VideoSegEvaluator(class_names=[f'c{i}' for i in range(NUM_CLASSES)], video_frames=frames,
                             load_gt=lambda v, f, shape: videos[v][0][int(f)],
                             gt_label_map=reduce_zero_label_table(), **kwargs)


def feed(ev, videos, names=None, clip_order=None):
    for video in names or videos:
        gts, preds = videos[video]
        order = clip_order(len(gts)) if clip_order else range(len(gts))
        for t in order:
            ev.process(preds[t], dict(video=video, frame=f'{t:05d}'))


def brute_force(videos, vc_gt='shifted'):
    gts = [reduce_zero_label(g) for gs, _ in videos.values() for g in gs]
    preds = [p for _, ps in videos.values() for p in ps]
    inter, label, predicted = (np.zeros(NUM_CLASSES) for _ in range(3))
    for g, p in zip(gts, preds):
        for c in range(NUM_CLASSES):
            inter[c] += ((g == c) & (p == c)).sum()
            label[c] += (g == c).sum()
            predicted[c] += ((p == c) & (g != 255)).sum()
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = inter / (label + predicted - inter)
    out = dict(mIoU=np.nanmean(iou), mIoU_present=iou[label > 0].mean(),
               aAcc=inter.sum() / label.sum())
    for k in (8, 16):
        scores = []
        for raw, ps in videos.values():
            gs = raw if vc_gt == 'raw' else [reduce_zero_label(g) for g in raw]
            if len(gs) <= 16:
                continue
            for i in range(len(gs) - k):
                stable_gt = np.all([gs[i + j] == gs[i] for j in range(k)], axis=0)
                stable_pred = np.all([ps[i + j] == ps[i] for j in range(k)], axis=0)
                scores.append((stable_gt & stable_pred).sum() / stable_gt.sum() if stable_gt.sum()
                              else np.nan)
        out[f'mVC{k}'] = np.nanmean(scores)
    return out


def interleaved(length, size=2, gap=3):
    from mmseg.datasets.clips import make_test_clips
    return [t for clip in make_test_clips(length, size, gap) for t in clip]


@pytest.mark.parametrize('vc_gt', ['shifted', 'raw'])
def test_matches_brute_force_in_any_clip_order(vc_gt):
    videos = make_videos()
    ref = brute_force(videos, vc_gt)
    results = []
    rng = np.random.default_rng(1)
    for clip_order in (None, interleaved, lambda n: rng.permutation(n)):
        ev = evaluator(videos, vc_gt=vc_gt)
        feed(ev, videos, names=list(reversed(list(videos))), clip_order=clip_order)
        results.append(ev.evaluate())
    for key, value in ref.items():
        assert results[0][key] == pytest.approx(value, rel=1e-12), key
    for res in results[1:]:
        for key in ('aAcc', 'mIoU', 'mIoU_present', 'mAcc', 'mDice', 'IoU'):
            assert res[key] == results[0][key]
        for key in ('mVC8', 'mVC16'):
            assert res[key] == pytest.approx(results[0][key], rel=1e-12)
    assert 0 < results[0]['mVC16'] < results[0]['mVC8'] < 1


def test_results_are_json_ready_and_printed(capsys):
    videos = make_videos()
    ev = evaluator(videos, metrics=['mIoU'])
    feed(ev, videos)
    res = ev.evaluate()
    json.dumps(res, allow_nan=False)
    assert set(res) >= {'aAcc', 'mIoU', 'mIoU_present', 'mAcc', 'mDice', 'IoU', 'Acc', 'Dice',
                        'classes'}
    assert 'mVC8' not in res and res['num_frames'] == sum(LENGTHS)
    assert res['IoU'][5] is not None and len(res['IoU']) == NUM_CLASSES
    table = format_results_table(res)
    assert 'c0' in table and 'mIoU_present' in table and f'{100 * res["mIoU"]:.2f}' in table


def test_errors():
    videos = make_videos()
    ev = evaluator(videos)
    pred = videos['video0'][1][0]
    with pytest.raises(ValueError, match="video 'nope'"):
        ev.process(pred, dict(video='nope', frame='00000'))
    with pytest.raises(ValueError, match="frame '99999'"):
        ev.process(pred, dict(video='video0', frame='99999'))
    with pytest.raises(ValueError, match='outside 0..5'):
        ev.process(pred + NUM_CLASSES, dict(video='video0', frame='00000'))
    with pytest.raises(ValueError, match='ground-truth size'):
        ev.process(pred[:, :3], dict(video='video0', frame='00000'))
    ev.process(pred, dict(video='video0', frame='00000'))
    with pytest.raises(ValueError, match='predicted twice'):
        ev.process(pred, dict(video='video0', frame='00000'))
    with pytest.raises(ValueError, match='split has'):
        ev.evaluate()
    ev = evaluator(videos)
    feed(ev, {'video1': (videos['video1'][0][:10], videos['video1'][1][:10])})
    with pytest.raises(ValueError, match=r"part of their frames in one process \(here: "
                                         r"\['video1'\]\)"):
        ev.evaluate()
    with pytest.raises(ValueError, match='unknown metrics'):
        evaluator(videos, metrics=['mAP'])
    with pytest.raises(ValueError, match='vc_gt'):
        evaluator(videos, vc_gt='both')


def test_format_only_writes_pngs(tmp_path):
    videos = make_videos()
    ev = evaluator(videos, metrics=[], imgfile_prefix=str(tmp_path),
                   palette=[(i, i, i) for i in range(6)])
    feed(ev, videos)
    assert ev.evaluate() == dict(num_frames=sum(LENGTHS))
    written = np.array(Image.open(tmp_path / 'video3' / '00007.png'))
    np.testing.assert_array_equal(written, videos['video3'][1][7])


def _distributed_worker(rank, port, out_dir):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=2)
    videos = make_videos()
    ev = evaluator(videos)
    names = sorted(videos)[rank::2]  # whole videos per process, as DistributedVideoSampler
    feed(ev, videos, names=names, clip_order=interleaved)
    with open(os.path.join(out_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(ev.evaluate(), f)
    close_dist()


@pytest.mark.slow  # two processes
def test_two_processes_give_the_single_process_results(tmp_path):
    mp.spawn(_distributed_worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    videos = make_videos()
    ev = evaluator(videos)
    feed(ev, videos)
    single = ev.evaluate()
    for rank in range(2):
        with open(tmp_path / f'rank{rank}.json') as f:
            res = json.load(f)
        for key in ('aAcc', 'mIoU', 'mIoU_present', 'mAcc', 'mDice', 'IoU', 'num_frames'):
            assert res[key] == single[key], key
        for key in ('mVC8', 'mVC16'):
            assert res[key] == pytest.approx(single[key], rel=1e-12)
    assert torch.distributed.is_initialized() is False


def test_evaluator_results_hold_the_confusion_matrix():
    gt = np.array([[0, 0, 1, 1], [2, 2, 255, 1]], np.uint8)
    pred = np.array([[0, 1, 1, 1], [2, 0, 0, 1]], np.int64)
    evaluator = VideoSegEvaluator(class_names=['a', 'b', 'c'], video_frames={'v': ['f']},
                                  load_gt=lambda video, frame, shape: gt, metrics=['mIoU'])
    evaluator.process(pred, dict(video='v', frame='f'))
    results = evaluator.evaluate()
    assert results['confusion_matrix'] == [[1, 1, 0], [0, 3, 0], [1, 0, 1]]  # rows: ground truth
    json.dumps(results)
    only_vc = VideoSegEvaluator(class_names=['a', 'b', 'c'], video_frames={'v': ['f']},
                                load_gt=lambda video, frame, shape: gt, metrics=['mVC'])
    only_vc.process(pred, dict(video='v', frame='f'))
    assert 'confusion_matrix' not in only_vc.evaluate()

"""Cityscapes end to end through the tools (in this process, CPU): a Cityscapes-format folder with
labelIds -> convert -> check -> stage 1 -> stage 2 on two-frame clips -> test with mIoU and mVC."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from mmseg.datasets.synthetic_cityscapes import make_synthetic_cityscapes
from tool_runs import run_tool

pytestmark = pytest.mark.slow  # trains and tests through the tools

STAGE1 = 'local_configs/themask/1f_themask_mit_b0_cityscapes_synthetic.py'
STAGE2 = 'local_configs/themask/video_themask_mit_b0_cityscapes_synthetic.py'
# the labelIds trained, as trainIds 0..18 in this order (all others: 255)
TRAINED = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]


def here(tool, *argv, capsys):
    code, out, err = run_tool(tool, argv, capsys)
    assert code == 0, (out + err)[-5000:]
    return out + err


def test_convert_check_train_finetune_test(tmp_path, capsys):
    data = tmp_path / 'cityscapes'
    labelled = make_synthetic_cityscapes(str(data), cities=(2, 1), snippets=1, size=(64, 128))
    assert sorted(n.split('_')[0] for n in labelled['train']) == ['alpha', 'bravo']

    here('convert_datasets/cityscapes', str(data), '--workers', '2', capsys=capsys)
    seen = set()
    for split, names in labelled.items():
        for name in names:
            folder = data / 'gtFine' / split / name.split('_')[0]
            ids = np.asarray(Image.open(folder / f'{name}_gtFine_labelIds.png'))
            train_ids = np.asarray(Image.open(folder / f'{name}_gtFine_labelTrainIds.png'))
            expected = np.vectorize(lambda v: TRAINED.index(v) if v in TRAINED else 255)(ids)
            np.testing.assert_array_equal(train_ids, expected)
            seen |= set(np.unique(train_ids).tolist())
    assert 255 in seen and len(seen - {255}) >= 4  # void ids and several classes

    out = here('check_dataset', str(data), '--workers', '2', capsys=capsys)
    assert 'checked 3 snippets and 90 frames of train, val in' in out and ': 0 problem(s)' in out

    options = [f'data_root={data}', 'data.workers_per_gpu=0', 'log_config.interval=1',
               'model.decode_head.loss_cfg.train_num_points=256',
               'model.decode_head.loss_cfg.warmup_iters=2']
    tiny_run = ['runner.max_iters=2', 'checkpoint_config.interval=2']
    stage1, stage2 = tmp_path / 'stage1', tmp_path / 'stage2'
    here('train', STAGE1, '--work-dir', str(stage1), '--seed', '0', '--no-validate',
         '--options', *options, *tiny_run, capsys=capsys)
    log = [json.loads(line) for line in open(next(stage1.glob('*.log.json')))]
    assert [r['iter'] for r in log if r.get('mode') == 'train'] == [1, 2]
    here('train', STAGE2, '--work-dir', str(stage2), '--seed', '0', '--no-validate',
         '--finetune-from', str(stage1 / 'latest.pth'), '--options', *options, *tiny_run,
         'model.decode_head.transformer_decoder_cfg.num_frames=2',
         'data.train.dataset.dilation=[-3]', capsys=capsys)
    log = [json.loads(line) for line in open(next(stage2.glob('*.log.json')))]
    assert [r['iter'] for r in log if r.get('mode') == 'train'] == [1, 2]
    assert any('loss_ce_aux' in key for key in log[-1])  # the stage-2 frame branch trained

    metrics = tmp_path / 'metrics.json'
    out = here('test', STAGE2, str(stage2 / 'latest.pth'), '--eval', 'mIoU', 'mVC',
               '--out', str(metrics), '--options', *options, 'data.test.test_size=2',
               capsys=capsys)
    summary = out.split('Summary:')[-1]
    assert 'mIoU' in summary and '| n/a  | n/a   |' in summary
    assert 'mVC8 n/a: the labels are sparse (one labelled frame per snippet)' in summary
    results = json.loads(metrics.read_text())
    assert results['num_frames'] == 1 and 0 <= results['mIoU'] <= 1 and len(results['IoU']) == 19
    assert results['mVC8'] is None and results['mVC16'] is None
    assert os.path.isfile(stage2 / 'latest.pth')

"""publish_model: a checkpoint becomes one folder that init_segmentor and the tools load as the
checkpoint with its training config."""
import json
import os

import numpy as np
import pytest
import torch

from mmseg.apis import inference_segmentor, init_segmentor
from mmseg.apis.publish import evaluated_metrics, publish_model
from mmseg.models import build_segmentor
from mmseg.utils.config import load_config
from mmseg.utils.errors import CheckpointError, UsageError
from tool_runs import run_tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """A work dir as training leaves it: iter_8.pth with its training config (two-frame clips,
    dilation [-3]) and a JSON log that evaluated iterations 4 and 8."""
    work = tmp_path_factory.mktemp('publish') / 'work'
    work.mkdir()
    cfg = load_config(CONFIG, {'model.decode_head.transformer_decoder_cfg.num_frames': 2,
                               'data.train.dataset.dilation': [-3]})
    cfg.model.pretrained = None
    torch.manual_seed(0)
    model = build_segmentor(cfg.model)
    meta = dict(config=cfg.pretty_text, iter=8, seed=0)
    torch.save({'meta': meta, 'state_dict': model.state_dict(), 'optimizer': {'state': {}}},
               work / 'iter_8.pth')
    log = [{'env_info': 'x'}, {'mode': 'train', 'iter': 4, 'loss': 2.0},
           {'mode': 'val', 'iter': 4, 'mIoU': 0.1, 'mVC8': 0.5},
           {'mode': 'val', 'iter': 8, 'mIoU': 0.25, 'mVC8': 0.75}]
    (work / '20260101_000000.log.json').write_text('\n'.join(json.dumps(r) for r in log) + '\n')
    frames = [np.random.default_rng(i).integers(0, 256, (60, 80, 3), dtype=np.uint8)
              for i in range(2)]
    return work, cfg, frames


@pytest.mark.slow  # ~7 s: two models, two clips
def test_the_folder_loads_as_the_checkpoint_with_its_config(run, tmp_path):
    work, cfg, frames = run
    out = tmp_path / 'published'
    meta = publish_model(str(work / 'iter_8.pth'), str(out))
    assert sorted(os.listdir(out)) == ['config.py', 'meta.json', 'model.safetensors']
    assert (out / 'config.py').read_text() == cfg.pretty_text  # the training config, verbatim
    assert meta['metrics'] == {'mIoU': 0.25, 'mVC8': 0.75}  # iteration 8's, not 4's
    assert meta['iteration'] == 8 and meta['source_checkpoint'] == 'iter_8.pth'
    assert meta['num_frames'] == 2 and meta['dilation'] == [-3] and meta['test_size'] == 1
    assert meta['num_classes'] == len(meta['classes']) == len(meta['palette']) == 124
    assert meta['backbone'] == 'mit_b0' and meta['head'] == 'THEMaskHead'
    published = init_segmentor(str(out))
    original = init_segmentor(CONFIG, str(work / 'iter_8.pth'))
    assert published.cfg.data.train.dataset.dilation == [-3]
    assert published.CLASSES == original.CLASSES and published.PALETTE == original.PALETTE
    for a, b in zip(inference_segmentor(published, frames), inference_segmentor(original, frames)):
        np.testing.assert_array_equal(a, b)
    state = original.state_dict()
    for key, value in published.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_a_checkpoint_without_its_config_needs_one(run, tmp_path):
    work, cfg, _ = run
    bare = tmp_path / 'bare.pth'
    torch.save({'state_dict': torch.load(work / 'iter_8.pth', weights_only=True)['state_dict']},
               bare)
    with pytest.raises(UsageError, match='carries no training config .* give it with --config'):
        publish_model(str(bare), str(tmp_path / 'a'))
    meta = publish_model(str(bare), str(tmp_path / 'b'), config=CONFIG)
    assert meta['metrics'] is None and meta['iteration'] is None
    assert load_config(str(tmp_path / 'b' / 'config.py')).model.decode_head.type == 'THEMaskHead'


def test_weights_that_do_not_fit_write_nothing(run, tmp_path):
    work, _, _ = run
    config_b1 = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b1.py')
    bare = tmp_path / 'bare.pth'
    torch.save({'state_dict': torch.load(work / 'iter_8.pth', weights_only=True)['state_dict']},
               bare)
    with pytest.raises(CheckpointError, match='does not match the model'):
        publish_model(str(bare), str(tmp_path / 'out'), config=config_b1)
    assert not (tmp_path / 'out').exists()


def test_evaluated_metrics_reads_the_logged_iteration(tmp_path):
    lines = ['{"mode": "val", "iter": 2, "mIoU": 0.1}', '{"mode": "val", "iter": 2, "mIoU": 0.2',
             '{"mode": "train", "iter": 2, "loss": 1.0}']
    (tmp_path / 'a.log.json').write_text('\n'.join(lines) + '\n')
    (tmp_path / 'b.log.json').write_text('{"mode": "val", "iter": 2, "mIoU": 0.3}\n')
    assert evaluated_metrics(str(tmp_path), 2) == {'mIoU': 0.3}  # the newer log; cut line skipped
    assert evaluated_metrics(str(tmp_path), 3) is None
    assert evaluated_metrics(str(tmp_path), None) is None


def test_the_tool_refuses_a_folder_in_use_and_prints_what_it_wrote(run, tmp_path, capsys):
    work, _, _ = run
    used = tmp_path / 'used'
    used.mkdir()
    (used / 'other.txt').write_text('x')
    code, _, err = run_tool('publish_model', [str(work / 'iter_8.pth'), str(used)], capsys)
    assert code == 1 and "OUT_DIR '" in err and 'is not empty' in err
    code, out, err = run_tool('publish_model', [str(work / 'iter_8.pth'), str(tmp_path / 'new')],
                              capsys)
    assert code == 0, err
    assert '| model.safetensors |' in out and 'weights sha256 ' in out and '"mIoU": 0.25' in out

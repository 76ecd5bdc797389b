"""A model trained with the README's stage-2 options runs, at inference, with the clips it was
trained on: the checkpoint's saved config wins over the repo config's clip settings."""
import glob
import os

import numpy as np
import pytest
import torch

from mmseg.apis import OnlineSegmenter, inference_segmentor, init_segmentor
from mmseg.apis.trained_config import saved_config
from mmseg.utils.config import load_config
from mmseg.utils.errors import ConfigError, UsageError
from tool_runs import run_tool

pytestmark = pytest.mark.slow  # trains stage 2 through tools/train.py

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAGE1 = os.path.join(ROOT, 'local_configs/themask/1f_themask_mit_b0_synthetic.py')
STAGE2 = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')


@pytest.fixture(scope='module')
def trained(trained_stage2, synthetic_vspw):
    """Stage 2 trained as the README says (two-frame clips, dilation [-3]) and six frames of a
    video."""
    video = sorted(glob.glob(str(synthetic_vspw / 'data' / '*' / 'origin')))[0]
    return str(trained_stage2), sorted(glob.glob(os.path.join(video, '*.jpg')))[:6]


def test_the_repo_config_gets_the_checkpoints_clip_settings(trained, mmseg_caplog):
    checkpoint, frames = trained
    assert load_config(STAGE2).data.train.dataset.dilation == [0]  # what the repo config says
    model = init_segmentor(STAGE2, checkpoint)
    notices = [r.message for r in mmseg_caplog.records if 'differs: config' in r.message]
    assert len(notices) == 2, notices
    dilation = next(n for n in notices if 'dilation' in n)
    assert 'config [0], checkpoint [-3]' in dilation and "using the checkpoint's [-3]" in dilation
    assert any('num_frames' in n and "using the checkpoint's 2" in n for n in notices)
    segmenter = OnlineSegmenter(model)
    assert segmenter.dilation == [-3]
    for k, frame in enumerate(frames):
        expected = inference_segmentor(model, [frames[max(k - 3, 0)], frame])[-1]
        np.testing.assert_array_equal(segmenter(frame), expected)


def test_the_checkpoint_alone_builds_its_training_config(trained, mmseg_caplog):
    checkpoint, frames = trained
    model = init_segmentor(checkpoint)
    assert not [r for r in mmseg_caplog.records if 'differs: config' in r.message]
    assert model.cfg.data.train.dataset.dilation == [-3] and model.CLASSES[0] == 'wall'
    segmenter = OnlineSegmenter(model)
    assert segmenter.dilation == [-3]
    reference = init_segmentor(STAGE2, checkpoint)
    for k, frame in enumerate(frames):
        np.testing.assert_array_equal(segmenter(frame),
                                      inference_segmentor(reference,
                                                          [frames[max(k - 3, 0)], frame])[-1])


def test_a_model_key_that_differs_is_an_error(trained):
    checkpoint, _ = trained
    with pytest.raises(ConfigError, match=r"model.decode_head.type is 'THEMask1fHead' in the "
                                          r"config but 'THEMaskHead'"):
        init_segmentor(STAGE1, checkpoint)
    cfg = load_config(STAGE2, {'num_classes': 5})
    with pytest.raises(ConfigError, match='model.decode_head.num_classes is 5 in the config but '
                                          '124'):
        init_segmentor(cfg, checkpoint)
    model = init_segmentor(STAGE1, checkpoint, strict=False)  # a partial load is still possible
    assert type(model.decode_head).__name__ == 'THEMask1fHead'


def test_a_checkpoint_without_its_config(trained, tmp_path, mmseg_caplog):
    checkpoint, frames = trained
    bare = tmp_path / 'bare.pth'
    torch.save({'state_dict': torch.load(checkpoint, weights_only=True)['state_dict']}, bare)
    assert saved_config(torch.load(bare, weights_only=True), str(bare)) is None
    model = init_segmentor(STAGE2, str(bare))  # used with the given config, as before
    assert OnlineSegmenter(model).dilation == [0]
    with pytest.raises(UsageError, match='carries no training config'):
        init_segmentor(str(bare))
    damaged = tmp_path / 'damaged.pth'
    torch.save({'state_dict': torch.load(checkpoint, weights_only=True)['state_dict'],
                'meta': {'config': 'model = dict(\n'}}, damaged)
    assert OnlineSegmenter(init_segmentor(STAGE2, str(damaged))).dilation == [0]
    assert any('cannot be read' in r.message for r in mmseg_caplog.records)


def test_tools_test_follows_its_config_and_says_so(trained, synthetic_vspw, tmp_path, capsys):
    checkpoint, _ = trained
    code, _, err = run_tool('test', [STAGE2, checkpoint, '--eval', 'mIoU', '--options',
                                     f'data.test.data_root={synthetic_vspw}',
                                     'data.workers_per_gpu=0'], capsys)
    assert code == 0, err[-3000:]
    notice = next(line for line in err.splitlines() if 'dilation differs' in line)
    assert "using the config's [0] (tools/test.py follows the config it is given)" in notice


def test_video_demo_needs_only_the_checkpoint(trained, tmp_path, capsys):
    checkpoint, frames = trained
    folder = tmp_path / 'frames'
    folder.mkdir()
    for frame in frames:
        os.symlink(frame, folder / os.path.basename(frame))
    code, out, err = run_tool('video_demo', [checkpoint, str(folder), '--out',
                                             str(tmp_path / 'demo')], capsys)
    assert code == 0, err[-3000:]
    model = init_segmentor(checkpoint)
    segmenter = OnlineSegmenter(model)
    from PIL import Image
    for frame in frames:
        written = np.asarray(Image.open(tmp_path / 'demo' / 'labels'
                                        / (os.path.basename(frame)[:-4] + '.png')))
        np.testing.assert_array_equal(written, segmenter(frame))

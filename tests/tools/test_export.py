"""tools/export.py: the whole segmentor inference as a torch.export program, saved, loaded back and
compared with the eager model."""
import importlib.util
import os

import pytest
import torch

from mmseg.apis import init_segmentor
from mmseg.models import build_segmentor
from mmseg.utils.config import ConfigError, load_config
from tests.conftest import REPO_ROOT
from tests.models.decode_heads.mask2former.pixel_decoder.ops.msda_cases import require_kernel

CONFIG = os.path.join(REPO_ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')


def export_tool():
    spec = importlib.util.spec_from_file_location('export_tool',
                                                  os.path.join(REPO_ROOT, 'tools', 'export.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    cfg = load_config(CONFIG)
    cfg.model.pretrained = None
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('export') / 'model.pth'
    torch.save({'state_dict': build_segmentor(cfg.model).state_dict()}, path)
    return str(path)


def test_export_writes_a_program_that_reproduces_eager(tmp_path, checkpoint, capsys):
    require_kernel('cpu')
    tool = export_tool()
    out = str(tmp_path / 'model.pt2')
    tool.main([CONFIG, checkpoint, '--clip-len', '2', '--size', '64x96', '--out', out])
    assert 'loaded back: max score difference vs eager' in capsys.readouterr().out

    model = init_segmentor(CONFIG, checkpoint)
    clip = torch.randn(1, 2, 3, 64, 96, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        result = torch.export.load(out).module()(clip)
        scores = model.encode_decode(clip)
        labels = tool.ClipInference(model, 'labels')(clip)
    num_classes = load_config(CONFIG).model.decode_head.num_classes
    assert result.shape == scores.shape == (2, num_classes, 64, 96)
    assert (result - scores).abs().max() < 1e-5
    assert labels.shape == (2, 64, 96) and torch.equal(labels, scores.argmax(1))


def test_export_refuses_bad_sizes_and_reference_mode(tmp_path, monkeypatch):
    tool = export_tool()
    with pytest.raises(ConfigError, match="--size '64': expected HxW"):
        tool.main([CONFIG, 'none', '--size', '64', '--out', str(tmp_path / 'x.pt2')])
    monkeypatch.setattr(tool, 'fast_mode', lambda: False)
    with pytest.raises(ValueError, match='reference mode .* cannot be exported'):  # a UsageError
        tool.main([CONFIG, 'none', '--size', '32x32', '--out', str(tmp_path / 'x.pt2')])

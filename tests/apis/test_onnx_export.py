"""What the ONNX export traces, in eager mode (the exports themselves run in
tests/tools/test_deploy.py): the clip model and the online pair compute the segmentor's own maps,
and what cannot be exported is refused before any tracing."""
import os

import pytest
import torch

from mmseg.apis import init_segmentor
from mmseg.apis.onnx_export import (
    ClipMaps,
    FrameEncoder,
    TargetDecoder,
    export_clip_model,
    online_pair_paths,
)
from mmseg.models.utils import reference_mode
from mmseg.utils.errors import UsageError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return init_segmentor(CONFIG)


def test_the_wrappers_compute_the_segmentors_maps(model):
    clip = torch.randn(1, 3, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        maps = ClipMaps(model)(clip)
        assert maps.shape == (3, model.num_classes, 16, 24)
        assert torch.equal(model.resize_maps(maps, (64, 96)), model.encode_decode(clip))
        tensors = FrameEncoder(model)(clip[0])
        assert [tuple(t.shape[-2:]) for t in tensors] == [(2, 3), (4, 6), (8, 12), (16, 24),
                                                          (2, 3), (4, 6), (8, 12)]
        expected = model.decode_clip(model.encode_frames(clip[0]), target=2)
        assert torch.equal(TargetDecoder(model, 2)(*tensors), expected)
        assert expected.shape == (1, model.num_classes, 16, 24)


def test_online_pair_paths():
    assert online_pair_paths('out/b1.onnx') == ('out/b1_frames.onnx', 'out/b1_decoder.onnx')
    assert online_pair_paths('out/b1') == ('out/b1_frames.onnx', 'out/b1_decoder.onnx')


def test_what_cannot_be_exported_is_refused_first(model, tmp_path):
    pytest.importorskip('onnxscript')
    pytest.importorskip('onnxruntime')
    path = str(tmp_path / 'm.onnx')
    with reference_mode(), pytest.raises(UsageError, match='reference mode .* is not exported'):
        export_clip_model(model, path)
    model.train()
    try:
        with pytest.raises(UsageError, match='eval mode'):
            export_clip_model(model, path)
    finally:
        model.eval()
    assert not os.path.exists(path)


def test_missing_deploy_packages_are_named(model, tmp_path, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda name, *a: None if name == 'onnxscript' else real(name, *a))
    with pytest.raises(UsageError,
                       match=r"onnxscript not installed: .*pip install -e '\.\[deploy\]'"):
        export_clip_model(model, str(tmp_path / 'm.onnx'))

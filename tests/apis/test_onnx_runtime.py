"""The ONNX Runtime backend on hand-built ONNX files (no export: seconds): it runs the files in the
roles their metadata names and feeds the APIs (inference_segmentor, OnlineSegmenter) exactly as a
PyTorch twin of the same tiny network does; wrong sets of files are refused with one line."""
import json
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmseg.apis import OnlineSegmenter, inference_segmentor
from mmseg.models.decode_heads.themask_base_head import FrameFeatures
from mmseg.models.segmentors import ClipPredictor
from mmseg.utils.config import load_config
from mmseg.utils.errors import UsageError

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from mmseg.apis.onnx_runtime import CONFIG_KEY, FEATURE_NAMES, METADATA_KEY, init_onnx_segmentor  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')
K = 5
WEIGHT = torch.randn(K, 3, 1, 1, generator=torch.Generator().manual_seed(0))
BIAS = torch.randn(K, generator=torch.Generator().manual_seed(1))
STRIDES = (32, 16, 8, 4, 32, 16, 8)  # of FEATURE_NAMES


class TorchTwin(ClipPredictor, nn.Module):
    """The network of the hand-built files in PyTorch: each feature an average pool of the frame,
    the maps a 1x1 convolution of the stride-4 one (the target frame's, with a target)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg, self.num_classes, self.align_corners = cfg, K, False
        self.conv = nn.Conv2d(3, K, 1)
        self.conv.weight.data, self.conv.bias.data = WEIGHT.clone(), BIAS.clone()

    def encode_frames(self, img):
        pools = [F.avg_pool2d(img, s, ceil_mode=True) for s in STRIDES]
        return FrameFeatures(pools[:3], pools[3], pools[4:])

    def forward(self, img, img_metas, return_loss=False):
        return self.forward_test(img, img_metas)

    def decode_clip(self, frames, target=None, num_clips=1):
        features = frames if isinstance(frames, FrameFeatures) else FrameFeatures.cat(frames)
        mask = features.mask_features
        return self.conv(mask if target is None else mask[target:target + 1])


def config():
    cfg = load_config(CONFIG, {'model.decode_head.transformer_decoder_cfg.num_frames': 2,
                               'data.train.dataset.dilation': [-1]})
    cfg.model.decode_head.num_classes = K
    return cfg


def _save(path, nodes, inputs, outputs, role, cfg, **extra):
    graph = helper.make_graph(nodes, role, inputs, outputs, initializer=[
        numpy_helper.from_array(WEIGHT.numpy(), 'weight'),
        numpy_helper.from_array(BIAS.numpy(), 'bias'),
        numpy_helper.from_array(np.array([0], dtype=np.int64), 'zero')])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)])
    meta = dict(role=role, num_classes=K, align_corners=False, num_frames=2, target_index=1,
                **extra)
    for key, value in ((METADATA_KEY, json.dumps(meta)), (CONFIG_KEY, cfg.pretty_text)):
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return str(path)


def _tensor(name, shape=None):
    """A float input or output; by default 4-D of sizes known at run time."""
    shape = shape or [f'{name}_{axis}' for axis in 'nchw']
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _pool(source, out, stride):
    return helper.make_node('AveragePool', [source], [out], kernel_shape=[stride, stride],
                            strides=[stride, stride], ceil_mode=1)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    folder, cfg = tmp_path_factory.mktemp('onnx'), config()
    clip = _save(folder / 'clip.onnx', [
        helper.make_node('Squeeze', ['clip', 'zero'], ['frames']), _pool('frames', 'small', 4),
        helper.make_node('Conv', ['small', 'weight', 'bias'], ['maps'])],
        [_tensor('clip', [1, 'T', 3, 'H', 'W'])], [_tensor('maps')], 'clip', cfg)
    frames = _save(folder / 'm_frames.onnx', [_pool('frames', name, s) for name, s in
                                              zip(FEATURE_NAMES, STRIDES)],
                   [_tensor('frames', ['N', 3, 'H', 'W'])],
                   [_tensor(name) for name in FEATURE_NAMES], 'frames', cfg)
    target = helper.make_tensor('target', TensorProto.INT64, [1], [1])
    decoder = _save(folder / 'm_decoder.onnx', [
        helper.make_node('Constant', [], ['index'], value=target),
        helper.make_node('Gather', ['mask_features', 'index'], ['last'], axis=0),
        helper.make_node('Conv', ['last', 'weight', 'bias'], ['maps'])],
        [_tensor(name) for name in FEATURE_NAMES], [_tensor('maps')], 'decoder', cfg)
    plain = helper.make_model(helper.make_graph([helper.make_node('Identity', ['x'], ['y'])], 'g',
                                                [_tensor('x', [1])], [_tensor('y', [1])]))
    onnx.save(plain, str(folder / 'plain.onnx'))
    (folder / 'text.onnx').write_text('not a model')
    return dict(clip=clip, frames=frames, decoder=decoder, plain=str(folder / 'plain.onnx'),
                text=str(folder / 'text.onnx'), cfg=cfg)


def clip_frames(count, size=(70, 90)):
    return [np.random.default_rng(i).integers(0, 256, (*size, 3), dtype=np.uint8)
            for i in range(count)]


def test_the_clip_model_predicts_as_its_pytorch_twin(files):
    model = init_onnx_segmentor(files['clip'])
    twin = TorchTwin(files['cfg']).eval()
    assert model.cfg.data.train.dataset.dilation == [-1]  # the training config the file carries
    assert model.num_classes == K and len(model.CLASSES) == 124  # names: the config's dataset
    frames = clip_frames(3)
    labels, expected = inference_segmentor(model, frames), inference_segmentor(twin, frames)
    assert len(labels) == 3 and labels[0].shape == (70, 90)
    for a, b in zip(labels, expected):
        np.testing.assert_array_equal(a, b)
    img = torch.randn(2, 2, 3, 64, 96)  # two clips in one batch, decoded one by one
    scores = model.clip_scores(img, {'ori_shape': (64, 96, 3)})
    for a, b in zip(scores, twin.clip_scores(img, {'ori_shape': (64, 96, 3)})):
        assert (a - b).abs().max() < 1e-5
    with pytest.raises(UsageError, match='encode_frames needs the online pair'):
        OnlineSegmenter(model)(frames[0])


def test_the_online_pair_feeds_online_segmenter_as_its_pytorch_twin(files):
    model = init_onnx_segmentor([files['decoder'], files['frames']])  # any order
    online, twin = OnlineSegmenter(model), OnlineSegmenter(TorchTwin(files['cfg']).eval())
    assert online.offsets == [-1, 0]
    for frame in clip_frames(4):
        np.testing.assert_array_equal(online(frame), twin(frame))
    with pytest.raises(UsageError, match='the online pair predicts one frame per clip'):
        inference_segmentor(model, clip_frames(2))
    with pytest.raises(UsageError, match='decodes one clip of 2 frames for frame 1'):
        model.decode_clip([model.encode_frames(torch.randn(1, 3, 64, 64))], target=0)


@pytest.mark.parametrize('names,fragment', [
    (['clip', 'clip'], 'are both the clip model'),
    (['frames'], 'expected the clip model, or the online pair'),
    (['clip', 'decoder'], 'expected the clip model, or the online pair'),
    (['plain'], 'without THE-Mask metadata (themask.meta); export it with tools/export.py'),
    (['text'], 'is not an ONNX model ONNX Runtime can load'),
])
def test_wrong_files_are_refused_with_one_line(files, names, fragment):
    with pytest.raises(UsageError) as info:
        init_onnx_segmentor([files[n] for n in names])
    assert fragment in str(info.value) and '\n' not in str(info.value)


def test_a_given_config_is_compared_with_the_files(files, mmseg_caplog):
    cfg = load_config(CONFIG)  # dilation [0], one frame per clip
    cfg.model.decode_head.num_classes = K
    kept = init_onnx_segmentor(files['clip'], cfg.copy(), use_model_clip_settings=False)
    assert kept.cfg.data.train.dataset.dilation == [0]
    used = init_onnx_segmentor(files['clip'], cfg.copy())
    assert used.cfg.data.train.dataset.dilation == [-1]
    assert any("using the checkpoint's [-1]" in r.message for r in mmseg_caplog.records)
    with pytest.raises(FileNotFoundError, match='absent.onnx'):
        init_onnx_segmentor(files['clip'].replace('clip.onnx', 'absent.onnx'))

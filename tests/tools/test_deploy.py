"""Deployment end to end on the synthetic stage-2 model trained here (8 iterations, evaluated):
published as one folder, exported from it to ONNX (the clip model and the online pair), run in ONNX
Runtime against PyTorch fast eager, tested with tools/deploy_test.py against tools/test.py, and
streamed with tools/video_demo.py --backend onnxruntime against OnlineSegmenter."""
import glob
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from mmseg.apis import OnlineSegmenter, init_segmentor
from mmseg.datasets import build_dataloader, build_dataset
from mmseg.utils.cli import run_cli
from mmseg.utils.config import load_config
from tool_runs import process_state_kept, run_tool, tool_main

pytestmark = pytest.mark.slow  # trains, then three ONNX exports of a minute or two each
onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')
from mmseg.apis.onnx_runtime import init_onnx_segmentor  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAGE2 = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')


def data_options(root):
    return [f'data.train.dataset.data_root={root}', f'data.val.data_root={root}',
            f'data.test.data_root={root}', 'data.workers_per_gpu=0']


@pytest.fixture(scope='module')
def deployed(tmp_path_factory, synthetic_vspw):
    """Stage 2 trained 8 iterations (two-frame clips, dilation [-3], evaluated at the end),
    published, and exported from the published folder (clip model and online pair)."""
    root = tmp_path_factory.mktemp('deploy')
    work, published = root / 'work', root / 'published'
    train = [STAGE2, '--work-dir', str(work), '--seed', '0', '--options',
             *data_options(synthetic_vspw), 'model.decode_head.loss_cfg.train_num_points=256',
             'model.decode_head.loss_cfg.warmup_iters=2', 'log_config.interval=4',
             'model.decode_head.transformer_decoder_cfg.num_frames=2',
             'data.train.dataset.dilation=[-3]', 'runner.max_iters=8',
             'checkpoint_config.interval=8', 'evaluation.interval=8']
    with process_state_kept():
        run_cli(tool_main('train'), train)
        run_cli(tool_main('publish_model'), [str(work / 'latest.pth'), str(published)])
        run_cli(tool_main('export'), [str(published), '--format', 'onnx', '--size', '96x128',
                                      '--out', str(root / 'clip.onnx')])
        run_cli(tool_main('export'), [str(published), '--format', 'onnx', '--online', '--size',
                                      '96x128', '--out', str(root / 'pair.onnx')])
    return dict(root=root, work=work, published=published, data=synthetic_vspw,
                clip=str(root / 'clip.onnx'),
                pair=[str(root / 'pair_frames.onnx'), str(root / 'pair_decoder.onnx')])


def test_the_files_hold_standard_operators_and_their_settings(deployed):
    proto = onnx.load(deployed['clip'])
    assert [(o.domain, o.version) for o in proto.opset_import if o.domain in ('', 'ai.onnx')] == \
        [('', 18)]
    ops = [node.op_type for node in proto.graph.node]
    assert {node.domain for node in proto.graph.node} <= {''}  # no custom operator
    cfg = load_config(str(deployed['published'] / 'config.py'))
    layers = cfg.model.decode_head.pixel_decoder_cfg['transformer_enc_layers']
    assert ops.count('GridSample') == 3 * layers  # the deformable attention: one per level
    props = {p.key: p.value for p in proto.metadata_props}
    meta = json.loads(props['themask.meta'])
    assert meta['role'] == 'clip' and meta['num_frames'] == 2 and meta['dilation'] == [-3]
    assert props['themask.config'] == (deployed['published'] / 'config.py').read_text()
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims[0] == 1 and dims[2] == 3 and all(isinstance(d, str) for d in dims[1::2])
    pair = [json.loads({p.key: p.value for p in onnx.load(path).metadata_props}['themask.meta'])
            for path in deployed['pair']]
    assert [m['role'] for m in pair] == ['frames', 'decoder']
    assert pair[1]['offsets'] == [-3, 0] and pair[1]['target_index'] == 1


def test_the_sizes_are_dynamic_down_to_one_frame_and_64_pixels(deployed):
    model = init_segmentor(str(deployed['published']))
    runtime = init_onnx_segmentor(deployed['clip'])
    for shape in ((1, 1, 3, 64, 64), (1, 4, 3, 96, 160), (1, 2, 3, 100, 150)):
        clip = torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))
        with torch.no_grad():
            expected = model.decode_clip(model.encode_frames(clip[0]))
        result = runtime.clip_maps(clip)
        assert result.shape == expected.shape
        assert (result - expected).abs().max() < 1e-4, shape


def test_the_clip_model_equals_fast_eager_on_the_val_clips(deployed):
    """Labels equal on >= 99.9% of pixels and scores (probabilities at the original size) within
    1e-4, clip by clip over the synthetic val set (test_size 2, as deploy_test runs it)."""
    model = init_segmentor(str(deployed['published']))
    runtime = init_onnx_segmentor(deployed['clip'])
    cfg = load_config(str(deployed['published'] / 'config.py'),
                      {'data.test.data_root': str(deployed['data']), 'data.test.test_size': 2})
    loader = build_dataloader(build_dataset(cfg.data.test), samples_per_gpu=1, workers_per_gpu=0,
                              dist=False, shuffle=False)
    same = total = 0
    worst = 0.0
    for batch in loader:
        img, metas = batch['img'][0], batch['img_metas'][0]
        with torch.no_grad():
            expected = model.clip_scores(img, metas)
        for ours, theirs in zip(runtime.clip_scores(img, metas), expected):
            worst = max(worst, (ours - theirs).abs().max().item())
            same += (ours.argmax(1) == theirs.argmax(1)).sum().item()
            total += ours[:, 0].numel()
    assert total == 24 * 96 * 128  # the 24 val frames at their original size
    assert same / total >= 0.999, same / total
    assert worst <= 1e-4, worst


def test_deploy_test_reports_the_metrics_of_tools_test(deployed, capsys):
    options = ['--options', *data_options(deployed['data']), 'data.test.test_size=2']
    root = deployed['root']
    code, _, err = run_tool('test', [str(deployed['published']), '--eval', 'mIoU', 'mVC', '--out',
                                     str(root / 'torch.json'), *options], capsys)
    assert code == 0, err[-3000:]
    code, out, err = run_tool('deploy_test', [str(deployed['published'] / 'config.py'),
                                              deployed['clip'], '--eval', 'mIoU', 'mVC', '--out',
                                              str(root / 'ort.json'), *options], capsys)
    assert code == 0, err[-3000:]
    torch_metrics = json.loads((root / 'torch.json').read_text())
    ort_metrics = json.loads((root / 'ort.json').read_text())
    assert ort_metrics['num_frames'] == torch_metrics['num_frames'] == 24
    assert ort_metrics['checkpoint'] == deployed['clip'] and ort_metrics['test_size'] == 2
    for key in ('mIoU', 'aAcc', 'mVC8'):
        assert abs(ort_metrics[key] - torch_metrics[key]) <= 0.001, key  # 0.1 point
    assert torch_metrics['mIoU'] > 0  # a model that learnt something, not an all-zero match


def test_the_online_pair_streams_as_online_segmenter(deployed, capsys, tmp_path):
    """tools/video_demo.py --backend onnxruntime with the pair over 12 frames of the 18-frame val
    video: the labels of OnlineSegmenter on the PyTorch model on >= 99.9% of pixels."""
    videos = sorted(glob.glob(str(deployed['data'] / 'data' / '*' / 'origin')),
                    key=lambda v: -len(os.listdir(v)))
    frames = sorted(glob.glob(os.path.join(videos[0], '*.jpg')))[:12]
    assert len(frames) == 12
    online = OnlineSegmenter(init_segmentor(str(deployed['published'])))
    assert online.offsets == [-3, 0]
    expected = [online(frame) for frame in frames]
    code, out, err = run_tool('video_demo', [videos[0], '--backend', 'onnxruntime', '--model',
                                             *deployed['pair'], '--max-frames', '12', '--out',
                                             str(tmp_path / 'demo')], capsys)
    assert code == 0, err[-3000:]
    assert 'wrote 12 frames' in out and '--mode online' in out
    written = sorted(glob.glob(str(tmp_path / 'demo' / 'labels' / '*.png')))
    labels = [np.asarray(Image.open(path)) for path in written]
    equal = np.mean([(a == b).mean() for a, b in zip(labels, expected)])
    assert len(labels) == 12 and equal >= 0.999, equal

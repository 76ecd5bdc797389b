"""torch.compile and torch.export of the model region that holds the deformable-attention op: the
pixel decoder's ``forward_features`` compiles with ``fullgraph=True`` and matches eager, the whole
segmentor inference (backbone, pixel decoder, decoder) traces without a graph break, and an export
of the pixel decoder survives a save/load round trip (these need the CPU kernel); with the
reference forced (as the ONNX export does) the pixel decoder exports with dynamic sizes."""
import os

import pytest
import torch
from torch import nn

from mmseg.models import build_segmentor
from mmseg.models.builder import PIXEL_DECODERS
from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import backend_forced
from mmseg.utils.config import load_config
from tests.conftest import REPO_ROOT
from tests.models.decode_heads.mask2former.pixel_decoder.ops.msda_cases import require_kernel

VIDEO_CONFIG = os.path.join(REPO_ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')
# MiT-b0 channels at strides 4, 8, 16, 32
INPUT_SHAPE = {'res2': dict(channels=32, stride=4), 'res3': dict(channels=64, stride=8),
               'res4': dict(channels=160, stride=16), 'res5': dict(channels=256, stride=32)}
# the pixel decoder of local_configs/themask/1f_themask_mit_b0_synthetic.py
PIXEL_DECODER = dict(type='MSDeformAttnPixelDecoder', conv_dim=64, mask_dim=64, norm='GN',
                     transformer_dropout=0.0, transformer_nheads=4, transformer_dim_feedforward=256,
                     transformer_enc_layers=3, transformer_in_features=['res3', 'res4', 'res5'],
                     common_stride=4)


def pixel_decoder() -> nn.Module:
    torch.manual_seed(0)
    return PIXEL_DECODERS.build(dict(PIXEL_DECODER, input_shape=INPUT_SHAPE)).eval()


def feature_maps(batch: int = 2, height: int = 64, width: int = 64) -> dict:
    """Random backbone maps at strides 4..32 of a height x width image."""
    gen = torch.Generator().manual_seed(1)
    return {name: torch.randn(batch, s['channels'], height // s['stride'], width // s['stride'],
                              generator=gen) for name, s in INPUT_SHAPE.items()}


def flat(outputs) -> list:
    mask_features, encoder_features, multi_scale = outputs
    return [mask_features, encoder_features] + list(multi_scale)


def op_calls(graph_modules) -> int:
    """How many calls of the deformable-attention operator the FX graphs (and their submodules)
    hold."""
    return sum(1 for gm in graph_modules for module in gm.modules()
               if isinstance(module, torch.fx.GraphModule) for node in module.graph.nodes
               if 'themask.ms_deform_attn_forward' in str(node.target))


def test_pixel_decoder_compiles_fullgraph_and_matches_eager():
    require_kernel('cpu')
    decoder, features = pixel_decoder(), feature_maps()
    torch._dynamo.reset()
    compiled = torch.compile(decoder.forward_features, fullgraph=True)
    with torch.no_grad():
        expected = flat(decoder.forward_features(features))
        result = flat(compiled(features))
    for out, ref in zip(result, expected):
        assert out.shape == ref.shape
        assert (out - ref).abs().max() < 1e-5


def test_segmentor_inference_traces_without_graph_break():
    """``encode_decode`` of the stage-2 model (backbone, pixel decoder, temporal decoder) in fast
    mode: one graph."""
    require_kernel('cpu')
    cfg = load_config(VIDEO_CONFIG)
    cfg.model.pretrained = None
    torch.manual_seed(0)
    model = build_segmentor(cfg.model).eval()
    with torch.no_grad():
        explanation = torch._dynamo.explain(model.encode_decode)(torch.randn(1, 2, 3, 64, 64))
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1, \
        explanation.break_reasons
    assert op_calls(explanation.graphs) == cfg.model.decode_head.pixel_decoder_cfg[
        'transformer_enc_layers']


class PixelDecoderExport(nn.Module):
    """The pixel decoder with positional inputs (res2..res5) and a flat tuple of outputs."""

    def __init__(self, decoder: nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, res2, res3, res4, res5):
        features = dict(res2=res2, res3=res3, res4=res4, res5=res5)
        return tuple(flat(self.decoder.forward_features(features)))


def test_pixel_decoder_export_round_trip(tmp_path):
    require_kernel('cpu')
    module = PixelDecoderExport(pixel_decoder()).eval()
    args = tuple(feature_maps().values())
    with torch.no_grad():
        program = torch.export.export(module, args)
    assert op_calls([program.graph_module]) == PIXEL_DECODER['transformer_enc_layers']
    path = str(tmp_path / 'pixel_decoder.pt2')
    torch.export.save(program, path)
    loaded = torch.export.load(path).module()
    fresh = tuple(feature_maps(height=64, width=64).values())
    fresh = tuple(t.flip(-1) for t in fresh)  # inputs other than the traced ones
    with torch.no_grad():
        result, expected = loaded(*fresh), module(*fresh)
    assert len(result) == len(expected) == 5
    for out, ref in zip(result, expected):
        assert out.shape == ref.shape
        assert (out - ref).abs().max() < 1e-5



@pytest.mark.slow  # ~10 s: a symbolic-shape export
def test_reference_path_exports_with_dynamic_sizes():
    """Forced to the reference, the pixel decoder exports with symbolic height and width (the
    level shapes reach the reference as ints, never read back from a tensor): grid_sample in the
    graph, no custom operator, and sizes other than the traced one give eager's result."""
    module = PixelDecoderExport(pixel_decoder()).eval()
    height = torch.export.Dim('height', min=2, max=256)
    width = torch.export.Dim('width', min=2, max=256)
    dynamic = {name: {2: height * (32 // s['stride']), 3: width * (32 // s['stride'])}
               for name, s in INPUT_SHAPE.items()}
    with backend_forced('reference'), torch.no_grad():
        program = torch.export.export(module, tuple(feature_maps(1, 64, 96).values()),
                                      dynamic_shapes=(dynamic['res2'], dynamic['res3'],
                                                      dynamic['res4'], dynamic['res5']))
    targets = [str(node.target) for module in program.graph_module.modules()
               if isinstance(module, torch.fx.GraphModule) for node in module.graph.nodes]
    assert op_calls([program.graph_module]) == 0
    assert sum('grid_sampler' in t for t in targets) == 3 * PIXEL_DECODER['transformer_enc_layers']
    loaded = program.module()
    for h, w in ((96, 64), (128, 160)):
        features = feature_maps(1, h, w)
        with torch.no_grad():
            result, expected = loaded(*features.values()), module(*features.values())
        for out, ref in zip(result, expected):
            assert out.shape == ref.shape
            assert (out - ref).abs().max() < 1e-5


def test_new_input_sizes_recompile_with_dynamic_shapes_in_one_graph():
    """A second input size makes dynamo recompile with symbolic sizes (as VSPW's frame sizes
    vary); the level shapes are then symbolic ints and the graph stays whole."""
    require_kernel('cpu')
    decoder = pixel_decoder()
    torch._dynamo.reset()
    compiled = torch.compile(decoder.forward_features, fullgraph=True, backend='aot_eager')
    with torch.no_grad():
        for height, width in ((64, 64), (64, 96), (96, 128)):
            features = feature_maps(2, height, width)
            for out, ref in zip(flat(compiled(features)), flat(decoder.forward_features(features))):
                assert out.shape == ref.shape
                assert (out - ref).abs().max() < 1e-5


def test_encoder_layer_compiles_for_training_with_the_registered_backward():
    """Forward and backward of an encoder layer (the op's backward from register_autograd)
    compiled with fullgraph equal eager."""
    require_kernel('cpu')
    layer = pixel_decoder().transformer.encoder.layers[0].train()
    spatial_shapes = torch.tensor([(8, 8), (4, 4), (2, 2)])
    starts = torch.tensor([0, 64, 80])
    gen = torch.Generator().manual_seed(2)
    src, pos = torch.randn(2, 2, 84, 64, generator=gen)
    reference_points = torch.rand(2, 84, 3, 2, generator=gen)
    torch._dynamo.reset()
    compiled = torch.compile(layer, fullgraph=True, backend='aot_eager')
    results = []
    for run in (layer, compiled):
        layer.zero_grad()
        x = src.clone().requires_grad_()
        run(x, pos, reference_points, spatial_shapes, starts).square().sum().backward()
        results.append([x.grad] + [p.grad.clone() for p in layer.parameters()])
    for eager, comp in zip(*results):
        assert (eager - comp).abs().max() <= 1e-5 * eager.abs().max().clamp_min(1)

import pytest
import torch

from mmseg.models import build_backbone

DIMS = {'mit_b0': [32, 64, 160, 256]}
DEPTHS = {'mit_b0': [2, 2, 2, 2], 'mit_b1': [2, 2, 2, 2], 'mit_b2': [3, 4, 6, 3],
          'mit_b3': [3, 4, 18, 3], 'mit_b4': [3, 8, 27, 3], 'mit_b5': [3, 6, 40, 3]}


@pytest.mark.parametrize('name', sorted(DEPTHS))
def test_variants_build_with_segformer_structure(name):
    with torch.device('meta'):  # structure only: no time spent on initialisation
        model = build_backbone(dict(type=name, style='pytorch'))
    assert [len(getattr(model, f'block{s}')) for s in range(1, 5)] == DEPTHS[name]
    dims = DIMS.get(name, [64, 128, 320, 512])
    assert [getattr(model, f'norm{s}').normalized_shape[0] for s in range(1, 5)] == dims
    keys = model.state_dict().keys()
    assert 'patch_embed1.proj.weight' in keys and 'block1.0.attn.kv.weight' in keys
    assert 'block1.0.mlp.dwconv.dwconv.weight' in keys and 'block4.0.attn.sr.weight' not in keys
    # eps: 1e-6 in blocks and stage norms, 1e-5 in patch embeddings and after the reduction conv
    assert model.block1[0].norm1.eps == 1e-6 and model.norm4.eps == 1e-6
    assert model.patch_embed2.norm.eps == 1e-5 and model.block1[0].attn.norm.eps == 1e-5


def test_b1_parameter_count_and_output_shapes():
    model = build_backbone(dict(type='mit_b1')).eval()
    # SegFormer's mit_b1 (docs/method.md, "Checkpoint keys")
    assert sum(p.numel() for p in model.parameters()) == 13_151_424
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 70, 100))
    # ceil-halving sizes: 70x100 -> 18x25 -> 9x13 -> 5x7 -> 3x4
    assert [tuple(o.shape) for o in outs] == [(2, 64, 18, 25), (2, 128, 9, 13), (2, 320, 5, 7),
                                              (2, 512, 3, 4)]


def flat_segformer_file(tmp_path, model, extra=None):
    state = {k: torch.randn_like(v) for k, v in model.state_dict().items()}
    state['head.weight'] = torch.randn(1000, model.norm4.weight.shape[0])
    state['head.bias'] = torch.randn(1000)
    state.update(extra or {})
    path = tmp_path / 'mit_b0.pth'
    torch.save(state, path)
    return path, state


def test_pretrained_flat_file_loads_and_ignores_head(tmp_path, mmseg_caplog):
    model = build_backbone(dict(type='mit_b0'))
    path, state = flat_segformer_file(tmp_path, model)
    model.init_weights(str(path))
    assert torch.equal(model.block2[1].attn.kv.weight, state['block2.1.attn.kv.weight'])
    assert 'head.weight' in mmseg_caplog.text and 'ignoring' in mmseg_caplog.text


def test_pretrained_missing_file_says_where_to_get_it():
    with pytest.raises(FileNotFoundError) as err:
        build_backbone(dict(type='mit_b1', pretrained='pretrained/nope_mit_b1.pth'))
    msg = str(err.value)
    assert 'pretrained/nope_mit_b1.pth' in msg and 'model.pretrained' in msg and 'SegFormer' in msg


def test_pretrained_of_another_variant_is_refused(tmp_path):
    b1 = build_backbone(dict(type='mit_b1'))
    path, _ = flat_segformer_file(tmp_path, b1)
    with pytest.raises(ValueError, match='shape mismatches: patch_embed1.proj.weight'):
        build_backbone(dict(type='mit_b0', pretrained=str(path)))

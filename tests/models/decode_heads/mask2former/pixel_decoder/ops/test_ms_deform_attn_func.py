"""The PyTorch reference of multi-scale deformable attention (the specification) and the dispatcher
that chooses between it and the compiled kernels."""
import importlib.machinery
import os
import subprocess
import sys
import types

import pytest
import torch
from torch.autograd import gradcheck

from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import (
    ms_deform_attn_func as msda,
)
from mmseg.models.utils import compute_mode, reference_mode, set_fast_mode
from mmseg.utils.errors import UsageError
from tests.conftest import REPO_ROOT
from tests.models.decode_heads.mask2former.pixel_decoder.ops.msda_cases import (
    brute_force_msda,
    edge_case_inputs,
    make_inputs,
    require_kernel,
)


@pytest.mark.parametrize('inputs', [
    edge_case_inputs(),
    make_inputs(2, [(5, 7), (3, 2), (1, 1)], heads=2, channels=3, num_queries=6, points=3),
    make_inputs(1, [(2, 3)], heads=1, channels=1, num_queries=4, points=1, seed=3),
], ids=['borders-corners-outside', 'random-3-levels', 'one-level-one-point'])
def test_reference_matches_brute_force_sampler(inputs):
    value, shapes, _, locations, weights = inputs
    expected = brute_force_msda(value, shapes, locations, weights)
    output = msda.ms_deform_attn_core_pytorch(value, shapes, locations, weights)
    assert output.shape == expected.shape
    assert (output.numpy() - expected).__abs__().max() < 1e-12


def test_reference_takes_the_level_shapes_as_ints():
    """The rows as ints (what torch.export traces symbolically) give the tensor's result exactly,
    also through the dispatcher's ``level_shapes`` when the reference runs."""
    value, shapes, starts, locations, weights = make_inputs(
        2, [(5, 7), (3, 2), (1, 1)], heads=2, channels=3, num_queries=6, points=3)
    rows = [(5, 7), (3, 2), (1, 1)]
    expected = msda.ms_deform_attn_core_pytorch(value, shapes, locations, weights)
    assert torch.equal(msda.ms_deform_attn_core_pytorch(value, rows, locations, weights), expected)
    with msda.backend_forced('reference'):
        out = msda.multi_scale_deformable_attn(value, shapes, starts, locations, weights,
                                               level_shapes=rows)
    assert torch.equal(out, expected)


def test_backend_forced_for_a_block_then_restored(monkeypatch, clean_switch):
    monkeypatch.setattr(msda, '_CPU_BUILT', True)
    assert msda.select_backend(fake_tensor('cpu')) == 'cpu'
    with msda.backend_forced('reference'):
        assert msda.select_backend(fake_tensor('cpu')) == 'reference'
        assert msda.available_backends()['backend'] == 'reference'
    assert msda.select_backend(fake_tensor('cpu')) == 'cpu'
    with pytest.raises(ValueError, match="backend 'onnx': expected one of auto, cuda"):
        with msda.backend_forced('onnx'):
            pass
    assert msda.forced_backend() == 'auto'


def test_reference_reproduces_golden(golden_msda):
    g = golden_msda
    shapes, value = g['value_spatial_shapes'], g['value']
    locations, weights = g['sampling_locations'], g['attention_weights']
    output = msda.ms_deform_attn_core_pytorch(value, shapes, locations, weights)
    assert output.dtype == torch.float32
    assert (output - g['output']).abs().max() < 1e-5

    inputs = [t.double().requires_grad_() for t in (value, locations, weights)]
    output = msda.ms_deform_attn_core_pytorch(inputs[0], shapes, inputs[1], inputs[2])
    assert (output - g['output_f64']).abs().max() < 1e-10
    grads = torch.autograd.grad(output, inputs, g['grad_output_f64'])
    for grad, key in zip(grads, ['grad_value_f64', 'grad_sampling_locations_f64',
                                 'grad_attention_weights_f64']):
        assert (grad - g[key]).abs().max() < 1e-10, key


def test_reference_gradcheck():
    value, shapes, _, locations, weights = make_inputs(1, [(4, 3), (2, 2)], heads=2, channels=3,
                                                       num_queries=3, points=2, seed=5)
    inputs = [t.requires_grad_() for t in (value, locations, weights)]
    assert gradcheck(lambda v, loc, w: msda.ms_deform_attn_core_pytorch(v, shapes, loc, w), inputs)


@pytest.fixture
def clean_switch(monkeypatch):
    """Fast mode (the default) and THEMASK_MSDA_BACKEND=auto for the test, whatever the
    environment says; restored afterwards."""
    monkeypatch.setattr(compute_mode, '_FAST', True)
    monkeypatch.setattr(msda, '_BACKEND', 'auto')


def fake_tensor(device, dtype=torch.float32):
    """Stands in for a tensor on any device (no GPU needed): select_backend reads only .device
    and .dtype."""
    return types.SimpleNamespace(device=torch.device(device), dtype=dtype)


@pytest.mark.parametrize('cpu_built,cuda_built,triton,device,dtype,expected', [
    (True, True, True, 'cpu', torch.float32, 'cpu'),
    (True, False, False, 'cpu', torch.float64, 'cpu'),
    (False, False, True, 'cpu', torch.float32, 'reference'),
    (True, True, True, 'cpu', torch.bfloat16, 'reference'),
    # CUDA tensors: the compiled CUDA kernel, else Triton, else the reference
    (True, True, True, 'cuda', torch.float16, 'cuda'),
    (True, True, False, 'cuda', torch.float32, 'cuda'),
    (True, False, True, 'cuda', torch.float32, 'triton'),
    (False, False, True, 'cuda', torch.bfloat16, 'triton'),
    (True, False, False, 'cuda', torch.float32, 'reference'),
    (False, False, False, 'cuda', torch.float64, 'reference'),
    (True, True, True, 'meta', torch.float32, 'reference'),
])
def test_select_backend_by_device_and_build(monkeypatch, clean_switch, cpu_built, cuda_built,
                                            triton, device, dtype, expected):
    monkeypatch.setattr(msda, '_CPU_BUILT', cpu_built)
    monkeypatch.setattr(msda, '_CUDA_BUILT', cuda_built)
    monkeypatch.setattr(msda, 'triton_usable', lambda: triton)
    value = fake_tensor(device, dtype)
    assert msda.select_backend(value) == expected
    with reference_mode():
        assert msda.select_backend(value) == 'reference'
    assert msda.select_backend(value) == expected


@pytest.mark.parametrize('forced,on_cuda,on_cpu', [
    ('auto', 'cuda', 'cpu'),
    ('cuda', 'cuda', 'cpu'),
    ('triton', 'triton', 'cpu'),
    ('reference', 'reference', 'reference'),
])
def test_the_switch_forces_each_backend(monkeypatch, clean_switch, forced, on_cuda, on_cpu):
    """Everything available: THEMASK_MSDA_BACKEND picks among the CUDA implementations (CPU
    tensors keep the CPU kernel unless the reference is forced); reference mode overrides it."""
    monkeypatch.setattr(msda, '_CPU_BUILT', True)
    monkeypatch.setattr(msda, '_CUDA_BUILT', True)
    monkeypatch.setattr(msda, 'triton_usable', lambda: True)
    monkeypatch.setattr(msda, '_BACKEND', forced)
    assert msda.select_backend(fake_tensor('cuda')) == on_cuda
    assert msda.select_backend(fake_tensor('cpu')) == on_cpu
    assert msda.available_backends()['backend'] == forced
    with reference_mode():
        assert msda.select_backend(fake_tensor('cuda')) == 'reference'


@pytest.mark.parametrize('forced,cuda_built,triton,message', [
    ('cuda', False, True, 'THEMASK_MSDA_BACKEND=cuda but the CUDA kernel is unavailable: '),
    ('triton', True, False, 'THEMASK_MSDA_BACKEND=triton but Triton is unavailable: '),
    ('tritn', True, True, "THEMASK_MSDA_BACKEND='tritn': expected one of auto, cuda, triton, "
                          'reference'),
])
def test_the_switch_refuses_what_cannot_run(monkeypatch, clean_switch, forced, cuda_built, triton,
                                            message):
    monkeypatch.setattr(msda, '_CUDA_BUILT', cuda_built)
    monkeypatch.setattr(msda, 'triton_usable', lambda: triton)
    monkeypatch.setattr(msda, '_BACKEND', forced)
    with pytest.raises(UsageError) as err:
        msda.select_backend(fake_tensor('cuda'))
    assert str(err.value).startswith(message) and '\n' not in str(err.value)


@pytest.mark.parametrize('triton_operator,expected', [(True, 'operator'), (False, 'beside')])
def test_triton_runs_as_the_operator_or_beside_it(monkeypatch, clean_switch, triton_operator,
                                                  expected):
    """Triton is the operator's CUDA kernel unless the compiled CUDA kernel is built; forced
    there, the Triton kernels run beside the operator."""
    calls = []
    monkeypatch.setattr(msda, 'select_backend', lambda value: 'triton')
    monkeypatch.setattr(msda, '_TRITON_OPERATOR', triton_operator)
    monkeypatch.setattr(msda.MSDeformAttnFunction, 'apply',
                        lambda *args: calls.append(('operator', args[-1])))
    monkeypatch.setattr(msda, 'ms_deform_attn_triton',
                        lambda *args, **kwargs: calls.append(('beside', kwargs['im2col_step'])))
    value, shapes, starts, locations, weights = make_inputs(2, [(3, 4)], heads=1, channels=2,
                                                            num_queries=2, points=1)
    msda.multi_scale_deformable_attn(value, shapes, starts, locations, weights, im2col_step=1)
    assert calls == [(expected, 1)]


def test_reference_mode_is_the_one_switch(monkeypatch, clean_switch):
    monkeypatch.setattr(msda, '_CPU_BUILT', True)
    value = torch.zeros(1, 1, 1, 1)
    assert msda.select_backend(value) == 'cpu'
    assert msda.available_backends()['reference_forced'] is False
    with reference_mode():
        assert msda.select_backend(value) == 'reference'
        assert msda.available_backends()['reference_forced'] is True
    assert msda.select_backend(value) == 'cpu'
    set_fast_mode(False)
    assert msda.select_backend(value) == 'reference'
    set_fast_mode(True)
    assert not hasattr(msda, 'use_reference_op') and not hasattr(msda, 'ENV_VAR')


def test_reference_mode_from_the_environment():
    """THEMASK_MODE=reference, read at import in a fresh interpreter, selects the reference."""
    script = """
import torch
from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import (available_backends,
                                                                     select_backend)
assert available_backends()['reference_forced'] is True
assert select_backend(torch.zeros(1, 1, 1, 1)) == 'reference'
print('ok')
"""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, THEMASK_MODE='reference')
    result = subprocess.run([sys.executable, '-c', script], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == 'ok', result.stderr


def test_backend_switch_from_the_environment():
    """THEMASK_MSDA_BACKEND is read at import (case and spaces ignored); importing the package and
    running the op on CPU tensors imports no triton."""
    script = """
import sys, torch
from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import (MSDeformAttn,
    available_backends, select_backend)
attn = MSDeformAttn(d_model=8, n_levels=1, n_heads=2, n_points=2)
out = attn(torch.randn(1, 12, 8), torch.rand(1, 12, 1, 2), torch.randn(1, 12, 8),
           torch.tensor([[3, 4]]), torch.tensor([0]))
assert select_backend(out) in ('cpu', 'reference')
assert 'triton' not in sys.modules, 'triton imported'
assert available_backends()['backend'] == 'triton', available_backends()
print('ok')
"""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, THEMASK_MSDA_BACKEND=' Triton ')
    env.pop('THEMASK_MODE', None)
    result = subprocess.run([sys.executable, '-c', script], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == 'ok', result.stderr


def test_dispatcher_casts_to_value_dtype_and_runs_the_reference_in_reference_mode(clean_switch):
    value, shapes, starts, locations, weights = make_inputs(2, [(3, 4), (2, 2)], heads=2,
                                                            channels=4, num_queries=5, points=2)
    expected = msda.ms_deform_attn_core_pytorch(value, shapes, locations, weights)
    with reference_mode():
        output = msda.multi_scale_deformable_attn(value, shapes, starts, locations.float(),
                                                  weights.float())
    assert output.dtype == torch.float64
    # the float32 round trip of locations and weights is the only difference
    assert (output - expected).abs().max() < 1e-5
    assert output.grad_fn is None  # no input requires grad: the reference built no graph


@pytest.mark.parametrize('built', [False, True])
def test_cpu_tensors_use_the_cpu_kernel_when_built(monkeypatch, clean_switch, built):
    if built:
        require_kernel('cpu')
    else:
        monkeypatch.setattr(msda, '_CPU_BUILT', False)
    value, shapes, starts, locations, weights = make_inputs(1, [(3, 4)], heads=1, channels=2,
                                                            num_queries=2, points=2)
    output = msda.multi_scale_deformable_attn(value.requires_grad_(), shapes, starts, locations,
                                             weights)
    # the operator's registered backward, or the reference's last op
    assert ('themask_ms_deform_attn_forward' in type(output.grad_fn).__name__) == built


def test_missing_extension_is_reported_not_raised():
    module, status = msda._load_extension('mmseg.no_such_extension')
    assert module is None and status.startswith('not built') and 'make.sh' in status


def test_broken_extension_warns_and_falls_back(tmp_path, monkeypatch):
    package = tmp_path / 'msda_broken_pkg'
    package.mkdir()
    (package / '__init__.py').write_text('')
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (package / f'MultiScaleDeformableAttention{suffix}').write_bytes(b'not a shared library')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(UserWarning, match='cannot be loaded.*make.sh.*PyTorch reference'):
        module, status = msda._load_extension('msda_broken_pkg.MultiScaleDeformableAttention')
    assert module is None and 'cannot be loaded' in status


def test_import_and_forward_with_nothing_built():
    """A fresh interpreter in which the extension cannot be imported (as when it is not built):
    the reference runs on CPU tensors; no triton is imported (the operators, defined here then,
    import it on their first CUDA call)."""
    script = f"""
import sys
sys.modules[{msda.EXTENSION_MODULE!r}] = None  # any import of the extension now fails
import torch, mmseg
from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import (
    MSDeformAttn, MSDeformAttnFunction, available_backends, select_backend)
attn = MSDeformAttn(d_model=8, n_levels=1, n_heads=2, n_points=2)
shapes = torch.tensor([[3, 4]])
out = attn(torch.randn(1, 12, 8), torch.rand(1, 12, 1, 2), torch.randn(1, 12, 8), shapes,
           torch.tensor([0]))
assert out.shape == (1, 12, 8) and select_backend(out) == 'reference'
assert 'triton' not in sys.modules, 'triton imported'
backends = available_backends()
assert backends['cpu'] is False and backends['cuda'] is False, backends
assert backends['extension'].startswith('not built'), backends
try:
    MSDeformAttnFunction.apply(torch.zeros(1, 12, 2, 4), shapes, torch.tensor([0]),
                               torch.zeros(1, 1, 2, 1, 1, 2), torch.zeros(1, 1, 2, 1, 1), 64)
except RuntimeError as err:
    assert 'not built' in str(err), err
else:
    raise AssertionError('MSDeformAttnFunction ran without an extension')
print('ok')
"""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    env.pop('THEMASK_MODE', None)
    result = subprocess.run([sys.executable, '-c', script], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == 'ok', result.stderr


def test_old_build_without_the_operator_warns_and_falls_back():
    """An extension built before the op became a PyTorch operator (a pybind module only)."""
    script = f"""
import sys, types, warnings
old = types.ModuleType({msda.EXTENSION_MODULE!r})
old.__file__ = 'old_build.so'
old.with_cuda = lambda: False
sys.modules[{msda.EXTENSION_MODULE!r}] = old
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import available_backends
assert any('registers no themask::ms_deform_attn_forward' in str(w.message) for w in caught)
assert available_backends()['cpu'] is False, available_backends()
print('ok')
"""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    env.pop('THEMASK_MODE', None)
    result = subprocess.run([sys.executable, '-c', script], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == 'ok', result.stderr

"""Build the MultiScaleDeformableAttention extension in place: ``sh make.sh`` in this folder.

The extension always holds the CPU kernel (a C++ extension with OpenMP, no CUDA needed). The CUDA
kernel is added according to THEMASK_MSDA_CUDA:
    auto (default)  when CUDA is found (CUDA_HOME or nvcc), torch is a CUDA build, and a GPU is
                    visible or TORCH_CUDA_ARCH_LIST names the architectures to compile for
    1               always (an error if that is impossible)
    0               never
TORCH_CUDA_ARCH_LIST is honoured (e.g. "9.0", "8.0;8.6;9.0"). When CUDA_INC_PATH is unset and the
CUDA toolkit lacks the library headers torch includes (cublas_v2.h, ...), the include folder of the
pip CUDA packages (site-packages/nvidia/cu<major>/include) is used.
"""
import os
import shutil
import sys

import torch
from setuptools import setup
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = 'MultiScaleDeformableAttention'


def log(message: str) -> None:
    print(f'[msda setup] {message}', flush=True)


def cuda_requested() -> bool:
    """Whether to compile the CUDA kernel, following THEMASK_MSDA_CUDA (see the docstring)."""
    mode = os.environ.get('THEMASK_MSDA_CUDA', 'auto').strip().lower()
    if mode not in ('auto', '0', '1'):
        sys.exit(f'THEMASK_MSDA_CUDA={mode!r}: expected auto, 0 or 1')
    if mode == '0':
        return False
    problems = []
    if CUDA_HOME is None:
        problems.append('no CUDA toolkit (set CUDA_HOME or put nvcc on PATH)')
    elif not os.path.isfile(os.path.join(CUDA_HOME, 'include', 'cuda_runtime.h')):
        problems.append(f'CUDA_HOME={CUDA_HOME} has no include/cuda_runtime.h (set CUDA_HOME to '
                        'the toolkit folder, e.g. /usr/local/cuda)')
    if torch.version.cuda is None:
        problems.append(f'torch {torch.__version__} is not a CUDA build')
    if not torch.cuda.is_available() and not os.environ.get('TORCH_CUDA_ARCH_LIST'):
        problems.append('no GPU visible and TORCH_CUDA_ARCH_LIST unset '
                        '(e.g. TORCH_CUDA_ARCH_LIST=9.0)')
    if problems and mode == '1':
        sys.exit('THEMASK_MSDA_CUDA=1 but the CUDA kernel cannot be built: ' + '; '.join(problems))
    if problems:
        log('building the CPU kernel only: ' + '; '.join(problems))
    return not problems


def pip_cuda_include_dir() -> str:
    """The include folder of the pip CUDA packages matching torch's CUDA major version, or ''."""
    major = torch.version.cuda.split('.')[0]
    site_dir = os.path.dirname(os.path.dirname(torch.__file__))
    candidate = os.path.join(site_dir, 'nvidia', f'cu{major}', 'include')
    return candidate if os.path.isfile(os.path.join(candidate, 'cublas_v2.h')) else ''


def set_cuda_inc_path() -> None:
    if os.environ.get('CUDA_INC_PATH'):
        return
    if os.path.isfile(os.path.join(CUDA_HOME, 'include', 'cublas_v2.h')):
        return
    include_dir = pip_cuda_include_dir()
    if include_dir:
        os.environ['CUDA_INC_PATH'] = include_dir
        log(f'CUDA_INC_PATH={include_dir}')


def compile_and_link_flags() -> tuple:
    """Optimisation and OpenMP (at::parallel_for runs serially without it, as with Apple clang)."""
    if sys.platform == 'win32':
        return ['/O2', '/openmp'], []
    if sys.platform == 'darwin':
        return ['-O3'], []
    return ['-O3', '-fopenmp'], ['-fopenmp']


def make_extension():
    sources = [os.path.join('src', 'vision.cpp'),
               os.path.join('src', 'cpu', 'ms_deform_attn_cpu.cpp')]
    cxx_flags, link_flags = compile_and_link_flags()
    include_dirs = [os.path.join(HERE, 'src')]
    if not cuda_requested():
        return CppExtension(NAME, sources, include_dirs=include_dirs,
                            extra_compile_args={'cxx': cxx_flags},
                            extra_link_args=link_flags)
    set_cuda_inc_path()
    log(f'building the CPU and CUDA kernels (CUDA_HOME={CUDA_HOME}, '
        f'TORCH_CUDA_ARCH_LIST={os.environ.get("TORCH_CUDA_ARCH_LIST", "<visible GPUs>")})')
    return CUDAExtension(NAME, sources + [os.path.join('src', 'cuda', 'ms_deform_attn_cuda.cu')],
                         include_dirs=include_dirs, define_macros=[('WITH_CUDA', None)],
                         extra_compile_args={'cxx': cxx_flags, 'nvcc': ['-O3']},
                         extra_link_args=link_flags)


class AtomicBuildExtension(BuildExtension):
    """Copies the built library into this folder with a rename, so that an interrupted or failed
    build never leaves a half-written .so (and running processes keep their mapped copy)."""

    def copy_file(self, infile, outfile, *args, **kwargs):
        partial = f'{outfile}.partial-{os.getpid()}'
        shutil.copyfile(infile, partial)
        shutil.copymode(infile, partial)
        os.replace(partial, outfile)
        return outfile, True


setup(
    name=NAME,
    version='1.0',
    description='Multi-scale deformable attention (CPU and CUDA kernels) for THE-Mask',
    ext_modules=[make_extension()],
    cmdclass={'build_ext': AtomicBuildExtension},
)

// The multi-scale deformable attention operator: schemas in the `themask` namespace, the CPU and
// CUDA kernels registered by dispatch key, and a small Python module (imported by
// functions/ms_deform_attn_func.py; `torch.ops.load_library(path)` of the .so works too). The
// fake (meta) kernels, the autograd formula and the autocast rule are registered in Python, in
// functions/ms_deform_attn_func.py, which also defines these schemas itself (FORWARD_SCHEMA,
// BACKWARD_SCHEMA: keep them equal) when the extension is not built.
#include <torch/csrc/utils/pybind.h>
#include <torch/library.h>

#include "ms_deform_attn.h"

TORCH_LIBRARY(themask, m) {
  m.def(
      "ms_deform_attn_forward(Tensor value, Tensor spatial_shapes, Tensor level_start_index, "
      "Tensor sampling_loc, Tensor attn_weight, int im2col_step) -> Tensor");
  m.def(
      "ms_deform_attn_backward(Tensor value, Tensor spatial_shapes, Tensor level_start_index, "
      "Tensor sampling_loc, Tensor attn_weight, Tensor grad_output, int im2col_step) "
      "-> (Tensor, Tensor, Tensor)");
}

// ms_deform_attn.h checks the inputs and picks the kernel by the value's device.
TORCH_LIBRARY_IMPL(themask, CPU, m) {
  m.impl("ms_deform_attn_forward", &msda::ms_deform_attn_forward);
  m.impl("ms_deform_attn_backward", &msda::ms_deform_attn_backward);
}

#ifdef WITH_CUDA
TORCH_LIBRARY_IMPL(themask, CUDA, m) {
  m.impl("ms_deform_attn_forward", &msda::ms_deform_attn_forward);
  m.impl("ms_deform_attn_backward", &msda::ms_deform_attn_backward);
}
#endif

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("with_cuda", [] {
#ifdef WITH_CUDA
    return true;
#else
    return false;
#endif
  }, "whether the CUDA kernel was compiled (the ops are torch.ops.themask.ms_deform_attn_*)");
}

// Multi-scale deformable attention: input checks, batch chunking (im2col_step) and the dispatch by
// device to the CPU kernel (cpu/) or the CUDA kernel (cuda/, compiled when WITH_CUDA is defined).
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros_like.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "ms_deform_attn_kernels.h"

namespace msda {

inline void check_tensor(const at::Tensor& t, const char* name, const at::Tensor& value,
                         bool floating) {
  TORCH_CHECK(t.device() == value.device(), "ms_deform_attn: ", name, " is on ", t.device(),
              " but value is on ", value.device(), "; all inputs must be on one device");
  TORCH_CHECK(t.is_contiguous(), "ms_deform_attn: ", name, " must be contiguous");
  if (floating) {
    TORCH_CHECK(t.scalar_type() == value.scalar_type(), "ms_deform_attn: ", name, " has dtype ",
                t.scalar_type(), " but value has dtype ", value.scalar_type(),
                "; cast them to one dtype");
  } else {
    TORCH_CHECK(t.scalar_type() == at::kLong, "ms_deform_attn: ", name,
                " must be int64, got ", t.scalar_type());
  }
}

// Checks every input against value's shape (N, S, M, D) and returns the chunk size
// min(N, im2col_step), which must divide N.
inline int64_t check_inputs(const at::Tensor& value, const at::Tensor& spatial_shapes,
                            const at::Tensor& level_start_index, const at::Tensor& sampling_loc,
                            const at::Tensor& attn_weight, int64_t im2col_step) {
  TORCH_CHECK(value.dim() == 4, "ms_deform_attn: value must have shape (N, S, M, D), got ",
              value.sizes());
  TORCH_CHECK(at::isFloatingType(value.scalar_type()),
              "ms_deform_attn: value must be a floating-point tensor, got ", value.scalar_type());
  check_tensor(value, "value", value, true);
  check_tensor(spatial_shapes, "value_spatial_shapes", value, false);
  check_tensor(level_start_index, "value_level_start_index", value, false);
  check_tensor(sampling_loc, "sampling_locations", value, true);
  check_tensor(attn_weight, "attention_weights", value, true);
  const int64_t batch = value.size(0), heads = value.size(2);
  TORCH_CHECK(spatial_shapes.dim() == 2 && spatial_shapes.size(1) == 2,
              "ms_deform_attn: value_spatial_shapes must have shape (L, 2), got ",
              spatial_shapes.sizes());
  const int64_t levels = spatial_shapes.size(0);
  TORCH_CHECK(level_start_index.dim() == 1 && level_start_index.size(0) == levels,
              "ms_deform_attn: value_level_start_index must have shape (", levels, ",), got ",
              level_start_index.sizes());
  TORCH_CHECK(sampling_loc.dim() == 6 && sampling_loc.size(0) == batch &&
                  sampling_loc.size(2) == heads && sampling_loc.size(3) == levels &&
                  sampling_loc.size(5) == 2,
              "ms_deform_attn: sampling_locations must have shape (N=", batch, ", Lq, M=", heads,
              ", L=", levels, ", P, 2), got ", sampling_loc.sizes());
  std::vector<int64_t> weight_shape(sampling_loc.sizes().begin(), sampling_loc.sizes().end() - 1);
  TORCH_CHECK(attn_weight.sizes() == at::IntArrayRef(weight_shape),
              "ms_deform_attn: attention_weights must have shape ", at::IntArrayRef(weight_shape),
              " (sampling_locations without the last axis), got ", attn_weight.sizes());
  TORCH_CHECK(im2col_step > 0, "ms_deform_attn: im2col_step must be positive, got ", im2col_step);
  const int64_t step = std::max<int64_t>(std::min(batch, im2col_step), 1);
  TORCH_CHECK(batch % step == 0, "ms_deform_attn: the batch size N=", batch,
              " must be divisible by min(N, im2col_step)=", step, " (im2col_step=", im2col_step,
              ")");
  return step;
}

// True for CUDA tensors (an error if the extension has no CUDA kernel), false for CPU tensors.
inline bool on_cuda(const at::Tensor& value) {
  if (value.is_cuda()) {
#ifndef WITH_CUDA
    TORCH_CHECK(false, "ms_deform_attn: got CUDA tensors, but the extension was built without "
                       "CUDA; rebuild it with CUDA (see make.sh)");
#endif
    return true;
  }
  TORCH_CHECK(value.is_cpu(), "ms_deform_attn: no kernel for device ", value.device());
  return false;
}

// output (N, Lq, M * D)
inline at::Tensor ms_deform_attn_forward(const at::Tensor& value, const at::Tensor& spatial_shapes,
                                         const at::Tensor& level_start_index,
                                         const at::Tensor& sampling_loc,
                                         const at::Tensor& attn_weight, int64_t im2col_step) {
  const int64_t step = check_inputs(value, spatial_shapes, level_start_index, sampling_loc,
                                    attn_weight, im2col_step);
  const bool cuda = on_cuda(value);
  auto output = at::empty({value.size(0), sampling_loc.size(1), value.size(2) * value.size(3)},
                          value.options());
  for (int64_t start = 0; start < value.size(0); start += step) {
    auto out = output.narrow(0, start, step);
    if (cuda) {
#ifdef WITH_CUDA
      ms_deform_attn_cuda_forward(value.narrow(0, start, step), spatial_shapes, level_start_index,
                                  sampling_loc.narrow(0, start, step),
                                  attn_weight.narrow(0, start, step), out);
#endif
    } else {
      ms_deform_attn_cpu_forward(value.narrow(0, start, step), spatial_shapes, level_start_index,
                                 sampling_loc.narrow(0, start, step),
                                 attn_weight.narrow(0, start, step), out);
    }
  }
  return output;
}

// (grad_value, grad_sampling_loc, grad_attn_weight)
inline std::tuple<at::Tensor, at::Tensor, at::Tensor> ms_deform_attn_backward(
    const at::Tensor& value, const at::Tensor& spatial_shapes,
    const at::Tensor& level_start_index, const at::Tensor& sampling_loc,
    const at::Tensor& attn_weight, const at::Tensor& grad_output, int64_t im2col_step) {
  const int64_t step = check_inputs(value, spatial_shapes, level_start_index, sampling_loc,
                                    attn_weight, im2col_step);
  check_tensor(grad_output, "grad_output", value, true);
  const bool cuda = on_cuda(value);
  const std::vector<int64_t> out_shape{value.size(0), sampling_loc.size(1),
                                       value.size(2) * value.size(3)};
  TORCH_CHECK(grad_output.sizes() == at::IntArrayRef(out_shape),
              "ms_deform_attn: grad_output must have shape ", at::IntArrayRef(out_shape), ", got ",
              grad_output.sizes());
  auto grad_value = at::zeros_like(value);
  auto grad_sampling_loc = at::zeros_like(sampling_loc);
  auto grad_attn_weight = at::zeros_like(attn_weight);
  for (int64_t start = 0; start < value.size(0); start += step) {
    auto gv = grad_value.narrow(0, start, step);
    auto gl = grad_sampling_loc.narrow(0, start, step);
    auto ga = grad_attn_weight.narrow(0, start, step);
    if (cuda) {
#ifdef WITH_CUDA
      ms_deform_attn_cuda_backward(
          value.narrow(0, start, step), spatial_shapes, level_start_index,
          sampling_loc.narrow(0, start, step), attn_weight.narrow(0, start, step),
          grad_output.narrow(0, start, step), gv, gl, ga);
#endif
    } else {
      ms_deform_attn_cpu_backward(value.narrow(0, start, step), spatial_shapes, level_start_index,
                                  sampling_loc.narrow(0, start, step),
                                  attn_weight.narrow(0, start, step),
                                  grad_output.narrow(0, start, step), gv, gl, ga);
    }
  }
  return std::make_tuple(grad_value, grad_sampling_loc, grad_attn_weight);
}

}  // namespace msda

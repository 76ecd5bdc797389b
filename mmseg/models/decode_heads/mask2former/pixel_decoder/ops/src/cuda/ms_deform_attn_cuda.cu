// CUDA kernels of multi-scale deformable attention; arithmetic in float for half and bfloat16.
//
// Forward: one thread per output element (n, q, m, d). Consecutive threads read consecutive
// channels of a corner pixel, so the value loads are coalesced; every thread evaluates the stencil
// of its sampling points (the locations and weights are broadcast loads).
// Backward: a group of G lanes per (n, q, m) row, G = the power of two >= D, at most 32; lane j
// handles channels j, j + G, ... For each sampling point the group adds up its partial dot
// products with warp shuffles and its first lane writes the location and weight gradients, so
// those need no atomics. grad_value is accumulated with atomicAdd (into a float buffer for half
// and bfloat16): its summation order, hence its last bits, varies between runs, as for
// grid_sample's backward.
#include <ATen/Context.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>
#include <type_traits>

#include "../ms_deform_attn_kernels.h"
#include "../ms_deform_attn_stencil.h"

namespace msda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1 << 16;

int64_t blocks_for(int64_t threads) { return (threads + kThreads - 1) / kThreads; }

// Offset of value[n, 0, m, 0] for row (n * Lq + q) * M + m.
__device__ __forceinline__ int64_t head_offset(int64_t row, const Dims& dims) {
  const int64_t m = row % dims.heads, n = row / (dims.heads * dims.num_queries);
  return (n * dims.num_values * dims.heads + m) * dims.channels;
}

template <typename scalar_t, typename acc_t>
__global__ void forward_kernel(const scalar_t* __restrict__ value,
                               const int64_t* __restrict__ spatial_shapes,
                               const int64_t* __restrict__ level_start_index,
                               const scalar_t* __restrict__ sampling_loc,
                               const scalar_t* __restrict__ attn_weight,
                               scalar_t* __restrict__ output, int64_t total, Dims dims) {
  const int64_t pixel_stride = dims.heads * dims.channels;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    const int64_t row = i / dims.channels;  // (n * Lq + q) * M + m
    const scalar_t* head_value = value + head_offset(row, dims) + i % dims.channels;
    const scalar_t* loc = sampling_loc + row * dims.levels * dims.points * 2;
    const scalar_t* attn = attn_weight + row * dims.levels * dims.points;
    Stencil<acc_t> s;
    acc_t acc = 0;
    for (int64_t l = 0; l < dims.levels; ++l) {
      const int64_t height = spatial_shapes[2 * l], width = spatial_shapes[2 * l + 1];
      const scalar_t* level_value = head_value + level_start_index[l] * pixel_stride;
      for (int64_t p = 0; p < dims.points; ++p, loc += 2, ++attn) {
        if (make_stencil(static_cast<acc_t>(loc[0]), static_cast<acc_t>(loc[1]), height, width,
                         s) == 0) {
          continue;
        }
        acc_t sample = 0;
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          if (s.valid[c]) {
            sample += s.weight[c] * static_cast<acc_t>(level_value[s.pixel[c] * pixel_stride]);
          }
        }
        acc += static_cast<acc_t>(*attn) * sample;
      }
    }
    output[i] = static_cast<scalar_t>(acc);
  }
}

// padded_threads is a multiple of blockDim.x, so every warp runs the same number of iterations and
// all its lanes reach the shuffles.
template <typename scalar_t, typename acc_t>
__global__ void backward_kernel(const scalar_t* __restrict__ value,
                                const int64_t* __restrict__ spatial_shapes,
                                const int64_t* __restrict__ level_start_index,
                                const scalar_t* __restrict__ sampling_loc,
                                const scalar_t* __restrict__ attn_weight,
                                const scalar_t* __restrict__ grad_output,
                                acc_t* __restrict__ grad_value, scalar_t* __restrict__ grad_loc,
                                scalar_t* __restrict__ grad_attn, int64_t padded_threads,
                                int group, Dims dims) {
  const int64_t rows = dims.batch * dims.num_queries * dims.heads;
  const int64_t pixel_stride = dims.heads * dims.channels;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < padded_threads;
       t += stride) {
    const int64_t row = t / group;  // (n * Lq + q) * M + m
    const int lane = static_cast<int>(t % group);
    const bool active = row < rows;
    const int64_t offset = head_offset(row, dims);
    const scalar_t* grad = grad_output + row * dims.channels;
    int64_t sample = row * dims.levels * dims.points;  // index of (n, q, m, l, p)
    for (int64_t l = 0; l < dims.levels; ++l) {
      const int64_t height = spatial_shapes[2 * l], width = spatial_shapes[2 * l + 1];
      const int64_t level_offset = offset + level_start_index[l] * pixel_stride;
      for (int64_t p = 0; p < dims.points; ++p, ++sample) {
        Stencil<acc_t> s;
        int count = 0;
        acc_t attn = 0, sum_attn = 0, sum_u = 0, sum_v = 0;
        if (active) {
          attn = static_cast<acc_t>(attn_weight[sample]);
          count = make_stencil(static_cast<acc_t>(sampling_loc[2 * sample]),
                               static_cast<acc_t>(sampling_loc[2 * sample + 1]), height, width, s);
          for (int64_t d = lane; count > 0 && d < dims.channels; d += group) {
            const acc_t g = static_cast<acc_t>(grad[d]);
#pragma unroll
            for (int c = 0; c < 4; ++c) {
              if (s.valid[c]) {
                const int64_t at = level_offset + s.pixel[c] * pixel_stride + d;
                const acc_t dot = static_cast<acc_t>(value[at]) * g;
                sum_attn += s.weight[c] * dot;
                sum_u += s.d_du[c] * dot;
                sum_v += s.d_dv[c] * dot;
                atomicAdd(grad_value + at, attn * s.weight[c] * g);
              }
            }
          }
        }
        for (int lane_mask = group / 2; lane_mask > 0; lane_mask /= 2) {
          sum_attn += __shfl_xor_sync(0xffffffffu, sum_attn, lane_mask, group);
          sum_u += __shfl_xor_sync(0xffffffffu, sum_u, lane_mask, group);
          sum_v += __shfl_xor_sync(0xffffffffu, sum_v, lane_mask, group);
        }
        if (active && lane == 0 && count > 0) {
          grad_attn[sample] = static_cast<scalar_t>(sum_attn);
          grad_loc[2 * sample] = static_cast<scalar_t>(attn * static_cast<acc_t>(width) * sum_u);
          grad_loc[2 * sample + 1] =
              static_cast<scalar_t>(attn * static_cast<acc_t>(height) * sum_v);
        }
      }
    }
  }
}

}  // namespace

void ms_deform_attn_cuda_forward(const at::Tensor& value, const at::Tensor& spatial_shapes,
                                 const at::Tensor& level_start_index,
                                 const at::Tensor& sampling_loc, const at::Tensor& attn_weight,
                                 const at::Tensor& output) {
  const int64_t total = output.numel();
  if (total == 0) return;
  const c10::cuda::CUDAGuard device_guard(value.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int64_t blocks = std::min(blocks_for(total), kMaxBlocks);
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, value.scalar_type(), "ms_deform_attn_cuda_forward", [&] {
        using acc_t = at::opmath_type<scalar_t>;
        forward_kernel<scalar_t, acc_t><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
            value.data_ptr<scalar_t>(), spatial_shapes.data_ptr<int64_t>(),
            level_start_index.data_ptr<int64_t>(), sampling_loc.data_ptr<scalar_t>(),
            attn_weight.data_ptr<scalar_t>(), output.data_ptr<scalar_t>(), total,
            dims_of(value, sampling_loc));
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
}

void ms_deform_attn_cuda_backward(const at::Tensor& value, const at::Tensor& spatial_shapes,
                                  const at::Tensor& level_start_index,
                                  const at::Tensor& sampling_loc, const at::Tensor& attn_weight,
                                  const at::Tensor& grad_output, const at::Tensor& grad_value,
                                  const at::Tensor& grad_sampling_loc,
                                  const at::Tensor& grad_attn_weight) {
  at::globalContext().alertNotDeterministic("ms_deform_attn_cuda_backward");
  const Dims dims = dims_of(value, sampling_loc);
  const int64_t rows = dims.batch * dims.num_queries * dims.heads;
  if (rows == 0 || dims.channels == 0) return;
  int group = 1;
  while (group < dims.channels && group < 32) group *= 2;
  const int64_t padded_threads = blocks_for(rows * group) * kThreads;
  const int64_t blocks = std::min(padded_threads / kThreads, kMaxBlocks);
  const c10::cuda::CUDAGuard device_guard(value.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, value.scalar_type(), "ms_deform_attn_cuda_backward", [&] {
        using acc_t = at::opmath_type<scalar_t>;
        constexpr bool same_type = std::is_same_v<acc_t, scalar_t>;
        const auto acc_dtype = c10::CppTypeToScalarType<acc_t>::value;
        const at::Tensor grad_value_acc =
            same_type ? grad_value
                      : at::zeros(grad_value.sizes(), grad_value.options().dtype(acc_dtype));
        backward_kernel<scalar_t, acc_t><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
            value.data_ptr<scalar_t>(), spatial_shapes.data_ptr<int64_t>(),
            level_start_index.data_ptr<int64_t>(), sampling_loc.data_ptr<scalar_t>(),
            attn_weight.data_ptr<scalar_t>(), grad_output.data_ptr<scalar_t>(),
            grad_value_acc.data_ptr<acc_t>(), grad_sampling_loc.data_ptr<scalar_t>(),
            grad_attn_weight.data_ptr<scalar_t>(), padded_threads, group, dims);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
        if (!same_type) grad_value.copy_(grad_value_acc);
      });
}

}  // namespace msda

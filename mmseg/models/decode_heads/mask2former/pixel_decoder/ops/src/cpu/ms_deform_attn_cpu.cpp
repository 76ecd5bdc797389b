// CPU kernels of multi-scale deformable attention.
//
// value (N, S, M, D) keeps the D channels of a head contiguous, so a sampling point reads (and its
// gradient writes) up to four contiguous D-vectors; those loops are what the compiler vectorises.
// The forward is parallel over (n, query) rows, each writing its own output row. The backward is
// parallel over (n, head, level) triples: a triple owns a disjoint slice of grad_value (its level's
// pixels, its head's channels) and of the location/weight gradients, so there are no atomics, no
// buffers, and the result does not depend on the number of threads.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "../ms_deform_attn_kernels.h"
#include "../ms_deform_attn_stencil.h"

namespace msda {
namespace {

struct Level {
  int64_t height, width, start;
};

// Reads the level table and checks it against S: the levels tile value's S axis in order.
std::vector<Level> read_levels(const at::Tensor& spatial_shapes,
                               const at::Tensor& level_start_index, int64_t num_values) {
  const int64_t* shapes = spatial_shapes.data_ptr<int64_t>();
  const int64_t* starts = level_start_index.data_ptr<int64_t>();
  std::vector<Level> levels(spatial_shapes.size(0));
  int64_t total = 0;
  for (size_t l = 0; l < levels.size(); ++l) {
    levels[l] = {shapes[2 * l], shapes[2 * l + 1], starts[l]};
    TORCH_CHECK(levels[l].height >= 0 && levels[l].width >= 0,
                "ms_deform_attn: value_spatial_shapes[", l, "] = (", levels[l].height, ", ",
                levels[l].width, ") must be non-negative");
    TORCH_CHECK(levels[l].start == total, "ms_deform_attn: value_level_start_index[", l, "] = ",
                levels[l].start, " but the levels before it hold ", total, " values");
    total += levels[l].height * levels[l].width;
  }
  TORCH_CHECK(total == num_values, "ms_deform_attn: value_spatial_shapes describe ", total,
              " values (sum of H*W) but value has S=", num_values);
  return levels;
}

// acc += attn * sum_c w[c] * rows[c] over the valid corners c, for the D channels.
template <typename T>
inline void accumulate_sample(T* __restrict__ acc, const T* __restrict__ level_value,
                              int64_t pixel_stride, const Stencil<T>& s, int count, T attn,
                              int64_t channels) {
  if (count == 4) {
    const T* __restrict__ r0 = level_value + s.pixel[0] * pixel_stride;
    const T* __restrict__ r1 = level_value + s.pixel[1] * pixel_stride;
    const T* __restrict__ r2 = level_value + s.pixel[2] * pixel_stride;
    const T* __restrict__ r3 = level_value + s.pixel[3] * pixel_stride;
    const T w0 = attn * s.weight[0], w1 = attn * s.weight[1];
    const T w2 = attn * s.weight[2], w3 = attn * s.weight[3];
#pragma omp simd
    for (int64_t d = 0; d < channels; ++d) {
      acc[d] += w0 * r0[d] + w1 * r1[d] + w2 * r2[d] + w3 * r3[d];
    }
    return;
  }
  for (int c = 0; c < 4; ++c) {
    if (!s.valid[c]) continue;
    const T* __restrict__ row = level_value + s.pixel[c] * pixel_stride;
    const T w = attn * s.weight[c];
#pragma omp simd
    for (int64_t d = 0; d < channels; ++d) acc[d] += w * row[d];
  }
}

// For each valid corner c: dots[c] = <rows[c], grad> and grad_rows[c] += attn * w[c] * grad;
// dots[c] = 0 for the others.
template <typename T>
inline void backward_sample(const T* __restrict__ level_value, T* __restrict__ level_grad,
                            int64_t pixel_stride, const Stencil<T>& s, int count, T attn,
                            const T* __restrict__ grad, int64_t channels, T dots[4]) {
  if (count == 4) {
    const T* __restrict__ r0 = level_value + s.pixel[0] * pixel_stride;
    const T* __restrict__ r1 = level_value + s.pixel[1] * pixel_stride;
    const T* __restrict__ r2 = level_value + s.pixel[2] * pixel_stride;
    const T* __restrict__ r3 = level_value + s.pixel[3] * pixel_stride;
    T* __restrict__ g0 = level_grad + s.pixel[0] * pixel_stride;
    T* __restrict__ g1 = level_grad + s.pixel[1] * pixel_stride;
    T* __restrict__ g2 = level_grad + s.pixel[2] * pixel_stride;
    T* __restrict__ g3 = level_grad + s.pixel[3] * pixel_stride;
    const T w0 = attn * s.weight[0], w1 = attn * s.weight[1];
    const T w2 = attn * s.weight[2], w3 = attn * s.weight[3];
    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (int64_t d = 0; d < channels; ++d) {
      const T g = grad[d];
      s0 += r0[d] * g;
      s1 += r1[d] * g;
      s2 += r2[d] * g;
      s3 += r3[d] * g;
      g0[d] += w0 * g;
      g1[d] += w1 * g;
      g2[d] += w2 * g;
      g3[d] += w3 * g;
    }
    dots[0] = s0;
    dots[1] = s1;
    dots[2] = s2;
    dots[3] = s3;
    return;
  }
  for (int c = 0; c < 4; ++c) {
    dots[c] = 0;
    if (!s.valid[c]) continue;
    const T* __restrict__ row = level_value + s.pixel[c] * pixel_stride;
    T* __restrict__ grad_row = level_grad + s.pixel[c] * pixel_stride;
    const T w = attn * s.weight[c];
    T dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t d = 0; d < channels; ++d) {
      dot += row[d] * grad[d];
      grad_row[d] += w * grad[d];
    }
    dots[c] = dot;
  }
}

template <typename T>
void forward_kernel(const at::Tensor& value, const std::vector<Level>& levels,
                    const at::Tensor& sampling_loc, const at::Tensor& attn_weight,
                    const at::Tensor& output) {
  const Dims dims = dims_of(value, sampling_loc);
  const int64_t channels = dims.channels, pixel_stride = dims.heads * dims.channels;
  const T* value_ptr = value.data_ptr<T>();
  const T* loc_ptr = sampling_loc.data_ptr<T>();
  const T* attn_ptr = attn_weight.data_ptr<T>();
  T* out_ptr = output.data_ptr<T>();
  const int64_t samples_per_row = dims.heads * dims.levels * dims.points;
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, samples_per_row));
  at::parallel_for(0, dims.batch * dims.num_queries, grain, [&](int64_t begin, int64_t end) {
    Stencil<T> s;
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / dims.num_queries;
      const T* batch_value = value_ptr + n * dims.num_values * pixel_stride;
      const T* loc = loc_ptr + row * samples_per_row * 2;
      const T* attn = attn_ptr + row * samples_per_row;
      T* out = out_ptr + row * pixel_stride;
      std::fill(out, out + pixel_stride, T(0));
      for (int64_t m = 0; m < dims.heads; ++m) {
        T* acc = out + m * channels;
        for (const Level& level : levels) {
          const T* level_value = batch_value + level.start * pixel_stride + m * channels;
          for (int64_t p = 0; p < dims.points; ++p, loc += 2, ++attn) {
            const int count = make_stencil(loc[0], loc[1], level.height, level.width, s);
            if (count > 0) {
              accumulate_sample(acc, level_value, pixel_stride, s, count, *attn, channels);
            }
          }
        }
      }
    }
  });
}

template <typename T>
void backward_kernel(const at::Tensor& value, const std::vector<Level>& levels,
                     const at::Tensor& sampling_loc, const at::Tensor& attn_weight,
                     const at::Tensor& grad_output, const at::Tensor& grad_value,
                     const at::Tensor& grad_sampling_loc, const at::Tensor& grad_attn_weight) {
  const Dims dims = dims_of(value, sampling_loc);
  const int64_t heads = dims.heads, channels = dims.channels, num_levels = dims.levels;
  const int64_t pixel_stride = heads * channels;
  const T* value_ptr = value.data_ptr<T>();
  const T* loc_ptr = sampling_loc.data_ptr<T>();
  const T* attn_ptr = attn_weight.data_ptr<T>();
  const T* grad_out_ptr = grad_output.data_ptr<T>();
  T* grad_value_ptr = grad_value.data_ptr<T>();
  T* grad_loc_ptr = grad_sampling_loc.data_ptr<T>();
  T* grad_attn_ptr = grad_attn_weight.data_ptr<T>();
  at::parallel_for(0, dims.batch * heads * num_levels, 1, [&](int64_t begin, int64_t end) {
    Stencil<T> s;
    T dots[4];
    for (int64_t task = begin; task < end; ++task) {
      const int64_t n = task / (heads * num_levels);
      const int64_t m = (task / num_levels) % heads;
      const Level& level = levels[task % num_levels];
      const int64_t offset = ((n * dims.num_values + level.start) * heads + m) * channels;
      const T* level_value = value_ptr + offset;
      T* level_grad = grad_value_ptr + offset;
      const T width = static_cast<T>(level.width), height = static_cast<T>(level.height);
      for (int64_t q = 0; q < dims.num_queries; ++q) {
        const int64_t row = n * dims.num_queries + q;
        const T* grad = grad_out_ptr + row * pixel_stride + m * channels;
        // first sample of (n, q, m, level)
        const int64_t first = ((row * heads + m) * num_levels + task % num_levels) * dims.points;
        for (int64_t i = first; i < first + dims.points; ++i) {
          const int count = make_stencil(loc_ptr[2 * i], loc_ptr[2 * i + 1], level.height,
                                         level.width, s);
          if (count == 0) continue;
          const T attn = attn_ptr[i];
          backward_sample(level_value, level_grad, pixel_stride, s, count, attn, grad, channels,
                          dots);
          T grad_attn = 0, grad_u = 0, grad_v = 0;
          for (int c = 0; c < 4; ++c) {
            grad_attn += s.weight[c] * dots[c];
            grad_u += s.d_du[c] * dots[c];
            grad_v += s.d_dv[c] * dots[c];
          }
          grad_attn_ptr[i] = grad_attn;
          grad_loc_ptr[2 * i] = attn * width * grad_u;
          grad_loc_ptr[2 * i + 1] = attn * height * grad_v;
        }
      }
    }
  });
}

}  // namespace

void ms_deform_attn_cpu_forward(const at::Tensor& value, const at::Tensor& spatial_shapes,
                                const at::Tensor& level_start_index,
                                const at::Tensor& sampling_loc, const at::Tensor& attn_weight,
                                const at::Tensor& output) {
  const auto levels = read_levels(spatial_shapes, level_start_index, value.size(1));
  AT_DISPATCH_FLOATING_TYPES(value.scalar_type(), "ms_deform_attn_cpu_forward", [&] {
    forward_kernel<scalar_t>(value, levels, sampling_loc, attn_weight, output);
  });
}

void ms_deform_attn_cpu_backward(const at::Tensor& value, const at::Tensor& spatial_shapes,
                                 const at::Tensor& level_start_index,
                                 const at::Tensor& sampling_loc, const at::Tensor& attn_weight,
                                 const at::Tensor& grad_output, const at::Tensor& grad_value,
                                 const at::Tensor& grad_sampling_loc,
                                 const at::Tensor& grad_attn_weight) {
  const auto levels = read_levels(spatial_shapes, level_start_index, value.size(1));
  AT_DISPATCH_FLOATING_TYPES(value.scalar_type(), "ms_deform_attn_cpu_backward", [&] {
    backward_kernel<scalar_t>(value, levels, sampling_loc, attn_weight, grad_output, grad_value,
                              grad_sampling_loc, grad_attn_weight);
  });
}

}  // namespace msda

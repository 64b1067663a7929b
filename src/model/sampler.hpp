// The decoding loop's sampler (internal to src/model/: it reads torch tensors): picks each slot's
// id from the sub-decoder's logits, greedy or seeded sampling with temperature, top-k and top-p.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include <torch/torch.h>

#include "umt/model/translator.hpp"

namespace umt::model {

class Sampler {
public:
    // One generator per row of the batch, seeded by (seed, the row's request index), so results
    // do not depend on how requests are batched.
    Sampler(const SamplerOptions& options, const std::vector<size_t>& request_indices);
    // logits [n, V] for the rows still decoding (logits row k is batch row alive[k]); writes the
    // picked id of row k to ids[k * stride].
    void pick(const torch::Tensor& logits, const std::vector<int64_t>& alive, int64_t* ids, int stride);

private:
    SamplerOptions options_;
    std::vector<std::mt19937_64> rngs_;
};

}  // namespace umt::model

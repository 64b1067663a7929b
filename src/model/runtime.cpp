#include "umt/model/runtime.hpp"

#include <torch/torch.h>

#include "umt/core/cpus.hpp"

namespace umt::model {

std::string torch_version() { return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH); }

void set_threads(int threads) {
    if (threads <= 0) threads = usable_cores();
    torch::set_num_threads(threads);
}

}  // namespace umt::model

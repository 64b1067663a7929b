#include "umt/model/runtime.hpp"

#include <torch/torch.h>

namespace umt::model {

std::string torch_version() { return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH); }

void set_num_threads(int n) {
    if (n > 0) torch::set_num_threads(n);
}

}  // namespace umt::model

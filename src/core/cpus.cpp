#include "umt/core/cpus.hpp"

#include <sched.h>

#include <algorithm>
#include <thread>

namespace umt {

int usable_cores() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        const int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    return int(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace umt

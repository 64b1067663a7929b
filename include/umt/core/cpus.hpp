// How many CPUs this process may use.
#pragma once

namespace umt {

// The CPUs this process may run on: its affinity mask (a Slurm allocation, taskset, a container's
// cpuset), not the machine's count; at least 1.
int usable_cores();

}  // namespace umt

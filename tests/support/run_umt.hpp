// Running the real umt binary from a test: exit status and everything it printed.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace umt::testing {

struct RunResult {
    int rc = -1;
    std::string output;  // stdout and stderr
};

// Runs umt with `args` (already shell-quoted where needed).
inline RunResult umt_run(const std::string& args) {
    std::string cmd = std::string(UMT_EXE) + " " + args + " 2>&1";
    RunResult r;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
    int status = ::pclose(p);
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

}  // namespace umt::testing

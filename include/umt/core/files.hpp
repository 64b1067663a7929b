// File helpers: whole-file reads, atomic writes (temp file + rename), extensions.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace umt {

namespace fs = std::filesystem;

// Reads a whole file ("-" = stdin). Throws umt::Error naming the file when it is
// missing, unreadable or (unless allow_empty) empty.
std::string read_file(const std::string& path, bool allow_empty = false);

// Writes bytes to path through a temporary file in the same folder and a rename,
// so a failure never leaves a half-written output. "-" writes to stdout.
void write_file_atomic(const std::string& path, const std::string& bytes);

// For writers that need a real file name (libsndfile, OpenCV, poppler...): calls
// write(tmp_path) and renames tmp_path to path on success, removes it on failure.
// "-" is supported by writing to a temporary file and copying it to stdout.
void write_via_temp(const std::string& path, const std::function<void(const std::string& tmp_path)>& write);

// Lower-case extension without the dot: "score.MXL" -> "mxl", "" when none.
std::string extension_of(const std::string& path);

}  // namespace umt

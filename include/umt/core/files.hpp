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

// True when path is written as a stream, not as a file replaced by a rename: "-" (stdout),
// /dev/stdout, /dev/stderr, /dev/fd/N and /proc/self/fd/N (a process substitution `>(cmd)`),
// and anything that exists and is neither a regular file nor a folder (a FIFO, /dev/null).
bool is_stream_output(const std::string& path);

// Where a write to path lands: the end of its symlink chain (so a link is written through
// to its target, not replaced), else path itself.
std::string resolve_output_path(const std::string& path);

// Writes bytes to path through a temporary file in the same folder and a rename, so a
// failure never leaves a half-written output; a symlink is written through to its target.
// Stream outputs (is_stream_output) are written in place, "-" to stdout.
void write_file_atomic(const std::string& path, const std::string& bytes);

// For writers that need a real file name (libsndfile, OpenCV, poppler...): calls
// write(tmp_path) and renames tmp_path to path on success, removes it on failure.
// A stream output gets a temporary file in the system's temp folder, then copied to the
// stream; its name ends in .<stream_ext> when path has no extension (writers choose the
// format by it).
void write_via_temp(const std::string& path, const std::function<void(const std::string& tmp_path)>& write,
                    const std::string& stream_ext = "");

// Lower-case extension without the dot: "score.MXL" -> "mxl", "" when none.
std::string extension_of(const std::string& path);

}  // namespace umt

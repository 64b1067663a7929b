// MusicXML (.musicxml, .xml, compressed .mxl) <-> Score.
//
// Reads partwise scores (timewise ones are converted on read), keeps the document
// order of notes, backup, forward and attributes (LMX depends on it) and skips what the
// Score model does not represent. Errors are umt::Error naming the file.
#pragma once

#include <cstddef>
#include <string>

#include "umt/core/score.hpp"

namespace umt {

// Parses MusicXML text (UTF-8 or UTF-16 with BOM); `source` names it in errors.
Score parse_musicxml(const std::string& xml, const std::string& source);

// Reads the bytes of an .mxl archive: META-INF/container.xml -> root file.
// An .mxl entry larger than this once decompressed is refused (a zip bomb is not a score; the
// largest OpenScore Lieder score is under 2 MB).
constexpr size_t kMaxMxlEntryBytes = size_t(100) << 20;
Score parse_mxl(const std::string& bytes, const std::string& source);

// Reads a file ("-" = stdin); .mxl or MusicXML text, chosen by content (a zip is an
// .mxl whatever its name), so a wrongly named file still reads.
Score read_score(const std::string& path);

// Partwise MusicXML 4.0 text.
std::string write_musicxml(const Score& score);

// The bytes of an .mxl archive (mimetype, META-INF/container.xml, score.musicxml).
std::string write_mxl(const Score& score);

// .mxl -> compressed archive, anything else -> MusicXML text; atomic ("-" = stdout, text).
void save_score(const Score& score, const std::string& path);

}  // namespace umt

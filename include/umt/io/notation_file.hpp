// Notation files: their format from the extension or the content, LMX text files (one system per
// line), and a score read from either MusicXML or LMX.
#pragma once

#include <string>
#include <vector>

#include "umt/core/score.hpp"

namespace umt {

// Canonical format names: "musicxml" (text), "mxl", "lmx", "mid"; "" for an extension (lower
// case, no dot) that names none of them.
std::string notation_format_of_extension(const std::string& ext);
// For bytes without a name (stdin): a zip is mxl, "MThd" is mid, '<' (or a BOM) is musicxml, else lmx.
std::string sniff_notation_format(const std::string& bytes);

// The token lines of LMX text, one system per line; blank lines are skipped.
std::vector<std::vector<std::string>> lmx_lines(const std::string& text);
// Systems as LMX text, one line each.
std::string lmx_text(const std::vector<std::vector<std::string>>& systems);
void write_lmx_file(const std::vector<std::vector<std::string>>& systems, const std::string& path);

// A score from MusicXML (.musicxml .xml .mxl) or from an .lmx file (lenient delinearize, its
// messages appended to *warnings). For an LMX file of several lines, *lmx_systems (when not null)
// receives its lines as the systems they are; one line leaves it empty. Throws umt::Error(path, ...).
Score read_notation(const std::string& path, std::vector<std::vector<std::string>>* lmx_systems,
                    std::vector<std::string>* warnings);

}  // namespace umt

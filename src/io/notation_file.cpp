// Notation file formats and LMX text files.
#include "umt/io/notation_file.hpp"

#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/io/lmx.hpp"
#include "umt/io/musicxml.hpp"

namespace umt {

std::string notation_format_of_extension(const std::string& ext) {
    if (ext == "musicxml" || ext == "xml") return "musicxml";
    if (ext == "mxl") return "mxl";
    if (ext == "lmx" || ext == "txt") return "lmx";
    if (ext == "mid" || ext == "midi" || ext == "smf") return "mid";
    return "";
}

std::string sniff_notation_format(const std::string& bytes) {
    if (bytes.compare(0, 2, "PK") == 0) return "mxl";
    if (bytes.compare(0, 4, "MThd") == 0) return "mid";
    size_t i = bytes.find_first_not_of(" \t\r\n");
    if (i == std::string::npos) return "lmx";
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '<' || c == 0xEF || c == 0xFF || c == 0xFE) return "musicxml";
    return "lmx";
}

std::vector<std::vector<std::string>> lmx_lines(const std::string& text) {
    std::vector<std::vector<std::string>> lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        auto tokens = lmx::tokenize(text.substr(start, end - start));
        if (!tokens.empty()) lines.push_back(std::move(tokens));
        start = end + 1;
    }
    return lines;
}

std::string lmx_text(const std::vector<std::vector<std::string>>& systems) {
    std::string text;
    for (const auto& s : systems) text += lmx::join(s) + "\n";
    return text;
}

void write_lmx_file(const std::vector<std::vector<std::string>>& systems, const std::string& path) {
    write_file_atomic(path, lmx_text(systems));
}

Score read_notation(const std::string& path, std::vector<std::vector<std::string>>* lmx_systems,
                    std::vector<std::string>* warnings) {
    if (extension_of(path) != "lmx") return read_score(path);
    auto lines = lmx_lines(read_file(path));
    std::vector<std::string> all;
    for (const auto& line : lines) all.insert(all.end(), line.begin(), line.end());
    if (all.empty()) throw Error(path, "the LMX file has no tokens");
    if (lmx_systems && lines.size() >= 2) *lmx_systems = std::move(lines);  // one line: the caller chunks it
    return lmx::delinearize_score(all, warnings);
}

}  // namespace umt

// umt convert: exact conversions between MusicXML (.musicxml/.xml/.mxl), LMX and MIDI.
#include <memory>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "umt/cli/common.hpp"
#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/core/playback.hpp"
#include "umt/core/quantize.hpp"
#include "umt/io/lmx.hpp"
#include "umt/io/midi.hpp"
#include "umt/io/musicxml.hpp"
#include "umt/io/notation_file.hpp"

namespace umt::cli {

namespace {

struct ConvertArgs {
    std::vector<std::string> inputs;
    std::string output;
    std::string from;  // input format override (needed for stdin only when sniffing fails)
    std::string to;    // output format for folders and stdout
    int part = 0;      // 1-based; 0 = the piano part
    bool systems = false;
    bool lenient = false;
    bool expand_repeats = false;
};

Score read_lmx(const std::string& text, const std::string& source, bool lenient) {
    std::vector<std::string> tokens = lmx::tokenize(text);
    if (tokens.empty()) throw Error(source, "empty LMX file");
    if (!lenient) {
        for (size_t i = 0; i < tokens.size(); ++i)
            if (!lmx::is_token(tokens[i]))
                throw Error(source, "unknown LMX token '" + tokens[i] + "' (token " + std::to_string(i + 1) +
                                        "); --lenient drops unknown tokens");
    }
    std::vector<std::string> warnings;
    Score score = lmx::delinearize_score(tokens, &warnings);
    for (const auto& w : warnings) spdlog::warn("{}: {}", source, w);
    return score;
}

void convert_one(const Job& job, const ConvertArgs& a, std::string out_format) {
    std::string in_format = a.from;
    std::string bytes;
    if (in_format.empty()) {
        if (job.input == "-") {
            bytes = read_file(job.input);
            in_format = sniff_notation_format(bytes);
        } else {
            in_format = notation_format_of_extension(extension_of(job.input));
            if (in_format.empty())
                throw Error(job.input, "unknown input format (expected .musicxml, .xml, .mxl, .lmx or .mid)");
        }
    }
    if (bytes.empty()) bytes = read_file(job.input);

    Score score;
    if (in_format == "lmx") {
        score = read_lmx(bytes, job.input, a.lenient);
    } else if (in_format == "musicxml" || in_format == "mxl") {
        bool zip = bytes.compare(0, 4, "PK\x03\x04") == 0;
        score = zip ? parse_mxl(bytes, job.input) : parse_musicxml(bytes, job.input);
    } else if (in_format == "mid") {
        // A performance has no notation: quantize it into a best-effort two-staff piano score.
        score = quantize_performance(parse_midi(bytes, job.input));
    } else {
        throw Error(job.input, "unknown input format '" + in_format + "'");
    }

    if (out_format.empty()) out_format = in_format == "lmx" ? "musicxml" : "lmx";
    if (out_format == "lmx") {
        size_t index = score.default_part_index();
        if (a.part > 0) {
            if (static_cast<size_t>(a.part) > score.parts.size())
                throw Error(job.input, "--part " + std::to_string(a.part) + " but the score has " +
                                           std::to_string(score.parts.size()) + " part(s)");
            index = static_cast<size_t>(a.part - 1);
        }
        const Part& part = score.parts[index];
        write_lmx_file(a.systems ? lmx::linearize_systems(part) : std::vector<std::vector<std::string>>{lmx::linearize(part)},
                       job.output);
    } else if (out_format == "musicxml") {
        write_file_atomic(job.output, write_musicxml(score));
    } else if (out_format == "mxl") {
        write_file_atomic(job.output, write_mxl(score));
    } else if (out_format == "mid") {
        PlaybackOptions opts;
        opts.expand_repeats = a.expand_repeats;
        if (a.part > 0) {
            if (static_cast<size_t>(a.part) > score.parts.size())
                throw Error(job.input, "--part " + std::to_string(a.part) + " but the score has " +
                                           std::to_string(score.parts.size()) + " part(s)");
            opts.part = a.part - 1;
        }
        Performance perf = render_score(score, opts);
        if (perf.notes.empty()) throw Error(job.input, "the score has no notes to play");
        save_midi(perf, job.output);
    } else {
        throw UsageError("unknown output format '" + out_format + "'");
    }
}

}  // namespace

void register_convert(CLI::App& app, GlobalOptions& g, int& rc) {
    auto a = std::make_shared<ConvertArgs>();
    auto* sub = app.add_subcommand(
        "convert", "Exact conversions: MusicXML (.musicxml/.xml/.mxl) <-> LMX (.lmx), notation -> MusicXML/.mxl/MIDI (.mid)");
    sub->add_option("inputs", a->inputs, "Input files or folders ('-' = stdin)")->required();
    sub->add_option("-o,--output", a->output,
                    "Output file (format from its extension; '-' = stdout), or a folder for several inputs")
        ->required();
    sub->add_option("--from", a->from, "Input format when the name does not say it: musicxml, mxl, lmx")
        ->check(CLI::IsMember({"musicxml", "mxl", "lmx", "mid"}));
    sub->add_option("--to", a->to, "Output format for a folder or stdout: lmx, musicxml, mxl, mid")
        ->check(CLI::IsMember({"lmx", "musicxml", "mxl", "mid"}));
    sub->add_option("--part", a->part, "Part to write, 1-based (LMX default: the piano part, the one with two staves; MIDI default: all parts)")
        ->check(CLI::PositiveNumber);
    sub->add_flag("--systems", a->systems, "LMX output: one line per system, each restating key and clefs");
    sub->add_flag("--lenient", a->lenient, "LMX input: drop unknown tokens with a warning instead of failing");
    sub->add_flag("--expand-repeats", a->expand_repeats, "MIDI output: play repeats and voltas");
    sub->callback([a, &g, &rc] {
        std::string out_format = a->to;
        bool many = a->inputs.size() > 1;
        if (!many && a->inputs[0] != "-") {
            std::error_code ec;
            many = fs::is_directory(a->inputs[0], ec);
        }
        if (out_format.empty()) {
            if (!many && a->output != "-") {
                std::error_code ec;
                if (!fs::is_directory(a->output, ec)) out_format = notation_format_of_extension(extension_of(a->output));
                if (out_format.empty() && !fs::is_directory(a->output, ec))
                    throw UsageError(a->output + ": unknown output format (use .musicxml, .xml, .mxl, .lmx or --to)");
            } else if (a->output != "-") {
                throw UsageError("an output folder needs --to lmx|musicxml|mxl|mid");
            }
            // stdout without --to: decided per input (LMX in -> MusicXML out, else LMX).
        }
        std::string out_ext = out_format.empty() ? "lmx" : out_format;
        auto jobs = plan_jobs(a->inputs, a->output, {"musicxml", "xml", "mxl", "lmx", "mid", "midi"}, out_ext);
        rc = run_jobs(jobs, g, "convert", [&](const Job& job) { convert_one(job, *a, out_format); });
    });
}

}  // namespace umt::cli

// umt convert: exact conversions between MusicXML (.musicxml/.xml/.mxl), LMX and MIDI.
#include <iostream>
#include <map>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "umt/cli/batch.hpp"
#include "umt/cli/common.hpp"
#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/core/playback.hpp"
#include "umt/core/quantize.hpp"
#include "umt/io/lmx.hpp"
#include "umt/io/losses.hpp"
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
    bool expand_repeats = false;  // accepted for older scripts: repeats play by default
    bool no_repeats = false;
    bool quantize = false;        // MIDI -> MIDI through the quantizer
    std::string json;             // report file ("-" = stdout)
};

// What one conversion dropped: warned about once per file and written to --json.
struct ConvertReport {
    std::string target;  // "LMX", "MIDI", "notation"
    Losses lost;
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

void convert_one(const Job& job, const ConvertArgs& a, std::string out_format, ConvertReport& report, Timings& t) {
    StageTimer read_timer(&t, "read");
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
    read_timer.stop();

    if (out_format.empty()) out_format = in_format == "lmx" ? "musicxml" : "lmx";
    Score score;
    if (in_format == "mid" && out_format == "mid") {
        Performance perf = parse_midi(bytes, job.input);  // a damaged file fails here, not later
        if (!a.quantize) {
            // Nothing asked: the performance stays exactly as it is (notes, velocities, every
            // controller, tempo map, tracks), so the bytes are copied.
            write_file_atomic(job.output, bytes);
            return;
        }
        report = {"notation (--quantize)", quantize_losses(perf)};
        score = quantize_performance(perf);
    } else if (in_format == "lmx") {
        score = read_lmx(bytes, job.input, a.lenient);
    } else if (in_format == "musicxml" || in_format == "mxl") {
        bool zip = bytes.compare(0, 4, "PK\x03\x04") == 0;
        score = zip ? parse_mxl(bytes, job.input) : parse_musicxml(bytes, job.input);
    } else if (in_format == "mid") {
        // A performance has no notation: quantize it into a best-effort two-staff piano score.
        Performance perf = parse_midi(bytes, job.input);
        report = {"notation", quantize_losses(perf)};
        score = quantize_performance(perf);
    } else {
        throw Error(job.input, "unknown input format '" + in_format + "'");
    }

    if (out_format == "lmx") {
        size_t index = score.default_part_index();
        if (a.part > 0) {
            if (static_cast<size_t>(a.part) > score.parts.size())
                throw Error(job.input, "--part " + std::to_string(a.part) + " but the score has " +
                                           std::to_string(score.parts.size()) + " part(s)");
            index = static_cast<size_t>(a.part - 1);
        }
        const Part& part = score.parts[index];
        if (in_format != "mid") report = {"LMX", lmx_losses(score, index)};
        write_lmx_file(a.systems ? lmx::linearize_systems(part) : std::vector<std::vector<std::string>>{lmx::linearize(part)},
                       job.output);
    } else if (out_format == "musicxml") {
        write_file_atomic(job.output, write_musicxml(score));
    } else if (out_format == "mxl") {
        write_file_atomic(job.output, write_mxl(score));
    } else if (out_format == "mid") {
        PlaybackOptions opts;
        // Repeats and voltas play, as MuseScore plays them, unless --no-repeats.
        opts.expand_repeats = !a.no_repeats;
        if (a.part > 0) {
            if (static_cast<size_t>(a.part) > score.parts.size())
                throw Error(job.input, "--part " + std::to_string(a.part) + " but the score has " +
                                           std::to_string(score.parts.size()) + " part(s)");
            opts.part = a.part - 1;
        }
        if (in_format != "mid") report = {"MIDI", midi_losses(score, opts.expand_repeats, opts.part)};
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
    auto batch = std::make_shared<BatchFlags>();
    auto* sub = app.add_subcommand(
        "convert", "Exact conversions: MusicXML (.musicxml/.xml/.mxl) <-> LMX (.lmx), notation -> MusicXML/.mxl/MIDI (.mid)");
    sub->add_option("inputs", a->inputs, "Input files or folders ('-' = stdin)");
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
    auto* expand = sub->add_flag("--expand-repeats", a->expand_repeats, "MIDI output: play repeats and voltas (the default)");
    sub->add_flag("--no-repeats", a->no_repeats, "MIDI output: play each measure once, as written")->excludes(expand);
    sub->add_flag("--quantize", a->quantize,
                  "MIDI -> MIDI: through the quantizer (a score's timing); without it the file is copied unchanged");
    sub->add_option("--json", a->json,
                    "Write a JSON report to this file ('-' = stdout): per input, the output, ok or the error, and what "
                    "the target format could not hold");
    add_batch_flags(sub, *batch);
    sub->callback([a, batch, &g, &rc] {
        std::string out_format = a->to;
        std::error_code ec;
        if (a->inputs.empty() && batch->inputs_list.empty()) throw UsageError("convert: no input given (files, folders or --inputs LIST)");
        bool many = a->inputs.size() > 1 || !batch->inputs_list.empty();
        if (!many && a->inputs[0] != "-") many = fs::is_directory(a->inputs[0], ec);
        const bool to_folder = many || fs::is_directory(a->output, ec) || a->output.back() == '/';
        if (!to_folder && !is_stream_output(a->output)) {
            // A file output: its extension is the format, and --to may only agree with it.
            std::string ext = extension_of(a->output);
            std::string named = ext == "txt" ? "" : notation_format_of_extension(ext);
            if (named.empty())
                throw UsageError(a->output + ": unknown output format" + (ext.empty() ? "" : " '." + ext + "'") +
                                 " (use .musicxml, .xml, .mxl, .lmx or .mid)");
            if (!out_format.empty() && out_format != named)
                throw UsageError(a->output + ": the name says " + named + " but --to says " + out_format +
                                 "; drop --to or rename the output");
            out_format = named;
        } else if (out_format.empty() && to_folder) {
            throw UsageError("an output folder needs --to lmx|musicxml|mxl|mid");
        }
        // stdout (or another stream) without --to: decided per input (LMX in -> MusicXML out, else LMX).
        if (a->json == "-" && a->output == "-") throw UsageError("--json - and -o - would both write to stdout");
        BatchSpec spec;
        spec.verb = "convert";
        spec.inputs = a->inputs;
        spec.output = a->output;
        spec.input_exts = {"musicxml", "xml", "mxl", "lmx", "mid", "midi"};
        spec.output_exts = {"musicxml", "xml", "mxl", "lmx", "mid", "midi", "smf"};
        spec.out_ext = out_format.empty() ? "lmx" : out_format;
        auto plan = plan_batch(spec, *batch);
        std::mutex mu;
        std::map<std::string, nlohmann::json> results;  // by input, written in plan order
        rc = run_batch(plan, *batch, g, "convert", [&](const Job& job, JobContext& ctx) {
            nlohmann::json entry = {{"input", job.input}, {"output", job.output}};
            ConvertReport report;
            try {
                convert_one(job, *a, out_format, report, ctx.timings);
            } catch (const std::exception& e) {
                entry["status"] = "failed";
                entry["error"] = e.what();
                std::lock_guard<std::mutex> lock(mu);
                results[job.input] = entry;
                throw;
            }
            entry["status"] = "ok";
            nlohmann::json lost = nlohmann::json::object();
            for (const auto& l : report.lost) lost[l.what] = l.count;
            if (!report.lost.empty()) entry["not_representable_in"] = report.target;
            entry["not_representable"] = lost;
            {
                std::lock_guard<std::mutex> lock(mu);
                results[job.input] = entry;
            }
            // Once per file, with counts, so that nothing is dropped silently.
            if (std::string what = describe(report.lost); !what.empty())
                spdlog::warn("{}: {} not representable in {}", job.output == "-" ? job.input : job.output, what,
                             report.target);
        });
        if (!a->json.empty()) {
            nlohmann::json array = nlohmann::json::array();
            for (const auto& job : plan.jobs)
                if (auto it = results.find(job.input); it != results.end()) array.push_back(it->second);
            std::string text = array.dump(2) + "\n";
            if (a->json == "-") std::cout << text;
            else write_file_atomic(a->json, text);
        }
    });
}

}  // namespace umt::cli

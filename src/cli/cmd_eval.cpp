// umt eval: metrics of predictions against references (SER for LMX, note F1 and
// histogram EMD for MIDI), for one pair of files or two folders matched by name.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "umt/cli/common.hpp"
#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/eval/dtw.hpp"
#include "umt/eval/histogram.hpp"
#include "umt/eval/notes.hpp"
#include "umt/eval/ser.hpp"
#include "umt/io/midi.hpp"

namespace umt::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Pair {
    std::string name;  // reference path relative to the reference folder (or the file name)
    std::string ref;
    std::string hyp;   // empty when missing
};

struct Pairing {
    std::vector<Pair> pairs;
    std::vector<std::string> missing;  // names whose hypothesis is missing
    std::size_t unmatched_hyps = 0;
};

std::vector<fs::path> files_under(const fs::path& dir, const std::vector<std::string>& exts) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file()) continue;
        std::string ext = extension_of(it->path().string());
        for (const auto& e : exts)
            if (ext == e) out.push_back(it->path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

// Two files make one pair; two folders are matched by file name (by_stem: by name
// without extension, so x.mid meets x.midi). A reference without a hypothesis is
// kept with an empty hypothesis path and listed as missing.
Pairing pair_inputs(const std::string& ref, const std::string& hyp, const std::vector<std::string>& exts, bool by_stem) {
    std::error_code ec;
    bool ref_dir = fs::is_directory(ref, ec), hyp_dir = fs::is_directory(hyp, ec);
    Pairing p;
    if (!ref_dir && !hyp_dir) {
        p.pairs.push_back({fs::path(ref).filename().string(), ref, hyp});
        return p;
    }
    if (ref_dir != hyp_dir)
        throw UsageError("REF and HYP must both be files or both be folders (" + ref + ", " + hyp + ")");
    auto key = [&](const fs::path& f) { return by_stem ? f.stem().string() : f.filename().string(); };
    std::map<std::string, std::string> hyps;
    for (const auto& f : files_under(hyp, exts)) {
        auto [it, fresh] = hyps.emplace(key(f), f.string());
        if (!fresh)
            throw UsageError(hyp + ": two hypothesis files match the name " + key(f) + " (" + it->second + ", " + f.string() + ")");
    }
    auto refs = files_under(ref, exts);
    if (refs.empty()) throw UsageError(ref + ": no reference files (." + exts.front() + ") in this folder");
    std::map<std::string, int> seen;
    for (const auto& f : refs) {
        std::string k = key(f);
        if (++seen[k] > 1) throw UsageError(ref + ": two reference files share the name " + k);
        Pair pr{fs::relative(f, ref, ec).string(), f.string(), ""};
        if (auto it = hyps.find(k); it != hyps.end()) {
            pr.hyp = it->second;
            hyps.erase(it);
        } else {
            p.missing.push_back(pr.name);
        }
        p.pairs.push_back(pr);
    }
    p.unmatched_hyps = hyps.size();
    if (!p.missing.empty())
        spdlog::error("{} of {} references have no hypothesis in {}: scored as empty hypotheses", p.missing.size(),
                      p.pairs.size(), hyp);
    if (p.unmatched_hyps) spdlog::warn("{} hypothesis files in {} have no reference: ignored", p.unmatched_hyps, hyp);
    return p;
}

// Runs fn on every pair, going on past failures (which are logged and returned).
template <typename Fn>
std::vector<std::string> for_each_pair(const std::vector<Pair>& pairs, Fn fn) {
    std::vector<std::string> failed;
    for (const auto& pr : pairs) {
        try {
            fn(pr);
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            failed.push_back(e.what());
        }
    }
    if (!failed.empty() && pairs.size() > 1) {
        std::cerr << failed.size() << " of " << pairs.size() << " pairs could not be scored:\n";
        for (const auto& f : failed) std::cerr << "  " << f << "\n";
    }
    return failed;
}

std::string fmt(const char* f, double x) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, x);
    return buf;
}

struct CommonArgs {
    std::string ref, hyp;
    bool json = false;
    bool per_file = false;
};

void add_common(CLI::App* sub, CommonArgs& c, const std::string& what) {
    sub->add_option("REF", c.ref, "Reference " + what + " file, or a folder of them")->required();
    sub->add_option("HYP", c.hyp, "Hypothesis " + what + " file, or a folder matched to REF by name")->required();
    sub->add_flag("--json", c.json, "Print one JSON object instead of a table");
    sub->add_flag("--per-file", c.per_file, "List every file in the table (JSON always has per_file)");
}

// --- SER ---------------------------------------------------------------------

void run_ser(const CommonArgs& a, int& rc) {
    Pairing pairing = pair_inputs(a.ref, a.hyp, {"lmx"}, false);
    eval::SerAccumulator acc;
    auto failed = for_each_pair(pairing.pairs, [&](const Pair& pr) {
        auto ref = eval::split_tokens(read_file(pr.ref, true));
        bool missing = pr.hyp.empty();
        auto hyp = missing ? std::vector<std::string>{} : eval::split_tokens(read_file(pr.hyp, true));
        acc.add(pr.name, ref, hyp, missing);
    });
    const auto& r = acc.result();
    std::size_t hyp_tokens = 0;
    for (const auto& it : r.items) hyp_tokens += it.hyp_tokens;
    if (a.json) {
        json j;
        // Nothing scored is no score at all, never a perfect one.
        j["ser"] = r.items.empty() ? json(nullptr) : json(r.ser());
        j["errors"] = r.errors;
        j["ref_tokens"] = r.ref_tokens;
        j["hyp_tokens"] = hyp_tokens;
        j["files"] = r.items.size();
        j["missing"] = pairing.missing;
        j["failed"] = failed;
        j["per_file"] = json::array();
        for (const auto& it : r.items)
            j["per_file"].push_back({{"name", it.name}, {"ser", it.ser()}, {"errors", it.errors},
                                     {"ref_tokens", it.ref_tokens}, {"hyp_tokens", it.hyp_tokens},
                                     {"missing", it.hyp_missing}});
        std::cout << j.dump(2) << "\n";
    } else {
        std::ostringstream o;
        char line[512];
        std::snprintf(line, sizeof line, "%-40s %10s %10s %10s %8s\n", "file", "ref_tok", "hyp_tok", "errors", "SER%");
        o << line;
        if (a.per_file || r.items.size() > 1)
            for (const auto& it : r.items) {
                std::string name = it.name + (it.hyp_missing ? " (missing)" : "");
                std::snprintf(line, sizeof line, "%-40s %10zu %10zu %10zu %8.2f\n", name.c_str(), it.ref_tokens,
                              it.hyp_tokens, it.errors, it.ser());
                o << line;
            }
        std::string total = "total (" + std::to_string(r.items.size()) + " files, micro)";
        if (r.items.empty())  // nothing scored: no number, never a perfect 0.00
            std::snprintf(line, sizeof line, "%-40s %10zu %10zu %10zu %8s\n", total.c_str(), r.ref_tokens, hyp_tokens,
                          r.errors, "-");
        else
            std::snprintf(line, sizeof line, "%-40s %10zu %10zu %10zu %8.2f\n", total.c_str(), r.ref_tokens, hyp_tokens,
                          r.errors, r.ser());
        o << line;
        std::cout << o.str();
    }
    // A missing hypothesis is a failure: it is scored as empty, listed, and the exit status says so.
    rc = failed.empty() && pairing.missing.empty() ? kOk : kFailed;
}

// --- note F1 -----------------------------------------------------------------

struct NotesArgs : CommonArgs {
    eval::NoteMatchOptions opt;
    bool sustain = false;
    bool align = false;
    double align_hop_s = 0.05;
};

Performance load_performance(const std::string& path, bool sustain) {
    Performance p = read_midi(path);
    return sustain ? p.with_sustain_applied() : p;
}

json prf_json(const eval::PrfCounts& c) {
    return {{"precision", c.precision()}, {"recall", c.recall()}, {"f1", c.f1()}, {"matched", c.matched}};
}

void run_notes(const NotesArgs& a, int& rc) {
    Pairing pairing = pair_inputs(a.ref, a.hyp, {"mid", "midi"}, true);
    eval::NoteAccumulator acc(a.opt);
    auto failed = for_each_pair(pairing.pairs, [&](const Pair& pr) {
        Performance ref = load_performance(pr.ref, a.sustain);
        bool missing = pr.hyp.empty();
        Performance hyp = missing ? Performance{} : load_performance(pr.hyp, a.sustain);
        if (a.align && !missing && !ref.notes.empty() && !hyp.notes.empty())
            hyp = eval::align_to_reference(ref, hyp, a.align_hop_s);
        acc.add(pr.name, ref, hyp, missing);
    });
    eval::NoteScores m = acc.micro();
    eval::MacroPrf mo = acc.macro_onset(), moo = acc.macro_onset_offset();
    if (a.json) {
        json j;
        // Nothing scored is no score at all, never a perfect one.
        auto score = [&](double v) { return acc.files().empty() ? json(nullptr) : json(v); };
        j["precision"] = score(m.onset.precision());
        j["recall"] = score(m.onset.recall());
        j["onset_f1"] = score(m.onset.f1());
        j["onset_precision"] = score(m.onset.precision());
        j["onset_recall"] = score(m.onset.recall());
        j["onset_offset_precision"] = score(m.onset_offset.precision());
        j["onset_offset_recall"] = score(m.onset_offset.recall());
        j["onset_offset_f1"] = score(m.onset_offset.f1());
        j["matched_onset"] = m.onset.matched;
        j["matched_onset_offset"] = m.onset_offset.matched;
        j["ref_notes"] = m.onset.ref_notes;
        j["hyp_notes"] = m.onset.hyp_notes;
        j["macro"] = {{"onset_precision", mo.precision},  {"onset_recall", mo.recall},
                      {"onset_f1", mo.f1},                {"onset_offset_precision", moo.precision},
                      {"onset_offset_recall", moo.recall}, {"onset_offset_f1", moo.f1}};
        j["options"] = {{"onset_tol", a.opt.onset_tolerance_s}, {"pitch_tol_cents", a.opt.pitch_tolerance_cents},
                        {"offset_ratio", a.opt.offset_ratio},   {"offset_min", a.opt.offset_min_tolerance_s},
                        {"sustain", a.sustain},                 {"align", a.align}};
        j["files"] = acc.files().size();
        j["missing"] = pairing.missing;
        j["failed"] = failed;
        j["per_file"] = json::array();
        for (const auto& f : acc.files())
            j["per_file"].push_back({{"name", f.name}, {"ref_notes", f.scores.onset.ref_notes},
                                     {"hyp_notes", f.scores.onset.hyp_notes}, {"onset", prf_json(f.scores.onset)},
                                     {"onset_offset", prf_json(f.scores.onset_offset)}, {"missing", f.hyp_missing}});
        std::cout << j.dump(2) << "\n";
    } else {
        std::ostringstream o;
        char line[512];
        const char* head = "%-32s %7s %7s %7s %7s %7s %7s %7s %7s\n";
        const char* row = "%-32s %7zu %7zu %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f\n";
        std::snprintf(line, sizeof line, head, "file", "ref", "hyp", "on_P%", "on_R%", "on_F1%", "off_P%", "off_R%", "off_F1%");
        o << line;
        auto put = [&](const std::string& name, const eval::NoteScores& s) {
            std::snprintf(line, sizeof line, row, name.c_str(), s.onset.ref_notes, s.onset.hyp_notes,
                          100 * s.onset.precision(), 100 * s.onset.recall(), 100 * s.onset.f1(),
                          100 * s.onset_offset.precision(), 100 * s.onset_offset.recall(), 100 * s.onset_offset.f1());
            o << line;
        };
        if (a.per_file || acc.files().size() > 1)
            for (const auto& f : acc.files()) put(f.name + (f.hyp_missing ? " (missing)" : ""), f.scores);
        put("total (" + std::to_string(acc.files().size()) + " files, micro)", m);
        if (acc.files().size() > 1) {
            std::snprintf(line, sizeof line, "%-32s %7s %7s %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f\n", "mean of files (macro)",
                          "", "", 100 * mo.precision, 100 * mo.recall, 100 * mo.f1, 100 * moo.precision,
                          100 * moo.recall, 100 * moo.f1);
            o << line;
        }
        o << "onset: within " << fmt("%g", a.opt.onset_tolerance_s) << " s and " << fmt("%g", a.opt.pitch_tolerance_cents)
          << " cents; offset: within max(" << fmt("%g", a.opt.offset_min_tolerance_s) << " s, "
          << fmt("%g", a.opt.offset_ratio) << " x duration)" << (a.sustain ? "; sustain applied" : "")
          << (a.align ? "; hypothesis DTW-aligned" : "") << "\n";
        std::cout << o.str();
    }
    // A missing hypothesis is a failure: it is scored as empty, listed, and the exit status says so.
    rc = failed.empty() && pairing.missing.empty() ? kOk : kFailed;
}

// --- histogram EMD -----------------------------------------------------------

// Note durations in quarter notes along the file's own tempo map, so that a score
// read back from an image and the reference compare in score time.
std::vector<double> durations_in_quarters(const Performance& p) {
    std::vector<double> d;
    for (const auto& n : p.notes)
        d.push_back(seconds_to_quarters(p.tempos, n.offset_s) - seconds_to_quarters(p.tempos, n.onset_s));
    return d;
}

void run_emd(const CommonArgs& a, int& rc) {
    Pairing pairing = pair_inputs(a.ref, a.hyp, {"mid", "midi"}, true);
    struct Row { std::string name; double pitch, duration; bool missing; };
    std::vector<Row> rows;
    auto failed = for_each_pair(pairing.pairs, [&](const Pair& pr) {
        Performance ref = read_midi(pr.ref);
        Performance hyp = pr.hyp.empty() ? Performance{} : read_midi(pr.hyp);
        rows.push_back({pr.name, eval::pitch_emd(ref, hyp),
                        eval::duration_emd(durations_in_quarters(ref), durations_in_quarters(hyp)), pr.hyp.empty()});
    });
    double mp = 0, md = 0;
    for (const auto& r : rows) {
        mp += r.pitch;
        md += r.duration;
    }
    if (!rows.empty()) {
        mp /= double(rows.size());
        md /= double(rows.size());
    }
    if (a.json) {
        json j;
        j["pitch_emd"] = rows.empty() ? json(nullptr) : json(mp);
        j["duration_emd"] = rows.empty() ? json(nullptr) : json(md);
        j["files"] = rows.size();
        j["missing"] = pairing.missing;
        j["failed"] = failed;
        j["per_file"] = json::array();
        for (const auto& r : rows)
            j["per_file"].push_back({{"name", r.name}, {"pitch_emd", r.pitch}, {"duration_emd", r.duration}, {"missing", r.missing}});
        std::cout << j.dump(2) << "\n";
    } else {
        char line[512];
        std::snprintf(line, sizeof line, "%-40s %14s %16s\n", "file", "pitch_EMD(st)", "duration_EMD(oct)");
        std::cout << line;
        if (a.per_file || rows.size() > 1)
            for (const auto& r : rows) {
                std::string name = r.name + (r.missing ? " (missing)" : "");
                std::snprintf(line, sizeof line, "%-40s %14.4f %16.4f\n", name.c_str(), r.pitch, r.duration);
                std::cout << line;
            }
        std::string total = "mean (" + std::to_string(rows.size()) + " files)";
        if (rows.empty()) std::snprintf(line, sizeof line, "%-40s %14s %16s\n", total.c_str(), "-", "-");
        else std::snprintf(line, sizeof line, "%-40s %14.4f %16.4f\n", total.c_str(), mp, md);
        std::cout << line;
    }
    // A missing hypothesis is a failure: it is scored as empty, listed, and the exit status says so.
    rc = failed.empty() && pairing.missing.empty() ? kOk : kFailed;
}

}  // namespace

void register_eval(CLI::App& app, GlobalOptions& g, int& rc) {
    (void)g;
    auto* sub = app.add_subcommand("eval", "Score predictions against references (SER, note F1, histogram EMD)");
    sub->require_subcommand(1);

    auto sa = std::make_shared<CommonArgs>();
    auto* ser = sub->add_subcommand("ser", "Symbol error rate of LMX token sequences (micro average over files)");
    add_common(ser, *sa, ".lmx");
    ser->callback([sa, &rc] { run_ser(*sa, rc); });

    auto na = std::make_shared<NotesArgs>();
    auto* notes = sub->add_subcommand("notes", "Note precision/recall/F1 of MIDI files with mir_eval semantics");
    add_common(notes, *na, ".mid");
    notes->add_option("--onset-tol", na->opt.onset_tolerance_s, "Onset tolerance in seconds")
        ->check(CLI::PositiveNumber)->capture_default_str();
    notes->add_option("--pitch-tol", na->opt.pitch_tolerance_cents, "Pitch tolerance in cents")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    notes->add_option("--offset-ratio", na->opt.offset_ratio, "Offset tolerance as a share of the reference duration")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    notes->add_option("--offset-min", na->opt.offset_min_tolerance_s, "Smallest offset tolerance in seconds")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    notes->add_flag("--sustain", na->sustain, "Extend notes while the sustain pedal is held (both sides)");
    notes->add_flag("--align", na->align, "DTW-align the hypothesis to the reference time line first (chroma frames)");
    notes->add_option("--align-hop", na->align_hop_s, "Frame hop for --align in seconds")
        ->check(CLI::PositiveNumber)->capture_default_str();
    notes->callback([na, &rc] { run_notes(*na, rc); });

    auto ea = std::make_shared<CommonArgs>();
    auto* emd = sub->add_subcommand("emd", "Earth mover's distance between pitch (semitones) and duration (octaves) histograms");
    add_common(emd, *ea, ".mid");
    emd->callback([ea, &rc] { run_emd(*ea, rc); });
}

}  // namespace umt::cli

// The batch engine: planning (inputs -> jobs with mirrored outputs, shards), resume, parallel
// workers, the JSONL report, progress and the failure summary.
#include "umt/cli/batch.hpp"

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/core/cpus.hpp"

namespace umt::cli {

namespace fs = std::filesystem;

void add_batch_flags(CLI::App* sub, BatchFlags& f) {
    const char* group = "Batch";
    sub->add_option("--glob", f.globs,
                    "Folder inputs: take the files whose path below the folder (or name) matches this pattern, e.g. "
                    "'*.mxl' or 'a/*' (repeatable; replaces the default extensions)")
        ->group(group);
    sub->add_option("--inputs", f.inputs_list,
                    "Read inputs from this file ('-' = stdin): one a line, or INPUT<TAB>OUTPUT; blank lines and # comments skipped")
        ->group(group);
    sub->add_option("--jobs,-j", f.jobs,
                    "Inputs processed in parallel (default: one per core, or the cores / --threads; the cores are split "
                    "between them)")
        ->check(CLI::Range(1, 1024))
        ->group(group);
    sub->add_flag("--overwrite", f.overwrite, "Redo outputs that a previous run finished (default: skip them)")->group(group);
    sub->add_option("--shard", f.shard,
                    "I/N: process only the I-th of N deterministic slices of the sorted input list (0 <= I < N)")
        ->group(group);
    sub->add_option("--report", f.report,
                    "Write one JSON line per input (input, output, status, error, seconds, warnings) and a summary line")
        ->group(group);
}

int workers_for(const BatchFlags& flags, const GlobalOptions& g, size_t inputs) {
    const int cores = usable_cores();
    const int wanted = flags.jobs > 0 ? flags.jobs : g.threads > 0 ? std::max(1, cores / g.threads) : cores;
    return int(std::max<size_t>(1, std::min<size_t>(size_t(wanted), inputs)));
}

int threads_per_job(const BatchFlags& flags, const GlobalOptions& g, size_t inputs) {
    if (g.threads > 0) return g.threads;
    return std::max(1, usable_cores() / workers_for(flags, g, inputs));
}

namespace {

struct Entry {
    std::string input;
    std::string rel;       // output path below the output folder, without extension ("a/song")
    std::string in_ext;    // disambiguates two inputs of one stem
    std::string explicit_output;  // from a TSV list
};

bool glob_match(const std::vector<std::string>& globs, const std::string& rel, const std::string& name) {
    for (const auto& g : globs)
        if (fnmatch(g.c_str(), rel.c_str(), 0) == 0 || fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
    return false;
}

std::string stem_path(const fs::path& rel) { return (rel.parent_path() / rel.stem()).string(); }

// A folder's files, each with its path below the folder.
void expand_folder(const std::string& root, const BatchSpec& spec, const BatchFlags& flags, std::vector<Entry>& out) {
    std::vector<Entry> found;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        std::error_code ec2;
        // Hidden files and folders are not inputs: among them the temporary files of a run
        // that was killed while writing into this folder.
        if (it->path().filename().string().rfind('.', 0) == 0) {
            if (it->is_directory(ec2)) it.disable_recursion_pending();
            continue;
        }
        if (!it->is_regular_file(ec2)) continue;
        fs::path rel = it->path().lexically_relative(root);
        std::string ext = extension_of(it->path().string());
        bool take = flags.globs.empty()
                        ? std::find(spec.input_exts.begin(), spec.input_exts.end(), ext) != spec.input_exts.end()
                        : glob_match(flags.globs, rel.string(), it->path().filename().string());
        if (take) found.push_back({it->path().string(), stem_path(rel), ext, ""});
    }
    if (ec) throw Error(root, "cannot list the folder: " + ec.message());
    if (found.empty()) spdlog::warn("{}: no input files found in this folder", root);
    out.insert(out.end(), found.begin(), found.end());
}

void add_input(const std::string& in, const BatchSpec& spec, const BatchFlags& flags, std::vector<Entry>& out,
               bool& from_folder) {
    std::error_code ec;
    if (in == "-") {
        out.push_back({in, "stdin", "", ""});
    } else if (fs::is_directory(in, ec)) {
        from_folder = true;
        expand_folder(in, spec, flags, out);
    } else {
        // A named file is taken whatever its extension; it fails on its own if unreadable.
        out.push_back({in, fs::path(in).stem().string(), extension_of(in), ""});
    }
}

std::string exts_list(const std::vector<std::string>& exts) {
    std::string s;
    for (const auto& e : exts) s += (s.empty() ? "." : ", .") + e;
    return s;
}

// A file output's extension must be one the subcommand writes (a stream takes the default).
void check_output_ext(const BatchSpec& spec, const std::string& output, const std::string& where) {
    if (spec.output_exts.empty() || is_stream_output(output)) return;
    std::string ext = extension_of(output);
    if (std::find(spec.output_exts.begin(), spec.output_exts.end(), ext) != spec.output_exts.end()) return;
    throw UsageError(where + (ext.empty() ? ": the output has no extension" : ": umt " + spec.verb + " cannot write ." + ext +
                                                                                 " files") +
                     " (it writes " + exts_list(spec.output_exts) + "; end a folder name with /)");
}

bool same_file(const std::string& a, const std::string& b) {
    if (a == "-" || b == "-") return false;
    std::error_code ec;
    return fs::exists(b, ec) && fs::equivalent(a, b, ec);
}

std::pair<size_t, size_t> parse_shard(const std::string& s) {
    size_t slash = s.find('/');
    auto bad = [&] { return UsageError("--shard " + s + ": expected I/N with 0 <= I < N, e.g. 0/4"); };
    if (slash == std::string::npos) throw bad();
    try {
        size_t pos1 = 0, pos2 = 0;
        std::string a = s.substr(0, slash), b = s.substr(slash + 1);
        long i = std::stol(a, &pos1), n = std::stol(b, &pos2);
        if (pos1 != a.size() || pos2 != b.size() || n < 1 || i < 0 || i >= n) throw bad();
        return {size_t(i), size_t(n)};
    } catch (const std::logic_error&) {
        throw bad();
    }
}

bool default_finished(const Job& job) {
    std::error_code ec;
    if (job.input == "-" || !fs::is_regular_file(job.output, ec)) return false;
    auto out_t = fs::last_write_time(job.output, ec);
    if (ec) return false;
    auto in_t = fs::last_write_time(job.input, ec);
    return ec || out_t >= in_t;
}

}  // namespace

BatchPlan plan_batch(const BatchSpec& spec, const BatchFlags& flags) {
    std::vector<Entry> entries;
    bool from_folder = false;
    for (const auto& in : spec.inputs) add_input(in, spec, flags, entries, from_folder);
    if (!flags.inputs_list.empty()) {
        std::string text = read_file(flags.inputs_list, true);
        std::istringstream lines(text);
        std::string line;
        for (int n = 1; std::getline(lines, line); ++n) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty() || line[0] == '#') continue;
            size_t tab = line.find('\t');
            if (tab == std::string::npos) {
                add_input(line, spec, flags, entries, from_folder);
            } else {
                std::string in = line.substr(0, tab), out = line.substr(tab + 1);
                if (in.empty() || out.empty())
                    throw UsageError(flags.inputs_list + " line " + std::to_string(n) + ": expected INPUT<TAB>OUTPUT");
                fs::path o(out);
                if (o.is_relative() && !spec.output.empty()) o = fs::path(spec.output) / o;
                check_output_ext(spec, o.string(), flags.inputs_list + " line " + std::to_string(n));
                entries.push_back({in, "", extension_of(in), o.string()});
            }
        }
    }
    if (entries.empty()) throw UsageError(spec.inputs.empty() && flags.inputs_list.empty() ? "no input given" : "no inputs found");
    // One job per input, in sorted order: the order shards are cut from.
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.input < b.input; });
    entries.erase(std::unique(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.input == b.input; }),
                  entries.end());

    BatchPlan plan;
    plan.batch = from_folder || spec.inputs.size() > 1 || !flags.inputs_list.empty();
    const std::string& output = spec.output;
    std::error_code ec;
    const bool output_is_dir = !output.empty() && output != "-" && (fs::is_directory(output, ec) || output.back() == '/');

    if (!plan.batch && !spec.folder_output) {
        const Entry& e = entries[0];
        if (output.empty()) throw UsageError("no output given (-o FILE)");
        std::string out = output_is_dir ? (fs::path(output) / (fs::path(e.rel).filename().string() + "." + spec.out_ext)).string()
                                        : output;
        if (!output_is_dir) check_output_ext(spec, out, out);
        if (same_file(e.input, out)) throw UsageError(out + ": the output is the input; refusing to overwrite it");
        plan.jobs.push_back({e.input, out});
    } else {
        bool all_explicit = std::all_of(entries.begin(), entries.end(), [](const Entry& e) { return !e.explicit_output.empty(); });
        if (!all_explicit || spec.folder_output) {
            if (output.empty() || output == "-")
                throw UsageError(spec.folder_output ? "umt " + spec.verb + " writes a folder: give -o DIR"
                                                    : "several inputs need an output folder (-o DIR)");
            if (fs::exists(output, ec) && !fs::is_directory(output, ec))
                throw UsageError(output + ": " + (spec.folder_output ? "umt " + spec.verb + " needs" : "several inputs need") +
                                 " an output folder, but this is a file");
            // A new folder named like a file (out.lmx) is a mistake more often than not.
            if (!fs::exists(output, ec) && output.back() != '/' && !extension_of(output).empty())
                throw UsageError(output + ": " + (spec.folder_output ? "umt " + spec.verb + " writes" : "several inputs need") +
                                 " an output folder, and this names a file; end it with / to make it a folder");
        }
        // Mirrored paths; two inputs of one stem in one folder (song.mid, song.mxl) keep their
        // extension in the name (song.mid.lmx, song.mxl.lmx), whatever else is in the batch.
        std::map<std::string, std::vector<size_t>> by_rel;
        for (size_t i = 0; i < entries.size(); ++i)
            if (entries[i].explicit_output.empty()) by_rel[entries[i].rel].push_back(i);
        std::vector<std::string> outs(entries.size());
        std::set<std::string> used;
        for (size_t i = 0; i < entries.size(); ++i) {
            const Entry& e = entries[i];
            if (!e.explicit_output.empty()) {
                outs[i] = e.explicit_output;
            } else {
                std::string rel = by_rel[e.rel].size() > 1 && !e.in_ext.empty() ? e.rel + "." + e.in_ext : e.rel;
                std::string name = rel + "." + spec.out_ext;
                // Named files from different folders may still meet: number them in sorted order.
                for (int k = 2; used.count(name); ++k) name = rel + "-" + std::to_string(k) + "." + spec.out_ext;
                outs[i] = (fs::path(output) / name).string();
            }
            used.insert(fs::path(outs[i]).lexically_relative(output).string());
            plan.jobs.push_back({e.input, outs[i]});
        }
    }
    plan.planned = plan.jobs.size();
    plan.finished = spec.finished ? spec.finished : default_finished;
    if (!flags.shard.empty()) {
        auto [index, count] = parse_shard(flags.shard);
        std::vector<Job> mine;
        for (size_t i = 0; i < plan.jobs.size(); ++i)
            if (i % count == index) mine.push_back(plan.jobs[i]);
        plan.jobs = std::move(mine);
    }
    return plan;
}

namespace {

// Collects the warnings a job logs, on the thread that runs it.
thread_local JobContext* tl_job = nullptr;

class JobWarningSink : public spdlog::sinks::base_sink<std::mutex> {
protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        if (tl_job && msg.level >= spdlog::level::warn) tl_job->warnings.emplace_back(msg.payload.data(), msg.payload.size());
    }
    void flush_() override {}
};

void install_warning_sink() {
    static std::once_flag once;
    std::call_once(once, [] { spdlog::default_logger()->sinks().push_back(std::make_shared<JobWarningSink>()); });
}

// Temporary files of outputs left by a process that is gone (kill -9): removed before a rerun
// writes those outputs again. Same host only: a live pid elsewhere cannot be told from here.
void remove_stale_temps(const std::vector<Job>& jobs) {
    std::map<fs::path, std::set<std::string>> by_dir;
    for (const auto& j : jobs)
        if (!j.output.empty() && !is_stream_output(j.output)) {
            fs::path o = resolve_output_path(j.output);
            by_dir[o.parent_path()].insert("." + o.filename().string() + ".tmp");
        }
    for (const auto& [dir, prefixes] : by_dir) {
        std::error_code ec;
        for (auto it = fs::directory_iterator(dir.empty() ? fs::path(".") : dir, ec); !ec && it != fs::directory_iterator();
             it.increment(ec)) {
            std::string name = it->path().filename().string();
            if (name.size() < 2 || name[0] != '.') continue;
            size_t tmp = name.find(".tmp", 1);
            while (tmp != std::string::npos) {
                std::string prefix = name.substr(0, tmp + 4);
                if (prefixes.count(prefix)) {
                    std::string rest = name.substr(tmp + 4);
                    long pid = std::atol(rest.c_str());
                    std::error_code ec2;
                    if (pid > 0 && pid != long(getpid()) && !fs::exists("/proc/" + std::to_string(pid), ec2)) {
                        fs::remove(it->path(), ec2);
                        spdlog::info("removed {} (left by an interrupted run)", it->path().string());
                    }
                    break;
                }
                tmp = name.find(".tmp", tmp + 1);
            }
        }
    }
}

std::string clock_text(double s) {
    int t = int(s + 0.5);
    char buf[32];
    if (t >= 3600) std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else std::snprintf(buf, sizeof buf, "%d:%02d", t / 60, t % 60);
    return buf;
}

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

int run_batch(const BatchPlan& plan, const BatchFlags& flags, const GlobalOptions& g, const std::string& verb,
              const JobFn& fn, int workers_wanted, int threads_wanted) {
    install_warning_sink();
    std::ofstream report;
    if (!flags.report.empty()) {
        report.open(flags.report, std::ios::binary | std::ios::trunc);
        if (!report) throw UsageError(flags.report + ": cannot write the report");
    }
    const size_t n = plan.jobs.size();
    const size_t workers = workers_wanted > 0 ? std::min(size_t(workers_wanted), std::max<size_t>(1, n))
                                              : size_t(workers_for(flags, g, n));
    const int threads = threads_wanted > 0 ? threads_wanted : threads_per_job(flags, g, n);
    const int cores = usable_cores();
    if (workers_wanted <= 0 && g.threads > 0 && size_t(g.threads) * workers > size_t(cores))
        spdlog::warn("--threads {} x --jobs {} is more than the {} cores", g.threads, workers, cores);
    if (plan.batch) remove_stale_temps(plan.jobs);

    const bool progress = progress_enabled(g) && n > 1;
    std::mutex mu;  // the report, progress, counts and failure list
    std::vector<std::string> failures(n);
    size_t done = 0, skipped = 0, failed = 0, finished = 0;
    const double start = now_s();
    std::atomic<size_t> next{0};

    auto finish = [&](size_t i, const std::string& status, const std::string& error, const JobContext& ctx, double seconds) {
        std::lock_guard<std::mutex> lock(mu);
        ++finished;
        if (status == "done") ++done;
        else if (status == "skipped") ++skipped;
        else ++failed;
        if (progress) std::cerr << "\r\033[K";
        if (!error.empty()) {
            failures[i] = error;
            spdlog::error("{}", error);
        }
        if (report.is_open()) {
            nlohmann::json line = {{"input", plan.jobs[i].input}, {"output", plan.jobs[i].output}, {"status", status},
                                   {"error", error.empty() ? nlohmann::json(nullptr) : nlohmann::json(error)}};
            nlohmann::json secs = nlohmann::json::object();
            for (const auto& [stage, s] : ctx.timings.stages()) secs[stage] = s;
            secs["total"] = seconds;
            line["seconds"] = secs;
            line["warnings"] = ctx.warnings;
            report << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
            report.flush();
        }
        if (progress) {
            double elapsed = now_s() - start;
            double rate = finished / std::max(elapsed, 1e-6);
            std::cerr << "[" << finished << "/" << n << "] " << verb << " " << (failed ? std::to_string(failed) + " failed, " : "")
                      << std::fixed;
            std::cerr.precision(1);
            std::cerr << rate << "/s, ETA " << clock_text(double(n - finished) / std::max(rate, 1e-9)) << std::flush;
            std::cerr.unsetf(std::ios::floatfield);
        }
    };

    auto work = [&] {
        for (size_t i = next++; i < n; i = next++) {
            const Job& job = plan.jobs[i];
            JobContext ctx;
            ctx.threads = threads;
            const double t0 = now_s();
            if (plan.batch && !flags.overwrite && job.input != "-" && plan.finished(job)) {
                finish(i, "skipped", "", ctx, 0.0);
                continue;
            }
            std::string status = "done", error;
            tl_job = &ctx;
            try {
                fn(job, ctx);
                spdlog::debug("{} {} -> {}", verb, job.input, job.output);
            } catch (const std::exception& e) {
                status = "failed";
                error = e.what();
                // Messages from umt::Error already name the file; others get it prefixed.
                if (error.rfind(job.input, 0) != 0 && (job.input != "-" || error.rfind("<stdin>", 0) != 0))
                    error = (job.input == "-" ? "<stdin>" : job.input) + ": " + error;
            }
            tl_job = nullptr;
            finish(i, status, error, ctx, now_s() - t0);
        }
    };
    if (workers == 1) {
        work();
    } else {
        std::vector<std::thread> pool;
        for (size_t w = 0; w < workers; ++w) pool.emplace_back(work);
        for (auto& t : pool) t.join();
    }
    if (progress) std::cerr << "\r\033[K";
    const double total_s = now_s() - start;
    if (report.is_open()) {
        nlohmann::json summary = {{"verb", verb}, {"inputs", n}, {"planned", plan.planned}, {"done", done},
                                  {"skipped", skipped}, {"failed", failed}, {"seconds", total_s}};
        if (!flags.shard.empty()) summary["shard"] = flags.shard;
        report << nlohmann::json{{"summary", summary}}.dump() << "\n";
        report.flush();
    }
    if (n > 1 && failed) {
        std::cerr << failed << " of " << n << " inputs failed:\n";
        for (const auto& f : failures)
            if (!f.empty()) std::cerr << "  " << f << "\n";
    }
    if (n > 1 && skipped) spdlog::info("{} of {} inputs were finished by an earlier run (skipped; --overwrite redoes them)", skipped, n);
    return failed ? kFailed : kOk;
}

}  // namespace umt::cli

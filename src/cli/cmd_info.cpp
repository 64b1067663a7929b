// umt info: prints the model bundle's card and verifies it (hashes, vocabulary, loadable modules).
#include <iostream>

#include <CLI/CLI.hpp>

#include "umt/cli/common.hpp"
#include "umt/core/error.hpp"
#include "umt/io/lmx.hpp"
#include "umt/tokens/midi_tokens.hpp"
#include "umt/model/bundle.hpp"
#include "umt/model/runtime.hpp"
#include "umt/model/sha256.hpp"

namespace umt::cli {

void register_info(CLI::App& app, GlobalOptions& g, int& rc) {
    auto* sub = app.add_subcommand("info", "Print the model bundle's manifest summary and verify its files");
    sub->fallthrough();  // umt info --models DIR as well as umt --models DIR info
    auto verify = std::make_shared<bool>(false);
    sub->add_flag("--verify", *verify,
                  "Read and hash every file again (default: a file whose size, times and inode are unchanged since it "
                  "was last verified is not re-read)");
    auto vocab = std::make_shared<std::string>();
    sub->add_option("--vocabulary", *vocab, "Print this build's LMX or MIDI token vocabulary, one token a line, and exit")
        ->check(CLI::IsMember({"lmx", "midi"}));
    sub->callback([&g, &rc, vocab, verify] {
        if (!vocab->empty()) {
            if (*vocab == "lmx")
                for (const auto& t : lmx::vocabulary()) std::cout << t << "\n";
            else
                for (int i = 0; i < midi_tokens::vocab_size(); ++i) std::cout << midi_tokens::token_name(i) << "\n";
            rc = kOk;
            return;
        }
        std::string dir = resolve_models_dir(g);
        std::cout << "umt " << UMT_VERSION << ", libtorch " << umt::model::torch_version() << "\n";
        if (!std::filesystem::exists(std::filesystem::path(dir) / "manifest.json")) {
            rc = kFailed;
            throw umt::Error(dir, "no model bundle installed yet (no manifest.json); pass --models DIR or set UMT_MODELS");
        }
        umt::model::set_threads(g.threads);
        if (*verify) umt::model::set_hash_cache_enabled(false);
        umt::model::ModelBundle bundle(dir);
        bundle.load_all();
        std::cout << bundle.summary();
        rc = kOk;
    });
}

}  // namespace umt::cli

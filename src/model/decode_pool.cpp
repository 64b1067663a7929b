// Requests of several threads decoded in shared batches (include/umt/model/decode_pool.hpp).
#include "umt/model/decode_pool.hpp"

#include <algorithm>
#include <chrono>
#include <exception>

namespace umt::model {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

bool same_options(const DecodeOptions& a, const DecodeOptions& b) {
    const auto& x = a.sampler;
    const auto& y = b.sampler;
    return a.target == b.target && a.max_steps == b.max_steps && a.use_cache == b.use_cache &&
           a.batch_size == b.batch_size && a.repetition_stop == b.repetition_stop && x.kind == y.kind &&
           x.temperature == y.temperature && x.top_k == y.top_k && x.top_p == y.top_p && x.seed == y.seed;
}

// The pool this thread is a member of (a member's decode() is not preparing).
thread_local const DecodePool* tl_member_of = nullptr;

}  // namespace

struct DecodePool::Ticket {
    const Translator* translator;
    const DecodeOptions* options;
    const std::vector<DecodeRequest>* requests;
    double since;
    bool taken = false;
    bool done = false;
    std::vector<DecodeResult> results;
    DecodeStats stats;
    std::exception_ptr error;

    bool joins(const Ticket& o) const { return translator == o.translator && same_options(*options, *o.options); }
};

DecodePool::DecodePool(int slots, double max_wait_s) : slots_(std::max(1, slots)), max_wait_s_(max_wait_s) {}

DecodePool::Member::Member(DecodePool* pool) : pool_(pool) {
    if (!pool_) return;
    std::lock_guard<std::mutex> lock(pool_->mu_);
    ++pool_->preparing_;
    tl_member_of = pool_;
}

DecodePool::Member::~Member() {
    if (!pool_) return;
    std::lock_guard<std::mutex> lock(pool_->mu_);
    --pool_->preparing_;
    tl_member_of = nullptr;
    pool_->cv_.notify_all();  // a leader may have waited for this thread's requests
}

int64_t DecodePool::rows_decoded() const {
    std::lock_guard<std::mutex> lock(mu_);
    return rows_;
}

int64_t DecodePool::batches_decoded() const {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
}

bool DecodePool::ready(const Ticket& t) const {
    if (busy_ >= slots_) return false;
    if (preparing_ <= 0) return true;  // nobody else will add rows soon
    size_t rows = 0;
    double oldest = t.since;
    for (const Ticket* o : pending_)
        if (!o->taken && t.joins(*o)) {
            rows += o->requests->size();
            oldest = std::min(oldest, o->since);
        }
    return rows >= size_t(t.options->batch_size) || now_s() - oldest >= max_wait_s_;
}

void DecodePool::lead(std::unique_lock<std::mutex>& lock, Ticket& t) {
    std::vector<Ticket*> batch{&t};
    size_t rows = t.requests->size();
    for (Ticket* o : pending_)
        if (o != &t && !o->taken && t.joins(*o) && rows < size_t(t.options->batch_size)) {
            batch.push_back(o);
            rows += o->requests->size();
        }
    for (Ticket* b : batch) b->taken = true;
    pending_.erase(std::remove_if(pending_.begin(), pending_.end(), [](const Ticket* p) { return p->taken; }),
                   pending_.end());
    ++busy_;
    lock.unlock();

    // Each request keeps the sampler stream of its index in its own call.
    std::vector<DecodeRequest> merged;
    merged.reserve(rows);
    for (Ticket* b : batch)
        for (size_t i = 0; i < b->requests->size(); ++i) {
            merged.push_back((*b->requests)[i]);
            if (merged.back().seed_index < 0) merged.back().seed_index = int64_t(i);
        }
    std::vector<DecodeResult> results;
    DecodeStats stats;
    std::exception_ptr error;
    try {
        results = t.translator->decode(merged, *t.options, &stats);
    } catch (...) {
        error = std::current_exception();
    }

    lock.lock();
    size_t at = 0;
    for (Ticket* b : batch) {
        const size_t n = b->requests->size();
        if (error) {
            b->error = error;
        } else {
            b->results.assign(std::make_move_iterator(results.begin() + long(at)),
                              std::make_move_iterator(results.begin() + long(at + n)));
        }
        at += n;
        b->stats = stats;
        b->done = true;
    }
    --busy_;
    rows_ += int64_t(rows);
    ++batches_;
    cv_.notify_all();
}

std::vector<DecodeResult> DecodePool::decode(const Translator& translator, const std::vector<DecodeRequest>& requests,
                                             const DecodeOptions& options, DecodeStats* stats) {
    if (requests.empty()) return {};
    options.validate();
    Ticket t{&translator, &options, &requests, now_s()};
    std::unique_lock<std::mutex> lock(mu_);
    const bool member = tl_member_of == this;
    if (member) --preparing_;
    pending_.push_back(&t);
    cv_.notify_all();
    while (!t.done) {
        if (!t.taken && ready(t)) {
            lead(lock, t);
            continue;
        }
        cv_.wait_for(lock, std::chrono::milliseconds(20));
    }
    if (member) ++preparing_;
    lock.unlock();
    if (stats) {
        stats->steps += t.stats.steps;
        stats->row_steps += t.stats.row_steps;
        stats->seconds += t.stats.seconds;
        stats->encode_seconds += t.stats.encode_seconds;
    }
    if (t.error) std::rethrow_exception(t.error);
    return std::move(t.results);
}

}  // namespace umt::model

// Requests of several threads decoded in shared batches: a folder of one-system images decodes
// in batches as the systems of one page do. The decoding loop's step costs nearly the same for
// one row as for eight (its matrices are small), so rows from different inputs share the steps.
//
// Each worker thread is a Member for the duration of a job. A thread that calls decode() waits
// until a decoding slot is free and either its batch is full (DecodeOptions::batch_size rows), no
// other member is still preparing its input, or the oldest waiting request has waited max_wait_s;
// then it decodes every compatible waiting request together (itself first, then oldest first)
// and hands each thread its results. Outputs are the same as Translator::decode alone: rows of a
// batch do not depend on each other, and each request keeps its own sampler stream.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include "umt/model/translator.hpp"

namespace umt::model {

class DecodePool {
public:
    // slots: batches decoded at once (one per core, each on one model thread).
    explicit DecodePool(int slots, double max_wait_s = 0.25);
    DecodePool(const DecodePool&) = delete;
    DecodePool& operator=(const DecodePool&) = delete;

    // A thread that will submit requests, counted as preparing while it is not in decode(). Null
    // pool: nothing.
    class Member {
    public:
        explicit Member(DecodePool* pool);
        ~Member();
        Member(const Member&) = delete;
        Member& operator=(const Member&) = delete;

    private:
        DecodePool* pool_;
    };

    // Translator::decode, possibly together with other threads' requests of the same translator and
    // options. stats (if given) receives the shared batches' counts. Rethrows the batch's error.
    std::vector<DecodeResult> decode(const Translator& translator, const std::vector<DecodeRequest>& requests,
                                     const DecodeOptions& options, DecodeStats* stats = nullptr);

    int slots() const { return slots_; }
    // Rows decoded so far and the batches they were decoded in (for tests and logs).
    int64_t rows_decoded() const;
    int64_t batches_decoded() const;

private:
    struct Ticket;
    bool ready(const Ticket& t) const;
    void lead(std::unique_lock<std::mutex>& lock, Ticket& t);

    const int slots_;
    const double max_wait_s_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Ticket*> pending_;
    int busy_ = 0;       // slots decoding now
    int preparing_ = 0;  // members not in decode()
    int64_t rows_ = 0, batches_ = 0;
};

}  // namespace umt::model

#include "process/pipeline.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "adapters/table_reader.h"
#include "base/time.h"
#include "crypto/sha256.h"
#include "crypto/tokeniser.h"

namespace svd::process {
namespace {

// Rows per chunk: large enough that hand-offs cost nothing, small enough that the chunk pool
// (a few per worker) stays within a few megabytes.
constexpr std::size_t kChunkRows = 2048;
constexpr unsigned kDefaultMaxThreads = 4;
constexpr unsigned kMaxThreads = 64;

// Digests the extract as it streams past, so the file is read once.
class HashingSource final : public adapters::ByteSource {
 public:
  explicit HashingSource(std::unique_ptr<adapters::ByteSource> inner) : inner_(std::move(inner)) {}
  result<std::size_t> read(std::span<char> buf) override {
    auto n = inner_->read(buf);
    if (n) {
      hash_.update({buf.data(), *n});
      bytes_ += *n;
    }
    return n;
  }
  crypto::Sha256& hash() { return hash_; }
  std::uint64_t bytes() const { return bytes_; }

 private:
  std::unique_ptr<adapters::ByteSource> inner_;
  crypto::Sha256 hash_;
  std::uint64_t bytes_ = 0;
};

adapters::Encoding encoding_of(config::TextEncoding e) {
  return e == config::TextEncoding::windows_1252 ? adapters::Encoding::windows_1252 : adapters::Encoding::utf8;
}

struct Issue {
  std::uint64_t row;
  std::size_t field;  // Record::npos for the whole row
  errc code;
};

// A batch of records and, once processed, what became of them.
struct Chunk {
  std::vector<adapters::Record> records{kChunkRows};
  std::size_t count = 0;
  std::string out;                 // the valid records, one per line
  std::vector<Issue> issues;       // rejections in file order
  std::uint64_t rejected_rows = 0;
  std::uint64_t filtered_rows = 0;  // outside the schema's svd:filter
  std::vector<std::uint64_t> groups;  // the valid records' quasi-identifier groups, when counted
  bool done = false;
};

class Worker {
 public:
  Worker(const config::Schema& schema, std::span<const crypto::LinkageKey* const> keys, Now now,
         std::size_t max_unique, bool count_groups)
      : tokeniser_(keys), processor_(schema, tokeniser_, now, max_unique), count_groups_(count_groups) {}

  void run(Chunk& c) {
    c.out.clear();
    c.issues.clear();
    c.rejected_rows = 0;
    c.filtered_rows = 0;
    c.groups.clear();
    for (std::size_t r = 0; r < c.count; ++r) {
      const adapters::Record& rec = c.records[r];
      if (rec.error != errc::ok) {
        ++c.rejected_rows;
        c.issues.push_back({rec.row, rec.error_column, rec.error});
        continue;
      }
      if (!processor_.selected(rec)) {
        ++c.filtered_rows;
        continue;
      }
      auto errors = processor_.process(rec, c.out);
      if (errors.empty()) {
        c.out += '\n';
        if (count_groups_) c.groups.push_back(processor_.group());
      } else {
        ++c.rejected_rows;
        for (const auto& e : errors) c.issues.push_back({rec.row, e.field, e.code});
      }
    }
  }
  const RowProcessor& processor() const { return processor_; }

 private:
  crypto::Tokeniser tokeniser_;
  RowProcessor processor_;
  bool count_groups_;
};

// Workers take chunks from a queue and mark them done; the owner drains them in order.
class WorkerPool {
 public:
  // One thread per worker but the last, which belongs to the caller (see wait()).
  explicit WorkerPool(std::vector<std::unique_ptr<Worker>>& workers) {
    for (std::size_t i = 0; i + 1 < workers.size(); ++i)
      threads_.emplace_back([this, w = workers[i].get()] { loop(*w); });
  }
  ~WorkerPool() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void submit(Chunk& c) {
    {
      std::lock_guard lock(mu_);
      c.done = false;
      queue_.push_back(&c);
    }
    work_cv_.notify_one();
  }
  // Waits for `c`, processing queued chunks on the caller's thread (with `helper`) meanwhile:
  // the reader would otherwise sit idle while the workers catch up.
  void wait(Chunk& c, Worker& helper) {
    std::unique_lock lock(mu_);
    while (!c.done) {
      if (queue_.empty()) {
        done_cv_.wait(lock, [&] { return c.done || !queue_.empty(); });
        continue;
      }
      Chunk* next = queue_.front();
      queue_.pop_front();
      lock.unlock();
      helper.run(*next);
      lock.lock();
      next->done = true;
      done_cv_.notify_all();
    }
  }

 private:
  void loop(Worker& w) {
    while (true) {
      Chunk* c = nullptr;
      {
        std::unique_lock lock(mu_);
        work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        c = queue_.front();
        queue_.pop_front();
      }
      w.run(*c);
      {
        std::lock_guard lock(mu_);
        c->done = true;
      }
      done_cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<Chunk*> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

std::int64_t keys_instant(const ExtractJob& job) { return job.keys_at.value_or(job.now.utc_seconds); }

result<ExtractReport> run_pipeline(const ExtractJob& job, const crypto::KeyRing& keys, RecordSink& sink) {
  const config::FeedConfig& feed = *job.feed;
  const config::Schema& schema = feed.schema;
  const config::Limits& limits = job.config->limits;
  auto started = std::chrono::steady_clock::now();

  ExtractReport report;
  report.partner = job.config->partner;
  report.feed = feed.id;
  report.schema_name = schema.name;
  report.schema_sha256 = crypto::sha256_hex(schema.source);
  // A KeyRing covers every instant (its checks), so there is always a key to tokenise with.
  const std::vector<const crypto::LinkageKey*> in_force = keys.in_force(keys_instant(job));
  if (in_force.empty()) std::abort();
  for (const auto* k : in_force) report.key_ids.push_back(k->id());
  report.started_at = utc_iso(std::chrono::system_clock::now());

  auto file = adapters::open_file_source(job.input);
  if (!file) {
    sink.discard();
    return file.error();
  }
  auto source = std::make_unique<HashingSource>(std::move(*file));
  HashingSource& hashing = *source;

  std::vector<adapters::Column> columns;
  for (const auto& f : schema.fields) columns.push_back({f.name, f.constraints.required});
  adapters::Limits reader_limits;
  reader_limits.max_row_bytes = limits.max_row_bytes;
  reader_limits.max_field_bytes = limits.max_field_bytes;
  reader_limits.max_fields = limits.max_fields;
  std::unique_ptr<adapters::TableReader> reader;
  if (feed.format == config::Format::csv) {
    reader = adapters::make_csv_reader(std::move(source), std::move(columns),
                                       {feed.delimiter, encoding_of(feed.encoding), reader_limits});
  } else {
    reader = adapters::make_jsonl_reader(std::move(source), std::move(columns), {encoding_of(feed.encoding), reader_limits});
  }

  bool has_unique = false;
  for (const auto& f : schema.fields) has_unique |= f.constraints.unique;
  // Records per combination of quasi-identifier values, for min_group: one counter per distinct
  // combination, bounded like the unique checks (past the bound the groups are not counted).
  const bool count_groups = feed.min_group > 1 && !schema.quasi_identifiers.empty();
  std::unordered_map<std::uint64_t, std::uint32_t> group_sizes;
  bool groups_uncounted = false;
  // Each thread brings two chunks of about 1 MiB each; the default stops at kDefaultMaxThreads
  // so that memory stays small on a many-core host too.
  unsigned threads = job.workers ? std::min(job.workers, kMaxThreads)
                                 : std::clamp(std::thread::hardware_concurrency(), 1u, kDefaultMaxThreads);
  if (has_unique) threads = 1;
  // One worker per thread; the last is the calling thread's, which reads, merges, and works on
  // chunks while it waits. More threads than cores only adds switching: measured slower.
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < threads; ++i)
    workers.push_back(std::make_unique<Worker>(schema, in_force, job.now, limits.max_unique_values, count_groups));
  // One worker gains nothing from a thread: it runs inline on this thread instead.
  std::optional<WorkerPool> pool;
  if (threads > 1) pool.emplace(workers);
  std::vector<Chunk> chunks(threads > 1 ? 2 * threads + 2 : 1);

  auto merge = [&](Chunk& c) -> result<void> {
    report.rows_total += c.count;
    report.rows_rejected += c.rejected_rows;
    report.rows_filtered += c.filtered_rows;
    report.rows_valid += c.count - c.rejected_rows - c.filtered_rows;
    for (const Issue& i : c.issues) {
      std::string name = i.field == adapters::Record::npos ? std::string() : schema.fields[i.field].name;
      ++report.rejections_by_code[std::string(errc_name(i.code))];
      ++report.rejections_by_field[name][std::string(errc_name(i.code))];
      if (report.rejections.size() < limits.max_rejections_listed) report.rejections.push_back({i.row, std::move(name), i.code});
      else report.rejections_truncated = true;
    }
    for (std::uint64_t g : c.groups) {
      if (auto it = group_sizes.find(g); it != group_sizes.end()) ++it->second;
      else if (group_sizes.size() < limits.max_unique_values) group_sizes.emplace(g, 1);
      else groups_uncounted = true;
    }
    c.count = 0;
    return c.out.empty() ? result<void>() : sink.add_lines(c.out);
  };

  errc refusal = errc::ok;
  boost::system::error_code failure;
  std::uint64_t submitted = 0, drained = 0;
  bool at_end = false;
  while (!at_end && !failure) {
    Chunk& c = chunks[submitted % chunks.size()];
    if (submitted >= chunks.size()) {  // the slot still holds chunk submitted - size: drain it first
      if (pool) pool->wait(c, *workers.back());
      if (auto r = merge(c); !r) failure = r.error();
      ++drained;
      if (failure) break;
    }
    c.count = 0;
    while (c.count < kChunkRows) {
      auto more = reader->next(c.records[c.count]);
      if (!more) {
        if (more.error() == errc::io_error) {
          failure = more.error();
        } else {
          refusal = static_cast<errc>(more.error().value());
          report.refusal_row = reader->failure().row;
          report.refusal_detail = reader->failure().detail;
        }
        at_end = true;
        break;
      }
      if (!*more) {
        at_end = true;
        break;
      }
      ++c.count;
    }
    if (pool) pool->submit(c);
    else workers[0]->run(c);
    ++submitted;
    if (job.progress) job.progress(reader->bytes_read(), (submitted - 1) * kChunkRows + c.count);
  }
  for (; drained < submitted; ++drained) {
    Chunk& c = chunks[drained % chunks.size()];
    if (pool) pool->wait(c, *workers.back());
    if (!failure)
      if (auto r = merge(c); !r) failure = r.error();
  }
  pool.reset();
  if (failure) {
    sink.discard();
    return failure;
  }

  for (const auto& w : workers) {
    if (w->processor().unique_limit_hit() && refusal == errc::ok) {
      refusal = errc::unique_limit_exceeded;
      report.refusal_detail = "more than " + std::to_string(limits.max_unique_values) + " values";
    }
    for (std::size_t i = 0; i < schema.fields.size(); ++i)
      if (auto n = w->processor().pseudo_postcodes()[i]) report.pseudo_postcodes[schema.fields[i].name] += n;
  }
  // Filtered rows are not the feed's to share, so they count neither way.
  const std::uint64_t rows_considered = report.rows_total - report.rows_filtered;
  if (refusal == errc::ok && rows_considered > 0 &&
      static_cast<double>(report.rows_rejected) > feed.reject_threshold * static_cast<double>(rows_considered)) {
    refusal = errc::reject_threshold_exceeded;
    char detail[128];
    std::snprintf(detail, sizeof detail, "%.2f %% of rows rejected; the feed allows %.2f %%",
                  100.0 * static_cast<double>(report.rows_rejected) / static_cast<double>(rows_considered),
                  100.0 * feed.reject_threshold);
    report.refusal_detail = detail;
  }
  report.ignored_columns = reader->ignored_columns().size();
  if (count_groups) {
    SmallGroupsReport& g = report.small_groups.emplace();
    g.min_group = static_cast<std::uint64_t>(feed.min_group);
    for (std::size_t i : schema.quasi_identifiers) g.quasi_identifiers.push_back(schema.fields[i].output_name);
    g.counted = !groups_uncounted;
    g.groups = group_sizes.size();
    for (const auto& [hash, n] : group_sizes)
      if (n < g.min_group) {
        ++g.groups_below;
        g.records_below += n;
      }
    if (refusal == errc::ok && feed.small_groups == config::SmallGroups::refuse && (g.records_below > 0 || !g.counted)) {
      refusal = errc::small_groups;
      report.refusal_detail = g.counted ? std::to_string(g.records_below) + " record(s) in groups of fewer than " +
                                              std::to_string(g.min_group)
                                        : "more than " + std::to_string(limits.max_unique_values) +
                                              " groups: too many to count";
    }
  }

  // Drain what the reader did not consume (a refusal stops early) so the digest covers the
  // whole extract: it identifies the extract whatever happened to it.
  if (refusal != errc::ok) {
    std::vector<char> buf(64 << 10);
    while (true) {
      auto n = hashing.read(buf);
      if (!n || *n == 0) break;
    }
  }
  report.extract_sha256 = hashing.hash().finish_hex();
  report.extract_bytes = hashing.bytes();

  if (refusal != errc::ok) {
    report.refused = true;
    report.refusal = refusal;
    sink.discard();
  } else if (auto r = sink.commit(); !r) {
    return r.error();
  }
  if (job.progress) job.progress(reader->bytes_read(), report.rows_total);
  report.finished_at = utc_iso(std::chrono::system_clock::now());
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace svd::process

#include "gateway/pipeline.h"

#include <chrono>
#include <ctime>

#include "adapters/table_reader.h"
#include "crypto/sha256.h"

namespace svd::gateway {
namespace {

constexpr std::uint64_t kProgressEveryRows = 16384;

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

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// Reader details come from the partner's header, which is a row of data when an export forgets
// it. Keep a detail only when it names one of the schema's own columns.
std::string safe_detail(const adapters::Failure& f, const config::Schema& schema) {
  if (f.code != errc::duplicate_column && f.code != errc::missing_column) return f.detail;
  for (const auto& field : schema.fields)
    if (lower(field.name) == lower(f.detail)) return field.name;
  return {};
}

}  // namespace

std::string utc_timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

result<ExtractReport> run_pipeline(const ExtractJob& job, crypto::Tokeniser& tokeniser, RecordSink& sink) {
  const config::FeedConfig& feed = *job.feed;
  const config::Schema& schema = feed.schema;
  const config::Limits& limits = job.config->limits;
  auto started = std::chrono::steady_clock::now();

  ExtractReport report;
  report.partner = job.config->partner;
  report.feed = feed.id;
  report.schema_name = schema.name;
  report.schema_sha256 = crypto::sha256_hex(schema.source);
  report.key_id = tokeniser.key_id();
  report.started_at = utc_timestamp();

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

  RowProcessor processor(schema, tokeniser, job.now, limits.max_unique_values);
  adapters::Record record;
  std::string line;
  auto reject = [&](std::uint64_t row, std::size_t field, errc code) {
    std::string name = field == adapters::Record::npos ? std::string() : schema.fields[field].name;
    ++report.rejections_by_code[std::string(errc_name(code))];
    ++report.rejections_by_field[name][std::string(errc_name(code))];
    if (report.rejections.size() < limits.max_rejections_listed) report.rejections.push_back({row, std::move(name), code});
    else report.rejections_truncated = true;
  };

  errc refusal = errc::ok;
  while (true) {
    auto more = reader->next(record);
    if (!more) {
      if (more.error() == errc::io_error) {
        sink.discard();
        return more.error();
      }
      refusal = static_cast<errc>(more.error().value());
      report.refusal_row = reader->failure().row;
      report.refusal_detail = safe_detail(reader->failure(), schema);
      break;
    }
    if (!*more) break;
    ++report.rows_total;
    if (record.error != errc::ok) {
      ++report.rows_rejected;
      reject(record.row, record.error_column, record.error);
    } else {
      line.clear();
      auto errors = processor.process(record, line);
      if (errors.empty()) {
        ++report.rows_valid;
        if (auto r = sink.add(line); !r) {
          sink.discard();
          return r.error();
        }
      } else {
        ++report.rows_rejected;
        for (const auto& e : errors) reject(record.row, e.field, e.code);
      }
    }
    if (job.progress && report.rows_total % kProgressEveryRows == 0) job.progress(reader->bytes_read(), report.rows_total);
  }

  if (refusal == errc::ok && processor.unique_limit_hit()) {
    refusal = errc::unique_limit_exceeded;
    report.refusal_detail = "more than " + std::to_string(limits.max_unique_values) + " values";
  }
  if (refusal == errc::ok && report.rows_total > 0 &&
      static_cast<double>(report.rows_rejected) > feed.reject_threshold * static_cast<double>(report.rows_total)) {
    refusal = errc::reject_threshold_exceeded;
    char detail[128];
    std::snprintf(detail, sizeof detail, "%.2f %% of rows rejected; the feed allows %.2f %%",
                  100.0 * static_cast<double>(report.rows_rejected) / static_cast<double>(report.rows_total),
                  100.0 * feed.reject_threshold);
    report.refusal_detail = detail;
  }
  for (std::size_t i = 0; i < schema.fields.size(); ++i)
    if (processor.pseudo_postcodes()[i]) report.pseudo_postcodes[schema.fields[i].name] = processor.pseudo_postcodes()[i];
  report.ignored_columns = reader->ignored_columns().size();

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
  report.finished_at = utc_timestamp();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace svd::gateway

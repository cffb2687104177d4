// Times the pipeline's stages on one extract, single-threaded, and prints one JSON object:
//   parse         the CSV/JSONL reader alone (rows/s)
//   validate      reader + validation, with every transform switched off but one kept field
//   pseudonymise  the tokens alone: NHS-number and person tokens for each valid row (rows/s)
//   pseudonymise_two_keys  the same during a key rotation's overlap (both tokens per field)
//   pipeline      reader + validation + transforms + serialisation (no output file)
// Usage: svd-bench --config CONFIG --feed FEED FILE

#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "adapters/table_reader.h"
#include "config/diagnostic.h"
#include "config/gateway_config.h"
#include "crypto/linkage_key.h"
#include "crypto/normalise.h"
#include "crypto/tokeniser.h"
#include "process/row_processor.h"

namespace {

using namespace svd;
using Clock = std::chrono::steady_clock;

std::unique_ptr<adapters::TableReader> open_reader(const config::FeedConfig& feed, const std::string& file) {
  auto src = adapters::open_file_source(file);
  if (!src) {
    std::fprintf(stderr, "svd-bench: cannot read %s\n", file.c_str());
    std::exit(1);
  }
  std::vector<adapters::Column> columns;
  for (const auto& f : feed.schema.fields) columns.push_back({f.name, f.constraints.required});
  adapters::Encoding enc =
      feed.encoding == config::TextEncoding::utf8 ? adapters::Encoding::utf8 : adapters::Encoding::windows_1252;
  if (feed.format == config::Format::jsonl) return adapters::make_jsonl_reader(std::move(*src), columns, {enc, {}});
  return adapters::make_csv_reader(std::move(*src), columns, {feed.delimiter, enc, {}});
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Stage {
  double seconds = 0;
  std::uint64_t rows = 0;
};

// Reads every record and hands it to `fn`; returns the time and the row count.
template <class Fn>
Stage run(const config::FeedConfig& feed, const std::string& file, Fn fn) {
  auto reader = open_reader(feed, file);
  adapters::Record rec;
  Stage s;
  auto t0 = Clock::now();
  while (true) {
    auto more = reader->next(rec);
    if (!more || !*more) break;
    ++s.rows;
    fn(rec);
  }
  s.seconds = seconds_since(t0);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6 || std::string(argv[1]) != "--config" || std::string(argv[3]) != "--feed") {
    std::fprintf(stderr, "usage: svd-bench --config CONFIG --feed FEED FILE\n");
    return 1;
  }
  config::GatewayConfig cfg;
  try {
    cfg = config::load_gateway_config(argv[2]);
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  const config::FeedConfig* feed = cfg.find_feed(argv[4]);
  // The first configured key: the single-key path, which is what runs outside a rotation.
  auto key = crypto::load_linkage_key(cfg.linkage_keys.front().file, cfg.linkage_keys.front().id);
  if (!feed || !key) {
    std::fprintf(stderr, "svd-bench: unknown feed or unreadable key\n");
    return 1;
  }
  const std::string file = argv[5];
  const process::Now now = process::Now::system();
  crypto::Tokeniser tokeniser(*key);

  Stage parse = run(*feed, file, [](const adapters::Record&) {});

  // Validation alone: the same schema with one kept field and no person token.
  config::FeedConfig validate_only = *feed;
  for (auto& f : validate_only.schema.fields) f.transform = config::TransformKind::drop;
  validate_only.schema.fields[0].transform = config::TransformKind::keep;
  validate_only.schema.fields[0].output_name = validate_only.schema.fields[0].name;
  validate_only.schema.person.reset();
  std::string out;
  process::RowProcessor validator(validate_only.schema, tokeniser, now, cfg.limits.max_unique_values);
  std::uint64_t valid = 0;
  Stage validate = run(validate_only, file, [&](const adapters::Record& rec) {
    out.clear();
    if (rec.error == errc::ok && validator.process(rec, out).empty()) ++valid;
  });

  // Tokens alone, on values gathered beforehand (normalisation included, as in the pipeline).
  std::vector<std::string> nhs, person;
  auto idx = [&](const char* name) { return feed->schema.index_of(name); };
  auto nhs_i = idx("nhs_number"), sn_i = idx("surname"), fn_i = idx("forename"), dob_i = idx("date_of_birth");
  run(*feed, file, [&](const adapters::Record& rec) {
    if (rec.error != errc::ok || !nhs_i || !sn_i || !fn_i || !dob_i) return;
    if (auto n = crypto::normalise_nhs_number(rec.cell(*nhs_i))) nhs.push_back(*n);
    person.push_back(std::string(rec.cell(*sn_i)) + '|' + std::string(rec.cell(*fn_i)) + '|' +
                     std::string(rec.cell(*dob_i)));
  });
  // Every NHS number and person token of the extract under `t`; the seconds it took.
  auto tokenise_all = [&](crypto::Tokeniser& t) {
    auto t0 = Clock::now();
    std::string token;
    for (const auto& n : nhs) {
      token.clear();
      t.append_token("nhs_number", n, token);
    }
    for (const auto& p : person) {
      auto bar1 = p.find('|'), bar2 = p.find('|', bar1 + 1);
      std::string value = crypto::normalise_name(std::string_view(p).substr(0, bar1)) + '|' +
                          crypto::normalise_name(std::string_view(p).substr(bar1 + 1, bar2 - bar1 - 1)) +
                          p.substr(bar2);
      token.clear();
      t.append_token("person", value, token);
    }
    return seconds_since(t0);
  };
  Stage pseudonymise;
  pseudonymise.seconds = tokenise_all(tokeniser);
  pseudonymise.rows = person.size();

  // The same tokens during a key rotation's overlap: two keys, both tokens per field.
  Stage overlap;
  {
    std::array<unsigned char, 32> other_bytes{};
    for (std::size_t i = 0; i < other_bytes.size(); ++i)
      other_bytes[i] = static_cast<unsigned char>(key->bytes()[i] ^ 0xa5);
    const crypto::LinkageKey other("bench-next", other_bytes);
    const std::array<const crypto::LinkageKey*, 2> both{&*key, &other};
    crypto::Tokeniser two(both);
    overlap.seconds = tokenise_all(two);
  }

  process::RowProcessor processor(feed->schema, tokeniser, now, cfg.limits.max_unique_values);
  std::uint64_t bytes_out = 0;
  Stage pipeline = run(*feed, file, [&](const adapters::Record& rec) {
    out.clear();
    if (rec.error == errc::ok) processor.process(rec, out);
    bytes_out += out.size();
  });

  std::printf(
      "{\"rows\": %llu, \"valid\": %llu, \"parse_s\": %.4f, \"validate_s\": %.4f, \"pseudonymise_rows\": %llu, "
      "\"pseudonymise_s\": %.4f, \"pseudonymise_two_keys_s\": %.4f, \"pipeline_s\": %.4f, \"bytes_out\": %llu}\n",
      static_cast<unsigned long long>(parse.rows), static_cast<unsigned long long>(valid), parse.seconds,
      validate.seconds, static_cast<unsigned long long>(pseudonymise.rows), pseudonymise.seconds, overlap.seconds,
      pipeline.seconds, static_cast<unsigned long long>(bytes_out));
  return 0;
}

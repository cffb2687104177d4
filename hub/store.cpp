#include "hub/store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string_view>

#include "base/time.h"
#include "hub/pg_store.h"
#include "hub/sqlite_store.h"

namespace svd::hub {

void throw_exception_from_error(const StoreError& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

result<protocol::ReceiptStatus> Store::store(const std::string& partner, const protocol::Batch& batch) {
  const PendingBatch one{partner, batch};
  auto outcomes = store_group(std::span<const PendingBatch>(&one, 1));
  if (!outcomes) return outcomes.error();
  return outcomes->front();
}

std::optional<std::int64_t> online_at(const protocol::GatewayStatus& status, std::int64_t now) {
  if (status.time.empty()) return status.online ? std::optional<std::int64_t>(now) : std::nullopt;
  const auto t = parse_utc_iso(status.time);
  if (!t) return status.online ? std::optional<std::int64_t>(now) : std::nullopt;
  return std::min<std::int64_t>(now, std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count());
}

store_result<std::unique_ptr<Store>> open_store(const config::HubReceiverConfig& config) {
  // With PostgreSQL, the SQLite file at [store] database keeps only the witness's tables.
  if (config.store.backend == config::StoreBackend::postgresql) {
    auto s = PgStore::open(config.store, feed_tables(config));
    if (!s) return s.error();
    return std::unique_ptr<Store>(std::move(*s));
  }
  auto s = SqliteStore::open(config.database, feed_tables(config));
  if (!s) return s.error();
  return std::unique_ptr<Store>(std::move(*s));
}

namespace {

// The connection string as libpq reads it, without a password. The config loader already refuses
// one (it belongs in password_file); this keeps a log line safe whoever built the config.
std::string conninfo_without_password(const std::string& conninfo) {
  const bool uri = conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0;
  if (!uri && conninfo.find('=') == std::string::npos) return conninfo;  // a plain database name
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), nullptr);
  if (options == nullptr) return "(a connection string libpq cannot parse)";
  bool has_password = false;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o)
    has_password = has_password || (o->val != nullptr && std::string_view(o->keyword) == "password");
  if (!has_password) {
    PQconninfoFree(options);
    return conninfo;  // as the operator wrote it
  }
  std::string out;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || std::string_view(o->keyword) == "password") continue;
    std::string value = o->val;
    if (value.empty() || value.find_first_of(" '\\") != std::string::npos) {
      std::string quoted = "'";
      for (const char c : value) {
        if (c == '\'' || c == '\\') quoted += '\\';
        quoted += c;
      }
      value = quoted + "'";
    }
    out += (out.empty() ? "" : " ") + std::string(o->keyword) + "=" + value;
  }
  PQconninfoFree(options);
  return out;
}

}  // namespace

std::string describe_store(const config::HubReceiverConfig& config) {
  if (config.store.backend == config::StoreBackend::postgresql)
    return "PostgreSQL " + conninfo_without_password(config.store.conninfo);
  return "SQLite " + config.database.string();
}

}  // namespace svd::hub

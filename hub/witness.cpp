#include "hub/witness.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <limits>
#include <optional>
#include <ostream>
#include <sstream>
#include <variant>

#include "crypto/sha256.h"
#include "base/time.h"
#include "base/identity.h"
#include "base/hex.h"

namespace svd::hub {
namespace {

using Hash = std::array<unsigned char, 32>;

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS witness_checkpoints (partner TEXT NOT NULL, seq INTEGER NOT NULL, "
    "chain_hash TEXT NOT NULL, time TEXT NOT NULL, signature TEXT NOT NULL, key_fingerprint TEXT NOT NULL, "
    "witnessed_at TEXT NOT NULL, cosignature TEXT NOT NULL, witness_fingerprint TEXT NOT NULL, "
    "PRIMARY KEY (partner, seq));"
    // What was witnessed is never changed: a guard against bugs (whoever holds the file can drop
    // the triggers, but the gateways hold the cosignatures).
    "CREATE TRIGGER IF NOT EXISTS witness_checkpoints_no_update BEFORE UPDATE ON witness_checkpoints "
    "BEGIN SELECT RAISE(ABORT, 'witnessed checkpoints are append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS witness_checkpoints_no_delete BEFORE DELETE ON witness_checkpoints "
    "BEGIN SELECT RAISE(ABORT, 'witnessed checkpoints are append-only'); END;"
    "CREATE TABLE IF NOT EXISTS witness_alarms (id INTEGER PRIMARY KEY AUTOINCREMENT, partner TEXT NOT NULL, "
    "at TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL, seq INTEGER NOT NULL, chain_hash TEXT NOT NULL, "
    "checkpoint_time TEXT NOT NULL, payload_sha256 TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS witness_alarms_by_partner ON witness_alarms (partner, id);"
    "CREATE TABLE IF NOT EXISTS witness_alarm_counts (partner TEXT PRIMARY KEY, alarms INTEGER NOT NULL, "
    "last_at TEXT NOT NULL);";

struct Statement {
  sqlite3_stmt* s = nullptr;
  Statement() = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(s); }
};

// Resets on scope exit, so a statement never holds a read transaction open between calls.
struct Reset {
  sqlite3_stmt* s;
  ~Reset() { sqlite3_reset(s); }
};

bool prepare(sqlite3* db, const char* sql, Statement& st) {
  return sqlite3_prepare_v2(db, sql, -1, &st.s, nullptr) == SQLITE_OK;
}

bool bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  return sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) == SQLITE_OK;
}

bool bind_seq(sqlite3_stmt* s, int i, std::uint64_t v) {
  return sqlite3_bind_int64(s, i, static_cast<sqlite3_int64>(v)) == SQLITE_OK;
}

std::string column_text(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? reinterpret_cast<const char*>(t) : "";
}

std::uint64_t column_seq(sqlite3_stmt* s, int i) { return static_cast<std::uint64_t>(sqlite3_column_int64(s, i)); }

std::string reason_of(const boost::system::error_code& ec) {
  if (ec.category() == svd_category()) return std::string(errc_name(static_cast<errc>(ec.value())));
  return std::string(errc_name(errc::bad_checkpoint));
}

// The stored row of an accepted checkpoint, as its receipt.
protocol::CheckpointReceipt receipt_of(sqlite3_stmt* s, std::string_view partner, protocol::CheckpointStatus status) {
  protocol::CheckpointReceipt r;
  r.checkpoint.partner = std::string(partner);
  r.checkpoint.seq = column_seq(s, 0);
  r.checkpoint.chain_hash = column_text(s, 1);
  r.checkpoint.time = column_text(s, 2);
  r.status = status;
  r.witnessed_at = column_text(s, 3);
  r.cosignature = column_text(s, 4);
  r.witness_fingerprint = column_text(s, 5);
  return r;
}

constexpr const char* kReceiptColumns = "seq, chain_hash, time, witnessed_at, cosignature, witness_fingerprint";

// A read-only connection that never creates the file; nullptr when it cannot be opened.
struct ReadOnly {
  sqlite3* db = nullptr;
  explicit ReadOnly(const std::filesystem::path& file) {
    if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
      sqlite3_close_v2(db);
      db = nullptr;
      return;
    }
    sqlite3_busy_timeout(db, 5000);
  }
  ~ReadOnly() { sqlite3_close_v2(db); }
  ReadOnly(const ReadOnly&) = delete;
  ReadOnly& operator=(const ReadOnly&) = delete;

  // Whether the witness ever ran on this store; io_error when it is not a database at all.
  result<bool> has_witness_tables() {
    Statement st;
    if (!prepare(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'witness_checkpoints'", st))
      return errc::io_error;
    if (sqlite3_step(st.s) != SQLITE_ROW) return errc::io_error;
    return sqlite3_column_int64(st.s, 0) > 0;
  }
};

}  // namespace

bool parse_audit_topic(std::string_view topic, std::string& partner) {
  constexpr std::string_view kPrefix = "svd/v1/", kSuffix = "/audit";
  if (topic.size() <= kPrefix.size() + kSuffix.size() || !topic.starts_with(kPrefix) || !topic.ends_with(kSuffix))
    return false;
  const std::string_view middle = topic.substr(kPrefix.size(), topic.size() - kPrefix.size() - kSuffix.size());
  if (!valid_identity(middle)) return false;
  partner = std::string(middle);
  return true;
}

struct Witness::Impl {
  sqlite3* db = nullptr;
  crypto::SigningKey key;
  std::string fingerprint;
  std::map<std::string, crypto::PublicKey, std::less<>> device_keys;
  std::ostream& log;
  Clock clock;
  Statement at_seq, last, insert, add_alarm, count_alarm, trim_alarms;

  Impl(crypto::SigningKey k, std::map<std::string, crypto::PublicKey, std::less<>> keys, std::ostream& l, Clock c)
      : key(std::move(k)),
        fingerprint(crypto::fingerprint(key.public_key())),
        device_keys(std::move(keys)),
        log(l),
        clock(std::move(c)) {}
  // close_v2 waits for the statements (members, finalized after this body).
  ~Impl() { sqlite3_close_v2(db); }

  bool exec(const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK; }

  struct Alarm {
    errc reason;
    std::string detail;
  };
  using Decision = std::variant<protocol::CheckpointReceipt, Alarm>;

  result<Decision> decide(std::string_view partner, const protocol::CheckpointMessage& m);
  result<void> store_alarm(std::string_view partner, const protocol::Checkpoint& c, const Alarm& a,
                           std::string_view payload);
};

Witness::Witness(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Witness::~Witness() = default;

const crypto::PublicKey& Witness::public_key() const { return impl_->key.public_key(); }

result<std::unique_ptr<Witness>> Witness::open(const std::filesystem::path& database, crypto::SigningKey key,
                                               std::map<std::string, crypto::PublicKey, std::less<>> device_keys,
                                               std::ostream& log, Clock clock) {
  auto impl = std::make_unique<Impl>(std::move(key), std::move(device_keys), log, std::move(clock));
  if (sqlite3_open_v2(database.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK)
    return errc::io_error;
  sqlite3_busy_timeout(impl->db, 5000);
  // journal_mode is a property of the file (HubStore has usually set it already); synchronous is
  // per connection, and a receipt promises durability.
  if (!impl->exec("PRAGMA journal_mode=WAL") || !impl->exec("PRAGMA synchronous=FULL") || !impl->exec(kSchema))
    return errc::io_error;
  sqlite3* db = impl->db;
  const std::string at_seq = std::string("SELECT ") + kReceiptColumns +
                             " FROM witness_checkpoints WHERE partner = ?1 AND seq = ?2";
  const std::string last = std::string("SELECT ") + kReceiptColumns +
                           " FROM witness_checkpoints WHERE partner = ?1 ORDER BY seq DESC LIMIT 1";
  if (!prepare(db, at_seq.c_str(), impl->at_seq) || !prepare(db, last.c_str(), impl->last) ||
      !prepare(db,
               "INSERT INTO witness_checkpoints (partner, seq, chain_hash, time, signature, key_fingerprint, "
               "witnessed_at, cosignature, witness_fingerprint) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
               impl->insert) ||
      !prepare(db,
               "INSERT INTO witness_alarms (partner, at, reason, detail, seq, chain_hash, checkpoint_time, "
               "payload_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
               impl->add_alarm) ||
      !prepare(db,
               "INSERT INTO witness_alarm_counts (partner, alarms, last_at) VALUES (?1, 1, ?2) "
               "ON CONFLICT (partner) DO UPDATE SET alarms = alarms + 1, last_at = excluded.last_at",
               impl->count_alarm) ||
      !prepare(db,
               "DELETE FROM witness_alarms WHERE partner = ?1 AND id <= (SELECT id FROM witness_alarms "
               "WHERE partner = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
               impl->trim_alarms))
    return errc::io_error;
  return std::unique_ptr<Witness>(new Witness(std::move(impl)));
}

// Inside the caller's transaction: what the store says about this (signed, well-formed)
// checkpoint. A receipt (accepted: already inserted; or duplicate) or an alarm.
result<Witness::Impl::Decision> Witness::Impl::decide(std::string_view partner, const protocol::CheckpointMessage& m) {
  const protocol::Checkpoint& c = m.checkpoint;
  {
    sqlite3_stmt* s = at_seq.s;
    Reset reset{s};
    if (!bind_text(s, 1, partner) || !bind_seq(s, 2, c.seq)) return errc::io_error;
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      protocol::CheckpointReceipt stored = receipt_of(s, partner, protocol::CheckpointStatus::duplicate);
      if (stored.checkpoint.chain_hash == c.chain_hash) return Decision(std::move(stored));
      return Decision(Alarm{errc::checkpoint_does_not_extend,
                            "seq " + std::to_string(c.seq) + " was accepted with chain hash " +
                                stored.checkpoint.chain_hash + ": a fork or a rewritten log"});
    }
    if (rc != SQLITE_DONE) return errc::io_error;
  }

  std::optional<protocol::ChainPoint> last_accepted;
  {
    sqlite3_stmt* s = last.s;
    Reset reset{s};
    if (!bind_text(s, 1, partner)) return errc::io_error;
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) last_accepted = protocol::ChainPoint{column_seq(s, 0), column_text(s, 1)};
    else if (rc != SQLITE_DONE) return errc::io_error;
  }
  auto point = [](const protocol::ChainPoint& p) { return "seq " + std::to_string(p.seq) + " (" + p.chain_hash + ")"; };
  if (!m.prev && last_accepted)
    return Decision(Alarm{errc::checkpoint_does_not_extend,
                          "no prev, but " + point(*last_accepted) + " was accepted: the log starts again"});
  if (m.prev && !last_accepted)
    return Decision(
        Alarm{errc::checkpoint_does_not_extend, "prev is " + point(*m.prev) + ", but nothing was accepted yet"});
  if (m.prev && *m.prev != *last_accepted)
    return Decision(Alarm{errc::checkpoint_does_not_extend,
                          "prev is " + point(*m.prev) + ", but the last accepted is " + point(*last_accepted)});

  Hash chain{};
  if (m.prev) {
    if (!from_hex(m.prev->chain_hash, chain))
      return Decision(Alarm{errc::checkpoint_does_not_extend, "prev chain hash is not 64 hex digits"});
  }
  for (const std::string& leaf_hex : m.leaves) {
    Hash leaf{};
    if (!from_hex(leaf_hex, leaf)) return Decision(Alarm{errc::checkpoint_does_not_extend, "a leaf is not 64 hex digits"});
    crypto::Sha256 h;
    h.update(std::string_view(reinterpret_cast<const char*>(chain.data()), chain.size()));
    h.update(std::string_view(reinterpret_cast<const char*>(leaf.data()), leaf.size()));
    chain = h.finish();
  }
  if (to_hex(chain) != c.chain_hash)
    return Decision(Alarm{errc::checkpoint_does_not_extend,
                          "the leaves from seq " + std::to_string(m.prev ? m.prev->seq : 0) +
                              " do not reach the chain hash (they give " + to_hex(chain) + ")"});

  protocol::CheckpointReceipt r;
  r.checkpoint = c;
  r.status = protocol::CheckpointStatus::accepted;
  r.witnessed_at = utc_iso_ms(clock());
  const crypto::Signature cosig = key.sign(protocol::witness_note(c, r.witnessed_at));
  r.cosignature = to_hex(cosig);
  r.witness_fingerprint = fingerprint;
  sqlite3_stmt* s = insert.s;
  Reset reset{s};
  if (!bind_text(s, 1, partner) || !bind_seq(s, 2, c.seq) || !bind_text(s, 3, c.chain_hash) ||
      !bind_text(s, 4, c.time) || !bind_text(s, 5, m.signature) || !bind_text(s, 6, m.key_fingerprint) ||
      !bind_text(s, 7, r.witnessed_at) || !bind_text(s, 8, r.cosignature) || !bind_text(s, 9, r.witness_fingerprint) ||
      sqlite3_step(s) != SQLITE_DONE)
    return errc::io_error;
  return Decision(std::move(r));
}

result<void> Witness::Impl::store_alarm(std::string_view partner, const protocol::Checkpoint& c, const Alarm& a,
                                        std::string_view payload) {
  const std::string at = utc_iso_ms(clock());
  const std::string reason(errc_name(a.reason));
  {
    sqlite3_stmt* s = add_alarm.s;
    Reset reset{s};
    if (!bind_text(s, 1, partner) || !bind_text(s, 2, at) || !bind_text(s, 3, reason) || !bind_text(s, 4, a.detail) ||
        !bind_seq(s, 5, c.seq) || !bind_text(s, 6, c.chain_hash) || !bind_text(s, 7, c.time) ||
        !bind_text(s, 8, crypto::sha256_hex(payload)) || sqlite3_step(s) != SQLITE_DONE)
      return errc::io_error;
  }
  {
    sqlite3_stmt* s = count_alarm.s;
    Reset reset{s};
    if (!bind_text(s, 1, partner) || !bind_text(s, 2, at) || sqlite3_step(s) != SQLITE_DONE) return errc::io_error;
  }
  sqlite3_stmt* s = trim_alarms.s;
  Reset reset{s};
  if (!bind_text(s, 1, partner) || !bind_seq(s, 2, kMaxStoredAlarmsPerPartner) || sqlite3_step(s) != SQLITE_DONE)
    return errc::io_error;
  return {};
}

result<WitnessOutcome> Witness::handle(std::string_view partner, std::string_view payload) {
  Impl& m = *impl_;
  WitnessOutcome out;
  protocol::CheckpointReceipt& r = out.receipt;
  r.status = protocol::CheckpointStatus::rejected;
  r.checkpoint.partner = std::string(partner);
  auto parsed = protocol::parse_checkpoint_message(payload);
  if (!parsed) {
    r.reason = reason_of(parsed.error());
    return out;
  }
  const protocol::CheckpointMessage& msg = *parsed;
  const protocol::Checkpoint& c = msg.checkpoint;
  r.checkpoint = c;
  // SQLite integers are signed 64-bit; no audit log gets near that.
  if (c.seq > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    r.reason = errc_name(errc::bad_checkpoint);
    return out;
  }
  // The broker's ACL ties the topic to the gateway's certificate; a payload naming another
  // partner is refused before anything else is believed of it.
  if (c.partner != partner) {
    r.reason = errc_name(errc::topic_mismatch);
    return out;
  }
  auto key = m.device_keys.find(partner);
  if (key == m.device_keys.end()) {
    r.reason = errc_name(errc::unknown_device_key);
    return out;
  }

  // Everything below is one transaction: the decision rests on what is stored, and what it
  // decides is stored before the receipt can go out.
  if (!m.exec("BEGIN IMMEDIATE")) return errc::io_error;
  struct Rollback {
    Impl& m;
    bool armed = true;
    ~Rollback() {
      if (armed && !sqlite3_get_autocommit(m.db)) m.exec("ROLLBACK");
    }
  } guard{m};

  crypto::Signature sig{};
  const bool signed_by_device =
      from_hex(msg.signature, sig) && crypto::verify_signature(key->second, protocol::checkpoint_note(c), sig);
  auto decided = signed_by_device
                     ? m.decide(partner, msg)
                     : result<Impl::Decision>(Impl::Alarm{errc::bad_signature,
                                                          "the signature does not verify with the device key " +
                                                              crypto::fingerprint(key->second)});
  if (!decided) return decided.error();
  Impl::Decision& decision = *decided;

  if (auto* alarm = std::get_if<Impl::Alarm>(&decision)) {
    if (auto stored = m.store_alarm(partner, c, *alarm, payload); !stored) return stored.error();
    if (!m.exec("COMMIT")) return errc::io_error;
    guard.armed = false;
    m.log << "audit.alarm: partner " << partner << " checkpoint seq " << c.seq << ": " << errc_name(alarm->reason)
          << " (" << alarm->detail << ")\n";
    r.reason = errc_name(alarm->reason);
    out.alarm = true;
    return out;
  }
  if (!m.exec("COMMIT")) return errc::io_error;
  guard.armed = false;
  out.receipt = std::move(std::get<protocol::CheckpointReceipt>(decision));
  return out;
}

result<std::vector<protocol::CheckpointReceipt>> read_witnessed_checkpoints(const std::filesystem::path& database,
                                                                           std::string_view partner) {
  ReadOnly ro(database);
  if (!ro.db) return errc::io_error;
  std::vector<protocol::CheckpointReceipt> out;
  auto has = ro.has_witness_tables();
  if (!has) return has.error();
  if (!*has) return out;
  Statement st;
  const std::string sql = std::string("SELECT ") + kReceiptColumns +
                          " FROM witness_checkpoints WHERE partner = ?1 ORDER BY seq";
  if (!prepare(ro.db, sql.c_str(), st) || !bind_text(st.s, 1, partner)) return errc::io_error;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW)
    out.push_back(receipt_of(st.s, partner, protocol::CheckpointStatus::accepted));
  if (rc != SQLITE_DONE) return errc::io_error;
  return out;
}

result<std::vector<StoredAlarm>> read_alarms(const std::filesystem::path& database) {
  ReadOnly ro(database);
  if (!ro.db) return errc::io_error;
  std::vector<StoredAlarm> out;
  auto has = ro.has_witness_tables();
  if (!has) return has.error();
  if (!*has) return out;
  Statement st;
  if (!prepare(ro.db,
               "SELECT partner, at, reason, detail, seq, chain_hash, checkpoint_time, payload_sha256 "
               "FROM witness_alarms ORDER BY id",
               st))
    return errc::io_error;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    StoredAlarm a;
    a.partner = column_text(st.s, 0);
    a.at = column_text(st.s, 1);
    a.reason = column_text(st.s, 2);
    a.detail = column_text(st.s, 3);
    a.seq = column_seq(st.s, 4);
    a.chain_hash = column_text(st.s, 5);
    a.checkpoint_time = column_text(st.s, 6);
    a.payload_sha256 = column_text(st.s, 7);
    out.push_back(std::move(a));
  }
  if (rc != SQLITE_DONE) return errc::io_error;
  return out;
}

result<std::vector<WitnessStats>> read_witness_stats(const std::filesystem::path& database) {
  ReadOnly ro(database);
  if (!ro.db) return errc::io_error;
  std::vector<WitnessStats> out;
  auto has = ro.has_witness_tables();
  if (!has) return has.error();
  if (!*has) return out;
  auto entry = [&](const std::string& partner) -> WitnessStats& {
    auto it = std::lower_bound(out.begin(), out.end(), partner,
                               [](const WitnessStats& s, const std::string& p) { return s.partner < p; });
    if (it == out.end() || it->partner != partner) it = out.insert(it, WitnessStats{partner, 0, 0, "", 0, ""});
    return *it;
  };
  {
    Statement st;
    // The row with MAX(seq) supplies witnessed_at (SQLite's bare-column rule for MAX).
    if (!prepare(ro.db,
                 "SELECT partner, COUNT(*), MAX(seq), witnessed_at FROM witness_checkpoints GROUP BY partner",
                 st))
      return errc::io_error;
    int rc;
    while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
      WitnessStats& w = entry(column_text(st.s, 0));
      w.checkpoints = column_seq(st.s, 1);
      w.last_seq = column_seq(st.s, 2);
      w.last_witnessed_at = column_text(st.s, 3);
    }
    if (rc != SQLITE_DONE) return errc::io_error;
  }
  Statement st;
  if (!prepare(ro.db, "SELECT partner, alarms, last_at FROM witness_alarm_counts", st)) return errc::io_error;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    WitnessStats& w = entry(column_text(st.s, 0));
    w.alarms = column_seq(st.s, 1);
    w.last_alarm_at = column_text(st.s, 2);
  }
  if (rc != SQLITE_DONE) return errc::io_error;
  return out;
}

std::string format_witness_stats(const std::vector<std::string>& configured_partners,
                                 const std::vector<WitnessStats>& stats) {
  if (configured_partners.empty() && stats.empty()) return "";
  std::ostringstream out;
  out << "  audit checkpoints witnessed:\n";
  auto print = [&](const WitnessStats& w, std::string_view note) {
    out << "    " << w.partner << note << ": " << w.checkpoints << " checkpoints";
    if (w.checkpoints > 0) out << ", last seq " << w.last_seq << " witnessed " << w.last_witnessed_at;
    out << "; audit alarms: " << w.alarms;
    if (w.alarms > 0) out << ", last " << w.last_alarm_at;
    out << '\n';
  };
  auto find = [&](std::string_view p) {
    return std::find_if(stats.begin(), stats.end(), [&](const WitnessStats& w) { return w.partner == p; });
  };
  for (const auto& p : configured_partners) {
    auto it = find(p);
    print(it == stats.end() ? WitnessStats{p, 0, 0, "", 0, ""} : *it, "");
  }
  for (const auto& w : stats)
    if (std::find(configured_partners.begin(), configured_partners.end(), w.partner) == configured_partners.end())
      print(w, " (not configured)");
  return out.str();
}

}  // namespace svd::hub

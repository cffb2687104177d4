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

#include "base/hex.h"
#include "base/identity.h"
#include "base/log_safe.h"
#include "base/sqlite.h"
#include "base/time.h"
#include "crypto/sha256.h"

namespace svd::hub {
using sqlite::exec;
using sqlite::prepare;
using sqlite::Stmt;
using sqlite::Use;

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

std::string reason_of(const boost::system::error_code& ec) {
  if (ec.category() == svd_category()) return std::string(errc_name(static_cast<errc>(ec.value())));
  return std::string(errc_name(errc::bad_checkpoint));
}

// The stored row of an accepted checkpoint, as its receipt.
protocol::CheckpointReceipt receipt_of(Use& u, std::string_view partner, protocol::CheckpointStatus status) {
  protocol::CheckpointReceipt r;
  r.checkpoint.partner = std::string(partner);
  r.checkpoint.seq = static_cast<std::uint64_t>(u.integer(0));
  r.checkpoint.chain_hash = u.text(1);
  r.checkpoint.time = u.text(2);
  r.status = status;
  r.witnessed_at = u.text(3);
  r.cosignature = u.text(4);
  r.witness_fingerprint = u.text(5);
  return r;
}

constexpr const char* kReceiptColumns = "seq, chain_hash, time, witnessed_at, cosignature, witness_fingerprint";

// A read-only connection that never creates the file; a null handle when the witness never ran
// on this store (nothing to read), io_error when it cannot be opened or is not a database at all.
result<sqlite::Db> open_witness_tables(const std::filesystem::path& database) {
  sqlite::Db db = sqlite::open_read_only(database, 5000);
  if (!db) return errc::io_error;
  const auto tables = sqlite::query_int(
      db.get(), "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'witness_checkpoints'");
  if (!tables) return errc::io_error;
  if (*tables == 0) return sqlite::Db();
  return db;
}

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
  sqlite::Db db;  // first, so it closes after the statements
  crypto::SigningKey key;
  std::string fingerprint;
  std::map<std::string, crypto::PublicKey, std::less<>> device_keys;
  std::ostream& log;
  Clock clock;
  Stmt at_seq, last, insert, add_alarm, count_alarm, trim_alarms;

  Impl(crypto::SigningKey k, std::map<std::string, crypto::PublicKey, std::less<>> keys, std::ostream& l, Clock c)
      : key(std::move(k)),
        fingerprint(crypto::fingerprint(key.public_key())),
        device_keys(std::move(keys)),
        log(l),
        clock(std::move(c)) {}

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
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(database.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  impl->db.reset(raw);  // a handle is returned even on failure and must be closed
  if (rc != SQLITE_OK) return errc::io_error;
  sqlite3* db = raw;
  sqlite3_busy_timeout(db, 5000);
  // journal_mode is a property of the file (HubStore has usually set it already); synchronous is
  // per connection, and a receipt promises durability.
  if (!exec(db, "PRAGMA journal_mode=WAL") || !exec(db, "PRAGMA synchronous=FULL") || !exec(db, kSchema))
    return errc::io_error;
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
    Use u(at_seq);
    if (!u.bind(1, partner) || !u.bind(2, static_cast<std::int64_t>(c.seq))) return errc::io_error;
    const int rc = u.step();
    if (rc == SQLITE_ROW) {
      protocol::CheckpointReceipt stored = receipt_of(u, partner, protocol::CheckpointStatus::duplicate);
      if (stored.checkpoint.chain_hash == c.chain_hash) return Decision(std::move(stored));
      return Decision(Alarm{errc::checkpoint_does_not_extend,
                            "seq " + std::to_string(c.seq) + " was accepted with chain hash " +
                                stored.checkpoint.chain_hash + ": a fork or a rewritten log"});
    }
    if (rc != SQLITE_DONE) return errc::io_error;
  }

  std::optional<protocol::ChainPoint> last_accepted;
  {
    Use u(last);
    if (!u.bind(1, partner)) return errc::io_error;
    const int rc = u.step();
    if (rc == SQLITE_ROW) last_accepted = protocol::ChainPoint{static_cast<std::uint64_t>(u.integer(0)), u.text(1)};
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
  {
    Use u(insert);
    if (!u.bind(1, partner) || !u.bind(2, static_cast<std::int64_t>(c.seq)) || !u.bind(3, c.chain_hash) ||
        !u.bind(4, c.time) || !u.bind(5, m.signature) || !u.bind(6, m.key_fingerprint) || !u.bind(7, r.witnessed_at) ||
        !u.bind(8, r.cosignature) || !u.bind(9, r.witness_fingerprint) || !u.done())
      return errc::io_error;
  }
  return Decision(std::move(r));
}

result<void> Witness::Impl::store_alarm(std::string_view partner, const protocol::Checkpoint& c, const Alarm& a,
                                        std::string_view payload) {
  const std::string at = utc_iso_ms(clock());
  const std::string reason(errc_name(a.reason));
  const std::string payload_sha256 = crypto::sha256_hex(payload);
  {
    Use u(add_alarm);
    if (!u.bind(1, partner) || !u.bind(2, at) || !u.bind(3, reason) || !u.bind(4, a.detail) ||
        !u.bind(5, static_cast<std::int64_t>(c.seq)) || !u.bind(6, c.chain_hash) || !u.bind(7, c.time) ||
        !u.bind(8, payload_sha256) || !u.done())
      return errc::io_error;
  }
  {
    Use u(count_alarm);
    if (!u.bind(1, partner) || !u.bind(2, at) || !u.done()) return errc::io_error;
  }
  Use u(trim_alarms);
  if (!u.bind(1, partner) || !u.bind(2, static_cast<std::int64_t>(kMaxStoredAlarmsPerPartner)) || !u.done())
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
  sqlite::Transaction tx(m.db.get());
  if (!tx.ok()) return errc::io_error;

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
    if (tx.commit() != SQLITE_OK) return errc::io_error;
    m.log << "audit.alarm: partner " << log_safe(partner) << " checkpoint seq " << c.seq << ": "
          << errc_name(alarm->reason) << " (" << alarm->detail << ")\n";
    r.reason = errc_name(alarm->reason);
    out.alarm = true;
    return out;
  }
  if (tx.commit() != SQLITE_OK) return errc::io_error;
  out.receipt = std::move(std::get<protocol::CheckpointReceipt>(decision));
  return out;
}

result<std::vector<protocol::CheckpointReceipt>> read_witnessed_checkpoints(const std::filesystem::path& database,
                                                                           std::string_view partner) {
  auto db = open_witness_tables(database);
  if (!db) return db.error();
  std::vector<protocol::CheckpointReceipt> out;
  if (!*db) return out;
  Stmt st;
  const std::string sql = std::string("SELECT ") + kReceiptColumns +
                          " FROM witness_checkpoints WHERE partner = ?1 ORDER BY seq";
  if (!prepare(db->get(), sql.c_str(), st)) return errc::io_error;
  Use u(st);
  if (!u.bind(1, partner)) return errc::io_error;
  int rc;
  while ((rc = u.step()) == SQLITE_ROW) out.push_back(receipt_of(u, partner, protocol::CheckpointStatus::accepted));
  if (rc != SQLITE_DONE) return errc::io_error;
  return out;
}

result<std::vector<StoredAlarm>> read_alarms(const std::filesystem::path& database) {
  auto db = open_witness_tables(database);
  if (!db) return db.error();
  std::vector<StoredAlarm> out;
  if (!*db) return out;
  Stmt st;
  if (!prepare(db->get(),
               "SELECT partner, at, reason, detail, seq, chain_hash, checkpoint_time, payload_sha256 "
               "FROM witness_alarms ORDER BY id",
               st))
    return errc::io_error;
  Use u(st);
  int rc;
  while ((rc = u.step()) == SQLITE_ROW) {
    StoredAlarm a;
    a.partner = u.text(0);
    a.at = u.text(1);
    a.reason = u.text(2);
    a.detail = u.text(3);
    a.seq = static_cast<std::uint64_t>(u.integer(4));
    a.chain_hash = u.text(5);
    a.checkpoint_time = u.text(6);
    a.payload_sha256 = u.text(7);
    out.push_back(std::move(a));
  }
  if (rc != SQLITE_DONE) return errc::io_error;
  return out;
}

result<std::vector<WitnessStats>> read_witness_stats(const std::filesystem::path& database) {
  auto db = open_witness_tables(database);
  if (!db) return db.error();
  std::vector<WitnessStats> out;
  if (!*db) return out;
  auto entry = [&](const std::string& partner) -> WitnessStats& {
    auto it = std::lower_bound(out.begin(), out.end(), partner,
                               [](const WitnessStats& s, const std::string& p) { return s.partner < p; });
    if (it == out.end() || it->partner != partner) it = out.insert(it, WitnessStats{partner, 0, 0, "", 0, ""});
    return *it;
  };
  {
    Stmt st;
    // The row with MAX(seq) supplies witnessed_at (SQLite's bare-column rule for MAX).
    if (!prepare(db->get(),
                 "SELECT partner, COUNT(*), MAX(seq), witnessed_at FROM witness_checkpoints GROUP BY partner",
                 st))
      return errc::io_error;
    Use u(st);
    int rc;
    while ((rc = u.step()) == SQLITE_ROW) {
      WitnessStats& w = entry(u.text(0));
      w.checkpoints = static_cast<std::uint64_t>(u.integer(1));
      w.last_seq = static_cast<std::uint64_t>(u.integer(2));
      w.last_witnessed_at = u.text(3);
    }
    if (rc != SQLITE_DONE) return errc::io_error;
  }
  Stmt st;
  if (!prepare(db->get(), "SELECT partner, alarms, last_at FROM witness_alarm_counts", st)) return errc::io_error;
  Use u(st);
  int rc;
  while ((rc = u.step()) == SQLITE_ROW) {
    WitnessStats& w = entry(u.text(0));
    w.alarms = static_cast<std::uint64_t>(u.integer(1));
    w.last_alarm_at = u.text(2);
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

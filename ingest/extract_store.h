#pragma once
// The extract store: every extract the gateway has accepted, kept as a file named by its SHA-256
// under <state_dir>/extracts/, with one row per (feed, name) in <state_dir>/extracts.db (SQLite,
// WAL, synchronous=FULL) holding who sent it and its state:
//
//   received -> processing -> processed | refused
//
// accept() returns only once the bytes are on disk (fsync of the file and the directory) and the
// row is committed: only then may the uploader be told it is safe. The same (feed, name) with the
// same bytes is `same` (the first receipt); with other bytes, `conflict`. Extracts still
// `received` or `processing` after a crash are processed again from the start. Every change
// records its audit events in its own transaction (audit/pending.h). More: docs/daemon.md,
// "The extract store".
//
// Thread-safety: none; one thread owns it (the daemon's store thread).

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/event.h"
#include "base/errc.h"

namespace svd::ingest {

enum class ExtractState { received, processing, processed, refused };
std::string_view to_string(ExtractState s);

// An extract proper, or a partner's explicit "nothing to share this period" return: a small
// document the daemon writes (so each return has its own digest and id), never parsed as data.
enum class ExtractKind { extract, nothing_to_share };
std::string_view to_string(ExtractKind k);

struct StoredExtract {
  std::string id;      // "<feed>-<first 16 hex digits of sha256>", as svdgw forward names it
  ExtractKind kind = ExtractKind::extract;
  std::string feed;
  std::string name;    // the uploader's name for it (URL path segment or spool file name)
  std::string client;  // the uploader's identity (certificate CN, or "spool")
  std::string sha256;
  std::uint64_t bytes = 0;
  std::string received_at;  // UTC, ISO 8601
  ExtractState state = ExtractState::received;
  std::string report_json;  // the validation report once processed or refused, else ""
  std::string finished_at;  // UTC, ISO 8601, once processed or refused
  std::filesystem::path file;  // where the bytes are (empty once removed after processing)
};

enum class AcceptOutcome { created, same, conflict };

struct Accepted {
  AcceptOutcome outcome = AcceptOutcome::created;
  StoredExtract extract;  // for `conflict`: the extract that holds the name
};

class ExtractStore {
 public:
  // Opens or creates <state_dir>/extracts.db and <state_dir>/extracts/{,incoming/} (0700).
  // Leftover files in incoming/ (a crash mid-upload) are removed: nobody was told they were safe.
  static result<std::unique_ptr<ExtractStore>> open(const std::filesystem::path& state_dir);
  ~ExtractStore();
  ExtractStore(const ExtractStore&) = delete;
  ExtractStore& operator=(const ExtractStore&) = delete;

  // A fresh path in incoming/ for the caller to write (O_EXCL-created, 0600, empty).
  result<std::filesystem::path> new_incoming();

  // Takes `incoming` (a file in incoming/, complete) as extract `name` of `feed` from `client`:
  // hashes it (unless `sha256` is given, e.g. computed while streaming), fsyncs it, renames it
  // to extracts/<sha256> and commits the row. `same` and `conflict` remove `incoming` and change
  // nothing. Errors: io_error (the file is removed; nothing was accepted), storage_full (ENOSPC).
  result<Accepted> accept(const std::filesystem::path& incoming, const std::string& feed, const std::string& name,
                          const std::string& client, std::optional<std::string> sha256 = std::nullopt,
                          ExtractKind kind = ExtractKind::extract);

  result<std::optional<StoredExtract>> get(const std::string& id);
  // Extracts in `received` or `processing`, oldest first: the work to (re)do at start.
  result<std::vector<StoredExtract>> unfinished();
  // State transitions, one transaction each; `report_json` is stored with processed/refused, and
  // `events` are recorded for the audit log in the same transaction (audit/pending.h).
  result<void> set_state(const std::string& id, ExtractState state, const std::string& report_json = {},
                         const std::vector<audit::Event>& events = {});

  // Bytes held in extracts/ and incoming/ (for the storage quota).
  std::uint64_t bytes_on_disk() const;

  // The latest received_at (ISO 8601) per feed: when each feed last delivered, for schedules.
  result<std::map<std::string, std::string>> last_received_per_feed();
  // When the gateway started watching `feed` (Unix seconds): recorded as `now` at the first
  // call for it and returned unchanged ever after, so that a new feed is not overdue for
  // periods before it existed. `first_event` (feed.watched) is recorded with that first call.
  result<std::int64_t> watched_since(const std::string& feed, std::int64_t now,
                                     const std::optional<audit::Event>& first_event = std::nullopt);
  // Retention: removes the files of extracts finished (processed or refused) at or before
  // `cutoff` (ISO 8601, as finished_at), keeping their rows and reports. A file another
  // unfinished extract shares (the same bytes sent for two feeds) is kept. Returns how many
  // files were removed.
  result<std::size_t> remove_finished_files(const std::string& cutoff);

 private:
  struct Impl;
  explicit ExtractStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace svd::ingest

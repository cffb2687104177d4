#pragma once
// The spool directory (DESIGN 3.5): partner export jobs that cannot use the HTTPS upload API drop
// their extracts into <state_dir>/spool/<feed>/, and the gateway takes each one into the extract
// store once it is complete.
//
// When a file NAME in a feed's directory is complete (the contract with exporters):
//   - NAME.ready exists: taken at once, whatever the settle time (for exporters that write in
//     place and then create the marker);
//   - otherwise, once NAME has not changed (size and mtime) for `settle`. The default, 0, takes
//     every file at once: right for exporters that write NAME.part and rename it to NAME, and
//     wrong for one that writes NAME in place without a marker — give such a feed's spool a
//     settle time longer than any pause in its writes. (One settle time serves all feeds.)
//   - never: names ending in ".part" (still being written) or ".ready" (markers; so no extract
//     may itself be called *.ready), names starting with '.' (hidden: editor and rsync temporary
//     files, and .rejected/), and anything that is not a regular file (a symlink could point at
//     any file the gateway may read; a FIFO would block).
// A marker whose NAME does not exist is left alone and reported.
//
// Taking a file, so that no file is ever taken twice nor lost in a crash:
//   1. hard-link NAME into the store's incoming/ (ExtractStore::new_incoming's path);
//   2. ExtractStore::accept(link, feed, NAME, "spool"): created, or `same` for a re-send;
//   3. unlink NAME.ready, then NAME.
// A crash before 3 leaves NAME in the spool; the next scan takes it again and the store answers
// `same` (it is idempotent by feed + name + content), so NAME is then just removed. A crash
// between the two unlinks of 3 leaves NAME without its marker, taken (as `same`) once settled.
// (Removing the marker first means no stale marker can make a later file of the same name look
// complete while it is still being written.) The spool and the store must be on one filesystem.
// The stored extract is the exporter's inode: it keeps the file's mode and owner, and is
// protected by extracts/ being 0700. An exporter that kept NAME open after finishing it could
// still write to it (as with a rename): exporters are trusted local jobs, and the conventions
// above say a file is finished before it is taken.
//
// Files that are not taken:
//   - larger than `max_bytes`: moved to <feed>/.rejected/ (as NAME, or NAME.1, NAME.2, ... if
//     that exists; never overwriting), its marker removed, an event `too_large`;
//   - the store says `conflict` (the name was accepted before with other bytes): moved to
//     <feed>/.rejected/ the same way, an event `conflict`. Leaving either in place would make
//     every scan read (and, for a conflict, hash) it again. An operator who wants it processed
//     renames it and moves it back into the feed's directory;
//   - an error (link, store): left in place and retried by the next scan, an event `error`.
//     storage_full ends the scan: what is left waits for the next one.
// .rejected/ is never emptied by the gateway. Directories of unknown feeds and files at the
// spool's top level are left alone and reported (never deleted, never taken). The spool and feed
// directories must be real directories, not symlinks (prepare() refuses them; a scan reports
// them and takes nothing from them).
//
// Logging: one line per event, and once per thing left alone (again only if it goes away and
// comes back). File names are the partner's and may say anything (even who an extract is
// about: "Smith John 1980-01-01.csv"), so logs never show them: only name_for_log()'s salted
// token, the feed and the pseudonymous extract id. The names stay on disk (.rejected/) and in
// the events, for the store.
//
// Thread-safety: none. scan() blocks (it hashes files, through the store): run it where the
// ExtractStore is owned, off the I/O thread.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/error_code.hpp>

#include "base/errc.h"

namespace svd::ingest {

class ExtractStore;

struct SpoolOptions {
  std::filesystem::path dir;       // <state_dir>/spool
  std::vector<std::string> feeds;  // feed ids (valid_identity): one directory each
  std::chrono::seconds settle{0};  // see above; 0 = a file is complete once it has its name
  // Larger files go to .rejected/. The daemon sets it (from the storage quota); no limit unless set.
  std::uint64_t max_bytes = std::numeric_limits<std::uint64_t>::max();
  // The time used for the settle rule; empty = std::chrono::system_clock::now (a test seam).
  std::function<std::chrono::system_clock::time_point()> now;
};

struct SpoolEvent {
  enum class What { accepted, same, conflict, too_large, error };
  std::string feed;
  std::string name;  // the raw file name: never logged (name_for_log())
  What what = What::error;
  std::string extract_id;  // accepted, same: the extract; conflict: the one holding the name
  boost::system::error_code error;  // error: what failed (svd::errc)
  std::string detail;  // for people: the step that failed, or the name in .rejected/
};

std::string_view to_string(SpoolEvent::What what);

// "file#" and 12 hex digits of SHA-256(a per-process random salt || name): what logs show of a
// file name.
std::string name_for_log(std::string_view name);

class Spool {
 public:
  using Log = std::function<void(const std::string&)>;

  Spool(SpoolOptions options, Log log);
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Creates the spool directory and one directory per feed (0700; existing ones are kept as they
  // are). Errors: io_error (a path exists and is not a directory, or cannot be created).
  result<void> prepare();

  // Takes every complete file of every feed into `store`, in name order per feed; returns what
  // became of each file it acted on (files waiting to settle produce nothing).
  std::vector<SpoolEvent> scan(ExtractStore& store);

 private:
  struct Seen {
    std::uint64_t size = 0;
    std::chrono::system_clock::time_point mtime;
    std::chrono::system_clock::time_point since;  // when this size and mtime were first seen
  };
  struct Scan;  // one scan's working state (spool.cpp)

  void scan_feed(const std::string& feed, Scan& scan);
  bool settled(const std::string& key, const Seen& now_seen, Scan& scan);
  void take(int dir_fd, const std::string& feed, const std::string& name, bool has_marker, Scan& scan);
  SpoolEvent set_aside(int dir_fd, const std::string& name, bool has_marker, SpoolEvent event);
  void report(const SpoolEvent& event);

  SpoolOptions options_;
  Log log_;
  std::map<std::string, Seen> seen_;  // "<feed>/<name>" of files waiting to settle
  std::set<std::string> noticed_;     // what was left alone at the last scan (reported once)
};

// Tells the daemon when to scan: inotify on every feed directory for IN_CLOSE_WRITE (a file
// written in place, or a marker created) and IN_MOVED_TO (NAME.part renamed to NAME, or a file
// moved in). Not a substitute for a periodic scan: settle times run out without any event, the
// queue can overflow (then drain() still returns true), and a feed directory replaced after
// open() is no longer watched.
//
// From Asio: wrap fd() in a posix::stream_descriptor, async_wait(wait_read), call drain(), then
// scan; release() the descriptor before the SpoolWatch goes (SpoolWatch owns and closes fd()).
// Thread-safety: none.
class SpoolWatch {
 public:
  // inotify_init1(IN_CLOEXEC | IN_NONBLOCK), one watch per <dir>/<feed>. Errors: io_error (no
  // inotify instance or watch available, or a feed directory missing: prepare() first).
  static result<SpoolWatch> open(const std::filesystem::path& dir, const std::vector<std::string>& feeds);
  SpoolWatch(SpoolWatch&& other) noexcept;
  SpoolWatch& operator=(SpoolWatch&& other) noexcept;
  ~SpoolWatch();

  int fd() const { return fd_; }
  // Reads every pending event without blocking; true if there was any (time to scan).
  bool drain();

 private:
  explicit SpoolWatch(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace svd::ingest

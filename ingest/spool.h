#pragma once
// The spool directory: export jobs that cannot use the HTTPS upload API drop extracts into
// <state_dir>/spool/<feed>/, and scan() takes each complete file into the extract store. A file
// NAME is complete when NAME.ready exists or NAME has not changed for `settle`; *.part, *.ready,
// hidden names and anything but a regular file are never taken. Taking is link into incoming/,
// ExtractStore::accept, then unlink the marker and NAME, so a crash never loses or doubles a file;
// the link must be the very file that was checked (same inode, same size), or it is undone and
// NAME left for the next scan.
// Too large or a name conflict: moved to <feed>/.rejected/; any other error: left for the next
// scan. The full contract with exporters: docs/daemon.md, "The spool directory".
//
// Logs never show a file name (it may identify someone): only name_for_log()'s salted token.
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

#include <sys/stat.h>

#include <boost/system/error_code.hpp>

#include "base/clock.h"
#include "base/errc.h"

namespace svd::ingest {

class ExtractStore;

struct SpoolOptions {
  std::filesystem::path dir;       // <state_dir>/spool
  std::vector<std::string> feeds;  // feed ids (valid_identity): one directory each
  std::chrono::seconds settle{0};  // see above; 0 = a file is complete once it has its name
  // Larger files go to .rejected/. The daemon sets it to [http] max_extract_bytes; no limit unless set.
  std::uint64_t max_bytes = std::numeric_limits<std::uint64_t>::max();
  // What the settle rule measures with; tests give a FakeClock.
  const Clock* clock = &Clock::system();
  // Runs between a file's check and its link into incoming/: a test seam for a file replaced in
  // that window. The daemon leaves it empty.
  std::function<void(const std::string& feed, const std::string& name)> checked;
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
  void take(int dir_fd, const std::string& feed, const std::string& name, const struct stat& checked, bool has_marker,
            Scan& scan);
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

#include "ingest/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <random>
#include <system_error>
#include <utility>

#include "base/unique_fd.h"
#include "crypto/sha256.h"
#include "ingest/extract_store.h"

namespace svd::ingest {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

namespace {

constexpr std::string_view kPart = ".part";
constexpr std::string_view kReady = ".ready";
constexpr const char* kRejected = ".rejected";


std::string errno_text(int e) { return std::generic_category().message(e); }

// Names in a directory, without "." and "..", sorted (so scans are deterministic). Takes no
// ownership of dir_fd. Errors: the errno.
int list_names(int dir_fd, std::vector<std::string>& names) {
  const int copy = ::dup(dir_fd);
  if (copy < 0) return errno;
  DIR* d = ::fdopendir(copy);
  if (d == nullptr) {
    const int e = errno;
    ::close(copy);
    return e;
  }
  ::rewinddir(d);  // the copy shares the offset with dir_fd
  int e = 0;
  for (;;) {
    errno = 0;
    const dirent* ent = ::readdir(d);
    if (ent == nullptr) {
      e = errno;
      break;
    }
    const std::string_view n = ent->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return e;
}

bool contains(const std::vector<std::string>& sorted, const std::string& name) {
  return std::binary_search(sorted.begin(), sorted.end(), name);
}

Clock::time_point mtime_of(const struct stat& st) {
  const auto since_epoch = std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec);
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(since_epoch));
}

result<void> make_dir(const fs::path& p) {
  if (::mkdir(p.c_str(), 0700) == 0) return {};
  if (errno != EEXIST) return errc::io_error;
  struct stat st {};
  // A symlink in its place is refused too: the scan opens these with O_NOFOLLOW.
  if (::lstat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return errc::io_error;
  return {};
}

}  // namespace

struct Spool::Scan {
  ExtractStore& store;
  Clock::time_point now;
  std::vector<SpoolEvent> events;
  std::set<std::string> notices;    // things left alone, as log lines
  std::set<std::string> seen_keys;  // files waiting to settle, seen by this scan
  bool stop = false;                // storage_full: leave the rest for the next scan
};

std::string_view to_string(SpoolEvent::What what) {
  switch (what) {
    case SpoolEvent::What::accepted: return "accepted";
    case SpoolEvent::What::same: return "same";
    case SpoolEvent::What::conflict: return "conflict";
    case SpoolEvent::What::too_large: return "too_large";
    case SpoolEvent::What::error: return "error";
  }
  return "?";
}

std::string name_for_log(std::string_view name) {
  // A salt drawn once per process: the same name gives the same token within a run (so an
  // operator can follow one file through the log), and a token cannot be tested against guessed
  // names ("Smith John 1980-01-01.csv") without the salt, which is never written anywhere.
  static const std::string salt = [] {
    std::random_device rd;
    std::string s(32, '\0');
    for (char& c : s) c = static_cast<char>(rd());
    return s;
  }();
  crypto::Sha256 h;
  h.update(salt);
  h.update(name);
  return "file#" + h.finish_hex().substr(0, 12);
}

Spool::Spool(SpoolOptions options, Log log) : options_(std::move(options)), log_(std::move(log)) {
  // Feed ids come from the validated config ([a-z0-9-]): each is one plain directory name.
  for ([[maybe_unused]] const std::string& feed : options_.feeds)
    assert(!feed.empty() && feed[0] != '.' && feed.find('/') == std::string::npos);
}

result<void> Spool::prepare() {
  if (auto r = make_dir(options_.dir); !r) return r;
  for (const std::string& feed : options_.feeds)
    if (auto r = make_dir(options_.dir / feed); !r) return r;
  return {};
}

std::vector<SpoolEvent> Spool::scan(ExtractStore& store) {
  Scan scan{store, options_.clock->now(), {}, {}, {}, false};

  // The top level holds only the feeds' directories; anything else is somebody's mistake, which
  // we report and leave for them to sort out.
  std::vector<std::string> top;
  const UniqueFd top_fd(::open(options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  const int e = top_fd ? list_names(top_fd.get(), top) : errno;
  if (e != 0) scan.notices.insert("spool: cannot read the spool directory: " + errno_text(e));
  for (const std::string& name : top) {
    if (name[0] == '.') continue;
    struct stat st {};
    const bool is_dir = ::fstatat(top_fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    if (is_dir && std::find(options_.feeds.begin(), options_.feeds.end(), name) != options_.feeds.end()) continue;
    scan.notices.insert("spool: " + name_for_log(name) +
                        (is_dir ? ": not the directory of a configured feed, left alone"
                                : ": not a feed's directory (files go into spool/<feed>/), left alone"));
  }

  for (const std::string& feed : options_.feeds) {
    if (scan.stop) break;
    scan_feed(feed, scan);
  }

  // Forget files that went away (or were taken) so the map stays as small as the spool.
  std::erase_if(seen_, [&](const auto& kv) { return !scan.seen_keys.contains(kv.first); });
  for (const std::string& line : scan.notices)
    if (!noticed_.contains(line)) log_(line);
  noticed_ = std::move(scan.notices);
  return std::move(scan.events);
}

void Spool::scan_feed(const std::string& feed, Scan& scan) {
  const fs::path dir = options_.dir / feed;
  const UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  std::vector<std::string> names;
  const int e = dir_fd ? list_names(dir_fd.get(), names) : errno;
  if (e != 0) {
    scan.notices.insert("spool: " + feed + ": cannot read the feed's directory: " + errno_text(e));
    if (!dir_fd) return;
  }

  for (const std::string& name : names) {
    if (scan.stop) return;
    if (name[0] == '.' || name.ends_with(kPart)) continue;
    if (name.ends_with(kReady)) {
      const std::string file = name.substr(0, name.size() - kReady.size());
      if (file.empty() || !contains(names, file))
        scan.notices.insert("spool: " + feed + "/" + name_for_log(name) +
                            ": a .ready marker without its file, left alone");
      continue;
    }
    struct stat st {};
    if (::fstatat(dir_fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT)  // ENOENT: gone since the listing, nothing to do
        scan.notices.insert("spool: " + feed + "/" + name_for_log(name) + ": cannot stat: " + errno_text(errno));
      continue;
    }
    if (!S_ISREG(st.st_mode)) {
      scan.notices.insert("spool: " + feed + "/" + name_for_log(name) + ": not a regular file, left alone");
      continue;
    }
    const bool has_marker = contains(names, name + std::string(kReady));
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (!has_marker && !settled(feed + "/" + name, Seen{size, mtime_of(st), scan.now}, scan)) continue;

    if (size > options_.max_bytes) {
      SpoolEvent ev{feed, name, SpoolEvent::What::too_large, {}, {}, {}};
      ev.detail = std::to_string(size) + " bytes, more than the limit of " + std::to_string(options_.max_bytes);
      ev = set_aside(dir_fd.get(), name, has_marker, std::move(ev));
      report(ev);
      scan.events.push_back(std::move(ev));
      continue;
    }
    if (options_.checked) options_.checked(feed, name);
    take(dir_fd.get(), feed, name, st, has_marker, scan);
  }
}

// A file without a marker is complete once its size and mtime have stayed the same for the
// settle time: judged by its mtime (so a file that was already old when first seen, e.g. at
// start, is taken at once), or by how long this Spool has seen it unchanged (so an mtime in the
// future — a skewed clock on the exporter's side — delays it by the settle time, not for ever).
bool Spool::settled(const std::string& key, const Seen& now_seen, Scan& scan) {
  if (options_.settle.count() == 0) return true;
  scan.seen_keys.insert(key);
  auto [it, inserted] = seen_.try_emplace(key, now_seen);
  Seen& s = it->second;
  if (!inserted && (s.size != now_seen.size || s.mtime != now_seen.mtime)) s = now_seen;
  return scan.now - s.mtime >= options_.settle || scan.now - s.since >= options_.settle;
}

void Spool::take(int dir_fd, const std::string& feed, const std::string& name, const struct stat& checked,
                 bool has_marker, Scan& scan) {
  SpoolEvent ev{feed, name, SpoolEvent::What::error, {}, {}, {}};
  auto fail = [&](boost::system::error_code ec, std::string detail) {
    ev.error = ec;
    ev.detail = std::move(detail) + "; left in place for the next scan";
    if (ec == errc::storage_full) scan.stop = true;
    report(ev);
    scan.events.push_back(std::move(ev));
  };

  auto incoming = scan.store.new_incoming();
  if (!incoming) return fail(incoming.error(), "no place in the store's incoming/");
  // new_incoming() created an empty file there; the link takes its name. A link, not a rename:
  // NAME stays in the spool until the store has accepted it, so a crash loses nothing (header).
  ::unlink(incoming->c_str());
  if (::linkat(dir_fd, name.c_str(), AT_FDCWD, incoming->c_str(), 0) != 0) {
    const int e = errno;
    return fail(errc::io_error, "cannot link into the store's incoming/: " + errno_text(e));
  }
  // NAME may have been replaced since it was checked (by a symbolic link, another file, a larger
  // one): only the checked file, whole, is taken.
  struct stat linked {};
  if (::lstat(incoming->c_str(), &linked) != 0 || !S_ISREG(linked.st_mode) || linked.st_dev != checked.st_dev ||
      linked.st_ino != checked.st_ino || linked.st_size != checked.st_size) {
    ::unlink(incoming->c_str());
    return fail(errc::io_error, "it changed between its check and its link into the store");
  }
  auto accepted = scan.store.accept(*incoming, feed, name, "spool");
  if (!accepted) {
    ::unlink(incoming->c_str());  // the store removes it on failure; this only makes sure
    return fail(accepted.error(), "the store did not accept it");
  }
  ev.extract_id = accepted->extract.id;
  switch (accepted->outcome) {
    case AcceptOutcome::conflict:
      ev.what = SpoolEvent::What::conflict;
      ev.detail = "the name was accepted before with other bytes";
      ev = set_aside(dir_fd, name, has_marker, std::move(ev));
      report(ev);
      scan.events.push_back(std::move(ev));
      return;
    case AcceptOutcome::created: ev.what = SpoolEvent::What::accepted; break;
    case AcceptOutcome::same: ev.what = SpoolEvent::What::same; break;
  }
  // Marker first: a marker left behind could make a later file of this name look complete (so
  // NAME stays if its marker cannot go).
  const std::string marker = name + std::string(kReady);
  if ((has_marker && ::unlinkat(dir_fd, marker.c_str(), 0) != 0 && errno != ENOENT) ||
      (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT)) {
    // Accepted all the same; the next scan finds it again and the store answers `same`.
    ev.detail = "could not be removed from the spool: " + errno_text(errno);
  }
  report(ev);
  scan.events.push_back(std::move(ev));
}

SpoolEvent Spool::set_aside(int dir_fd, const std::string& name, bool has_marker, SpoolEvent event) {
  auto failed = [&](int e) {
    event.detail += "; cannot move it to " + std::string(kRejected) + "/: " + errno_text(e) + ", left in place";
    event.what = SpoolEvent::What::error;
    event.error = errc::io_error;
    return std::move(event);
  };
  if (::mkdirat(dir_fd, kRejected, 0700) != 0 && errno != EEXIST) return failed(errno);
  const UniqueFd rejected(::openat(dir_fd, kRejected, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!rejected) return failed(errno);
  // RENAME_NOREPLACE: an earlier file of the same name in .rejected/ is never overwritten.
  for (int n = 0; n < 1000; ++n) {
    const std::string target = n == 0 ? name : name + "." + std::to_string(n);
    if (::renameat2(dir_fd, name.c_str(), rejected.get(), target.c_str(), RENAME_NOREPLACE) == 0) {
      if (has_marker) ::unlinkat(dir_fd, (name + std::string(kReady)).c_str(), 0);
      event.detail += "; moved to " + std::string(kRejected) + "/" + name_for_log(target);
      return event;
    }
    if (errno != EEXIST) return failed(errno);
  }
  return failed(EEXIST);
}

void Spool::report(const SpoolEvent& event) {
  std::string line = "spool: " + event.feed + "/" + name_for_log(event.name) + ": ";
  line += to_string(event.what);
  if (!event.extract_id.empty()) line += " " + event.extract_id;
  if (event.error) line += ": " + event.error.message();
  if (!event.detail.empty()) line += " (" + event.detail + ")";
  log_(line);
}

// --- SpoolWatch -------------------------------------------------------------------------------

result<SpoolWatch> SpoolWatch::open(const fs::path& dir, const std::vector<std::string>& feeds) {
  const int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) return errc::io_error;
  SpoolWatch watch(fd);
  for (const std::string& feed : feeds) {
    const fs::path p = dir / feed;
    if (::inotify_add_watch(fd, p.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW) < 0)
      return errc::io_error;
  }
  return watch;
}

SpoolWatch::SpoolWatch(SpoolWatch&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

SpoolWatch& SpoolWatch::operator=(SpoolWatch&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

SpoolWatch::~SpoolWatch() {
  if (fd_ >= 0) ::close(fd_);
}

bool SpoolWatch::drain() {
  // Room for many events at once; one event needs at most sizeof(inotify_event) + NAME_MAX + 1.
  alignas(struct inotify_event) char buf[8192];
  bool any = false;
  for (;;) {
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n > 0) {
      any = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return any;  // EAGAIN: drained (other errors cannot be helped by reading again)
  }
}

}  // namespace svd::ingest

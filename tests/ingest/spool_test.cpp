// The spool directory on real files with a real extract store: which files are complete, the
// link -> accept -> unlink order and its crash safety, re-sends and conflicts, what is left
// alone, the size bound, and the inotify watch.

#include "ingest/spool.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <memory>

#include "crypto/sha256.h"
#include "ingest/extract_store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/temp_dir.h"

namespace svd::ingest {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;
using What = SpoolEvent::What;
using namespace std::chrono_literals;

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void set_mtime(const fs::path& p, Clock::time_point t) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  const timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  const timespec times[2] = {ts, ts};
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, 0), 0);
}

// Every name in a directory (hidden ones too), sorted.
std::vector<std::string> names_in(const fs::path& d) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(d)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

using Names = std::vector<std::string>;

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.set_wall(Clock::now());  // simulated time from the real present: the files' times are real
    auto s = ExtractStore::open(state_);
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(*s);
    make_spool();
  }

  void make_spool(std::chrono::seconds settle = 0s, std::uint64_t max_bytes = 1 << 20) {
    SpoolOptions o;
    o.dir = state_ / "spool";
    o.feeds = {"ed-assaults", "death-reports"};
    o.settle = settle;
    o.max_bytes = max_bytes;
    o.clock = &clock_;
    o.checked = checked_;
    spool_ = std::make_unique<Spool>(std::move(o), [this](const std::string& line) { log_.push_back(line); });
    auto r = spool_->prepare();
    ASSERT_TRUE(r) << r.error().message();
  }

  std::vector<SpoolEvent> scan() { return spool_->scan(*store_); }

  fs::path feed_dir(const std::string& feed = "ed-assaults") const { return state_ / "spool" / feed; }

  std::size_t extracts_held() {
    auto u = store_->unfinished();
    EXPECT_TRUE(u);
    return u ? u->size() : 0;
  }

  std::string log_text() const {
    std::string all;
    for (const auto& l : log_) all += l + "\n";
    return all;
  }

  test_support::TempDir tmp_{"svd-spool"};
  const fs::path state_ = tmp_.path() / "state";
  std::unique_ptr<ExtractStore> store_;
  std::unique_ptr<Spool> spool_;
  test_support::FakeClock clock_;
  std::vector<std::string> log_;
  std::function<void(const std::string&, const std::string&)> checked_;  // given to make_spool()
};

const std::string kExtract = "attendance_id,arrival\n1,2026-11-01T10:00\n";

TEST_F(SpoolTest, PrepareCreatesPrivateFeedDirectories) {
  for (const char* feed : {"ed-assaults", "death-reports"}) {
    struct stat st {};
    ASSERT_EQ(::lstat(feed_dir(feed).c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0700u);
  }
  EXPECT_TRUE(spool_->prepare());  // again: nothing to do

  write(state_ / "spool" / "not-a-dir", "x");
  SpoolOptions o;
  o.dir = state_ / "spool";
  o.feeds = {"not-a-dir"};
  Spool bad(std::move(o), [](const std::string&) {});
  EXPECT_FALSE(bad.prepare());
}

TEST_F(SpoolTest, CompleteFileIsTakenAcceptedAndRemoved) {
  write(feed_dir() / "week-47.csv", kExtract);
  const auto ev = scan();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, What::accepted);
  EXPECT_EQ(ev[0].feed, "ed-assaults");
  EXPECT_EQ(ev[0].name, "week-47.csv");
  EXPECT_FALSE(ev[0].error);

  auto got = store_->get(ev[0].extract_id);
  ASSERT_TRUE(got);
  ASSERT_TRUE(*got);
  EXPECT_EQ((*got)->feed, "ed-assaults");
  EXPECT_EQ((*got)->name, "week-47.csv");
  EXPECT_EQ((*got)->client, "spool");
  EXPECT_EQ((*got)->bytes, kExtract.size());
  EXPECT_EQ(read((*got)->file), kExtract);

  EXPECT_EQ(names_in(feed_dir()), Names{});
  EXPECT_EQ(names_in(state_ / "extracts" / "incoming"), Names{});
  EXPECT_TRUE(scan().empty());
  EXPECT_EQ(extracts_held(), 1u);
}

TEST_F(SpoolTest, PartFileIsIgnoredUntilRenamed) {
  write(feed_dir() / "week-47.csv.part", kExtract);
  EXPECT_TRUE(scan().empty());
  EXPECT_EQ(names_in(feed_dir()), Names{"week-47.csv.part"});

  fs::rename(feed_dir() / "week-47.csv.part", feed_dir() / "week-47.csv");
  const auto ev = scan();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, What::accepted);
  EXPECT_EQ(ev[0].name, "week-47.csv");
  EXPECT_EQ(names_in(feed_dir()), Names{});
}

TEST_F(SpoolTest, HiddenFilesAreNeverTaken) {
  write(feed_dir() / ".week-47.csv.XyZ123", kExtract);  // e.g. rsync's temporary file
  EXPECT_TRUE(scan().empty());
  EXPECT_EQ(names_in(feed_dir()), Names{".week-47.csv.XyZ123"});
  EXPECT_EQ(extracts_held(), 0u);
}

TEST_F(SpoolTest, ReadyMarkerMakesAFileCompleteAndIsRemoved) {
  make_spool(3600s);  // a feed written in place: without a marker, only after an hour unchanged
  write(feed_dir() / "week-47.csv", kExtract);
  EXPECT_TRUE(scan().empty());
  EXPECT_EQ(names_in(feed_dir()), Names{"week-47.csv"});

  write(feed_dir() / "week-47.csv.ready", "");
  const auto ev = scan();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, What::accepted);
  EXPECT_EQ(ev[0].name, "week-47.csv");
  EXPECT_EQ(names_in(feed_dir()), Names{});
}

TEST_F(SpoolTest, FileStillChangingIsNotTakenUntilSettled) {
  make_spool(1s);
  const fs::path p = feed_dir() / "week-47.csv";
  write(p, "attendance_id,arrival\n");
  set_mtime(p, clock_.now() - 500ms);
  EXPECT_TRUE(scan().empty());

  // More bytes arrive: size and mtime change, so it starts settling again.
  write(p, kExtract);
  set_mtime(p, clock_.now() + 500ms);
  clock_.advance(1200ms);
  EXPECT_TRUE(scan().empty());

  clock_.advance(800ms);  // 1.5 s since its last change
  const auto ev = scan();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, What::accepted);
  auto got = store_->get(ev[0].extract_id);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(read((*got)->file), kExtract);
  EXPECT_EQ(names_in(feed_dir()), Names{});
}

TEST_F(SpoolTest, FileAlreadyOldWhenFirstSeenIsTakenAtOnce) {
  make_spool(1s);
  const fs::path p = feed_dir() / "week-47.csv";
  write(p, kExtract);
  set_mtime(p, clock_.now() - 2s);  // e.g. waiting while the gateway was down
  const auto ev = scan();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, What::accepted);
}

TEST_F(SpoolTest, FutureMtimeDelaysByTheSettleTimeOnly) {
  make_spool(1s);
  const fs::path p = feed_dir() / "week-47.csv";
  write(p, kExtract);
  set_mtime(p, clock_.now() + 1h);  // the exporter's clock is wrong
  EXPECT_TRUE(scan().empty());
  clock_.advance(500ms);
  EXPECT_TRUE(scan().empty());
  clock_.advance(600ms);  // unchanged for 1.1 s of our own observation
  const auto ev = scan();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, What::accepted);
}

TEST_F(SpoolTest, SameNameSameBytesAgainIsSameAndRemoved) {
  write(feed_dir() / "week-47.csv", kExtract);
  const auto first = scan();
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(first[0].what, What::accepted);

  write(feed_dir() / "week-47.csv", kExtract);
  write(feed_dir() / "week-47.csv.ready", "");
  const auto again = scan();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].what, What::same);
  EXPECT_EQ(again[0].extract_id, first[0].extract_id);
  EXPECT_EQ(names_in(feed_dir()), Names{});
  EXPECT_EQ(extracts_held(), 1u);
}

TEST_F(SpoolTest, SameNameOtherBytesIsConflictAndMovedAside) {
  write(feed_dir() / "week-47.csv", kExtract);
  const auto first = scan();
  ASSERT_EQ(first.size(), 1u);

  const std::string other = kExtract + "2,2026-11-02T11:00\n";
  write(feed_dir() / "week-47.csv", other);
  write(feed_dir() / "week-47.csv.ready", "");
  const auto ev = scan();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, What::conflict);
  EXPECT_EQ(ev[0].extract_id, first[0].extract_id);  // the extract that holds the name
  EXPECT_EQ(names_in(feed_dir()), Names{".rejected"});
  EXPECT_EQ(read(feed_dir() / ".rejected" / "week-47.csv"), other);
  EXPECT_EQ(extracts_held(), 1u);
  EXPECT_EQ(names_in(state_ / "extracts" / "incoming"), Names{});
  EXPECT_TRUE(scan().empty());  // out of the way: not hashed again at every scan

  // Another conflicting file of that name never overwrites the first one set aside.
  const std::string third = kExtract + "3,2026-11-03T12:00\n";
  write(feed_dir() / "week-47.csv", third);
  const auto ev3 = scan();
  ASSERT_EQ(ev3.size(), 1u);
  EXPECT_EQ(ev3[0].what, What::conflict);
  EXPECT_EQ(names_in(feed_dir() / ".rejected"), (Names{"week-47.csv", "week-47.csv.1"}));
  EXPECT_EQ(read(feed_dir() / ".rejected" / "week-47.csv"), other);
  EXPECT_EQ(read(feed_dir() / ".rejected" / "week-47.csv.1"), third);
}

// A crash after the store accepted the hard link but before the spool file was unlinked: the
// next scan must not make a second extract of it.
TEST_F(SpoolTest, CrashBeforeUnlinkGivesSameOnNextScan) {
  const fs::path p = feed_dir() / "week-47.csv";
  write(p, kExtract);
  write(feed_dir() / "week-47.csv.ready", "");
  auto incoming = store_->new_incoming();
  ASSERT_TRUE(incoming);
  fs::remove(*incoming);
  fs::create_hard_link(p, *incoming);
  auto accepted = store_->accept(*incoming, "ed-assaults", "week-47.csv", "spool");
  ASSERT_TRUE(accepted);
  ASSERT_EQ(accepted->outcome, AcceptOutcome::created);

  // "Restart": a new store on the same state directory, a new spool.
  store_.reset();
  auto s = ExtractStore::open(state_);
  ASSERT_TRUE(s);
  store_ = std::move(*s);
  make_spool();

  const auto ev = scan();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, What::same);
  EXPECT_EQ(ev[0].extract_id, accepted->extract.id);
  EXPECT_EQ(names_in(feed_dir()), Names{});
  EXPECT_EQ(extracts_held(), 1u);
  EXPECT_EQ(read(accepted->extract.file), kExtract);
  EXPECT_EQ(names_in(state_ / "extracts" / "incoming"), Names{});
}

TEST_F(SpoolTest, StoreErrorLeavesTheFileForTheNextScan) {
  const fs::path incoming = state_ / "extracts" / "incoming";
  fs::remove(incoming);
  write(incoming, "");  // not a directory now: the store cannot take anything
  write(feed_dir() / "week-47.csv", kExtract);
  write(feed_dir() / "week-47.csv.ready", "");
  const auto ev = scan();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, What::error);
  EXPECT_TRUE(ev[0].error);
  EXPECT_EQ(names_in(feed_dir()), (Names{"week-47.csv", "week-47.csv.ready"}));
  EXPECT_NE(log_text().find("ed-assaults/" + name_for_log("week-47.csv") + ": error"), std::string::npos) << log_text();

  fs::remove(incoming);
  fs::create_directory(incoming);
  const auto retried = scan();
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried[0].what, What::accepted);
  EXPECT_EQ(names_in(feed_dir()), Names{});
}

TEST_F(SpoolTest, ScanLeavesNoDescriptorsOpen) {
  auto open_fds = [] { return std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator{}); };
  const auto before = open_fds();
  make_spool(0s, 4);
  write(feed_dir() / "week-47.csv", kExtract);  // too large: .rejected/ opened
  write(feed_dir() / "x.csv", "x");               // taken
  write(state_ / "spool" / "stray.csv", "x");     // reported
  fs::remove_all(feed_dir("death-reports"));     // reported
  EXPECT_EQ(scan().size(), 2u);
  EXPECT_TRUE(scan().empty());
  EXPECT_EQ(open_fds(), before);
  EXPECT_NE(log_text().find("death-reports: cannot read the feed's directory"), std::string::npos) << log_text();
}

TEST_F(SpoolTest, UnknownFeedDirectoryAndTopLevelFilesAreLeftAloneAndReportedOnce) {
  fs::create_directory(state_ / "spool" / "old-feed");
  write(state_ / "spool" / "old-feed" / "week-1.csv", kExtract);
  write(state_ / "spool" / "week-47.csv", kExtract);
  EXPECT_TRUE(scan().empty());
  EXPECT_TRUE(scan().empty());

  EXPECT_EQ(read(state_ / "spool" / "old-feed" / "week-1.csv"), kExtract);
  EXPECT_EQ(read(state_ / "spool" / "week-47.csv"), kExtract);
  EXPECT_EQ(extracts_held(), 0u);
  ASSERT_EQ(log_.size(), 2u) << log_text();  // once each, not at every scan
  EXPECT_NE(log_text().find(name_for_log("old-feed") + ": not the directory of a configured feed"), std::string::npos) << log_text();
  EXPECT_NE(log_text().find(name_for_log("week-47.csv") + ": not a feed's directory"), std::string::npos) << log_text();

  // Gone and back again: reported again.
  fs::remove(state_ / "spool" / "week-47.csv");
  scan();
  write(state_ / "spool" / "week-47.csv", kExtract);
  scan();
  EXPECT_EQ(log_.size(), 3u) << log_text();
}

TEST_F(SpoolTest, SymlinksAndOrphanMarkersAreLeftAlone) {
  const fs::path secret = tmp_.path() / "secret.csv";
  write(secret, kExtract);
  fs::create_symlink(secret, feed_dir() / "link.csv");
  write(feed_dir() / "gone.csv.ready", "");
  EXPECT_TRUE(scan().empty());
  EXPECT_EQ(names_in(feed_dir()), (Names{"gone.csv.ready", "link.csv"}));
  EXPECT_EQ(extracts_held(), 0u);
  EXPECT_NE(log_text().find(name_for_log("link.csv") + ": not a regular file"), std::string::npos) << log_text();
  EXPECT_NE(log_text().find(name_for_log("gone.csv.ready") + ": a .ready marker without its file"), std::string::npos) << log_text();
}

// What an exporter (or anyone who can write the spool) swaps in after the scan has looked at a
// file is never what the store takes: not a symbolic link to a file the gateway may read, not
// more bytes than were checked against the limit.
TEST_F(SpoolTest, AFileChangedBetweenItsCheckAndItsLinkIsLeftForTheNextScan) {
  const fs::path secret = tmp_.path() / "secret.csv";
  write(secret, "not for the hub\n");
  const fs::path file = feed_dir() / "week-48.csv";
  int calls = 0;
  checked_ = [&](const std::string&, const std::string& name) {
    if (name != "week-48.csv" || ++calls > 2) return;
    if (calls == 1) {  // replaced by a symbolic link
      fs::create_symlink(secret, feed_dir() / "tmp-link");
      fs::rename(feed_dir() / "tmp-link", file);
    } else {  // the same file, grown
      std::ofstream(file, std::ios::app) << "3,2026-11-02T09:00\n";
    }
  };
  make_spool();
  write(file, kExtract);
  write(feed_dir() / "week-48.csv.ready", "");
  auto ev = scan();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, What::error);
  EXPECT_NE(ev[0].detail.find("changed between its check and its link"), std::string::npos) << ev[0].detail;
  EXPECT_EQ(extracts_held(), 0u);
  EXPECT_TRUE(fs::is_empty(state_ / "extracts" / "incoming")) << "the link is undone";
  EXPECT_EQ(read(secret), "not for the hub\n");

  // The link is seen for what it is on the next scan; a regular file in its place, grown after
  // its check, is not taken either; the scan after that takes it whole.
  fs::remove(file);
  write(file, kExtract);
  ev = scan();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, What::error);
  EXPECT_EQ(extracts_held(), 0u);
  ev = scan();
  ASSERT_EQ(ev.size(), 1u);
  ASSERT_EQ(ev[0].what, What::accepted);
  auto held = store_->unfinished();
  ASSERT_TRUE(held);
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ(read(held->at(0).file), kExtract + "3,2026-11-02T09:00\n");
  EXPECT_EQ(names_in(feed_dir()), Names{});
}

TEST_F(SpoolTest, OversizeFileIsMovedToRejected) {
  make_spool(0s, kExtract.size());
  write(feed_dir() / "big.csv", kExtract + "x");
  write(feed_dir() / "big.csv.ready", "");
  write(feed_dir() / "fits.csv", kExtract);
  const auto ev = scan();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].name, "big.csv");
  EXPECT_EQ(ev[0].what, What::too_large);
  EXPECT_NE(ev[0].detail.find("moved to .rejected/" + name_for_log("big.csv")), std::string::npos) << ev[0].detail;
  EXPECT_EQ(ev[1].name, "fits.csv");
  EXPECT_EQ(ev[1].what, What::accepted);

  EXPECT_EQ(names_in(feed_dir()), Names{".rejected"});
  EXPECT_EQ(names_in(feed_dir() / ".rejected"), Names{"big.csv"});
  EXPECT_EQ(extracts_held(), 1u);
  EXPECT_NE(log_text().find("ed-assaults/" + name_for_log("big.csv") + ": too_large"), std::string::npos) << log_text();
}

TEST_F(SpoolTest, LogsNeverShowFileNames) {
  const std::string name = "Smith, John 1980-01-01\n.csv";
  write(feed_dir() / name, kExtract);
  const auto ev = scan();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].name, name);  // the event has the real name, for the store
  for (const char* part : {"Smith", "John", "1980"})
    EXPECT_EQ(log_text().find(part), std::string::npos) << log_text();
  EXPECT_NE(log_text().find("ed-assaults/" + name_for_log(name) + ": accepted"), std::string::npos) << log_text();
}

TEST(SpoolName, ForLogIsAStableSaltedToken) {
  const std::string a = name_for_log("week-47.csv");
  EXPECT_EQ(a, name_for_log("week-47.csv"));
  EXPECT_NE(a, name_for_log("week-48.csv"));
  ASSERT_EQ(a.size(), 5u + 12u);
  EXPECT_EQ(a.substr(0, 5), "file#");
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef", 5), std::string::npos);
  // Salted: not the plain digest of the name.
  EXPECT_NE(a.substr(5), crypto::sha256_hex("week-47.csv").substr(0, 12));
}

// Waits up to `ms` for the watch's descriptor to become readable.
bool readable(const SpoolWatch& w, int ms) {
  pollfd p{w.fd(), POLLIN, 0};
  return ::poll(&p, 1, ms) == 1 && (p.revents & POLLIN) != 0;
}

TEST_F(SpoolTest, WatchSeesCloseWriteAndMovedTo) {
  auto w = SpoolWatch::open(state_ / "spool", {"ed-assaults", "death-reports"});
  ASSERT_TRUE(w) << w.error().message();
  EXPECT_FALSE(readable(*w, 0));
  EXPECT_FALSE(w->drain());

  write(feed_dir("death-reports") / "week-47.csv", kExtract);  // IN_CLOSE_WRITE
  EXPECT_TRUE(readable(*w, 2000));
  EXPECT_TRUE(w->drain());
  EXPECT_FALSE(w->drain());
  EXPECT_FALSE(readable(*w, 0));

  // A .part written elsewhere and moved in (IN_MOVED_TO): the rename, here from the top level.
  write(state_ / "spool" / ".staging", kExtract);
  EXPECT_FALSE(readable(*w, 0));  // the top level is not watched
  fs::rename(state_ / "spool" / ".staging", feed_dir() / "week-48.csv");
  EXPECT_TRUE(readable(*w, 2000));
  EXPECT_TRUE(w->drain());

  // The usual case: NAME.part written in the feed's directory, then renamed to NAME.
  write(feed_dir() / "week-50.csv.part", kExtract);
  EXPECT_TRUE(w->drain());
  fs::rename(feed_dir() / "week-50.csv.part", feed_dir() / "week-50.csv");
  EXPECT_TRUE(readable(*w, 2000));
  EXPECT_TRUE(w->drain());

  // Moved: the new owner watches, the old one is empty.
  SpoolWatch moved = std::move(*w);
  EXPECT_EQ(w->fd(), -1);
  write(feed_dir() / "week-49.csv", kExtract);
  EXPECT_TRUE(readable(moved, 2000));
  EXPECT_TRUE(moved.drain());
}

TEST_F(SpoolTest, WatchNeedsTheFeedDirectories) {
  EXPECT_FALSE(SpoolWatch::open(state_ / "spool", {"no-such-feed"}));
}

}  // namespace
}  // namespace svd::ingest

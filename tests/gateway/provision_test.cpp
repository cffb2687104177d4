// svdgw provision against real files in a temporary directory: the keys it makes, what a second
// run keeps, what it refuses, and the requests going through OpenSSL's own tools and a test CA.

#include "gateway/provision.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/csr.h"
#include "crypto/linkage_key.h"
#include "crypto/signing_key.h"
#include "tests/support/key_files.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace svd::gateway {
namespace {

namespace fs = std::filesystem;

using test_support::mode_of;
using test_support::read_file;
using test_support::write_file;

struct Command {
  int exit_code = -1;
  std::string out, err;
};

// Runs a command line (no shell: split into words as a shell would, quotes included) with its
// streams captured apart.
Command run(const std::string& command, const fs::path& scratch) {
  auto r = test_support::run(test_support::split_words(command), {.output_dir = scratch});
  return {r.exit_code, std::move(r.out), std::move(r.err)};
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::string current_user() {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw ? pw->pw_name : "";
}

const ProvisionedFile* find_file(const ProvisionResult& r, const fs::path& p) {
  for (const auto& f : r.files)
    if (f.path == p) return &f;
  return nullptr;
}

std::string all_problems(const ProvisionResult& r) {
  std::string text;
  for (const auto& p : r.problems) text += p + '\n';
  return text;
}

class ProvisionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(etc());
    fs::copy(fs::path(SVD_EXAMPLES_DIR) / "schemas", etc() / "schemas", fs::copy_options::recursive);
    write_config();
    fs::create_directories(usb());
    make_source_key(source_key());
  }

  // As it arrives on a FAT stick: readable by everyone.
  void make_source_key(const fs::path& file) {
    ASSERT_TRUE(crypto::generate_linkage_key(file));
    ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  }

  void write_config(const std::string& partner = "northgate-ed", bool http = true) {
    std::string text = "[gateway]\npartner = \"" + partner + "\"\nstate_dir = \"" + (dir_ / "state").string() +
                       "\"\n\n[linkage_key]\nfile = \"linkage.key\"\nid = \"k2026a\"\n\n"
                       "[hub]\nhost = \"localhost\"\nport = 8883\nca = \"pki/hub-ca.crt\"\n"
                       "cert = \"pki/northgate-ed.crt\"\nkey = \"pki/northgate-ed.key\"\n\n";
    if (http)
      text +=
          "[http]\nport = 8443\ncert = \"pki/server/gateway.crt\"\nkey = \"pki/server/gateway.key\"\n"
          "client_ca = \"pki/hub-ca.crt\"\n\n";
    text +=
        "[audit]\ndevice_key = \"device.key\"\n\n"
        "[[feed]]\nid = \"ed-assaults\"\nschema = \"schemas/ed-assaults.json\"\n"
        "allowed_clients = [\"northgate-ed-export\"]\n";
    write_file(config(), text, 0644);
  }

  void write_config_text(const std::string& text) { write_file(config(), text, 0644); }

  ProvisionOptions options() const {
    ProvisionOptions o;
    o.config = config();
    o.linkage_key = source_key();
    o.user = current_user();
    o.server_names = {"gw.northgate.example", "upload.northgate.example"};
    return o;
  }

  ProvisionResult provision(const ProvisionOptions& o) {
    output_.str("");
    return provision_appliance(o, output_);
  }

  fs::path etc() const { return dir_ / "etc"; }
  fs::path usb() const { return dir_ / "usb"; }
  fs::path config() const { return etc() / "svdgw.toml"; }
  fs::path source_key() const { return usb() / "area.key"; }
  fs::path linkage() const { return etc() / "linkage.key"; }
  fs::path pki() const { return etc() / "pki"; }
  fs::path hub_key() const { return pki() / "northgate-ed.key"; }
  fs::path hub_csr() const { return pki() / "northgate-ed.csr"; }
  fs::path hub_cert() const { return pki() / "northgate-ed.crt"; }
  fs::path api_key() const { return pki() / "server" / "gateway.key"; }
  fs::path api_csr() const { return pki() / "server" / "gateway.csr"; }
  fs::path api_cert() const { return pki() / "server" / "gateway.crt"; }
  fs::path device_key() const { return etc() / "device.key"; }
  fs::path device_pub() const { return etc() / "device.pub"; }

  std::vector<fs::path> made_files() const {
    return {linkage(), hub_key(), hub_csr(), api_key(), api_csr(), device_key(), device_pub()};
  }

  test_support::TempDir tmp_{"svd-provision"};
  const fs::path& dir_ = tmp_.path();
  std::ostringstream output_;
};

TEST_F(ProvisionTest, AFreshRunMakesEveryFileWithItsMode) {
  const ProvisionResult r = provision(options());
  ASSERT_TRUE(r.ok()) << all_problems(r);
  EXPECT_EQ(r.partner, "northgate-ed");
  EXPECT_EQ(r.owner, current_user());

  for (const auto& f : made_files()) {
    const ProvisionedFile* entry = find_file(r, f);
    ASSERT_NE(entry, nullptr) << f << " not reported\n" << output_.str();
    EXPECT_EQ(entry->action, FileAction::created) << f;
  }
  for (const auto& key : {linkage(), hub_key(), api_key(), device_key()}) EXPECT_EQ(mode_of(key), 0600u) << key;
  for (const auto& pub : {hub_csr(), api_csr(), device_pub()}) EXPECT_EQ(mode_of(pub), 0644u) << pub;
  // The directories on the way were made, closed to others.
  EXPECT_EQ(mode_of(pki()), 0750u);
  EXPECT_EQ(mode_of(pki() / "server"), 0750u);
  ASSERT_NE(find_file(r, pki()), nullptr);
  EXPECT_EQ(r.count(FileAction::created), made_files().size() + 2);

  // The linkage key is a byte-for-byte copy; the others are the keys the daemon loads.
  EXPECT_EQ(read_file(linkage()), read_file(source_key()));
  auto linkage_key = crypto::load_linkage_key(linkage(), "k2026a");
  ASSERT_TRUE(linkage_key);
  ASSERT_EQ(r.linkage_key_fingerprints.size(), 1u);
  EXPECT_EQ(r.linkage_key_fingerprints[0], "k2026a  " + crypto::fingerprint(*linkage_key));
  auto device = crypto::load_signing_key(device_key());
  ASSERT_TRUE(device);
  EXPECT_EQ(r.device_key_fingerprint, crypto::fingerprint(device->public_key()));
  EXPECT_EQ(read_file(device_pub()), crypto::public_key_pem(device->public_key()));
  EXPECT_EQ(crypto::read_tls_key(hub_key())->algorithm, "EC P-256");

  auto hub = crypto::read_csr(hub_csr());
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->common_name, "northgate-ed");
  EXPECT_TRUE(hub->dns_names.empty());
  auto api = crypto::read_csr(api_csr());
  ASSERT_TRUE(api);
  EXPECT_EQ(api->common_name, "gw.northgate.example");
  EXPECT_EQ(api->dns_names, (std::vector<std::string>{"gw.northgate.example", "upload.northgate.example"}));

  // No certificate yet: that is the next step, not a failure.
  ASSERT_EQ(r.certificates.size(), 2u);
  for (const auto& c : r.certificates) EXPECT_EQ(c.state, CertificateStatus::State::missing);
  EXPECT_TRUE(r.certificates_ok());
}

TEST_F(ProvisionTest, TheCsrsPublicKeyIsTheKeyFiles) {
  ASSERT_TRUE(provision(options()).ok());
  for (const auto& [key, csr] : {std::pair{hub_key(), hub_csr()}, std::pair{api_key(), api_csr()}}) {
    auto info = crypto::read_tls_key(key);
    auto req = crypto::read_csr(csr);
    ASSERT_TRUE(info && req);
    EXPECT_TRUE(req->signature_valid);
    EXPECT_EQ(req->public_key_sha256, info->public_key_sha256);
    // And as OpenSSL's tools see it.
    const Command from_csr = run("openssl req -noout -pubkey -in " + q(csr), dir_);
    const Command from_key = run("openssl pkey -pubout -in " + q(key), dir_);
    ASSERT_EQ(from_csr.exit_code, 0) << from_csr.err;
    ASSERT_EQ(from_key.exit_code, 0) << from_key.err;
    EXPECT_EQ(from_csr.out, from_key.out);
    EXPECT_TRUE(from_key.out.starts_with("-----BEGIN PUBLIC KEY-----"));
  }
  // The two TLS keys are two keys.
  EXPECT_NE(crypto::read_tls_key(hub_key())->public_key_sha256, crypto::read_tls_key(api_key())->public_key_sha256);
}

TEST_F(ProvisionTest, ASecondRunKeepsEveryFileAndMakesNothing) {
  ASSERT_TRUE(provision(options()).ok());
  std::map<fs::path, std::string> before;
  std::map<fs::path, fs::file_time_type> times;
  for (const auto& f : made_files()) {
    before[f] = read_file(f);
    times[f] = fs::last_write_time(f);
  }

  const ProvisionResult again = provision(options());
  ASSERT_TRUE(again.ok()) << all_problems(again);
  EXPECT_EQ(again.count(FileAction::created), 0u) << output_.str();
  EXPECT_EQ(again.count(FileAction::replaced), 0u) << output_.str();
  EXPECT_EQ(again.count(FileAction::kept), made_files().size());
  for (const auto& f : made_files()) {
    const ProvisionedFile* entry = find_file(again, f);
    ASSERT_NE(entry, nullptr) << f;
    EXPECT_EQ(entry->action, FileAction::kept) << f;
    EXPECT_EQ(read_file(f), before[f]) << f;
    EXPECT_EQ(fs::last_write_time(f), times[f]) << f;
  }
  EXPECT_NE(output_.str().find("  kept     " + linkage().string()), std::string::npos) << output_.str();
  EXPECT_EQ(output_.str().find("created"), std::string::npos) << output_.str();

  // Without --linkage-key and --server-name (what is there is enough), it still keeps it all.
  ProvisionOptions bare = options();
  bare.linkage_key.clear();
  bare.server_names.clear();
  const ProvisionResult third = provision(bare);
  ASSERT_TRUE(third.ok()) << all_problems(third);
  EXPECT_EQ(third.count(FileAction::kept), made_files().size());
}

TEST_F(ProvisionTest, AnotherLinkageKeyIsRefusedWithoutForceAndReplacedWithIt) {
  ASSERT_TRUE(provision(options()).ok());
  const std::string first = read_file(linkage());
  const fs::path other = usb() / "other.key";
  make_source_key(other);
  ProvisionOptions o = options();
  o.linkage_key = other;

  const ProvisionResult refused = provision(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_FALSE(refused.stopped_midway);
  const std::string problem = all_problems(refused);
  EXPECT_NE(
      problem.find(linkage().string() + ": holds another linkage key than " + other.string() + " [key_file_exists]"),
      std::string::npos)
      << problem;
  EXPECT_NE(problem.find("--force"), std::string::npos) << problem;
  EXPECT_EQ(read_file(linkage()), first);
  EXPECT_FALSE(fs::exists(etc() / "linkage.key.old"));
  // No copy of either key is left lying about.
  EXPECT_FALSE(fs::exists(etc() / "linkage.key.provisioning"));

  o.force = true;
  const ProvisionResult replaced = provision(o);
  ASSERT_TRUE(replaced.ok()) << all_problems(replaced);
  const ProvisionedFile* entry = find_file(replaced, linkage());
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->action, FileAction::replaced);
  EXPECT_EQ(entry->previous, etc() / "linkage.key.old");
  EXPECT_EQ(read_file(linkage()), read_file(other));
  EXPECT_EQ(read_file(etc() / "linkage.key.old"), first);
  EXPECT_EQ(mode_of(linkage()), 0600u);
  EXPECT_EQ(mode_of(etc() / "linkage.key.old"), 0600u);
  // --force replaces only what differs: every other key is kept.
  EXPECT_EQ(replaced.count(FileAction::replaced), 1u) << output_.str();

  // A third key: the first .old is not overwritten.
  const fs::path third = usb() / "third.key";
  make_source_key(third);
  o.linkage_key = third;
  const ProvisionResult again = provision(o);
  ASSERT_TRUE(again.ok()) << all_problems(again);
  EXPECT_EQ(read_file(etc() / "linkage.key.old"), first);
  EXPECT_EQ(read_file(etc() / "linkage.key.old.2"), read_file(other));

  // The same key again, even written with CRLF and in capitals, is the same key.
  const std::string text = read_file(third);
  std::string windows = text.substr(0, 64);
  std::transform(windows.begin(), windows.end(), windows.begin(),
                 [](char c) { return static_cast<char>(std::toupper(c)); });
  write_file(usb() / "windows.key", windows + "\r\n", 0644);
  o.linkage_key = usb() / "windows.key";
  o.force = false;
  const ProvisionResult same = provision(o);
  ASSERT_TRUE(same.ok()) << all_problems(same);
  EXPECT_EQ(find_file(same, linkage())->action, FileAction::kept);
}

TEST_F(ProvisionTest, ASourceThatIsNotALinkageKeyIsRefusedAndNothingIsLeftBehind) {
  write_file(usb() / "notes.txt", "the key is on the other stick\n", 0644);
  ProvisionOptions o = options();
  o.linkage_key = usb() / "notes.txt";
  const ProvisionResult r = provision(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(
      all_problems(r).find("--linkage-key " + o.linkage_key.string() + ": not a linkage key [key_file_malformed]"),
      std::string::npos)
      << all_problems(r);
  EXPECT_FALSE(fs::exists(linkage()));
  EXPECT_FALSE(fs::exists(etc() / "linkage.key.provisioning"));
  EXPECT_FALSE(fs::exists(hub_key()));  // the linkage key comes first; nothing after it was made

  o.linkage_key = usb() / "missing.key";
  const ProvisionResult missing = provision(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(all_problems(missing).find("cannot be read"), std::string::npos) << all_problems(missing);

  // No source and no key installed: says what to give.
  o.linkage_key.clear();
  const ProvisionResult none = provision(o);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(all_problems(none).find(linkage().string() + ": no linkage key here yet [key_file_unreadable]"),
            std::string::npos)
      << all_problems(none);
  EXPECT_NE(all_problems(none).find("--linkage-key FILE"), std::string::npos);
}

TEST_F(ProvisionTest, ABadPartnerIdIsRefusedBeforeAnythingIsMade) {
  write_config("Northgate_ED");
  const ProvisionResult r = provision(options());
  ASSERT_FALSE(r.ok());
  const std::string problem = all_problems(r);
  EXPECT_NE(problem.find(config().string() + ":2:"), std::string::npos) << problem;
  EXPECT_NE(problem.find("partner id must be 1-64 characters of a-z, 0-9 and '-'"), std::string::npos) << problem;
  EXPECT_FALSE(r.stopped_midway);
  EXPECT_TRUE(r.files.empty());
  EXPECT_FALSE(fs::exists(pki()));
  EXPECT_FALSE(fs::exists(linkage()));
  EXPECT_TRUE(output_.str().empty()) << output_.str();
}

TEST_F(ProvisionTest, ServerNamesAreCheckedAndAChangeRemakesOnlyTheRequest) {
  ProvisionOptions o = options();
  for (const std::string bad : {"gw_1.example", "-gw.example", "gw..example", "gw.example.", "192.0.2.10"}) {
    o.server_names = {bad};
    const ProvisionResult r = provision(o);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(all_problems(r).find("--server-name " + bad + ": "), std::string::npos) << all_problems(r);
    EXPECT_FALSE(fs::exists(pki())) << bad;
  }
  o.server_names.clear();
  const ProvisionResult unnamed = provision(o);
  ASSERT_FALSE(unnamed.ok());
  EXPECT_NE(
      all_problems(unnamed).find(api_csr().string() + ": the upload API's certificate request needs its DNS names"),
      std::string::npos)
      << all_problems(unnamed);

  // Names are DNS names: case does not matter, repeats are dropped.
  o.server_names = {"GW.Northgate.Example", "gw.northgate.example"};
  ASSERT_TRUE(provision(o).ok());
  EXPECT_EQ(crypto::read_csr(api_csr())->dns_names, std::vector<std::string>{"gw.northgate.example"});
  const std::string key_before = read_file(api_key());

  o.server_names = {"upload.northgate.example"};
  const ProvisionResult renamed = provision(o);
  ASSERT_TRUE(renamed.ok()) << all_problems(renamed);
  EXPECT_EQ(find_file(renamed, api_key())->action, FileAction::kept);
  const ProvisionedFile* csr = find_file(renamed, api_csr());
  ASSERT_NE(csr, nullptr);
  EXPECT_EQ(csr->action, FileAction::replaced);
  EXPECT_EQ(csr->note, "the names changed");
  EXPECT_EQ(read_file(api_key()), key_before);
  auto req = crypto::read_csr(api_csr());
  EXPECT_EQ(req->common_name, "upload.northgate.example");
  EXPECT_EQ(req->public_key_sha256, crypto::read_tls_key(api_key())->public_key_sha256);

  // Without [http] there is nothing to name.
  write_config("northgate-ed", false);
  const ProvisionResult no_http = provision(o);
  ASSERT_FALSE(no_http.ok());
  EXPECT_NE(all_problems(no_http).find("has no [http] section"), std::string::npos) << all_problems(no_http);
}

TEST_F(ProvisionTest, AMissingRequestOrPublicKeyIsMadeAgainFromTheKeptKey) {
  ASSERT_TRUE(provision(options()).ok());
  const std::string hub_key_before = read_file(hub_key());
  fs::remove(hub_csr());
  fs::remove(device_pub());
  ProvisionOptions o = options();
  o.server_names.clear();
  const ProvisionResult r = provision(o);
  ASSERT_TRUE(r.ok()) << all_problems(r);
  EXPECT_EQ(find_file(r, hub_key())->action, FileAction::kept);
  EXPECT_EQ(find_file(r, hub_csr())->action, FileAction::created);
  EXPECT_EQ(find_file(r, device_key())->action, FileAction::kept);
  EXPECT_EQ(find_file(r, device_pub())->action, FileAction::created);
  EXPECT_EQ(r.count(FileAction::created), 2u) << output_.str();
  EXPECT_EQ(read_file(hub_key()), hub_key_before);
  EXPECT_EQ(crypto::read_csr(hub_csr())->public_key_sha256, crypto::read_tls_key(hub_key())->public_key_sha256);
  EXPECT_EQ(*crypto::load_public_key(device_pub()), crypto::load_signing_key(device_key())->public_key());
}

TEST_F(ProvisionTest, AnUnusableKeyIsRefusedWithoutForceAndMovedAsideWithIt) {
  ASSERT_TRUE(provision(options()).ok());
  write_file(hub_key(), "-----BEGIN PRIVATE KEY-----\ntruncated\n", 0600);
  const ProvisionResult refused = provision(options());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(all_problems(refused).find(hub_key().string() + ": not a TLS private key (unencrypted PEM, EC or RSA) "
                                                            "[key_file_malformed]"),
            std::string::npos)
      << all_problems(refused);
  EXPECT_TRUE(refused.files.empty());
  const std::string old_csr = read_file(hub_csr());

  ProvisionOptions o = options();
  o.force = true;
  const ProvisionResult r = provision(o);
  ASSERT_TRUE(r.ok()) << all_problems(r);
  EXPECT_EQ(find_file(r, hub_key())->action, FileAction::replaced);
  EXPECT_EQ(read_file(pki() / "northgate-ed.key.old"), "-----BEGIN PRIVATE KEY-----\ntruncated\n");
  auto key = crypto::read_tls_key(hub_key());
  ASSERT_TRUE(key);
  // The request follows the new key.
  EXPECT_EQ(find_file(r, hub_csr())->action, FileAction::replaced);
  EXPECT_NE(read_file(hub_csr()), old_csr);
  EXPECT_EQ(crypto::read_csr(hub_csr())->public_key_sha256, key->public_key_sha256);
  // The usable keys were kept, --force or not.
  EXPECT_EQ(find_file(r, api_key())->action, FileAction::kept);
  EXPECT_EQ(find_file(r, device_key())->action, FileAction::kept);

  // A key readable by others is a problem to look at, not one to fix silently.
  ASSERT_EQ(::chmod(device_key().c_str(), 0644), 0);
  const ProvisionResult loose = provision(options());
  ASSERT_FALSE(loose.ok());
  EXPECT_NE(all_problems(loose).find(device_key().string() + ": readable by group or others [key_file_permissions]"),
            std::string::npos)
      << all_problems(loose);
  EXPECT_NE(all_problems(loose).find("chmod 600"), std::string::npos);
  EXPECT_EQ(mode_of(device_key()), 0644u);
}

// During a rotation the config names two key files: --linkage-key fills the one that is missing,
// and is never the key already installed under the other id.
TEST_F(ProvisionTest, DuringARotationTheMissingKeyFileIsFilled) {
  ASSERT_TRUE(provision(options()).ok());
  std::string text = read_file(config());
  const std::string single = "[linkage_key]\nfile = \"linkage.key\"\nid = \"k2026a\"\n";
  ASSERT_NE(text.find(single), std::string::npos);
  text.replace(text.find(single), single.size(),
               "[[linkage_key]]\nid = \"k2026a\"\nfile = \"linkage.key\"\nuntil = 2027-02-01T00:00:00Z\n"
               "[[linkage_key]]\nid = \"k2027a\"\nfile = \"linkage-k2027a.key\"\nfrom = 2027-01-01T00:00:00Z\n");
  write_file(config(), text, 0644);
  const fs::path next = etc() / "linkage-k2027a.key";

  // The old key again: it is installed already, and the new file needs the other key.
  const ProvisionResult same = provision(options());
  ASSERT_FALSE(same.ok());
  EXPECT_NE(all_problems(same).find(source_key().string() + ": already installed as " + linkage().string() +
                                    " (key k2026a) [key_file_exists]"),
            std::string::npos)
      << all_problems(same);
  EXPECT_FALSE(fs::exists(next));

  const fs::path new_key = usb() / "k2027a.key";
  make_source_key(new_key);
  ProvisionOptions o = options();
  o.linkage_key = new_key;
  const ProvisionResult r = provision(o);
  ASSERT_TRUE(r.ok()) << all_problems(r);
  EXPECT_EQ(find_file(r, linkage())->action, FileAction::kept);
  EXPECT_EQ(find_file(r, next)->action, FileAction::created);
  EXPECT_EQ(read_file(next), read_file(new_key));
  EXPECT_EQ(mode_of(next), 0600u);
  ASSERT_EQ(r.linkage_key_fingerprints.size(), 2u);
  EXPECT_TRUE(r.linkage_key_fingerprints[1].starts_with("k2027a  "));

  // Both in place: a third key is neither of them, and --force cannot say which to replace.
  const fs::path third = usb() / "third.key";
  make_source_key(third);
  o.linkage_key = third;
  o.force = true;
  const ProvisionResult neither = provision(o);
  ASSERT_FALSE(neither.ok());
  EXPECT_NE(all_problems(neither).find(": none of the 2 linkage keys in "), std::string::npos) << all_problems(neither);
  EXPECT_EQ(read_file(next), read_file(new_key));

  // Two files missing: one source cannot fill both.
  fs::remove(linkage());
  fs::remove(next);
  const ProvisionResult two = provision(o);
  ASSERT_FALSE(two.ok());
  EXPECT_NE(all_problems(two).find("--linkage-key fills one linkage key file per run, and 2 need a key"),
            std::string::npos)
      << all_problems(two);
}

// One key for the MQTT client and the upload API: made once, with a request for each role.
TEST_F(ProvisionTest, OneKeyNamedForBothRolesIsMadeOnce) {
  std::string text = read_file(config());
  const std::string api = "key = \"pki/server/gateway.key\"";
  ASSERT_NE(text.find(api), std::string::npos);
  text.replace(text.find(api), api.size(), "key = \"pki/northgate-ed.key\"");
  write_config_text(text);
  const ProvisionResult r = provision(options());
  ASSERT_TRUE(r.ok()) << all_problems(r);
  EXPECT_EQ(
      std::count_if(r.files.begin(), r.files.end(), [&](const ProvisionedFile& f) { return f.path == hub_key(); }), 1);
  EXPECT_FALSE(fs::exists(api_key()));
  const std::string sha = crypto::read_tls_key(hub_key())->public_key_sha256;
  EXPECT_EQ(crypto::read_csr(hub_csr())->public_key_sha256, sha);
  EXPECT_EQ(crypto::read_csr(api_csr())->public_key_sha256, sha);
  EXPECT_EQ(crypto::read_csr(api_csr())->common_name, "gw.northgate.example");
  const ProvisionResult again = provision(options());
  ASSERT_TRUE(again.ok()) << all_problems(again);
  EXPECT_EQ(again.count(FileAction::created) + again.count(FileAction::replaced), 0u) << output_.str();
}

TEST_F(ProvisionTest, AsRootTheFilesGoToTheUserAndUnreachableDirectoriesAreNamed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown)";
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "no user 'nobody'";
  const uid_t uid = nobody->pw_uid;
  const gid_t gid = nobody->pw_gid;
  ProvisionOptions o = options();
  o.user = "nobody";
  const ProvisionResult r = provision(o);
  ASSERT_TRUE(r.ok()) << all_problems(r);
  EXPECT_EQ(r.owner, "nobody");
  for (const auto& f : made_files()) {
    struct stat st {};
    ASSERT_EQ(::lstat(f.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, uid) << f;
    EXPECT_EQ(st.st_gid, gid) << f;
  }
  struct stat dir {};
  ASSERT_EQ(::stat(pki().c_str(), &dir), 0);
  EXPECT_EQ(dir.st_uid, 0u);  // root keeps the directory; the daemon's group may enter it
  EXPECT_EQ(dir.st_gid, gid);
  EXPECT_EQ(dir.st_mode & 07777, 0750u);
  // The test directory is 0700 root: nobody cannot reach the keys, and the run says so.
  const auto warned = std::find_if(r.warnings.begin(), r.warnings.end(), [&](const std::string& w) {
    return w.starts_with("nobody cannot enter " + dir_.string() + ",");
  });
  EXPECT_NE(warned, r.warnings.end()) << output_.str();

  // A kept key that belongs to someone else is given to the user, and the run says so.
  ASSERT_EQ(::chown(hub_key().c_str(), 0, 0), 0);
  const ProvisionResult again = provision(o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(find_file(again, hub_key())->note, "owner was root, now nobody");
  struct stat st {};
  ASSERT_EQ(::lstat(hub_key().c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, uid);

  o.user = "no-such-user-here";
  const ProvisionResult unknown = provision(o);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(all_problems(unknown).find("--user no-such-user-here: no such user"), std::string::npos);
}

TEST_F(ProvisionTest, WithoutRootFilesCannotBeGivenAway) {
  ProvisionOptions o = options();
  o.user = "root";
  // 0 when provision refuses, says why and makes nothing; else which of those failed.
  auto refused_as_it_should = [&]() -> int {
    const ProvisionResult r = provision(o);
    if (r.ok()) return 1;
    if (all_problems(r).find("--user root: only root can give files to another user") == std::string::npos) return 2;
    return fs::exists(linkage()) ? 3 : 0;
  };
  if (::geteuid() != 0) {
    EXPECT_EQ(refused_as_it_should(), 0);
    return;
  }
  // As root (CI): the same in a child process that has given root up for `nobody`.
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  const uid_t uid = nobody->pw_uid;
  const gid_t gid = nobody->pw_gid;
  ASSERT_EQ(::chown(dir_.c_str(), uid, gid), 0);
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) ASSERT_EQ(::lchown(entry.path().c_str(), uid, gid), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(10);
    ::_exit(refused_as_it_should());
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: not refused, 2: not the expected reason, 3: a file was made, 10: setuid failed";
}

// The whole command as the operator runs it: the requests through `openssl req -verify` and a
// test CA (deploy/pki/make-pki.sh, `openssl x509 -req`), then provision and check-config again.
TEST_F(ProvisionTest, TheCommandsRequestsAreSignedByATestCaAndThenPassTheChecks) {
  const std::string svdgw = std::string("'") + SVD_SVDGW + "'";
  const std::string args = " provision --config " + q(config()) + " --linkage-key " + q(source_key()) + " --user " +
                           current_user() + " --server-name gw.northgate.example";
  const Command first = run(svdgw + args, dir_);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_EQ(first.err, "");
  EXPECT_NE(first.out.find("  created  " + hub_key().string()), std::string::npos) << first.out;
  EXPECT_NE(first.out.find(config().string() + ": OK"), std::string::npos) << first.out;  // check-config's lines
  EXPECT_NE(first.out.find("next steps:\n  1. Send " + hub_csr().string() + " to the hub's certificate authority"),
            std::string::npos)
      << first.out;
  auto device = crypto::load_signing_key(device_key());
  ASSERT_TRUE(device);
  EXPECT_NE(first.out.find(crypto::fingerprint(device->public_key())), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("systemctl enable --now svdgw"), std::string::npos);
  // No key material on screen: neither the linkage key's digits nor any private key.
  const std::string linkage_hex = read_file(linkage()).substr(0, 64);
  EXPECT_EQ(first.out.find(linkage_hex), std::string::npos);
  EXPECT_EQ(first.out.find("PRIVATE KEY"), std::string::npos);

  for (const auto& csr : {hub_csr(), api_csr()}) {
    const Command verify = run("openssl req -verify -noout -in " + q(csr), dir_);
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  }
  const fs::path ca = dir_ / "ca";
  const Command pki_made = run("/bin/sh '" + std::string(SVD_MAKE_PKI) + "' " + q(ca), dir_);
  ASSERT_EQ(pki_made.exit_code, 0) << pki_made.err;
  fs::copy_file(ca / "ca.crt", pki() / "hub-ca.crt");
  for (const auto& [csr, cert] : {std::pair{hub_csr(), hub_cert()}, std::pair{api_csr(), api_cert()}}) {
    const Command signed_cert =
        run("openssl x509 -req -in " + q(csr) + " -CA " + q(ca / "ca.crt") + " -CAkey " + q(ca / "ca.key") +
                " -CAcreateserial -days 30 -copy_extensions copyall -out " + q(cert),
            dir_);
    ASSERT_EQ(signed_cert.exit_code, 0) << signed_cert.err;
    const Command chain = run("openssl verify -CAfile " + q(ca / "ca.crt") + " " + q(cert), dir_);
    EXPECT_EQ(chain.exit_code, 0) << chain.out << chain.err;
  }

  const Command second = run(svdgw + args, dir_);
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_NE(second.out.find("nothing to make: every file is in place"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find(hub_cert().string() + ": matches its key, CN=northgate-ed, valid until "),
            std::string::npos)
      << second.out;
  EXPECT_NE(second.out.find(api_cert().string() + ": matches its key, CN=gw.northgate.example"), std::string::npos)
      << second.out;
  EXPECT_EQ(second.out.find("Send "), std::string::npos) << second.out;
  const Command checked = run(svdgw + " check-config --config " + q(config()), dir_);
  EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err;

  // The wrong certificate in place: named, with what to do, and the exit status says so.
  fs::copy_file(api_cert(), hub_cert(), fs::copy_options::overwrite_existing);
  const Command swapped = run(svdgw + args, dir_);
  EXPECT_EQ(swapped.exit_code, 1) << swapped.out;
  EXPECT_NE(swapped.err.find(hub_cert().string() + ": issued for another key than " + hub_key().string() +
                             ": have the CA sign " + hub_csr().string()),
            std::string::npos)
      << swapped.err;

  // And a refusal exits 1 with the reason on stderr and nothing changed.
  const fs::path other = usb() / "other.key";
  make_source_key(other);
  const Command refused = run(svdgw + " provision --config " + q(config()) + " --linkage-key " + q(other), dir_);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("[key_file_exists]"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("nothing was changed"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace svd::gateway

#include "gateway/provision.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <utility>

#include <openssl/crypto.h>

#include "base/errc.h"
#include "base/identity.h"
#include "base/unique_fd.h"
#include "config/diagnostic.h"
#include "config/gateway_config.h"
#include "crypto/csr.h"
#include "crypto/linkage_key.h"
#include "crypto/signing_key.h"

namespace svd::gateway {
namespace {

namespace fs = std::filesystem;

// A linkage key file is 65 bytes (64 hex digits and a newline); anything much larger is the
// wrong file, and is not read into memory whole.
constexpr std::size_t kMaxLinkageSourceBytes = 4096;

std::string code(errc e) { return " [" + std::string(errc_name(e)) + "]"; }
std::string code(const boost::system::error_code& ec) { return code(static_cast<errc>(ec.value())); }

const char* action_name(FileAction a) {
  switch (a) {
    case FileAction::created:
      return "created";
    case FileAction::kept:
      return "kept";
    case FileAction::replaced:
      return "replaced";
  }
  return "?";
}

// ---- names ----------------------------------------------------------------------------------------

bool is_ip_literal(const std::string& s) {
  in_addr v4{};
  in6_addr v6{};
  return ::inet_pton(AF_INET, s.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, s.c_str(), &v6) == 1;
}

// RFC 1123 host names: labels of letters, digits and '-', 1-63 characters, not starting or ending
// with '-'; 253 characters in all; no trailing dot (certificates never carry it).
bool valid_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = s.find('.', start);
    const std::string_view label =
        s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// Beside the certificate: gateway.crt -> gateway.csr (also .pem and .cer); any other name gets
// ".csr" appended.
fs::path csr_path_for(fs::path cert) {
  const fs::path ext = cert.extension();
  if (ext == ".crt" || ext == ".pem" || ext == ".cer") return cert.replace_extension(".csr");
  cert += ".csr";
  return cert;
}

// As `svdgw keys generate-device` names it: device.key -> device.pub, anything else + ".pub".
fs::path public_path_for(fs::path key) {
  if (key.extension() == ".key") return key.replace_extension(".pub");
  key += ".pub";
  return key;
}

// The linkage key files the config names: the [linkage_key] table, or each [[linkage_key]] of a
// rotation. The one place that knows how the config holds them.
struct LinkageTarget {
  fs::path file;
  std::string id;
};
std::vector<LinkageTarget> linkage_key_targets(const config::GatewayConfig& cfg) {
  std::vector<LinkageTarget> targets;
  for (const auto& k : cfg.linkage_keys) targets.push_back({k.file, k.id});
  return targets;
}

// ---- files ----------------------------------------------------------------------------------------

enum class Presence { missing, file, other, unknown };

Presence presence_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) == 0) return S_ISREG(st.st_mode) ? Presence::file : Presence::other;
  return errno == ENOENT ? Presence::missing : Presence::unknown;
}

// Where a file that is replaced goes: <file>.old, or .old.2, .old.3, … if that is taken, so an
// earlier key kept aside is never lost either.
fs::path backup_path(const fs::path& file) {
  fs::path old = file;
  old += ".old";
  for (int n = 2; presence_of(old) != Presence::missing; ++n) {
    old = file;
    old += ".old." + std::to_string(n);
  }
  return old;
}

// Source bytes of the linkage key, wiped when the run ends.
class Secret {
 public:
  Secret() = default;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret() {
    if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
  }
  std::string& bytes() { return bytes_; }
  std::string_view view() const { return bytes_; }

 private:
  std::string bytes_;
};

std::string user_name(uid_t uid) {
  const passwd* pw = ::getpwuid(uid);
  return pw ? std::string(pw->pw_name) : std::to_string(uid);
}

// Who the key files belong to: the daemon's user, which must be able to read them.
struct Owner {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  bool change = false;  // running as root: what is made is given to this user (and its group)
  std::vector<gid_t> groups;
};

bool can_search(const struct stat& st, const Owner& o) {
  if (o.uid == 0) return true;
  if (st.st_uid == o.uid) return (st.st_mode & S_IXUSR) != 0;
  if (std::find(o.groups.begin(), o.groups.end(), st.st_gid) != o.groups.end()) return (st.st_mode & S_IXGRP) != 0;
  return (st.st_mode & S_IXOTH) != 0;
}

// ---- the run --------------------------------------------------------------------------------------

enum class Plan { keep, create, replace, remake, shared, skip };

struct TlsItem {
  std::string role;  // "hub client", "upload API"
  std::string what;  // "MQTT client key", "upload API key"
  fs::path key, cert, csr;
  crypto::CsrRequest request;
  Plan key_plan = Plan::keep;
  Plan csr_plan = Plan::keep;
  bool csr_aside = false;  // the request path holds something else: moved aside first
  std::string csr_reason{};
  std::string algorithm{};  // of the kept key
};

struct LinkageItem {
  LinkageTarget target;
  Plan plan = Plan::keep;  // keep: no source given; remake: compare with the source
};

struct DeviceItem {
  fs::path key, pub;
  Plan key_plan = Plan::keep, pub_plan = Plan::keep;
  std::optional<crypto::PublicKey> existing{};
};

class Provisioner {
 public:
  Provisioner(const ProvisionOptions& options, std::ostream& out) : opt_(options), out_(out) {}

  ProvisionResult run() {
    if (plan()) {
      out_ << "provisioning " << cfg_.partner << " from " << cfg_.file.string() << "; key files owned by "
           << owner_.name << '\n';
      for (const auto& w : r_.warnings) out_ << "  warning: " << w << '\n';
      execute();
    }
    if (r_.ok()) check_certificates();
    return std::move(r_);
  }

 private:
  // ---- phase 1: look at everything, change nothing ----------------------------------------------

  bool plan() {
    try {
      cfg_ = config::load_gateway_config(opt_.config);
    } catch (const config::ConfigError& e) {
      std::string text;
      for (const auto& d : e.diagnostics()) text += d.to_string() + '\n';
      text += "  fix the config (svdgw check-config shows the same), then run svdgw provision again";
      r_.problems.push_back(std::move(text));
      return false;
    }
    r_.partner = cfg_.partner;
    // The loader checks it too; it is checked here again because it becomes a certificate's CN.
    if (!valid_identity(cfg_.partner))
      problem(cfg_.file.string() + ": [gateway] partner must be 1-64 characters of a-z, 0-9 and '-'",
              "it is the CN of this gateway's certificate and part of the hub's MQTT topics");
    plan_owner();
    plan_server_names();
    plan_linkage();
    if (cfg_.hub) {
      TlsItem hub{"hub client",
                  "MQTT client key",
                  cfg_.hub->broker.key,
                  cfg_.hub->broker.cert,
                  csr_path_for(cfg_.hub->broker.cert),
                  {cfg_.partner, {}, crypto::CertificateUse::client}};
      plan_tls(hub, true);
      tls_.push_back(std::move(hub));
    } else {
      r_.warnings.push_back("no [hub] in " + cfg_.file.string() +
                            ": no MQTT client key is made (svdgw run and forward need [hub])");
    }
    if (cfg_.http) {
      TlsItem api{"upload API",
                  "upload API key",
                  cfg_.http->key,
                  cfg_.http->cert,
                  csr_path_for(cfg_.http->cert),
                  {names_.empty() ? std::string() : names_.front(), names_, crypto::CertificateUse::server}};
      plan_tls(api, !names_.empty());
      tls_.push_back(std::move(api));
    }
    plan_device();
    check_distinct_paths();
    return r_.ok();
  }

  void problem(const std::string& what, const std::string& todo) { r_.problems.push_back(what + "\n  " + todo); }

  void plan_owner() {
    const bool root = ::geteuid() == 0;
    std::string name = opt_.user;
    if (name.empty() && root && ::getpwnam("svdgw") != nullptr) name = "svdgw";
    const passwd* pw = name.empty() ? ::getpwuid(::geteuid()) : ::getpwnam(name.c_str());
    if (pw == nullptr) {
      if (name.empty())
        problem("user id " + std::to_string(::geteuid()) + " has no account name", "name the owner with --user");
      else
        problem("--user " + name + ": no such user",
                "create it first (the svd-gateway package creates svdgw), or name another with --user");
      return;
    }
    owner_.name = pw->pw_name;
    owner_.uid = pw->pw_uid;
    owner_.gid = pw->pw_gid;
    owner_.change = root;
    if (!root && owner_.uid != ::geteuid())
      problem("--user " + owner_.name + ": only root can give files to another user",
              "run svdgw provision as root (sudo), or leave --user out");
    int n = 32;
    owner_.groups.resize(static_cast<std::size_t>(n));
    if (::getgrouplist(owner_.name.c_str(), owner_.gid, owner_.groups.data(), &n) < 0) {
      owner_.groups.resize(static_cast<std::size_t>(n));
      if (::getgrouplist(owner_.name.c_str(), owner_.gid, owner_.groups.data(), &n) < 0) n = 0;
    }
    owner_.groups.resize(static_cast<std::size_t>(n));
    r_.owner = owner_.name;
  }

  void plan_server_names() {
    for (std::string name : opt_.server_names) {
      std::transform(name.begin(), name.end(), name.begin(),
                     [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
      if (is_ip_literal(name)) {
        problem("--server-name " + name + ": an IP address, not a DNS name",
                "give the DNS name export clients connect to (the certificate names DNS names only)");
      } else if (!valid_dns_name(name)) {
        problem("--server-name " + name + ": not a DNS name",
                "labels of letters, digits and '-', separated by '.', such as gw.partner.example");
      } else if (std::find(names_.begin(), names_.end(), name) == names_.end()) {
        names_.push_back(std::move(name));
      }
    }
    if (!cfg_.http && !opt_.server_names.empty())
      problem("--server-name: " + cfg_.file.string() + " has no [http] section, so there is no upload API certificate",
              "leave --server-name out, or add [http] to the config first");
  }

  // A file that is there but will not do: a problem, or with --force, to be moved aside.
  bool refuse_unless_forced(const fs::path& p, const std::string& what_is_wrong, std::string todo = {}) {
    if (opt_.force) return true;
    if (todo.empty())
      todo = "move it away, or run again with --force (it is then renamed to " + backup_path(p).string() + ")";
    problem(p.string() + ": " + what_is_wrong, todo);
    return false;
  }

  // What is wrong with a file at `p` that is not a regular file or cannot be examined.
  static std::string not_a_file(Presence presence) {
    if (presence == Presence::other)
      return "not a regular file (a directory, link or device)" + code(errc::key_file_unreadable);
    return "cannot be examined (may this user enter the directories on its path?)" + code(errc::key_file_unreadable);
  }

  std::string permissions_todo(const fs::path& p) const {
    return "chmod 600 it if nobody else can have read it; otherwise run again with --force for a new key (the old "
           "one is renamed to " +
           backup_path(p).string() + ")";
  }

  void plan_linkage() {
    if (!opt_.linkage_key.empty()) {
      // Following a link is fine here: the source is read, never written.
      const int fd = ::open(opt_.linkage_key.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
      struct stat st {};
      UniqueFd guard(fd);
      if (fd < 0 || ::fstat(fd, &st) != 0) {
        problem("--linkage-key " + opt_.linkage_key.string() + ": cannot be read (" + std::strerror(errno) + ")" +
                    code(errc::key_file_unreadable),
                "check the path (is the USB stick mounted?) and that this user may read it");
      } else if (!S_ISREG(st.st_mode) || static_cast<std::size_t>(st.st_size) > kMaxLinkageSourceBytes) {
        problem(
            "--linkage-key " + opt_.linkage_key.string() + ": not a linkage key file" + code(errc::key_file_malformed),
            "a linkage key file holds 64 hex digits and a newline, as svdgw keys generate writes it");
      } else {
        std::string& bytes = source_.bytes();
        bytes.resize(kMaxLinkageSourceBytes + 1);
        std::size_t size = 0;
        for (;;) {
          const ssize_t n = ::read(fd, bytes.data() + size, bytes.size() - size);
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) break;
          size += static_cast<std::size_t>(n);
          if (size == bytes.size()) break;
        }
        // Shrinking keeps the buffer (no reallocation leaves an unwiped copy behind).
        bytes.resize(std::min(size, kMaxLinkageSourceBytes + 1));
        have_source_ = true;
      }
    }
    const auto targets = linkage_key_targets(cfg_);
    const bool given = !opt_.linkage_key.empty();
    std::vector<std::string> to_fill;
    for (const auto& target : targets) {
      // With a source, every key there is compared with it; a file to fill gets it.
      LinkageItem item{target, given ? Plan::remake : Plan::keep};
      const Presence presence = presence_of(target.file);
      std::string wrong, todo;
      if (presence == Presence::missing) {
        if (given)
          item.plan = Plan::create;
        else
          problem(target.file.string() + ": no linkage key here yet" + code(errc::key_file_unreadable),
                  "give the area's key with --linkage-key FILE (every partner in the area installs the same key; "
                  "one of them makes it with svdgw keys generate)");
      } else if (presence != Presence::file) {
        wrong = not_a_file(presence);
      } else if (auto key = crypto::load_linkage_key(target.file, target.id); !key) {
        const bool loose = key.error() == errc::key_file_permissions;
        wrong = (loose ? "readable by group or others" : "not a linkage key (64 hex digits and a newline)") +
                code(key.error());
        if (loose) todo = permissions_todo(target.file);
      }
      if (!wrong.empty()) {
        if (!given)
          problem(target.file.string() + ": " + wrong,
                  todo.empty() ? "run again with --linkage-key FILE and --force to install the area's key (this "
                                 "file is then renamed to " +
                                     backup_path(target.file).string() + ")"
                               : todo);
        else if (refuse_unless_forced(target.file, wrong, todo))
          item.plan = Plan::replace;
      }
      if (item.plan == Plan::create || item.plan == Plan::replace) to_fill.push_back(target.file.string());
      linkage_.push_back(std::move(item));
    }
    // Each key of a rotation is another key: one source cannot fill two files.
    if (to_fill.size() > 1) {
      std::string files;
      for (const auto& f : to_fill) files += (files.empty() ? "" : ", ") + f;
      problem("--linkage-key fills one linkage key file per run, and " + std::to_string(to_fill.size()) +
                  " need a key: " + files,
              "each [[linkage_key]] holds another key: put the others in place first (install -m 600 KEYFILE "
              "PATH), then run again");
    }
  }

  void plan_tls(TlsItem& item, bool names_known) {
    // One key for both the MQTT client and the upload API is allowed: it is made once.
    if (!tls_.empty() && tls_.front().key.lexically_normal() == item.key.lexically_normal()) {
      item.key_plan = Plan::shared;
      item.algorithm = tls_.front().algorithm;
    } else {
      const Presence presence = presence_of(item.key);
      if (presence == Presence::missing) {
        item.key_plan = Plan::create;
      } else if (presence != Presence::file) {
        if (refuse_unless_forced(item.key, not_a_file(presence))) item.key_plan = Plan::replace;
      } else if (auto key = crypto::read_tls_key(item.key); key) {
        item.algorithm = key->algorithm;
        key_sha_[item.key.lexically_normal()] = key->public_key_sha256;
      } else if (key.error() == errc::key_file_permissions) {
        if (refuse_unless_forced(item.key, "readable by group or others" + code(key.error()),
                                 permissions_todo(item.key)))
          item.key_plan = Plan::replace;
      } else if (refuse_unless_forced(item.key,
                                      "not a TLS private key (unencrypted PEM, EC or RSA)" + code(key.error()))) {
        item.key_plan = Plan::replace;
      }
    }
    plan_csr(item);
    if ((item.csr_plan == Plan::create || item.csr_plan == Plan::remake) && !names_known)
      problem(item.csr.string() + ": the upload API's certificate request needs its DNS names",
              "give --server-name with the name export clients connect to (repeat it for more names; the first "
              "is the CN)");
  }

  bool key_is_new(const TlsItem& item) const {
    const Plan p = item.key_plan == Plan::shared ? tls_.front().key_plan : item.key_plan;
    return p != Plan::keep;
  }

  void plan_csr(TlsItem& item) {
    const Presence presence = presence_of(item.csr);
    if (presence == Presence::missing) {
      item.csr_plan = Plan::create;
      return;
    }
    if (presence != Presence::file) {
      if (refuse_unless_forced(item.csr, not_a_file(presence))) {
        item.csr_plan = Plan::remake;
        item.csr_aside = true;
        item.csr_reason = "the old one moved aside";
      }
      return;
    }
    if (key_is_new(item)) {
      item.csr_plan = Plan::remake;
      item.csr_reason = "made for the new key";
      return;
    }
    auto csr = crypto::read_csr(item.csr);
    const auto sha = key_sha_.find(item.key.lexically_normal());
    if (!csr || !csr->signature_valid) {
      item.csr_plan = Plan::remake;
      item.csr_reason = "the old one was not a valid request";
    } else if (sha == key_sha_.end() || csr->public_key_sha256 != sha->second) {
      item.csr_plan = Plan::remake;
      item.csr_reason = "the old one was made for another key";
    } else if (!item.request.common_name.empty() &&
               (csr->common_name != item.request.common_name || csr->dns_names != item.request.dns_names)) {
      item.csr_plan = Plan::remake;
      item.csr_reason = "the names changed";
    } else {
      item.csr_plan = Plan::keep;
      if (item.request.common_name.empty()) {
        item.request.common_name = csr->common_name;
        item.request.dns_names = csr->dns_names;
      }
    }
  }

  void plan_device() {
    if (cfg_.audit.device_key.empty()) {
      r_.warnings.push_back("no [audit] device_key in " + cfg_.file.string() +
                            ": the audit log's checkpoints are not signed (add device_key = \"device.key\" to "
                            "[audit] and run svdgw provision again; docs/audit.md)");
      return;
    }
    device_ = DeviceItem{cfg_.audit.device_key, public_path_for(cfg_.audit.device_key)};
    DeviceItem& d = *device_;
    const Presence key_presence = presence_of(d.key), pub_presence = presence_of(d.pub);
    if (key_presence == Presence::missing) {
      d.key_plan = Plan::create;
    } else if (key_presence != Presence::file) {
      if (refuse_unless_forced(d.key, not_a_file(key_presence))) d.key_plan = Plan::replace;
    } else if (auto key = crypto::load_signing_key(d.key); key) {
      d.existing = key->public_key();
    } else if (key.error() == errc::key_file_permissions) {
      if (refuse_unless_forced(d.key, "readable by group or others" + code(key.error()), permissions_todo(d.key)))
        d.key_plan = Plan::replace;
    } else if (refuse_unless_forced(d.key, "not a PEM Ed25519 private key" + code(key.error()))) {
      d.key_plan = Plan::replace;
    }

    if (pub_presence == Presence::missing) {
      d.pub_plan = Plan::create;
    } else if (d.key_plan == Plan::replace) {
      d.pub_plan = Plan::replace;  // the old pair is kept aside together
    } else if (d.key_plan == Plan::create) {
      if (refuse_unless_forced(d.pub,
                               "a public key without its private key " + d.key.string() + code(errc::key_file_exists)))
        d.pub_plan = Plan::replace;
    } else if (d.existing) {
      auto pub = pub_presence == Presence::file ? crypto::load_public_key(d.pub)
                                                : result<crypto::PublicKey>(errc::key_file_unreadable);
      if (!pub || !(*pub == *d.existing)) {
        if (refuse_unless_forced(d.pub, "not the public half of " + d.key.string() + code(errc::key_file_exists)))
          d.pub_plan = Plan::replace;
      }
    }
  }

  // Two roles on one path would have one key overwrite, or pass for, another.
  void check_distinct_paths() {
    std::vector<std::pair<fs::path, std::string>> named;
    for (const auto& l : linkage_) named.emplace_back(l.target.file, "the linkage key");
    for (const auto& t : tls_) {
      if (t.key_plan != Plan::shared) named.emplace_back(t.key, "the " + t.what);
      named.emplace_back(t.cert, "the " + t.role + " certificate");
      named.emplace_back(t.csr, "the " + t.role + " certificate request");
    }
    if (device_) {
      named.emplace_back(device_->key, "the audit device key");
      named.emplace_back(device_->pub, "the audit device public key");
    }
    for (std::size_t i = 0; i < named.size(); ++i)
      for (std::size_t j = i + 1; j < named.size(); ++j)
        if (named[i].first.lexically_normal() == named[j].first.lexically_normal())
          problem(named[i].first.string() + ": named as both " + named[i].second + " and " + named[j].second + " in " +
                      cfg_.file.string(),
                  "give each its own file in the config");
  }

  // ---- phase 2: make what is missing ----------------------------------------------------------------

  void execute() {
    if (!install_linkage()) return;
    for (auto& item : tls_)
      if (!make_tls(item)) return;
    if (device_ && !make_device(*device_)) return;
    warn_unreachable();
  }

  bool fail(const std::string& what, const std::string& todo) {
    problem(what, todo);
    r_.stopped_midway = changed_;
    return false;
  }

  void record(const fs::path& path, std::string what, FileAction action, fs::path previous = {},
              std::string note = {}) {
    if (action != FileAction::kept) changed_ = true;
    out_ << "  " << std::left << std::setw(9) << action_name(action) << path.string() << "  " << what;
    if (!previous.empty()) out_ << "; the old one is now " << previous.string();
    if (!note.empty()) out_ << "; " << note;
    out_ << '\n';
    r_.files.push_back({path, std::move(what), action, std::move(previous), std::move(note)});
  }

  // Gives a file this run made (or kept) to the owner; a note when a kept one changed hands.
  std::string give_to_owner(const fs::path& path) {
    if (!owner_.change) return {};
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || (st.st_uid == owner_.uid && st.st_gid == owner_.gid)) return {};
    if (::lchown(path.c_str(), owner_.uid, owner_.gid) != 0) {
      warn(path.string() + ": cannot give it to " + owner_.name + " (" + std::strerror(errno) + ")");
      return {};
    }
    return "owner was " + user_name(st.st_uid) + ", now " + owner_.name;
  }

  void warn(const std::string& text) {
    out_ << "  warning: " << text << '\n';
    r_.warnings.push_back(text);
  }

  // Creates the missing directories on the way to `dir`, 0750, group the owner's.
  bool ensure_directory(const fs::path& dir) {
    std::vector<fs::path> missing;
    for (fs::path p = dir; !p.empty();) {
      struct stat st {};
      if (::stat(p.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode))
          return fail(p.string() + ": not a directory", "move it away, or change the path in the config");
        break;
      }
      if (errno != ENOENT)
        return fail(p.string() + ": cannot be examined (" + std::strerror(errno) + ")",
                    "check the path and its permissions");
      missing.push_back(p);
      const fs::path parent = p.parent_path();
      if (parent == p) break;
      p = parent;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      if (::mkdir(it->c_str(), 0750) != 0 && errno != EEXIST)
        return fail(it->string() + ": cannot create the directory (" + std::strerror(errno) + ")",
                    "check that this user may write to " + it->parent_path().string());
      ::chmod(it->c_str(), 0750);  // not through the umask
      // root keeps the directory; the daemon's group may enter it, nobody else.
      if (owner_.change && ::chown(it->c_str(), static_cast<uid_t>(-1), owner_.gid) != 0)
        warn(it->string() + ": cannot give it to group " + std::to_string(owner_.gid) + " (" + std::strerror(errno) +
             ")");
      record(*it, "directory (0750)", FileAction::created);
    }
    return true;
  }

  bool parent_ready(const fs::path& file) { return ensure_directory(file.parent_path()); }

  bool move_aside(const fs::path& file, fs::path& previous) {
    previous = backup_path(file);
    if (::rename(file.c_str(), previous.c_str()) != 0)
      return fail(file.string() + ": cannot rename it to " + previous.string() + " (" + std::strerror(errno) + ")",
                  "check the directory's permissions");
    return true;
  }

  bool write_failed(const fs::path& file, const boost::system::error_code& ec) {
    return fail(file.string() + ": cannot be written" + code(ec),
                "check that the directory exists and this user may write there (and that the disk is not full)");
  }

  // Checks the source with the loader the daemon uses, on a private copy beside the target (the
  // source itself may be on a FAT stick, where every file looks world-readable); nullopt after
  // reporting the problem.
  std::optional<crypto::LinkageKey> check_source(const fs::path& beside, const std::string& id) {
    if (!parent_ready(beside)) return std::nullopt;
    fs::path copy = beside;
    copy += ".provisioning";
    ::unlink(copy.c_str());  // left by an interrupted run: a copy of a key at most
    if (auto w = crypto::write_new_file(copy, source_.view(), 0600); !w) {
      write_failed(copy, w.error());
      return std::nullopt;
    }
    auto key = crypto::load_linkage_key(copy, id);
    ::unlink(copy.c_str());
    if (!key) {
      fail("--linkage-key " + opt_.linkage_key.string() + ": not a linkage key" + code(key.error()),
           "a linkage key file holds 64 hex digits and a newline, as svdgw keys generate writes it");
      return std::nullopt;
    }
    return std::move(*key);
  }

  bool install_linkage() {
    if (linkage_.empty()) return true;
    LinkageItem* slot = nullptr;
    for (auto& item : linkage_)
      if (item.plan == Plan::create || item.plan == Plan::replace) slot = &item;
    std::optional<crypto::LinkageKey> source;
    if (have_source_) {
      const LinkageTarget& beside = slot ? slot->target : linkage_.front().target;
      source = check_source(beside.file, beside.id);
      if (!source) return false;
    }

    // Which installed key, if any, the source is (compared by key bytes, not file bytes: a
    // copy that went through Windows may end in CRLF).
    const LinkageItem* same = nullptr;
    for (const auto& item : linkage_) {
      if (!source || item.plan != Plan::remake) continue;
      auto existing = crypto::load_linkage_key(item.target.file, item.target.id);
      if (existing && existing->bytes() == source->bytes()) same = &item;
    }
    const std::string given = opt_.linkage_key.string();
    if (slot && same)
      return fail(given + ": already installed as " + same->target.file.string() + " (key " + same->target.id + ")" +
                      code(errc::key_file_exists),
                  slot->target.file.string() + " (key " + slot->target.id + ") needs the rotation's other key");
    if (source && !slot && !same) {
      if (linkage_.size() > 1)
        return fail(given + ": none of the " + std::to_string(linkage_.size()) + " linkage keys in " +
                        cfg_.file.string() + code(errc::key_file_exists),
                    "to replace one, move its file away and run again");
      LinkageItem& only = linkage_.front();
      if (!opt_.force)
        return fail(
            only.target.file.string() + ": holds another linkage key than " + given + code(errc::key_file_exists),
            "another key changes every token this gateway makes. If the area's key really changed, run "
            "again with --force (this one is then renamed to " +
                backup_path(only.target.file).string() +
                "); to rotate keys without a gap, add the new one as a second [[linkage_key]] instead");
      only.plan = Plan::replace;
      slot = &only;
    }

    for (auto& item : linkage_) {
      const fs::path& file = item.target.file;
      const std::string what = "linkage key " + item.target.id;
      if (&item != slot) {
        record(file, what + (&item == same ? ", the same as " + given : std::string()), FileAction::kept, {},
               give_to_owner(file));
        continue;
      }
      fs::path previous;
      if (!parent_ready(file) || (item.plan == Plan::replace && !move_aside(file, previous))) return false;
      if (auto w = crypto::write_new_file(file, source_.view(), 0600); !w) return write_failed(file, w.error());
      give_to_owner(file);
      record(file, what + ", copied from " + given + " (0600)",
             previous.empty() ? FileAction::created : FileAction::replaced, previous);
    }
    for (const auto& item : linkage_)
      if (auto key = crypto::load_linkage_key(item.target.file, item.target.id))
        r_.linkage_key_fingerprints.push_back(item.target.id + "  " + crypto::fingerprint(*key));
    return true;
  }

  bool make_tls(TlsItem& item) {
    if (item.key_plan == Plan::keep) {
      record(item.key, item.what + " (" + item.algorithm + ")", FileAction::kept, {}, give_to_owner(item.key));
    } else if (item.key_plan != Plan::shared) {
      if (!parent_ready(item.key)) return false;
      fs::path previous;
      if (item.key_plan == Plan::replace && !move_aside(item.key, previous)) return false;
      auto key = crypto::generate_tls_key(item.key);
      if (!key) return write_failed(item.key, key.error());
      give_to_owner(item.key);
      key_sha_[item.key.lexically_normal()] = key->public_key_sha256;
      item.algorithm = key->algorithm;
      record(item.key, item.what + " (" + key->algorithm + ", 0600)",
             previous.empty() ? FileAction::created : FileAction::replaced, previous);
    }

    const std::string what =
        item.role + " certificate request (CN=" + item.request.common_name +
        (item.request.dns_names.empty() ? std::string() : ", DNS " + join(item.request.dns_names)) + ")";
    if (item.csr_plan == Plan::keep) {
      record(item.csr, what, FileAction::kept, {}, give_to_owner(item.csr));
      return true;
    }
    if (!parent_ready(item.csr)) return false;
    fs::path previous;
    if (item.csr_aside && !move_aside(item.csr, previous)) return false;
    if (auto w = crypto::write_csr(item.key, item.request, item.csr); !w) return write_failed(item.csr, w.error());
    give_to_owner(item.csr);
    record(item.csr, what, item.csr_plan == Plan::create ? FileAction::created : FileAction::replaced, previous,
           item.csr_reason);
    return true;
  }

  static std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : " ") + n;
    return out;
  }

  bool make_device(DeviceItem& d) {
    crypto::PublicKey pub;
    if (d.key_plan == Plan::keep) {
      pub = *d.existing;
      record(d.key, "audit device key (Ed25519)", FileAction::kept, {}, give_to_owner(d.key));
      if (d.pub_plan == Plan::keep) {
        record(d.pub, "its public key", FileAction::kept, {}, give_to_owner(d.pub));
      } else {
        fs::path previous;
        if (d.pub_plan == Plan::replace && !move_aside(d.pub, previous)) return false;
        if (auto w = crypto::write_new_file(d.pub, crypto::public_key_pem(pub), 0644); !w)
          return write_failed(d.pub, w.error());
        give_to_owner(d.pub);
        record(d.pub, "its public key (0644)", previous.empty() ? FileAction::created : FileAction::replaced, previous);
      }
    } else {
      if (!parent_ready(d.key) || !parent_ready(d.pub)) return false;
      fs::path previous_key, previous_pub;
      if (d.key_plan == Plan::replace && !move_aside(d.key, previous_key)) return false;
      if (d.pub_plan == Plan::replace && !move_aside(d.pub, previous_pub)) return false;
      auto made = crypto::generate_signing_key(d.key, d.pub);
      if (!made) return write_failed(d.key, made.error());
      pub = *made;
      give_to_owner(d.key);
      give_to_owner(d.pub);
      record(d.key, "audit device key (Ed25519, 0600)",
             previous_key.empty() ? FileAction::created : FileAction::replaced, previous_key);
      record(d.pub, "its public key (0644)", previous_pub.empty() ? FileAction::created : FileAction::replaced,
             previous_pub);
    }
    r_.device_key_fingerprint = crypto::fingerprint(pub);
    r_.device_public_key = d.pub;
    return true;
  }

  // Running as root hides what the daemon's user cannot reach: a directory on the way to a key
  // that it may not enter fails only when the service starts.
  void warn_unreachable() {
    if (owner_.uid == ::geteuid()) return;
    std::vector<fs::path> keys;
    for (const auto& l : linkage_) keys.push_back(l.target.file);
    for (const auto& t : tls_) keys.push_back(t.key);
    if (device_) keys.push_back(device_->key);
    std::vector<fs::path> reported;
    for (const auto& key : keys) {
      std::error_code ec;
      for (fs::path dir = fs::absolute(key, ec).parent_path(); !dir.empty(); dir = dir.parent_path()) {
        struct stat st {};
        if (::stat(dir.c_str(), &st) == 0 && !can_search(st, owner_) &&
            std::find(reported.begin(), reported.end(), dir) == reported.end()) {
          reported.push_back(dir);
          warn(owner_.name + " cannot enter " + dir.string() + ", so the daemon cannot read " + key.string() +
               " (e.g. chgrp " + owner_.name + " " + dir.string() + " && chmod g+x " + dir.string() + ")");
        }
        if (dir == dir.parent_path()) break;
      }
    }
  }

  // ---- afterwards: the certificates the CA signs ----------------------------------------------------

  void check_certificates() {
    for (const auto& item : tls_) {
      CertificateStatus s{item.role, item.cert, item.key, item.csr};
      const Presence presence = presence_of(item.cert);
      if (presence == Presence::missing) {
        s.detail = "not there yet";
      } else if (presence != Presence::file) {
        s.state = CertificateStatus::State::problem;
        s.detail = "not a regular file";
      } else if (auto cert = crypto::read_certificate_summary(item.cert); !cert) {
        s.state = CertificateStatus::State::problem;
        s.detail = "not a PEM certificate" + code(cert.error());
      } else if (auto key = crypto::read_tls_key(item.key); !key || key->public_key_sha256 != cert->public_key_sha256) {
        s.state = CertificateStatus::State::problem;
        s.detail = "issued for another key than " + item.key.string() + ": have the CA sign " + item.csr.string();
      } else if (!cert->valid_now) {
        s.state = CertificateStatus::State::problem;
        s.detail = "not valid now (valid until " + cert->not_after + "): expired, or not valid yet (check the clock)";
      } else if (item.role == "hub client" && cert->common_name != cfg_.partner) {
        s.state = CertificateStatus::State::problem;
        s.detail = "its CN is \"" + cert->common_name + "\", not the partner id \"" + cfg_.partner +
                   "\" (the hub's broker takes the CN as this gateway's identity)";
      } else {
        s.state = CertificateStatus::State::ok;
        s.detail = "matches its key, CN=" + cert->common_name + ", valid until " + cert->not_after;
      }
      r_.certificates.push_back(std::move(s));
    }
  }

  const ProvisionOptions& opt_;
  std::ostream& out_;
  ProvisionResult r_;
  config::GatewayConfig cfg_;
  Owner owner_;
  std::vector<std::string> names_;
  Secret source_;
  bool have_source_ = false;
  bool changed_ = false;
  std::vector<LinkageItem> linkage_;
  std::vector<TlsItem> tls_;
  std::optional<DeviceItem> device_;
  std::map<fs::path, std::string> key_sha_;  // public key SHA-256 by key file
};

void print_next_steps(const ProvisionOptions& options, const ProvisionResult& r, std::ostream& out) {
  int n = 0;
  out << "\nnext steps:\n";
  bool certificates_pending = false;
  for (const auto& c : r.certificates) {
    if (c.state == CertificateStatus::State::ok) continue;
    certificates_pending = true;
    if (c.role == "hub client")
      out << "  " << ++n << ". Send " << c.csr.string() << " to the hub's certificate authority (the force's\n"
          << "     platform team); put the certificate they sign at " << c.cert.string() << ".\n";
    else
      out << "  " << ++n << ". Send " << c.csr.string() << " to the certificate authority your export clients\n"
          << "     trust; put the signed certificate (then any intermediates) at " << c.cert.string() << ".\n";
  }
  if (!r.device_key_fingerprint.empty())
    out << "  " << ++n << ". Give the hub's operator this gateway's device key fingerprint\n"
        << "       " << r.device_key_fingerprint << "\n"
        << "     and its public key " << r.device_public_key.string() << ", for [[partner]] device_key in\n"
        << "     svdhub.toml. The private key never leaves this appliance.\n";
  if (!r.linkage_key_fingerprints.empty()) {
    out << "  " << ++n << ". Compare the linkage key fingerprint with the area's other partners:\n";
    for (const auto& f : r.linkage_key_fingerprints) out << "       " << f << '\n';
    out << "     every gateway in the area must show the same (svdgw check-config --config " << options.config.string()
        << "\n     shows it too).\n";
  }
  if (certificates_pending)
    out << "  " << ++n << ". Run svdgw provision again once the certificates are in place: it checks each\n"
        << "     against its key.\n";
  out << "  " << ++n << ". Start the gateway: systemctl enable --now svdgw\n";
}

}  // namespace

bool ProvisionResult::certificates_ok() const {
  return std::none_of(certificates.begin(), certificates.end(),
                      [](const CertificateStatus& c) { return c.state == CertificateStatus::State::problem; });
}

std::size_t ProvisionResult::count(FileAction action) const {
  return static_cast<std::size_t>(
      std::count_if(files.begin(), files.end(), [action](const ProvisionedFile& f) { return f.action == action; }));
}

ProvisionResult provision_appliance(const ProvisionOptions& options, std::ostream& out) {
  return Provisioner(options, out).run();
}

int provision_main(const ProvisionOptions& options,
                   const std::function<int(const std::filesystem::path&)>& check_config) {
  ProvisionResult r = provision_appliance(options, std::cout);
  std::cout.flush();
  if (!r.ok()) {
    for (const auto& p : r.problems) std::cerr << p << '\n';
    std::cerr << (r.stopped_midway ? "stopped; the files listed above were made. Run svdgw provision again once this "
                                     "is fixed.\n"
                                   : "nothing was changed\n");
    return 1;
  }
  if (r.count(FileAction::created) + r.count(FileAction::replaced) == 0)
    std::cout << "nothing to make: every file is in place\n";

  if (!r.certificates.empty()) std::cout << "\ncertificates:\n";
  for (const auto& c : r.certificates)
    std::cout << "  " << std::left << std::setw(12) << c.role << c.cert.string() << ": " << c.detail << '\n';

  std::cout << "\nchecking the config as svdgw check-config does:\n";
  std::cout.flush();
  const int checked = check_config(options.config);
  std::cout.flush();
  if (!r.certificates_ok())
    for (const auto& c : r.certificates)
      if (c.state == CertificateStatus::State::problem) std::cerr << c.cert.string() << ": " << c.detail << '\n';
  print_next_steps(options, r, std::cout);
  return checked == 0 && r.certificates_ok() ? 0 : 1;
}

}  // namespace svd::gateway

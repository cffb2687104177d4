#pragma once
// `svdgw provision`: sets up a new appliance from its config, for the partner site's IT staff.
// Makes each key file the config names that is missing — the MQTT client key and its certificate
// signing request (CN = partner id), the upload API's server key and request (CN and DNS names
// from --server-name), the Ed25519 audit device key and its public half — and installs the
// area's linkage key from a file (a copy, compared byte for byte with one already there).
//
// Idempotent: a second run creates nothing and reports every file as kept. A key file that exists
// but is not a usable key of its kind, or a linkage key other than the one given, is refused
// unless `force`; then the old file is first renamed to <file>.old (or .old.2, …: no key is ever
// overwritten or deleted). A usable key is never replaced, not even with `force`: to rotate one,
// move it away and run again. A request is (re)made when it is missing, when its key was just
// made, or when it no longer matches its key or the names asked for.
//
// Key files are mode 0600, requests and public keys 0644, directories created on the way 0750;
// when run as root everything created is given to the owner (`user`), directories to its group.
// Nothing printed or returned holds key material: keys appear as paths and fingerprints.
//
// Not thread-safe (getpwnam); one run at a time per config.

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace svd::gateway {

struct ProvisionOptions {
  std::filesystem::path config;
  std::filesystem::path linkage_key;  // the area's key file to install; empty: keep what is installed
  std::string user;                   // owner of the key files; empty: "svdgw" when root and it exists, else the caller
  std::vector<std::string> server_names;  // the upload API's DNS names; the first is the CN
  bool force = false;
};

enum class FileAction { created, kept, replaced };

struct ProvisionedFile {
  std::filesystem::path path;
  std::string what;  // "MQTT client key (EC P-256)"
  FileAction action = FileAction::kept;
  std::filesystem::path previous;  // replaced key: where the earlier file now is (<file>.old)
  std::string note;                // e.g. "owner was root, now svdgw"
};

// A certificate the config names, against its key: provisioning cannot make it, only say
// whether the one in place (if any) will do.
struct CertificateStatus {
  enum class State { missing, ok, problem };
  std::string role;  // "hub client", "upload API"
  std::filesystem::path cert, key, csr;
  State state = State::missing;
  std::string detail{};  // "valid until …" or what is wrong with it
};

struct ProvisionResult {
  std::string partner, owner;
  std::vector<ProvisionedFile> files;  // in the order handled (directories too)
  std::vector<CertificateStatus> certificates;
  std::vector<std::string> warnings;  // printed as they arise; provisioning went on
  // Each "<path>: <what> [code]" and a line saying what to do. Non-empty: provisioning failed,
  // and changed nothing unless `stopped_midway` (then `files` lists what was done).
  std::vector<std::string> problems;
  bool stopped_midway = false;
  std::vector<std::string> linkage_key_fingerprints;  // "k2026a  1a2b 3c4d …", one per key
  std::string device_key_fingerprint;                 // empty without [audit] device_key
  std::filesystem::path device_public_key;

  bool ok() const { return problems.empty(); }
  bool certificates_ok() const;  // none in place that will not do (missing ones are fine)
  std::size_t count(FileAction action) const;
};

// Provisions, printing a line per file handled to `out`; problems are returned, not printed.
ProvisionResult provision_appliance(const ProvisionOptions& options, std::ostream& out);

// The whole command on stdout and stderr: provision_appliance, the certificates' state, then
// `check_config` (svdgw check-config's checks, which print themselves and return its exit status)
// and the operator's numbered next steps. Exit status 0 when every file the config names is in
// place or was made and the checks pass, 1 otherwise.
int provision_main(const ProvisionOptions& options,
                   const std::function<int(const std::filesystem::path&)>& check_config);

}  // namespace svd::gateway

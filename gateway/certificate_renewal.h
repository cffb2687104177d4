#pragma once
// Certificate renewal without a restart (docs/daemon.md, "Certificate renewal"): the daemon's view
// of its TLS files — the upload API's [http] cert, key, client_ca and crl, and the MQTT client's
// [hub] cert, key and ca. Renewed files are put to use once they pass crypto/credentials.h's
// checks and have stayed unchanged for one check interval (at once on SIGHUP); otherwise the last
// good ones stay in use, the log says why, and the audit log records `certificate.refused`. The
// upload API gets a new TLS context for new connections; Paho only ever reads private copies of
// the last good files under <state_dir>/tls/ (0600), made from exactly the bytes that were checked.
//
// Thread-safety: none. The daemon uses it on its network thread only (and while starting, before
// that thread runs).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/event.h"
#include "config/gateway_config.h"
#include "config/mqtt_endpoint.h"
#include "crypto/credentials.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace svd::gateway {

// Roles, as certificate.loaded and certificate.refused name them (audit/events.h) and the
// svdgw_certificate_expiry_timestamp_seconds{role} metric labels them.
inline constexpr const char* kRoleUploadServer = "upload-server";
inline constexpr const char* kRoleClientCa = "client-ca";
inline constexpr const char* kRoleHubClient = "hub-client";
// Not a certificate: the upload API's CRL ([http] crl), whose nextUpdate is when every client
// would be locked out; only in the metric.
inline constexpr const char* kRoleCrl = "crl";

class CertificateRenewal {
 public:
  struct Hooks {
    std::function<void(audit::Event)> record;  // to the audit log
    // A certificate in use now expires at `not_after` (for the metric).
    std::function<void(const std::string& role, std::chrono::system_clock::time_point not_after)> expiry;
    std::function<void(const std::string&)> info, warn;
  };

  // `partner` is the CN the MQTT client's certificate must carry; the private copies go to
  // <state_dir>/tls/.
  CertificateRenewal(std::string partner, const std::filesystem::path& state_dir, Hooks hooks);

  // ---- the upload API -----------------------------------------------------------------------

  // Builds the context from `http`'s files now, at start or on SIGHUP (the caller decides what a
  // refusal means there; it logs `why`). nullptr when refused: `why` holds the reason and
  // certificate.refused is recorded. Does not record certificate.loaded (the caller does).
  std::shared_ptr<boost::asio::ssl::context> load_server(const config::HttpConfig& http, std::string& why);

  // The periodic check: a new context when the files changed and pass (certificate.loaded for
  // the server certificate and the client CA, if they changed); nullptr when nothing is due or
  // the new files were refused (logged and recorded here).
  std::shared_ptr<boost::asio::ssl::context> renew_server(const config::HttpConfig& http);

  // ---- the MQTT client ----------------------------------------------------------------------

  // At start: checks `configured`'s cert, key and ca, writes the private copies and returns the
  // endpoint to connect with (the copies' paths). When the configured files are refused but the
  // copies from an earlier run still pass, goes on with those (logged, certificate.refused
  // recorded). nullopt, with `why`, when neither will do.
  std::optional<config::MqttEndpoint> start_client(const config::MqttEndpoint& configured, std::string& why);

  // The periodic check (`forced` false) or SIGHUP (true): true when renewed copies are in place
  // and the client must reconnect to use them (certificate.loaded recorded).
  bool renew_client(const config::MqttEndpoint& configured, bool forced);

  // The files the MQTT client uses (valid after start_client succeeded).
  const crypto::ClientCredentialFiles& client_files() const { return client_files_; }

 private:
  // What identifies a file's version without reading it.
  struct Stamp {
    bool exists = false;
    std::uint64_t device = 0, inode = 0, size = 0;
    std::int64_t mtime_sec = 0, mtime_nsec = 0;
    bool operator==(const Stamp&) const = default;
  };
  using Stamps = std::vector<Stamp>;
  struct Watch {
    Stamps judged;               // when the files were last judged
    std::optional<Stamps> seen;  // a change seen by the last periodic check, not judged yet
  };
  static Stamps stamp(const std::vector<std::filesystem::path>& files);
  // Whether `w`'s files are due to be judged; `now` gets their stamps, taken before any reading.
  static bool due(Watch& w, const std::vector<std::filesystem::path>& files, bool forced, Stamps& now);

  void client_refused(const crypto::ClientCredentialFiles& files, const crypto::CredentialError& e);
  std::shared_ptr<boost::asio::ssl::context> adopt_server(crypto::ServerCredentials& s);
  void server_refused(const config::HttpConfig& http, const crypto::CredentialError& e, bool periodic);

  std::string partner_;
  std::filesystem::path tls_dir_;
  Hooks hooks_;

  Watch server_watch_;
  std::string server_sha256_, client_ca_sha256_, server_not_after_;

  Watch client_watch_;
  std::optional<crypto::ClientCredentials> client_;  // the last good ones, in use
  crypto::ClientCredentialFiles client_files_;
};

}  // namespace svd::gateway

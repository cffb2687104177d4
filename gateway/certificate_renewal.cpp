#include "gateway/certificate_renewal.h"

#include <sys/stat.h>

#include <utility>

#include <boost/asio/ssl/context.hpp>

#include "audit/events.h"

namespace svd::gateway {
namespace {

namespace fs = std::filesystem;

constexpr const char* kClientCopies = "hub-client";

std::string in_use(const std::string& sha256, const std::string& not_after) {
  return "sha256 " + sha256 + ", valid until " + not_after;
}

}  // namespace

CertificateRenewal::CertificateRenewal(std::string partner, const fs::path& state_dir, Hooks hooks)
    : partner_(std::move(partner)), tls_dir_(state_dir / "tls"), hooks_(std::move(hooks)) {}

CertificateRenewal::Stamps CertificateRenewal::stamp(const std::vector<fs::path>& files) {
  Stamps out;
  for (const auto& f : files) {
    Stamp s;
    struct stat st {};
    // stat, not lstat: certificate managers replace the target of a symlink.
    if (!f.empty() && ::stat(f.c_str(), &st) == 0) {
      s.exists = true;
      s.device = static_cast<std::uint64_t>(st.st_dev);
      s.inode = static_cast<std::uint64_t>(st.st_ino);
      s.size = static_cast<std::uint64_t>(st.st_size);
      s.mtime_sec = static_cast<std::int64_t>(st.st_mtim.tv_sec);
      s.mtime_nsec = static_cast<std::int64_t>(st.st_mtim.tv_nsec);
    }
    out.push_back(s);
  }
  return out;
}

bool CertificateRenewal::due(Watch& w, const std::vector<fs::path>& files, bool forced, Stamps& now) {
  now = stamp(files);
  if (forced) return true;
  if (now == w.judged) {
    w.seen.reset();
    return false;
  }
  if (w.seen && *w.seen == now) return true;  // changed, and settled since the last check
  w.seen = now;
  return false;
}

// ---- the upload API -------------------------------------------------------------------------

std::shared_ptr<boost::asio::ssl::context> CertificateRenewal::load_server(const config::HttpConfig& http,
                                                                           std::string& why) {
  Stamps now;
  due(server_watch_, {http.cert, http.key, http.client_ca, http.crl}, true, now);
  server_watch_.judged = std::move(now);
  server_watch_.seen.reset();
  auto s = crypto::load_server_credentials({http.cert, http.key, http.client_ca, http.crl});
  if (!s) {
    why = s.error().message;
    server_refused(http, s.error(), false);
    return nullptr;
  }
  return adopt_server(*s);
}

std::shared_ptr<boost::asio::ssl::context> CertificateRenewal::renew_server(const config::HttpConfig& http) {
  Stamps now;
  if (!due(server_watch_, {http.cert, http.key, http.client_ca, http.crl}, false, now)) return nullptr;
  server_watch_.judged = std::move(now);
  server_watch_.seen.reset();
  auto s = crypto::load_server_credentials({http.cert, http.key, http.client_ca, http.crl});
  if (!s) {
    server_refused(http, s.error(), true);
    return nullptr;
  }
  if (s->sha256 != server_sha256_)
    hooks_.record(audit::events::certificate_loaded(kRoleUploadServer, s->sha256, s->not_after));
  if (s->client_ca_sha256 != client_ca_sha256_)
    hooks_.record(audit::events::certificate_loaded(kRoleClientCa, s->client_ca_sha256, s->client_ca_not_after));
  hooks_.info("upload API: its TLS files changed and check out; new connections get certificate " +
              in_use(s->sha256, s->not_after) + " (open connections keep theirs)");
  return adopt_server(*s);
}

// The files now in use by the upload API: what later changes are compared with, and the gauges.
std::shared_ptr<boost::asio::ssl::context> CertificateRenewal::adopt_server(crypto::ServerCredentials& s) {
  server_sha256_ = s.sha256;
  server_not_after_ = s.not_after;
  client_ca_sha256_ = s.client_ca_sha256;
  hooks_.expiry(kRoleUploadServer, s.tls.certificate_not_after);
  hooks_.expiry(kRoleClientCa, s.client_ca_not_after_time);
  if (s.tls.crl_next_update) hooks_.expiry(kRoleCrl, *s.tls.crl_next_update);
  return std::move(s.tls.context);
}

void CertificateRenewal::server_refused(const config::HttpConfig& http, const crypto::CredentialError& e,
                                        bool periodic) {
  const bool ca = e.file == crypto::CredentialFile::ca || e.file == crypto::CredentialFile::crl;
  hooks_.record(audit::events::certificate_refused(ca ? kRoleClientCa : kRoleUploadServer,
                                                   std::string(crypto::to_string(e.problem))));
  // At start and on SIGHUP the caller logs the refusal in its own terms.
  if (!periodic) return;
  const std::string keep = server_sha256_.empty()
                               ? std::string()
                               : "; new connections still get the last good certificate (" +
                                     in_use(server_sha256_, server_not_after_) + ")";
  hooks_.warn("upload API: the changed TLS files were not taken into use: " + e.message + keep + ". Fix " +
              (ca ? (e.file == crypto::CredentialFile::crl ? http.crl : http.client_ca) : http.cert).string() +
              " ([http]); it is checked again when it changes, or at once on SIGHUP");
}

// ---- the MQTT client ------------------------------------------------------------------------

std::optional<config::MqttEndpoint> CertificateRenewal::start_client(const config::MqttEndpoint& configured,
                                                                      std::string& why) {
  const crypto::ClientCredentialFiles files{configured.cert, configured.key, configured.ca};
  Stamps now;
  due(client_watch_, {files.cert_chain, files.key, files.ca}, true, now);
  client_watch_.judged = std::move(now);
  auto c = crypto::load_client_credentials(files, partner_);
  config::MqttEndpoint endpoint = configured;
  if (c) {
    auto copies = crypto::write_private_copies(*c, tls_dir_, kClientCopies);
    if (!copies) {
      why = "cannot write the private copies of the MQTT client's certificate: " + copies.error().message;
      return std::nullopt;
    }
    client_files_ = std::move(*copies);
    client_ = std::move(*c);
  } else {
    // Another run may have left good copies (e.g. the certificate was replaced by a broken one
    // while the gateway was off); they keep the gateway going until the files are fixed.
    const crypto::ClientCredentialFiles earlier{tls_dir_ / (std::string(kClientCopies) + ".crt"),
                                                tls_dir_ / (std::string(kClientCopies) + ".key"),
                                                tls_dir_ / (std::string(kClientCopies) + "-ca.crt")};
    auto kept = crypto::load_client_credentials(earlier, partner_);
    if (!kept) {
      hooks_.record(audit::events::certificate_refused(kRoleHubClient, std::string(crypto::to_string(c.error().problem))));
      why = c.error().message + " (and no usable copy of an earlier certificate in " + tls_dir_.string() + ")";
      return std::nullopt;
    }
    client_ = std::move(*kept);
    client_files_ = earlier;
    client_refused(files, c.error());
  }
  hooks_.expiry(kRoleHubClient, client_->not_after_time);
  endpoint.cert = client_files_.cert_chain;
  endpoint.key = client_files_.key;
  endpoint.ca = client_files_.ca;
  return endpoint;
}

bool CertificateRenewal::renew_client(const config::MqttEndpoint& configured, bool forced) {
  const crypto::ClientCredentialFiles files{configured.cert, configured.key, configured.ca};
  Stamps now;
  if (!due(client_watch_, {files.cert_chain, files.key, files.ca}, forced, now)) return false;
  client_watch_.judged = std::move(now);
  client_watch_.seen.reset();
  auto c = crypto::load_client_credentials(files, partner_);
  if (!c) {
    client_refused(files, c.error());
    return false;
  }
  if (client_ && c->digest == client_->digest) return false;  // touched, not changed
  auto copies = crypto::write_private_copies(*c, tls_dir_, kClientCopies);
  if (!copies) {
    // Put the last good ones back, in case some of the three were replaced already.
    if (client_) (void)crypto::write_private_copies(*client_, tls_dir_, kClientCopies);
    hooks_.warn("MQTT client: cannot store the renewed certificate: " + copies.error().message +
                "; still using the last good one. Check the state directory (space, permissions); it is "
                "tried again at the next check");
    client_watch_.judged.clear();  // not judged after all: try again at the next check
    return false;
  }
  client_ = std::move(*c);
  client_files_ = std::move(*copies);
  hooks_.record(audit::events::certificate_loaded(kRoleHubClient, client_->sha256, client_->not_after));
  hooks_.expiry(kRoleHubClient, client_->not_after_time);
  hooks_.info("MQTT client: renewed certificate taken into use (" + in_use(client_->sha256, client_->not_after) +
              "); reconnecting to the hub with it");
  return true;
}

void CertificateRenewal::client_refused(const crypto::ClientCredentialFiles& files, const crypto::CredentialError& e) {
  hooks_.record(audit::events::certificate_refused(kRoleHubClient, std::string(crypto::to_string(e.problem))));
  hooks_.warn("MQTT client: the certificate files in [hub] were not taken into use: " + e.message +
              (client_ ? "; still using the last good certificate (" + in_use(client_->sha256, client_->not_after) + ")"
                       : std::string()) +
              ". Install a certificate for CN " + partner_ + " issued by the CA in " + files.ca.string() +
              " with its key at " + files.cert_chain.string() + " and " + files.key.string() +
              " (key mode 0600); they are checked again when they change, or at once on SIGHUP");
}

}  // namespace svd::gateway

#pragma once
// The TLS server context of the HTTPS upload API, built from files: TLS 1.2+, AEAD suites only,
// a client certificate required that chains to `client_ca` alone with the clientAuth purpose,
// checked against the CRL when there is one; no renegotiation, tickets or session cache. A key
// file readable by group or others, or a CRL that is unusable or out of date, is an error here.
// The full settings and why: docs/architecture.md, "Security model".
//
// Errors name the file and the problem, never key material. A context is immutable once built:
// to reload certificates build a new one and hand it to HttpServer::set_tls (existing
// connections keep the context they started with). Any thread may build one.
//
// crypto/ is the only module that configures TLS; callers get an asio ssl::context and the two
// questions they need answered about an established connection (below).

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

struct ssl_st;  // OpenSSL's SSL (what ssl::stream::native_handle() returns)

namespace svd::crypto {

struct TlsServerFiles {
  std::filesystem::path cert_chain;  // PEM: the server certificate, then any intermediates
  std::filesystem::path key;         // PEM private key, not readable by group or others
  std::filesystem::path client_ca;   // PEM: the CA certificate(s) client certificates must chain to
  std::filesystem::path crl;         // PEM CRL(s) issued by client_ca; empty: no revocation check
};

struct TlsServerContext {
  std::shared_ptr<boost::asio::ssl::context> context;
  // For a warning or a metric before they lapse (an expired CRL locks every client out).
  std::chrono::system_clock::time_point certificate_not_after;
  std::optional<std::chrono::system_clock::time_point> crl_next_update;  // nullopt: no CRL
};

// "<file>: <problem>", e.g. "/etc/svdgw/pki/crl.pem: CRL expired (nextUpdate 2026-01-02 00:00:00 UTC)".
struct TlsConfigError {
  std::string message;
};
// Lets result<T, TlsConfigError>::value() throw (std::runtime_error with the message).
[[noreturn]] void throw_exception_from_error(const TlsConfigError& e, const boost::source_location& loc);

template <class T>
using tls_result = boost::system::result<T, TlsConfigError>;

// Reads every file now; safe to call from any thread (the daemon's start and SIGHUP reload).
tls_result<TlsServerContext> make_tls_server_context(const TlsServerFiles& files);

// The CN of the client certificate of an established connection, when verification succeeded and
// the subject holds exactly one CN of 1-64 bytes without control characters; else nullopt. The
// caller applies its own identity rules on top (the gateway: [a-z0-9-]).
std::optional<std::string> verified_peer_common_name(const ssl_st* ssl);

// Why the peer's certificate was refused (OpenSSL's verify message, e.g. "certificate revoked"),
// or "" when verification passed or never ran. For logs after a failed handshake.
std::string peer_verify_error(const ssl_st* ssl);

}  // namespace svd::crypto

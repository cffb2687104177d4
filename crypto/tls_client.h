#pragma once
// The TLS client side of the HTTPS upload API, for `svdgw submit` on a partner's machine
// (docs/architecture.md, "Security model"):
//
//   - TLS 1.2 minimum, the same AEAD-only TLS 1.2 cipher list as the server (TLS 1.3 suites as
//     OpenSSL ships them), security level 2, no compression, no renegotiation.
//   - The server must chain to `ca` alone (pinned: the system CAs are never loaded) and carry
//     the TLS server purpose. The host name is checked by the caller on each connection
//     (asio's ssl::host_name_verification), since the context does not know the URL.
//   - The client certificate (with any intermediates) and its key are loaded from files. A key
//     readable by group or others is used anyway with a warning: this runs on the partner's own
//     machine, where refusing would only push people to copy the key somewhere worse. An
//     encrypted key is refused instead of prompting on the terminal.
//
// Errors name the file and the problem, never key material.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/system/error_code.hpp>

#include "crypto/tls_server.h"  // TlsConfigError, tls_result

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

struct ssl_st;  // OpenSSL's SSL (what ssl::stream::native_handle() returns)

namespace svd::crypto {

struct TlsClientFiles {
  std::filesystem::path cert_chain;  // PEM: the client certificate, then any intermediates
  std::filesystem::path key;         // PEM private key, unencrypted
  std::filesystem::path ca;          // PEM: the CA certificate(s) the server must chain to
};

struct TlsClientContext {
  std::shared_ptr<boost::asio::ssl::context> context;
  std::vector<std::string> warnings;  // "<file>: <problem>", for the user; e.g. key permissions
};

// Reads every file now. Refused: unreadable or damaged files, a key that does not match the
// certificate, a client certificate that has expired or is not valid yet (the server would
// refuse it with a less helpful alert).
tls_result<TlsClientContext> make_tls_client_context(const TlsClientFiles& files);

// Sends `host` as SNI (RFC 6066). IP literals are not sent (the RFC forbids them there).
// False when OpenSSL refuses the name.
bool set_server_name_indication(ssl_st* ssl, const std::string& host);

// What a failed TLS operation means to a client deciding whether to try again.
enum class TlsFailure {
  other,               // not a TLS-level refusal (network, truncation, ...): may be transient
  server_not_trusted,  // our verification of the server's certificate failed
  client_refused,      // the server sent an alert about our certificate (unknown CA, revoked,
                       // expired, required but missing, access denied)
};
TlsFailure classify_tls_failure(const boost::system::error_code& ec);

}  // namespace svd::crypto

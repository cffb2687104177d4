#pragma once
// Checks a TLS certificate, its key and its CA before the daemon uses them, so that a renewed
// certificate that is broken, expired, for another key or from another CA is refused while the
// last good one stays in use (docs/daemon.md "Certificate renewal").
//
// Each file is read once, with bounds, and the checks run on the bytes read: what the caller
// writes or hands on afterwards (the MQTT client's private copies) is exactly what was checked,
// even if the file is replaced again meanwhile. Private keys must not be readable by group or
// others (docs/architecture.md, "Security model") and are wiped from memory when no longer needed.
//
// Errors carry a fixed code (the audit log's `certificate.refused` reason) and a message for the
// log, "<file>: <what is wrong>", which names the file and the problem but never its contents.
//
// Thread-safety: free functions on their own data; any thread.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include "crypto/tls_server.h"

namespace svd::crypto {

enum class CredentialProblem {
  unreadable,      // cannot be opened or read, not a regular file, empty or too large
  not_pem,         // no PEM certificate, or a damaged PEM block
  key_unreadable,  // not a PEM private key, or one protected by a passphrase
  key_exposed,     // the private key file is readable by group or others
  key_mismatch,    // the private key is not the certificate's
  not_yet_valid,   // the certificate's notBefore is in the future
  expired,         // its notAfter has passed
  untrusted,       // it does not chain to the configured CA
  wrong_purpose,   // it is not for TLS clients (or servers), by its extendedKeyUsage
  wrong_name,      // its CN is not the identity it must carry (the partner id)
  ca_unusable,     // the CA file: no CA certificate in it, or OpenSSL refuses it
  crl_unusable,    // the CRL: not from the CA, expired, not valid yet, damaged
};

// The code as the audit log records it: "unreadable", "not_pem", "key_unreadable", ...
std::string_view to_string(CredentialProblem problem);

enum class CredentialFile { certificate, key, ca, crl };

struct CredentialError {
  CredentialProblem problem = CredentialProblem::unreadable;
  CredentialFile file = CredentialFile::certificate;
  std::string message;  // "<file>: <problem>"
};
// Lets credential_result<T>::value() throw (std::runtime_error with the message).
[[noreturn]] void throw_exception_from_error(const CredentialError& e, const boost::source_location& loc);

template <class T>
using credential_result = boost::system::result<T, CredentialError>;

// A private key's bytes, wiped (OPENSSL_cleanse) on destruction. Sized once, never reallocated,
// so no unwiped copy is left behind; move-only.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size) : bytes_(size) {}
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& o) noexcept = default;
  SecretBytes& operator=(SecretBytes&& o) noexcept;
  ~SecretBytes();
  unsigned char* data() { return bytes_.data(); }
  const unsigned char* data() const { return bytes_.data(); }
  std::size_t size() const { return bytes_.size(); }
  void shrink_to(std::size_t n);  // keeps the first n bytes, wiping the rest in place

 private:
  std::vector<unsigned char> bytes_;
};

// What a certificate's holder needs to present it: the certificate (and any intermediates), its
// key, and the CA the certificate must chain to (for the MQTT client also the CA the broker's
// certificate is checked against).
struct ClientCredentialFiles {
  std::filesystem::path cert_chain;
  std::filesystem::path key;
  std::filesystem::path ca;
};

struct ClientCredentials {
  std::string cert_chain_pem;  // the files' bytes, exactly as checked
  SecretBytes key_pem;
  std::string ca_pem;
  std::string sha256;     // of the leaf certificate's DER, lowercase hex (as certificate_info.h)
  std::string not_after;  // "2027-11-23 09:15:20 UTC"
  std::chrono::system_clock::time_point not_after_time;
  std::string digest;  // SHA-256 over all three files: differs whenever any of them does
};

// Reads the three files and checks, in this order: the certificate file holds PEM certificates
// (the first is the leaf); the key is a PEM private key, not readable by group or others, and is
// the leaf's; the leaf is valid at `now` (notBefore, notAfter); the CA file holds CA certificates;
// the leaf chains to them as the only trust anchors (X509_verify_cert at `now`, intermediates
// from the certificate file) for TLS client use; its subject has exactly one CN, equal to
// `expected_cn`.
credential_result<ClientCredentials> load_client_credentials(
    const ClientCredentialFiles& files, std::string_view expected_cn,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// Writes `c` into `dir` (created, mode 0700) as <name>.crt, <name>.key and <name>-ca.crt, each
// mode 0600: all three to temporary files first (written and fsynced), then renamed over the old
// ones one after the other, then the directory fsynced. Returns the three paths. On an error
// nothing is renamed unless the message says so.
tls_result<ClientCredentialFiles> write_private_copies(const ClientCredentials& c, const std::filesystem::path& dir,
                                                       std::string_view name);

struct ServerCredentials {
  TlsServerContext tls;   // make_tls_server_context's result
  std::string sha256;     // of the server certificate's DER
  std::string not_after;  // its notAfter, "2027-11-23 09:15:20 UTC"
  std::string client_ca_sha256;  // of the first certificate in the client CA file
  std::string client_ca_not_after;
  // The earliest notAfter among the client CA file's certificates (for the expiry metric).
  std::chrono::system_clock::time_point client_ca_not_after_time;
};

// The upload API's files, checked as make_tls_server_context checks them (which it then calls),
// with a code for each refusal: the certificate file and key as for a client above (without the
// chain check: the gateway's config names no CA for its own server certificate; its clients hold
// that), the TLS server purpose, then the client CA and the CRL.
credential_result<ServerCredentials> load_server_credentials(const TlsServerFiles& files);

}  // namespace svd::crypto

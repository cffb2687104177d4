#pragma once
// What the TLS server and client contexts (crypto/tls_server.cpp, crypto/tls_client.cpp) share:
// the TLS 1.2 cipher list and the wording of their errors. Private to crypto/.

#include <filesystem>
#include <optional>
#include <string>

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "crypto/tls_server.h"

namespace svd::crypto::detail {

// TLS 1.2 suites: forward secrecy and AEAD only. CBC suites are left out (LUCKY13 and its
// relatives, which testssl.sh flags). The client offers
// the same list: offering less than the server accepts costs nothing, and keeps a misconfigured
// or impostor server from talking it down to CBC.
inline constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";

// "<file>: <problem>"
TlsConfigError tls_file_error(const std::filesystem::path& file, const std::string& problem);

// " (OpenSSL: <reason>)" for the most recent OpenSSL error (a fixed string such as "ee key too
// small"), or ""; clears the queue so a later message does not pick up a stale one.
std::string openssl_reason();

// "2026-11-23 09:15:20 UTC", or "unknown time".
std::string format_utc(const ASN1_TIME* t);

// The one CN of the certificate's subject, as UTF-8; nullopt when there is none, more than one,
// or it is not text.
std::optional<std::string> common_name(const X509* cert);

}  // namespace svd::crypto::detail

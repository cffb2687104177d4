#pragma once
// What the audit log records about a certificate in use (certificate.loaded): its SHA-256
// fingerprint (of the DER, as `openssl x509 -fingerprint -sha256` prints it, in lowercase hex
// without colons) and its expiry. Names nothing: the certificate's subject is a partner or
// client id at most, but the fingerprint is what identifies it.
// Any thread; nothing is returned for a file that holds no readable certificate.

#include <filesystem>
#include <optional>
#include <string>

namespace svd::crypto {

struct CertificateInfo {
  std::string sha256;     // of the first certificate in the file
  std::string not_after;  // "2027-11-23 09:15:20 UTC"
};

// nullopt when the file holds no readable PEM certificate.
std::optional<CertificateInfo> read_certificate_info(const std::filesystem::path& file);

}  // namespace svd::crypto

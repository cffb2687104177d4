#pragma once
// TLS keys and certificate signing requests (PKCS#10), for provisioning a new appliance
// (gateway/provision.h): the MQTT client key and the upload API's server key are made here, and
// their requests go to a CA, which signs them.
//   - private key: EC P-256, PKCS#8 "PRIVATE KEY" PEM (what OpenSSL, Paho and `openssl req` read),
//     created with O_EXCL and mode 0600; a key file that group or others may read is refused,
//     as the linkage and device keys are;
//   - request: "CERTIFICATE REQUEST" PEM, mode 0644 (it is public), signed with SHA-256, with the
//     subject CN, the subjectAltName DNS names and the extendedKeyUsage the certificate is for.
// Nothing here prints or returns key material: what callers see of a key is its algorithm and the
// SHA-256 of its public half, which is also how a request or a certificate is matched to it.
//
// Thread-safety: every function is thread-safe.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/errc.h"

namespace svd::crypto {

enum class CertificateUse {
  client,  // extendedKeyUsage clientAuth: the gateway's certificate towards the hub's broker
  server,  // serverAuth: the upload API's certificate
};

struct CsrRequest {
  std::string common_name;             // 1-64 bytes of UTF-8
  std::vector<std::string> dns_names;  // subjectAltName DNS entries, in this order (may be empty)
  CertificateUse use = CertificateUse::client;
};

struct TlsKeyInfo {
  std::string algorithm;          // "EC P-256", "RSA 3072"
  std::string public_key_sha256;  // of the SubjectPublicKeyInfo DER, lowercase hex
};

struct CsrInfo {
  std::string common_name;  // empty when the subject has none
  std::vector<std::string> dns_names;
  std::string public_key_sha256;
  bool signature_valid = false;  // the request's signature checks with its own public key
};

struct CertificateSummary {
  std::string common_name;
  std::string public_key_sha256;
  std::string not_after;   // "2027-11-23 09:15:20 UTC"
  bool valid_now = false;  // notBefore <= now <= notAfter
};

// A new EC P-256 key in `key_file` (O_EXCL, mode 0600, fsynced with its directory; no file is left
// behind on an error). Errors: key_file_exists, key_file_unreadable (cannot create or write),
// crypto_failure.
result<TlsKeyInfo> generate_tls_key(const std::filesystem::path& key_file);

// An existing TLS private key: an unencrypted PEM EC or RSA key (others may have made it with
// their own tools). Errors: key_file_unreadable (missing, not a regular file, too large, I/O),
// key_file_permissions (group or others have a permission bit), key_file_malformed (anything
// else, including an encrypted key: nothing ever prompts for a passphrase).
result<TlsKeyInfo> read_tls_key(const std::filesystem::path& key_file);

// A request for `request`, signed with the key in `key_file`, written to `csr_file` (mode 0644)
// through a new file beside it that is renamed over it, so a reader never sees half a request.
// Errors: those of read_tls_key, crypto_failure (a name OpenSSL refuses), key_file_unreadable
// (the request cannot be written).
result<void> write_csr(const std::filesystem::path& key_file, const CsrRequest& request,
                       const std::filesystem::path& csr_file);

// Errors: key_file_unreadable (cannot read), key_file_malformed (not a PEM certificate request).
result<CsrInfo> read_csr(const std::filesystem::path& csr_file);

// The first certificate in a PEM file. Errors: key_file_unreadable, key_file_malformed.
result<CertificateSummary> read_certificate_summary(const std::filesystem::path& cert_file);

// A new file (O_EXCL, O_NOFOLLOW) with `mode` set explicitly (not through the umask), written,
// fsynced with its directory; removed again on any failure, so an error means no file.
// What the key files above are written through; provisioning installs a copied linkage key with it.
// Errors: key_file_exists, key_file_unreadable (cannot create or write).
result<void> write_new_file(const std::filesystem::path& file, std::string_view content, mode_t mode);

}  // namespace svd::crypto

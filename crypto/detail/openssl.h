#pragma once
// Owning handles for OpenSSL objects and the PEM and time readers the crypto sources share.
// Private to crypto/. Thread-safe as OpenSSL 3 is: each call on its own objects.

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace svd::crypto::detail {

// unique_ptr<T, Free<T_free>>: the handle is freed with OpenSSL's own function on every path.
template <auto FreeFn>
struct Free {
  template <class T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};
using BioPtr = std::unique_ptr<BIO, Free<BIO_free>>;
using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;

// True when the last PEM read stopped at the end of the data, not at a damaged block (and then
// clears OpenSSL's error queue).
bool pem_at_end();

// Every PEM certificate in `bio`, in order: empty when there is none; nothing when a block is
// damaged.
std::optional<std::vector<X509Ptr>> read_pem_certificates(BIO* bio);

// SHA-256 (hex) of the certificate's DER encoding, its fingerprint; "" if it cannot be encoded.
std::string der_sha256(X509* cert);

// An ASN.1 time (a certificate's notBefore or notAfter) as a time point; the epoch when it is
// missing or unreadable.
std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t);

}  // namespace svd::crypto::detail

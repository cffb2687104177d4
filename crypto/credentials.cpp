#include "crypto/credentials.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <ctime>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "base/unique_fd.h"
#include "crypto/detail/file_io.h"
#include "crypto/detail/openssl.h"
#include "crypto/detail/tls_common.h"
#include "crypto/sha256.h"

namespace svd::crypto {

void throw_exception_from_error(const CredentialError& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

std::string_view to_string(CredentialProblem problem) {
  switch (problem) {
    case CredentialProblem::unreadable: return "unreadable";
    case CredentialProblem::not_pem: return "not_pem";
    case CredentialProblem::key_unreadable: return "key_unreadable";
    case CredentialProblem::key_exposed: return "key_exposed";
    case CredentialProblem::key_mismatch: return "key_mismatch";
    case CredentialProblem::not_yet_valid: return "not_yet_valid";
    case CredentialProblem::expired: return "expired";
    case CredentialProblem::untrusted: return "untrusted";
    case CredentialProblem::wrong_purpose: return "wrong_purpose";
    case CredentialProblem::wrong_name: return "wrong_name";
    case CredentialProblem::ca_unusable: return "ca_unusable";
    case CredentialProblem::crl_unusable: return "crl_unusable";
  }
  return "unreadable";
}

SecretBytes& SecretBytes::operator=(SecretBytes&& o) noexcept {
  if (this != &o) {
    if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
    bytes_ = std::move(o.bytes_);
  }
  return *this;
}

SecretBytes::~SecretBytes() {
  if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

void SecretBytes::shrink_to(std::size_t n) {
  if (n >= bytes_.size()) return;
  OPENSSL_cleanse(bytes_.data() + n, bytes_.size() - n);
  bytes_.resize(n);  // shrinking never reallocates
}

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;
using detail::format_utc;
using detail::openssl_reason;

// A certificate chain or CA bundle is a few KiB; a CRL of a partner CA stays far below 16 MiB.
constexpr std::size_t kMaxPemBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxKeyBytes = std::size_t{64} << 10;

struct StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
struct StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }  // the certificates stay owned elsewhere
};
using detail::BioPtr;
using detail::PkeyPtr;
using detail::X509Ptr;

CredentialError error(CredentialProblem problem, CredentialFile which, const fs::path& file, const std::string& what) {
  return CredentialError{problem, which, file.string() + ": " + what};
}

std::string errno_text(int err) { return std::generic_category().message(err); }

// Reads a regular file of at most `max` bytes into `out`; with `private_key`, refuses one that
// group or others may read. Checked on the descriptor: no window between check and read.
credential_result<void> read_bounded(const fs::path& file, CredentialFile which, std::size_t max, bool private_key,
                                     SecretBytes& out) {
  auto fail = [&](CredentialProblem p, const std::string& what) { return error(p, which, file, what); };
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return fail(CredentialProblem::unreadable, "cannot open: " + errno_text(errno));
  UniqueFd guard(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(CredentialProblem::unreadable, "cannot stat: " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) return fail(CredentialProblem::unreadable, "not a regular file");
  if (private_key && (st.st_mode & 077) != 0)
    return fail(CredentialProblem::key_exposed, "private key is readable by group or others (chmod 600 it)");
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > max)
    return fail(CredentialProblem::unreadable, "larger than " + std::to_string(max) + " bytes");
  // One byte more than stat said shows a file that grew meanwhile.
  SecretBytes bytes(static_cast<std::size_t>(st.st_size) + 1);
  std::size_t size = 0;
  while (size < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + size, bytes.size() - size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(CredentialProblem::unreadable, "cannot read: " + errno_text(errno));
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  if (size == bytes.size()) return fail(CredentialProblem::unreadable, "changed while being read");
  if (size == 0) return fail(CredentialProblem::unreadable, "empty file");
  bytes.shrink_to(size);
  out = std::move(bytes);
  return {};
}

credential_result<std::string> read_public(const fs::path& file, CredentialFile which) {
  SecretBytes bytes;
  if (auto r = read_bounded(file, which, kMaxPemBytes, false, bytes); !r) return r.error();
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

BioPtr memory_bio(const void* data, std::size_t size) {
  return BioPtr(BIO_new_mem_buf(data, static_cast<int>(size)));
}

// Every PEM certificate in `pem`; `problem` when there is none or a block is damaged.
credential_result<std::vector<X509Ptr>> parse_certificates(const std::string& pem, const fs::path& file,
                                                           CredentialFile which, CredentialProblem problem,
                                                           const char* what) {
  BioPtr bio = memory_bio(pem.data(), pem.size());
  if (!bio) return error(problem, which, file, "out of memory");
  auto certs = detail::read_pem_certificates(bio.get());
  if (!certs) return error(problem, which, file, std::string("damaged PEM block in ") + what + openssl_reason());
  if (certs->empty())
    return error(problem, which, file, std::string("no PEM certificate found (expected ") + what + ")");
  return std::move(*certs);
}

// A certificate file, its key and the checks every holder's certificate gets.
struct Leaf {
  std::string chain_pem;
  SecretBytes key_pem;
  std::vector<X509Ptr> chain;  // [0] is the leaf
  std::string sha256, not_after;
  Clock::time_point not_after_time;
};

credential_result<Leaf> load_leaf(const fs::path& cert_file, const fs::path& key_file, Clock::time_point now,
                                  int purpose) {
  using P = CredentialProblem;
  const auto C = CredentialFile::certificate, K = CredentialFile::key;
  Leaf leaf;
  auto chain_pem = read_public(cert_file, C);
  if (!chain_pem) return chain_pem.error();
  leaf.chain_pem = std::move(*chain_pem);
  auto chain = parse_certificates(leaf.chain_pem, cert_file, C, P::not_pem, "the certificate");
  if (!chain) return chain.error();
  leaf.chain = std::move(*chain);
  X509* cert = leaf.chain[0].get();

  if (auto r = read_bounded(key_file, K, kMaxKeyBytes, true, leaf.key_pem); !r) return r.error();
  BioPtr bio = memory_bio(leaf.key_pem.data(), leaf.key_pem.size());
  if (!bio) return error(P::key_unreadable, K, key_file, "out of memory");
  ERR_clear_error();
  // No passphrase callback answer: an encrypted key fails here instead of prompting on a tty.
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  if (!key)
    return error(P::key_unreadable, K, key_file, "not a PEM private key, or one protected by a passphrase" + openssl_reason());
  if (X509_check_private_key(cert, key.get()) != 1) {
    ERR_clear_error();
    return error(P::key_mismatch, K, key_file, "private key does not match the certificate in " + cert_file.string());
  }

  std::time_t t = Clock::to_time_t(now);
  if (X509_cmp_time(X509_get0_notBefore(cert), &t) > 0)
    return error(P::not_yet_valid, C, cert_file,
                 "certificate not valid yet (notBefore " + format_utc(X509_get0_notBefore(cert)) + ")");
  if (X509_cmp_time(X509_get0_notAfter(cert), &t) <= 0)
    return error(P::expired, C, cert_file, "certificate expired (notAfter " + format_utc(X509_get0_notAfter(cert)) + ")");
  // X509_check_purpose answers 1 for a certificate without extendedKeyUsage (any use).
  if (X509_check_purpose(cert, purpose, 0) != 1) {
    ERR_clear_error();
    return error(P::wrong_purpose, C, cert_file,
                 purpose == X509_PURPOSE_SSL_CLIENT ? "certificate is not for TLS clients (extendedKeyUsage)"
                                                    : "certificate is not for TLS servers (extendedKeyUsage)");
  }
  leaf.sha256 = detail::der_sha256(cert);
  leaf.not_after = format_utc(X509_get0_notAfter(cert));
  leaf.not_after_time = detail::to_time_point(X509_get0_notAfter(cert));
  return leaf;
}

credential_result<std::vector<X509Ptr>> load_ca(const std::string& pem, const fs::path& file) {
  auto cas = parse_certificates(pem, file, CredentialFile::ca, CredentialProblem::ca_unusable, "CA certificates");
  if (!cas) return cas.error();
  for (const X509Ptr& ca : *cas) {
    if (X509_check_ca(ca.get()) == 0)
      return error(CredentialProblem::ca_unusable, CredentialFile::ca, file,
                   "holds a certificate that is not a CA certificate");
  }
  return cas;
}

// X509_verify_cert with `cas` as the only trust anchors (no system CAs, no partial chains).
credential_result<void> verify_chain(const Leaf& leaf, const std::vector<X509Ptr>& cas, const fs::path& cert_file,
                                     const fs::path& ca_file, Clock::time_point now, int purpose) {
  auto fail = [&](const std::string& what) {
    return error(CredentialProblem::untrusted, CredentialFile::certificate, cert_file, what);
  };
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  std::unique_ptr<STACK_OF(X509), StackFree> untrusted(sk_X509_new_null());
  if (!store || !ctx || !untrusted) return fail("out of memory");
  for (const X509Ptr& ca : cas)
    if (X509_STORE_add_cert(store.get(), ca.get()) != 1) return fail("CA certificate refused" + openssl_reason());
  for (std::size_t i = 1; i < leaf.chain.size(); ++i)
    if (sk_X509_push(untrusted.get(), leaf.chain[i].get()) <= 0) return fail("out of memory");
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.chain[0].get(), untrusted.get()) != 1)
    return fail("cannot verify" + openssl_reason());
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  X509_STORE_CTX_set_time(ctx.get(), 0, Clock::to_time_t(now));
  if (X509_verify_cert(ctx.get()) == 1) return {};
  const int err = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  if (err == X509_V_ERR_INVALID_PURPOSE)
    return error(CredentialProblem::wrong_purpose, CredentialFile::certificate, cert_file,
                 "certificate chain is not for this use (extendedKeyUsage)");
  const char* why = X509_verify_cert_error_string(err);
  return fail(std::string("does not chain to the CA in ") + ca_file.string() + " (" +
              (why ? why : "verification failed") + ")");
}

bool write_all(int fd, const void* data, std::size_t size) {
  return detail::write_all(fd, static_cast<const unsigned char*>(data), size);
}

// Writes `size` bytes to a new temporary file next to `target`, mode 0600, fsynced.
bool write_temp(const fs::path& temp, const void* data, std::size_t size, std::string& why) {
  ::unlink(temp.c_str());  // a leftover of an interrupted run
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
  if (fd < 0) {
    why = temp.string() + ": cannot create: " + errno_text(errno);
    return false;
  }
  UniqueFd guard(fd);
  if (::fchmod(fd, 0600) != 0 || !write_all(fd, data, size) || ::fsync(fd) != 0 || !guard.close()) {
    why = temp.string() + ": cannot write: " + errno_text(errno);
    guard.close();
    ::unlink(temp.c_str());
    return false;
  }
  return true;
}

}  // namespace

credential_result<ClientCredentials> load_client_credentials(const ClientCredentialFiles& files,
                                                             std::string_view expected_cn, Clock::time_point now) {
  ERR_clear_error();
  auto leaf = load_leaf(files.cert_chain, files.key, now, X509_PURPOSE_SSL_CLIENT);
  if (!leaf) return leaf.error();
  auto ca_pem = read_public(files.ca, CredentialFile::ca);
  if (!ca_pem) {
    CredentialError e = ca_pem.error();
    e.problem = CredentialProblem::ca_unusable;
    return e;
  }
  auto cas = load_ca(*ca_pem, files.ca);
  if (!cas) return cas.error();
  if (auto r = verify_chain(*leaf, *cas, files.cert_chain, files.ca, now, X509_PURPOSE_SSL_CLIENT); !r)
    return r.error();
  const auto cn = detail::common_name(leaf->chain[0].get());
  if (!cn || *cn != expected_cn)
    return error(CredentialProblem::wrong_name, CredentialFile::certificate, files.cert_chain,
                 "certificate's CN is not \"" + std::string(expected_cn) + "\" ([gateway] partner)");

  ClientCredentials out;
  Sha256 digest;
  // Each part with its length, so that moving bytes between files changes the digest.
  for (std::string_view part : {std::string_view(leaf->chain_pem),
                                std::string_view(reinterpret_cast<const char*>(leaf->key_pem.data()),
                                                 leaf->key_pem.size()),
                                std::string_view(*ca_pem)}) {
    digest.update(std::to_string(part.size()) + ":");
    digest.update(part);
  }
  out.digest = digest.finish_hex();
  out.cert_chain_pem = std::move(leaf->chain_pem);
  out.key_pem = std::move(leaf->key_pem);
  out.ca_pem = std::move(*ca_pem);
  out.sha256 = std::move(leaf->sha256);
  out.not_after = std::move(leaf->not_after);
  out.not_after_time = leaf->not_after_time;
  return out;
}

tls_result<ClientCredentialFiles> write_private_copies(const ClientCredentials& c, const fs::path& dir,
                                                       std::string_view name) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return TlsConfigError{dir.string() + ": cannot create: " + errno_text(errno)};
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return TlsConfigError{dir.string() + ": not a directory"};
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0)
    return TlsConfigError{dir.string() + ": cannot restrict to mode 0700: " + errno_text(errno)};

  const std::string base(name);
  ClientCredentialFiles out{dir / (base + ".crt"), dir / (base + ".key"), dir / (base + "-ca.crt")};
  struct Part {
    const fs::path& target;
    const void* data;
    std::size_t size;
  };
  const Part parts[] = {{out.cert_chain, c.cert_chain_pem.data(), c.cert_chain_pem.size()},
                        {out.key, c.key_pem.data(), c.key_pem.size()},
                        {out.ca, c.ca_pem.data(), c.ca_pem.size()}};
  auto temp_of = [](const fs::path& p) { return p.parent_path() / ("." + p.filename().string() + ".tmp"); };
  std::string why;
  for (std::size_t i = 0; i < std::size(parts); ++i) {
    if (!write_temp(temp_of(parts[i].target), parts[i].data, parts[i].size, why)) {
      for (std::size_t j = 0; j < i; ++j) ::unlink(temp_of(parts[j].target).c_str());
      return TlsConfigError{why};
    }
  }
  // The three renames follow each other at once; a reader between them (a connect attempt) sees
  // a mismatched pair and fails, and the caller reconnects after the last one anyway.
  for (const Part& p : parts) {
    if (::rename(temp_of(p.target).c_str(), p.target.c_str()) != 0) {
      why = p.target.string() + ": cannot replace (some copies may be renewed already): " + errno_text(errno);
      for (const Part& q : parts) ::unlink(temp_of(q.target).c_str());
      return TlsConfigError{why};
    }
  }
  if (!detail::fsync_directory(dir)) return TlsConfigError{dir.string() + ": cannot fsync: " + errno_text(errno)};
  return out;
}

credential_result<ServerCredentials> load_server_credentials(const TlsServerFiles& files) {
  ERR_clear_error();
  const auto now = Clock::now();
  auto leaf = load_leaf(files.cert_chain, files.key, now, X509_PURPOSE_SSL_SERVER);
  if (!leaf) return leaf.error();
  auto ca_pem = read_public(files.client_ca, CredentialFile::ca);
  if (!ca_pem) {
    CredentialError e = ca_pem.error();
    e.problem = CredentialProblem::ca_unusable;
    return e;
  }
  auto cas = load_ca(*ca_pem, files.client_ca);
  if (!cas) return cas.error();

  // The rest (the CRL above all) as the context itself checks it. Its errors start with the
  // file's name (tls_server.h), which says which file was refused.
  auto tls = make_tls_server_context(files);
  if (!tls) {
    const std::string& m = tls.error().message;
    auto starts_with = [&m](const fs::path& p) { return !p.empty() && m.rfind(p.string() + ": ", 0) == 0; };
    CredentialError e{CredentialProblem::ca_unusable, CredentialFile::ca, m};
    if (starts_with(files.crl)) e = {CredentialProblem::crl_unusable, CredentialFile::crl, m};
    else if (starts_with(files.key)) e = {CredentialProblem::key_unreadable, CredentialFile::key, m};
    else if (starts_with(files.cert_chain)) e = {CredentialProblem::not_pem, CredentialFile::certificate, m};
    return e;
  }
  ServerCredentials out;
  out.tls = std::move(*tls);
  out.sha256 = std::move(leaf->sha256);
  out.not_after = std::move(leaf->not_after);
  out.client_ca_sha256 = detail::der_sha256((*cas)[0].get());
  out.client_ca_not_after = format_utc(X509_get0_notAfter((*cas)[0].get()));
  out.client_ca_not_after_time = detail::to_time_point(X509_get0_notAfter((*cas)[0].get()));
  for (const X509Ptr& ca : *cas)
    out.client_ca_not_after_time =
        std::min(out.client_ca_not_after_time, detail::to_time_point(X509_get0_notAfter(ca.get())));
  return out;
}

}  // namespace svd::crypto

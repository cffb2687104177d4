#include "crypto/signing_key.h"

#include <array>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/hex.h"
#include "crypto/linkage_key.h"
#include "tests/support/key_files.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace svd::crypto {
namespace {

namespace fs = std::filesystem;
using svd::test_support::TempDir;

using test_support::mode_of;
using test_support::read_file;
using test_support::write_file;

std::vector<unsigned char> bytes_of(std::string_view hex) {
  std::vector<unsigned char> out;
  EXPECT_TRUE(svd::from_hex(hex, out)) << hex;
  return out;
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// The PEM OpenSSL writes for a key, private (PKCS#8) or public (SubjectPublicKeyInfo).
std::string pem_of(EVP_PKEY* pkey, bool private_part) {
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_NE(bio, nullptr);
  const int ok = private_part ? PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr)
                              : PEM_write_bio_PUBKEY(bio, pkey);
  EXPECT_EQ(ok, 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return out;
}

struct Command {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// A command line (no shell: split into words as a shell would, quotes included), both streams.
Command run(const std::string& command) {
  const auto r = test_support::run(test_support::split_words(command));
  return {r.exit_code, r.out + r.err};
}

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

class SigningKeyTest : public ::testing::Test {
 protected:
  // A fresh key pair in the test directory.
  PublicKey generate(const std::string& name = "device") {
    auto pub = generate_signing_key(private_file(name), public_file(name));
    EXPECT_TRUE(pub) << pub.error().message();
    return pub ? *pub : PublicKey{};
  }
  fs::path private_file(const std::string& name = "device") const { return dir_ / (name + ".key"); }
  fs::path public_file(const std::string& name = "device") const { return dir_ / (name + ".pub"); }

  TempDir dir_{"svd-signing-key"};
};

TEST_F(SigningKeyTest, GeneratedKeyLoadsBackWithTheSamePublicKey) {
  const PublicKey pub = generate();
  EXPECT_NE(pub, PublicKey{});

  auto key = load_signing_key(private_file());
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->public_key(), pub);
  auto loaded_pub = load_public_key(public_file());
  ASSERT_TRUE(loaded_pub) << loaded_pub.error().message();
  EXPECT_EQ(*loaded_pub, pub);

  // The formats OpenSSL and other tools read: PKCS#8 and SubjectPublicKeyInfo.
  const std::string private_pem = read_file(private_file());
  EXPECT_TRUE(private_pem.starts_with("-----BEGIN PRIVATE KEY-----\n")) << private_pem.substr(0, 40);
  EXPECT_EQ(read_file(public_file()), public_key_pem(pub));
  EXPECT_TRUE(public_key_pem(pub).starts_with("-----BEGIN PUBLIC KEY-----\n"));

  EXPECT_EQ(mode_of(private_file()), 0600u);
  EXPECT_EQ(mode_of(public_file()), 0644u);
}

TEST_F(SigningKeyTest, TwoGeneratedKeysDiffer) {
  EXPECT_NE(generate("a"), generate("b"));
}

TEST_F(SigningKeyTest, GenerationDoesNotDependOnTheUmask) {
  const mode_t old = ::umask(0);
  const PublicKey pub = generate();
  ::umask(old);
  EXPECT_NE(pub, PublicKey{});
  EXPECT_EQ(mode_of(private_file()), 0600u);
  EXPECT_EQ(mode_of(public_file()), 0644u);
}

TEST_F(SigningKeyTest, SignatureVerifiesAndAnyChangeBreaksIt) {
  generate();
  auto key = load_signing_key(private_file());
  ASSERT_TRUE(key);
  const std::string message = "svd-gateway audit checkpoint v1\nnorthgate-ed\n42\n";
  const Signature sig = key->sign(message);
  EXPECT_TRUE(verify_signature(key->public_key(), message, sig));
  EXPECT_EQ(key->sign(message), sig);  // Ed25519 is deterministic

  std::string tampered = message;
  tampered[tampered.size() - 2] = '3';
  EXPECT_FALSE(verify_signature(key->public_key(), tampered, sig));
  EXPECT_FALSE(verify_signature(key->public_key(), message + "x", sig));
  EXPECT_FALSE(verify_signature(key->public_key(), message.substr(1), sig));

  for (std::size_t i : {std::size_t{0}, std::size_t{31}, std::size_t{32}, std::size_t{63}}) {
    Signature bad = sig;
    bad[i] ^= 0x01;
    EXPECT_FALSE(verify_signature(key->public_key(), message, bad)) << "byte " << i;
  }
  EXPECT_FALSE(verify_signature(key->public_key(), message, std::span(sig).first(63)));
  std::vector<unsigned char> longer(sig.begin(), sig.end());
  longer.push_back(0);
  EXPECT_FALSE(verify_signature(key->public_key(), message, longer));
  EXPECT_FALSE(verify_signature(key->public_key(), message, std::span<const unsigned char>()));
}

TEST_F(SigningKeyTest, AnotherKeysSignatureDoesNotVerify) {
  generate("a");
  generate("b");
  auto a = load_signing_key(private_file("a"));
  auto b = load_signing_key(private_file("b"));
  ASSERT_TRUE(a && b);
  const Signature sig = a->sign("message");
  EXPECT_TRUE(verify_signature(a->public_key(), "message", sig));
  EXPECT_FALSE(verify_signature(b->public_key(), "message", sig));
}

TEST_F(SigningKeyTest, MovedKeyStillSigns) {
  generate();
  auto loaded = load_signing_key(private_file());
  ASSERT_TRUE(loaded);
  SigningKey key = std::move(*loaded);
  SigningKey other = std::move(key);
  EXPECT_TRUE(verify_signature(other.public_key(), "m", other.sign("m")));
}

// The header promises concurrent sign() calls on one key; run under TSan this checks it.
TEST_F(SigningKeyTest, SeveralThreadsSignWithOneKey) {
  generate();
  auto key = load_signing_key(private_file());
  ASSERT_TRUE(key);
  std::vector<Signature> sigs(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < sigs.size(); ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) sigs[t] = key->sign("message " + std::to_string(t));
    });
  for (auto& th : threads) th.join();
  for (std::size_t t = 0; t < sigs.size(); ++t)
    EXPECT_TRUE(verify_signature(key->public_key(), "message " + std::to_string(t), sigs[t]));
}

TEST_F(SigningKeyTest, PrivateKeyReadableByGroupOrOthersIsRefused) {
  generate();
  for (mode_t mode : {0640u, 0604u, 0610u, 0601u, 0660u}) {
    ASSERT_EQ(::chmod(private_file().c_str(), mode), 0);
    auto key = load_signing_key(private_file());
    EXPECT_FALSE(key) << std::oct << mode;
    if (!key) { EXPECT_EQ(key.error(), errc::key_file_permissions) << std::oct << mode; }
  }
  ASSERT_EQ(::chmod(private_file().c_str(), 0400), 0);
  EXPECT_TRUE(load_signing_key(private_file()));
  // A public key is public: any mode.
  ASSERT_EQ(::chmod(public_file().c_str(), 0666), 0);
  EXPECT_TRUE(load_public_key(public_file()));
}

TEST_F(SigningKeyTest, ExistingPrivateFileRefusesGenerationAndNothingIsWritten) {
  write_file(private_file(), "keep me\n");
  auto r = generate_signing_key(private_file(), public_file());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::key_file_exists);
  EXPECT_EQ(read_file(private_file()), "keep me\n");
  EXPECT_FALSE(fs::exists(public_file()));
}

TEST_F(SigningKeyTest, ExistingPublicFileRefusesGenerationAndNothingIsWritten) {
  write_file(public_file(), "keep me too\n", 0644);
  auto r = generate_signing_key(private_file(), public_file());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::key_file_exists);
  EXPECT_EQ(read_file(public_file()), "keep me too\n");
  EXPECT_FALSE(fs::exists(fs::symlink_status(private_file())));
}

TEST_F(SigningKeyTest, SymlinkInPlaceOfTheKeyRefusesGenerationAndIsNotFollowed) {
  const fs::path target = dir_ / "elsewhere.key";
  fs::create_symlink(target, private_file());
  auto r = generate_signing_key(private_file(), public_file());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::key_file_exists);
  EXPECT_FALSE(fs::exists(target));
  EXPECT_FALSE(fs::exists(public_file()));
}

TEST_F(SigningKeyTest, SamePathForBothFilesLeavesNothing) {
  auto r = generate_signing_key(private_file(), private_file());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::key_file_exists);
  EXPECT_FALSE(fs::exists(private_file()));
}

TEST_F(SigningKeyTest, MissingDirectoryIsUnreadableAndLeavesNothing) {
  auto r = generate_signing_key(dir_ / "device.key", dir_ / "no-such-dir" / "device.pub");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::key_file_unreadable);
  EXPECT_FALSE(fs::exists(dir_ / "device.key"));
}

TEST_F(SigningKeyTest, UnreadableFiles) {
  auto missing = load_signing_key(dir_ / "missing.key");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), errc::key_file_unreadable);
  EXPECT_EQ(load_public_key(dir_ / "missing.pub").error(), errc::key_file_unreadable);

  fs::create_directory(dir_ / "a-directory");
  ::chmod((dir_ / "a-directory").c_str(), 0700);
  EXPECT_EQ(load_signing_key(dir_ / "a-directory").error(), errc::key_file_unreadable);

  generate();
  fs::create_symlink(private_file(), dir_ / "link.key");
  EXPECT_EQ(load_signing_key(dir_ / "link.key").error(), errc::key_file_unreadable);

  // Over the bound: refused without being parsed, even though it starts with a valid key.
  write_file(dir_ / "huge.key", read_file(private_file()) + std::string(16 << 10, '\n'));
  EXPECT_EQ(load_signing_key(dir_ / "huge.key").error(), errc::key_file_unreadable);
  write_file(dir_ / "huge.pub", read_file(public_file()) + std::string(16 << 10, '\n'), 0644);
  EXPECT_EQ(load_public_key(dir_ / "huge.pub").error(), errc::key_file_unreadable);
}

TEST_F(SigningKeyTest, MalformedPemIsRefused) {
  generate();
  const std::string good_private = read_file(private_file());
  const std::string good_public = read_file(public_file());
  // Sanity: the good files load, so the failures below come from the damage.
  ASSERT_TRUE(load_signing_key(private_file()));
  ASSERT_TRUE(load_public_key(public_file()));

  std::string wrong_label = good_private;
  wrong_label.replace(wrong_label.find("PRIVATE KEY"), 11, "SECRET KEY!");
  std::string damaged_base64 = good_private;
  damaged_base64[good_private.find('\n') + 5] = '*';
  std::string short_der = good_private;  // drops the last base64 line's bytes
  short_der.erase(short_der.find('\n') + 1, 8);
  const std::string cases[] = {
      "",
      "not a key\n",
      good_private.substr(0, good_private.size() / 2),
      wrong_label,
      damaged_base64,
      short_der,
      good_public,  // a public key where the private one is expected
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",  // a linkage key
  };
  int i = 0;
  for (const std::string& text : cases) {
    const fs::path file = dir_ / ("bad" + std::to_string(i++) + ".key");
    write_file(file, text);
    auto key = load_signing_key(file);
    EXPECT_FALSE(key) << text;
    if (!key) { EXPECT_EQ(key.error(), errc::key_file_malformed) << text; }
  }

  // The private key where the public one is expected, and damaged public keys.
  std::string damaged_public = good_public;
  damaged_public[good_public.find('\n') + 3] = '!';
  for (const std::string& text : {good_private, damaged_public, std::string("-----BEGIN PUBLIC KEY-----\n")}) {
    const fs::path file = dir_ / ("bad" + std::to_string(i++) + ".pub");
    write_file(file, text, 0644);
    auto pub = load_public_key(file);
    EXPECT_FALSE(pub) << text;
    if (!pub) { EXPECT_EQ(pub.error(), errc::key_file_malformed) << text; }
  }
}

// Keys OpenSSL reads without complaint but that are not Ed25519: X25519 has the same raw size.
TEST_F(SigningKeyTest, OtherKeyTypesAreRefusedAsMalformed) {
  struct Kind {
    const char* name;
    PkeyPtr key;
  };
  Kind kinds[] = {
      {"RSA", PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}))},
      {"EC P-256", PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"))},
      {"X25519", PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"))},
      {"Ed448", PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"))},
  };
  for (const Kind& kind : kinds) {
    ASSERT_NE(kind.key, nullptr) << kind.name;
    const fs::path priv = dir_ / "other.key", pub = dir_ / "other.pub";
    write_file(priv, pem_of(kind.key.get(), true));
    write_file(pub, pem_of(kind.key.get(), false), 0644);
    ASSERT_TRUE(read_file(priv).starts_with("-----BEGIN PRIVATE KEY-----")) << kind.name;
    auto key = load_signing_key(priv);
    EXPECT_FALSE(key) << kind.name;
    if (!key) { EXPECT_EQ(key.error(), errc::key_file_malformed) << kind.name; }
    auto public_key = load_public_key(pub);
    EXPECT_FALSE(public_key) << kind.name;
    if (!public_key) { EXPECT_EQ(public_key.error(), errc::key_file_malformed) << kind.name; }
  }
}

// An encrypted key fails at once: no passphrase prompt on the terminal.
TEST_F(SigningKeyTest, PassphraseProtectedKeyIsRefused) {
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_NE(pkey, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  char pass[] = "secret";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio, pkey.get(), EVP_aes_256_cbc(), pass, 6, nullptr, nullptr), 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  const std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  ASSERT_TRUE(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
  write_file(private_file(), pem);
  auto key = load_signing_key(private_file());
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error(), errc::key_file_malformed);
}

// An auditor checks with standard tools: OpenSSL derives the same public key from our private
// file, and verifies our signatures against our public file.
TEST_F(SigningKeyTest, OpensslCommandLineAgrees) {
  generate();
  const Command pubout = run("openssl pkey -in " + quoted(private_file()) + " -pubout");
  ASSERT_EQ(pubout.exit_code, 0) << pubout.output;
  EXPECT_EQ(pubout.output, read_file(public_file()));

  auto key = load_signing_key(private_file());
  ASSERT_TRUE(key);
  const std::string message = "checkpoint note\n";
  const Signature sig = key->sign(message);
  write_file(dir_ / "msg", message, 0644);
  write_file(dir_ / "sig", std::string(sig.begin(), sig.end()), 0644);
  const std::string verify = "openssl pkeyutl -verify -pubin -inkey " + quoted(public_file()) + " -rawin -in " +
                             quoted(dir_ / "msg") + " -sigfile " + quoted(dir_ / "sig");
  const Command ok = run(verify);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("Signature Verified Successfully"), std::string::npos) << ok.output;

  write_file(dir_ / "msg", "checkpoint note!\n", 0644);
  const Command bad = run(verify);
  EXPECT_NE(bad.exit_code, 0) << bad.output;
}

struct Rfc8032Vector {
  const char* name;
  const char* secret_key;
  const char* public_key;
  const char* message;  // hex
  const char* signature;
};

// RFC 8032 section 7.1, TEST 1 (the empty message) and TEST 2.
constexpr Rfc8032Vector kRfc8032[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
};

TEST_F(SigningKeyTest, Rfc8032TestVectors) {
  for (const Rfc8032Vector& v : kRfc8032) {
    const std::vector<unsigned char> secret = bytes_of(v.secret_key);
    PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, secret.data(), secret.size()));
    ASSERT_NE(pkey, nullptr) << v.name;
    const fs::path file = dir_ / "rfc8032.key";
    write_file(file, pem_of(pkey.get(), true));

    auto key = load_signing_key(file);
    ASSERT_TRUE(key) << v.name << ": " << key.error().message();
    EXPECT_EQ(to_hex(key->public_key().bytes), v.public_key) << v.name;
    const std::vector<unsigned char> message_bytes = bytes_of(v.message);
    const std::string message(message_bytes.begin(), message_bytes.end());
    const Signature sig = key->sign(message);
    EXPECT_EQ(to_hex(sig), v.signature) << v.name;
    EXPECT_TRUE(verify_signature(key->public_key(), message, bytes_of(v.signature))) << v.name;
  }
}

TEST_F(SigningKeyTest, FingerprintKnownAnswer) {
  // Computed outside this code: sha256(b"svd-gateway signing key fingerprint v1\0" + pub)[:16].
  PublicKey pub;
  const std::vector<unsigned char> bytes = bytes_of(kRfc8032[0].public_key);
  std::copy(bytes.begin(), bytes.end(), pub.bytes.begin());
  EXPECT_EQ(fingerprint(pub), "3762 07a3 19a7 a3ce aa62 f488 fa7b 4115");

  // The same 32 bytes as a linkage key give another fingerprint: the labels keep them apart.
  LinkageKey linkage("k", pub.bytes);
  EXPECT_NE(fingerprint(linkage), fingerprint(pub));
  EXPECT_EQ(fingerprint(linkage), "68fb e044 e4a9 a76f 789f 0c10 a867 a099");
}

TEST_F(SigningKeyTest, FingerprintOfAGeneratedKeyIsStableAcrossFiles) {
  const PublicKey pub = generate();
  auto key = load_signing_key(private_file());
  auto loaded = load_public_key(public_file());
  ASSERT_TRUE(key && loaded);
  EXPECT_EQ(fingerprint(key->public_key()), fingerprint(pub));
  EXPECT_EQ(fingerprint(*loaded), fingerprint(pub));
  EXPECT_EQ(fingerprint(pub).size(), 39u);
}

}  // namespace
}  // namespace svd::crypto

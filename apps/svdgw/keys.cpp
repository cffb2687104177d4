// svdgw keys: the area's linkage key and the gateway's Ed25519 device key, made and compared.

#include <iostream>

#include <CLI/CLI.hpp>

#include "apps/svdgw/command.h"
#include "apps/svdgw/common.h"
#include "base/time.h"
#include "crypto/linkage_key.h"
#include "crypto/signing_key.h"

namespace svd::svdgw {
namespace {

int cmd_keys_generate(const std::filesystem::path& out) {
  auto r = crypto::generate_linkage_key(out);
  if (!r) {
    auto code = static_cast<errc>(r.error().value());
    std::cerr << out.string() << ": " << errc_message(code) << " [" << errc_name(code) << "]\n";
    return 1;
  }
  auto key = crypto::load_linkage_key(out, "new");
  std::cout << "wrote a new linkage key to " << out.string() << " (mode 0600)\n";
  if (key) std::cout << "fingerprint " << crypto::fingerprint(*key) << '\n';
  std::cout << "Share it with the area's other partners over a secure channel; never with the hub.\n";
  return 0;
}

// With --key: the fingerprint alone. With --config: one line per configured key, "<id> <fingerprint>"
// and its window, so partners compare every key of a rotation.
int cmd_keys_fingerprint(const std::filesystem::path& key_file, const std::filesystem::path& config_file) {
  if (key_file.empty()) {
    auto cfg = load_config_or_explain(config_file);
    if (!cfg) return 1;
    auto keys = load_keys_or_explain(*cfg);
    if (!keys) return 1;
    for (const auto& e : keys->entries()) {
      std::cout << e.key.id() << "  " << crypto::fingerprint(e.key);
      if (e.window.from) std::cout << "  from " << utc_iso(*e.window.from);
      if (e.window.until) std::cout << "  until " << utc_iso(*e.window.until);
      std::cout << '\n';
    }
    return 0;
  }
  const std::filesystem::path& file = key_file;
  auto key = crypto::load_linkage_key(file, "key");
  if (!key) {
    auto code = static_cast<errc>(key.error().value());
    std::cerr << file.string() << ": " << errc_message(code) << " [" << errc_name(code) << "]\n";
    return 1;
  }
  std::cout << crypto::fingerprint(*key) << '\n';
  return 0;
}

// errc_message describes the linkage key's hex file; a device key file is PEM.
std::string device_key_problem(errc code) {
  if (code == errc::key_file_malformed) return "not a PEM Ed25519 key (svdgw keys generate-device writes one)";
  return std::string(errc_message(code));
}

// Beside the private key unless told otherwise: device.key -> device.pub, anything else + ".pub".
std::filesystem::path default_public_file(std::filesystem::path private_file) {
  if (private_file.extension() == ".key") return private_file.replace_extension(".pub");
  private_file += ".pub";
  return private_file;
}

int cmd_keys_generate_device(const std::filesystem::path& out, std::filesystem::path public_file) {
  if (public_file.empty()) public_file = default_public_file(out);
  if (public_file.lexically_normal() == out.lexically_normal()) {
    std::cerr << "--public must name another file than --out (" << out.string() << ")\n";
    return 1;
  }
  auto pub = crypto::generate_signing_key(out, public_file);
  if (!pub) {
    auto code = static_cast<errc>(pub.error().value());
    if (code == errc::key_file_exists) {
      std::error_code ec;
      const bool out_exists = std::filesystem::exists(std::filesystem::symlink_status(out, ec));
      std::cerr << (out_exists ? out : public_file).string() << ": " << errc_message(code);
    } else if (code == errc::key_file_unreadable) {
      std::cerr << "cannot create or write " << out.string() << " and " << public_file.string()
                << " (does the directory exist, and may this user write there?)";
    } else {
      std::cerr << errc_message(code);
    }
    std::cerr << " [" << errc_name(code) << "]\nnothing was written\n";
    return 1;
  }
  std::cout << "wrote a new device signing key (Ed25519) to " << out.string() << " (mode 0600)\n"
            << "and its public key to " << public_file.string() << '\n'
            << "fingerprint " << crypto::fingerprint(*pub) << '\n'
            << "Give the public key to the hub's operator, who checks this gateway's audit checkpoints with it;\n"
            << "the private key never leaves this gateway.\n";
  return 0;
}

// Accepts the public or the private key file, so the fingerprint can be read on either side.
int cmd_keys_device_fingerprint(const std::filesystem::path& file) {
  auto report = [&file](errc code) {
    std::cerr << file.string() << ": " << device_key_problem(code) << " [" << errc_name(code) << "]\n";
    return 1;
  };
  auto pub = crypto::load_public_key(file);
  if (pub) {
    std::cout << crypto::fingerprint(*pub) << '\n';
    return 0;
  }
  if (pub.error() != errc::key_file_malformed) return report(static_cast<errc>(pub.error().value()));
  auto key = crypto::load_signing_key(file);
  if (!key && key.error() == errc::key_file_permissions) {
    // The permission check comes before parsing, so the file may not be a private key at all.
    std::cerr << file.string() << ": not a PEM Ed25519 public key, and as a private key it is readable by group "
              << "or others (chmod 600 it) [key_file_permissions]\n";
    return 1;
  }
  if (!key) return report(static_cast<errc>(key.error().value()));
  std::cout << crypto::fingerprint(key->public_key()) << '\n';
  return 0;
}

}  // namespace

std::vector<Command> add_keys(CLI::App& app) {
  auto* keys = app.add_subcommand("keys", "Linkage key and device signing key tools");
  keys->require_subcommand(1);
  struct Paths {
    std::filesystem::path key_out, key_file, key_config, device_out, device_public, device_file;
  };
  auto p = std::make_shared<Paths>();
  auto& [key_out, key_file, key_config, device_out, device_public, device_file] = *p;
  auto* generate = keys->add_subcommand("generate", "Create a new random linkage key file (mode 0600)");
  generate->add_option("--out", key_out, "Where to write the key")->required();
  auto* fingerprint = keys->add_subcommand("fingerprint", "Print a key's fingerprint (safe to share)");
  auto* key_opt = fingerprint->add_option("--key", key_file, "Key file");
  auto* cfg_opt = fingerprint->add_option("--config", key_config,
                                         "Gateway config naming the key(s): prints each key's id, fingerprint and window");
  key_opt->excludes(cfg_opt);
  fingerprint->callback([p] {
    if (p->key_file.empty() && p->key_config.empty()) throw CLI::RequiredError("--key or --config");
  });
  auto* generate_device = keys->add_subcommand(
      "generate-device", "Create this gateway's Ed25519 key pair that signs its audit checkpoints");
  generate_device->add_option("--out", device_out, "Where to write the private key (PEM, mode 0600)")->required();
  generate_device->add_option("--public", device_public,
                              "Where to write the public key (default: --out with .key replaced by .pub, or .pub "
                              "appended)");
  generate_device->footer("Refuses to overwrite: if either file exists, neither is written. Exit status: 0 written, 1 "
                          "not written.");
  auto* device_fingerprint = keys->add_subcommand(
      "device-fingerprint", "Print a device key's fingerprint (safe to share) from its public or private key file");
  device_fingerprint->add_option("file", device_file, "The public or private key file (PEM)")->required();

  return {{generate, [p] { return cmd_keys_generate(p->key_out); }},
          {fingerprint, [p] { return cmd_keys_fingerprint(p->key_file, p->key_config); }},
          {generate_device, [p] { return cmd_keys_generate_device(p->device_out, p->device_public); }},
          {device_fingerprint, [p] { return cmd_keys_device_fingerprint(p->device_file); }}};
}

}  // namespace svd::svdgw

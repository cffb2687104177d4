#include "config/hub_config.h"

#include <algorithm>

#include "base/identity.h"
#include "config/detail/toml_reader.h"
#include "config/gateway_config.h"

namespace svd::config {
namespace {

class HubLoader : detail::TomlReader {
 public:
  using TomlReader::TomlReader;

  HubReceiverConfig run() {
    toml::table root = parse();
    cfg_.file = file();
    known_keys(root, {"store", "broker", "feed", "witness", "partner"}, "top level");
    if (const toml::table* s = table(root, "store", true)) {
      known_keys(*s, {"database"}, "[store]");
      if (auto db = string(*s, "database", "[store]", true)) cfg_.database = resolve(*db);
    }
    if (const toml::table* b = table(root, "broker", true)) {
      known_keys(*b, {"host", "port", "ca", "cert", "key", "mqtt", "keepalive_seconds", "client_id", "partners"},
                 "[broker]");
      read_endpoint(*b, "[broker]", cfg_.broker);
      if (auto id = string(*b, "client_id", "[broker]", false)) {
        if (!valid_identity(*id)) error(b->get("client_id"), "client_id must be 1-64 characters of a-z, 0-9 and '-'");
        cfg_.client_id = *id;
      }
      read_partner_filter(*b);
    }
    read_feeds(root);
    if (const toml::table* w = table(root, "witness", false)) {
      known_keys(*w, {"key"}, "[witness]");
      if (auto k = string(*w, "key", "[witness]", true)) cfg_.witness_key = resolve(*k);
    }
    read_partners(root);
    finish();
    return std::move(cfg_);
  }

 private:
  void read_feeds(const toml::table& root) {
    const toml::node* n = root.get("feed");
    const toml::array* arr = n ? n->as_array() : nullptr;
    if (!arr || !arr->is_array_of_tables() || arr->empty()) {
      error(n ? n : &root, "no [[feed]] defined", "add a [[feed]] table per feed the hub accepts");
      return;
    }
    for (const auto& node : *arr) {
      const toml::table& t = *node.as_table();
      known_keys(t, {"id", "schema"}, "[[feed]]");
      HubFeed feed;
      if (auto id = string(t, "id", "[[feed]]", true)) {
        if (!valid_identity(*id)) error(t.get("id"), "feed id must be 1-64 characters of a-z, 0-9 and '-'");
        for (const auto& other : cfg_.feeds)
          if (other.id == *id) error(t.get("id"), "feed \"" + *id + "\" is defined twice");
        feed.id = *id;
      }
      read_schema(t, feed.id, feed.schema_file, feed.schema);
      cfg_.feeds.push_back(std::move(feed));
    }
  }

  // Optional: without it the hub subscribes to every partner's topics.
  void read_partner_filter(const toml::table& broker) {
    const toml::node* n = broker.get("partners");
    if (!n) return;
    const toml::array* arr = n->as_array();
    if (!arr || arr->empty()) {
      error(n, "partners must be a non-empty array of partner ids",
            "leave it out to receive from every partner, or list the partners this instance serves");
      return;
    }
    for (const auto& p : *arr) {
      auto id = p.value<std::string>();
      if (!p.is_string() || !valid_identity(*id)) {
        error(&p, "a partner id must be 1-64 characters of a-z, 0-9 and '-' (the gateway certificate's CN)");
      } else if (std::find(cfg_.partner_filter.begin(), cfg_.partner_filter.end(), *id) != cfg_.partner_filter.end()) {
        error(&p, "partner \"" + *id + "\" is listed twice in partners");
      } else {
        cfg_.partner_filter.push_back(*id);
      }
    }
  }

  // Optional: a hub with no [[partner]] witnesses nobody (every checkpoint is refused with
  // unknown_device_key).
  void read_partners(const toml::table& root) {
    const toml::node* n = root.get("partner");
    if (!n) return;
    const toml::array* arr = n->as_array();
    if (!arr || !arr->is_array_of_tables()) {
      error(n, "\"partner\" must be [[partner]] tables", "one [[partner]] table per gateway: id and device_key");
      return;
    }
    for (const auto& node : *arr) {
      const toml::table& t = *node.as_table();
      known_keys(t, {"id", "device_key"}, "[[partner]]");
      HubPartner partner;
      if (auto id = string(t, "id", "[[partner]]", true)) {
        if (!valid_identity(*id)) error(t.get("id"), "partner id must be 1-64 characters of a-z, 0-9 and '-'");
        for (const auto& other : cfg_.partners)
          if (other.id == *id) error(t.get("id"), "partner \"" + *id + "\" is defined twice");
        partner.id = *id;
      }
      if (auto k = string(t, "device_key", "[[partner]]", true)) partner.device_key = resolve(*k);
      cfg_.partners.push_back(std::move(partner));
    }
  }

  HubReceiverConfig cfg_;
};

}  // namespace

HubReceiverConfig load_hub_config(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    throw ConfigError({{file.string(), 0, 0, "config file not found or not a regular file", "check the --config path"}});
  return HubLoader(file).run();
}

}  // namespace svd::config

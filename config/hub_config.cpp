#include "config/hub_config.h"

#include <algorithm>
#include <cctype>
#include <utility>

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
    known_keys(root, {"store", "broker", "feed", "witness", "partner", "ops", "report"}, "top level");
    if (const toml::table* s = table(root, "store", true)) read_store(*s);
    if (const toml::table* b = table(root, "broker", true)) {
      known_keys(*b,
                 {"host", "port", "ca", "cert", "key", "mqtt", "keepalive_seconds", "transport", "path", "proxy",
                  "client_id", "partners",
                  "max_pending_bytes", "max_batch_bytes"},
                 "[broker]");
      read_size(*b, "max_batch_bytes", cfg_.max_batch_bytes, 4096, std::int64_t{256} << 20);
      read_size(*b, "max_pending_bytes", cfg_.max_pending_bytes, 1 << 20, std::int64_t{16} << 30);
      if (cfg_.max_pending_bytes < cfg_.max_batch_bytes)
        error(b->get("max_pending_bytes") ? b->get("max_pending_bytes") : b->get("max_batch_bytes"),
              "max_pending_bytes must be at least max_batch_bytes",
              "the intake must be able to hold one batch of the largest size it accepts");
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
    check_partner_feeds();
    read_ops(root, cfg_.ops);
    read_report(root);
    finish();
    return std::move(cfg_);
  }

 private:
  void read_store(const toml::table& s) {
    known_keys(s, {"backend", "database", "conninfo", "password_file", "retain_days", "analyst_role"}, "[store]");
    if (auto b = string(s, "backend", "[store]", false)) {
      if (*b == "postgresql") cfg_.store.backend = StoreBackend::postgresql;
      else if (*b != "sqlite") error(s.get("backend"), "backend must be \"sqlite\" or \"postgresql\"");
    }
    const bool pg = cfg_.store.backend == StoreBackend::postgresql;
    // With PostgreSQL the SQLite file still holds the witness's tables, so it stays required.
    if (auto db = string(s, "database", "[store]", true)) cfg_.database = resolve(*db);
    if (auto c = string(s, "conninfo", "[store]", pg)) {
      if (!pg) error(s.get("conninfo"), "conninfo is for backend = \"postgresql\"");
      if (mentions_password(*c))
        error(s.get("conninfo"), "conninfo must not hold a password",
              "put the password in a file of its own (mode 0600) and name it in password_file");
      cfg_.store.conninfo = *c;
    }
    if (auto f = string(s, "password_file", "[store]", false)) {
      if (!pg) error(s.get("password_file"), "password_file is for backend = \"postgresql\"");
      cfg_.store.password_file = resolve(*f);
    }
    if (s.get("retain_days")) {
      int days = 0;
      read_int(s, "retain_days", days, 1, 36500);
      cfg_.store.retain_days = days;
    }
    if (auto r = string(s, "analyst_role", "[store]", false)) {
      if (!pg) error(s.get("analyst_role"), "analyst_role is for backend = \"postgresql\"");
      if (!plain_role(*r)) error(s.get("analyst_role"), "analyst_role must be 1-63 characters of a-z, 0-9 and '_'");
      cfg_.store.analyst_role = *r;
    }
  }

  // A libpq connection string in either form: key=value pairs, or a URI with user:password@.
  static bool mentions_password(std::string_view c) {
    std::string lower(c);
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower.find("password") != std::string::npos) return true;
    const auto scheme = lower.find("://");
    if (scheme == std::string::npos) return false;
    const auto at = lower.find('@', scheme);
    const auto slash = lower.find('/', scheme + 3);
    if (at == std::string::npos || (slash != std::string::npos && slash < at)) return false;
    return lower.substr(scheme + 3, at - scheme - 3).find(':') != std::string::npos;
  }

  static bool plain_role(std::string_view r) {
    if (r.empty() || r.size() > 63 || !(r[0] >= 'a' && r[0] <= 'z')) return false;
    return std::all_of(r.begin(), r.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
  }

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

  // A partner sends only the feeds its [[partner]] lists; a hub with no [[partner]] stores
  // nothing and witnesses nobody (every checkpoint is refused with unknown_device_key).
  void read_partners(const toml::table& root) {
    const toml::node* n = root.get("partner");
    if (!n) {
      error(&root, "no [[partner]] defined: every batch would be refused",
            "add a [[partner]] per gateway: its id and the feeds it may send");
      return;
    }
    const toml::array* arr = n->as_array();
    if (!arr || !arr->is_array_of_tables()) {
      error(n, "\"partner\" must be [[partner]] tables", "one [[partner]] table per gateway: id and device_key");
      return;
    }
    for (const auto& node : *arr) {
      const toml::table& t = *node.as_table();
      known_keys(t, {"id", "feeds", "device_key", "schedule"}, "[[partner]]");
      HubPartner partner;
      if (auto id = string(t, "id", "[[partner]]", true)) {
        if (!valid_identity(*id)) error(t.get("id"), "partner id must be 1-64 characters of a-z, 0-9 and '-'");
        for (const auto& other : cfg_.partners)
          if (other.id == *id) error(t.get("id"), "partner \"" + *id + "\" is defined twice");
        partner.id = *id;
      }
      read_partner_feeds(t, partner);
      read_partner_schedules(t, partner);
      // Without one, the witness refuses the partner's checkpoints (unknown_device_key).
      if (auto k = string(t, "device_key", "[[partner]]", false)) partner.device_key = resolve(*k);
      cfg_.partners.push_back(std::move(partner));
    }
  }

  // Required: an explicit list, so that a partner sends only what was agreed with it.
  void read_partner_feeds(const toml::table& t, HubPartner& partner) {
    const toml::node* n = t.get("feeds");
    const toml::array* arr = n ? n->as_array() : nullptr;
    if (!arr) {
      error(n ? n : &t, "[[partner]] needs feeds = [...]: the feeds this partner may send",
            "list the feed ids agreed with the partner, e.g. feeds = [\"ed-assaults\"]");
      return;
    }
    for (const auto& f : *arr) {
      auto id = f.value<std::string>();
      if (!f.is_string() || !valid_identity(*id)) {
        error(&f, "a feed id must be 1-64 characters of a-z, 0-9 and '-'");
      } else if (std::find(partner.feeds.begin(), partner.feeds.end(), *id) != partner.feeds.end()) {
        error(&f, "feed \"" + *id + "\" is listed twice");
      } else {
        partner.feeds.push_back(*id);
        feed_refs_.push_back({&f, *id});
      }
    }
  }

  // Optional: when each feed is due from this partner, `[partner.schedule]` with one
  // `<feed> = { every = …, day = …, by = … }` per feed, in the gateway's syntax. A feed without
  // one is stored but not expected (`svdhub sharing` shows it as unscheduled).
  void read_partner_schedules(const toml::table& t, HubPartner& partner) {
    const toml::node* n = t.get("schedule");
    if (!n) return;
    const toml::table* schedules = n->as_table();
    if (!schedules) {
      error(n, "[partner.schedule] must be a table of feed = { every = …, day = …, by = … }",
            "e.g. [partner.schedule] then ed-assaults = { every = \"week\", day = \"monday\", by = \"09:00\" }");
      return;
    }
    for (auto&& [key, value] : *schedules) {
      const std::string feed(key.str());
      if (std::find(partner.feeds.begin(), partner.feeds.end(), feed) == partner.feeds.end()) {
        error(&value, "schedule for feed \"" + feed + "\", which this partner's feeds do not list",
              "add it to feeds, or remove its schedule");
        continue;
      }
      Schedule schedule;
      read_schedule(&value, schedule);
      partner.schedules.emplace(feed, schedule);
    }
  }

  void check_partner_feeds() {
    for (const auto& ref : feed_refs_) {
      const std::string& id = ref.second;
      const bool known = std::any_of(cfg_.feeds.begin(), cfg_.feeds.end(), [&](const HubFeed& f) { return f.id == id; });
      if (!known) error(ref.first, "feed \"" + id + "\" is not a [[feed]] of this hub", "add a [[feed]] for it, or remove it");
    }
  }

  static bool dates_a_record(const Field& f) {
    const bool dated = f.type == FieldType::date || f.type == FieldType::datetime;
    switch (f.transform) {
      case TransformKind::keep:
      case TransformKind::hour:
      case TransformKind::week:
      case TransformKind::month:
      case TransformKind::year: return dated;
      default: return false;
    }
  }
  static bool names_an_area(const Field& f) {
    return f.transform == TransformKind::postcode_district || f.transform == TransformKind::postcode_sector;
  }

  const HubFeed* feed(std::string_view id) const {
    for (const auto& f : cfg_.feeds)
      if (f.id == id) return &f;
    return nullptr;
  }

  void read_report(const toml::table& root) {
    ReportConfig& r = cfg_.report;
    for (const HubFeed& f : cfg_.feeds) {
      ReportFeed rf;
      for (std::size_t i = 0; i < f.schema.fields.size(); ++i) {
        const Field& field = f.schema.fields[i];
        // A date of birth, even cut to its year, says when someone was born, not when anything happened.
        const bool birth = (f.schema.person && f.schema.person->date_of_birth == i) ||
                           field.name.find("birth") != std::string::npos;
        if (rf.event_date.empty() && !birth && dates_a_record(field)) rf.event_date = field.output_name;
        if (rf.area.empty() && names_an_area(field)) rf.area = field.output_name;
      }
      r.feeds.emplace(f.id, rf);
    }
    const toml::table* t = table(root, "report", false);
    if (!t) return;
    known_keys(*t, {"min_cell", "death_feed", "violence_feeds", "lookback_months", "feed"}, "[report]");
    if (t->get("min_cell")) {
      int k = 0;
      read_int(*t, "min_cell", k, 2, 1000);
      r.min_cell = static_cast<std::uint64_t>(k);
    }
    read_int(*t, "lookback_months", r.lookback_months, 1, 240);
    if (auto d = string(*t, "death_feed", "[report]", false)) {
      if (!feed(*d)) error(t->get("death_feed"), "death_feed \"" + *d + "\" is not a [[feed]] of this hub");
      else if (r.feeds[*d].event_date.empty() && !feed(*d)->schema.fields.empty())  // a schema that failed is reported already
        error(t->get("death_feed"), "death_feed \"" + *d + "\" has no output that dates its records",
              "its schema needs a date of death that leaves the site (kept, or as a week or month), or name it in "
              "[report.feed." + *d + "] event_date");
      r.death_feed = *d;
    }
    if (const toml::node* n = t->get("violence_feeds")) {
      const toml::array* arr = n->as_array();
      if (!arr) error(n, "violence_feeds must be an array of feed ids");
      else
        for (const auto& v : *arr) {
          auto id = v.value<std::string>();
          if (!v.is_string() || !feed(*id)) error(&v, "violence_feeds: not a [[feed]] of this hub");
          else if (std::find(r.violence_feeds.begin(), r.violence_feeds.end(), *id) != r.violence_feeds.end())
            error(&v, "violence_feeds: feed \"" + *id + "\" is listed twice");
          else r.violence_feeds.push_back(*id);
        }
    }
    if (const toml::table* per_feed = table(*t, "feed", false))
      for (auto&& [key, value] : *per_feed) {
        const std::string id(key.str());
        const HubFeed* f = feed(id);
        const toml::table* ft = value.as_table();
        if (!f || !ft) {
          error(&value, "[report.feed." + id + "]: not a [[feed]] of this hub, or not a table");
          continue;
        }
        known_keys(*ft, {"event_date", "area"}, "[report.feed." + id + "]");
        ReportFeed& rf = r.feeds[id];
        const auto output = [&](std::string_view option, bool (*fits)(const Field&), const char* what) {
          auto name = string(*ft, option, "[report.feed]", false);
          if (!name) return;
          const auto field = std::find_if(f->schema.fields.begin(), f->schema.fields.end(),
                                          [&](const Field& x) { return x.transform != TransformKind::drop && x.output_name == *name; });
          if (field == f->schema.fields.end() || !fits(*field))
            error(ft->get(option), std::string(option) + " \"" + *name + "\" is not an output of feed " + id + " that " + what);
          else (option == "area" ? rf.area : rf.event_date) = *name;
        };
        output("event_date", dates_a_record, "dates a record (a kept date or date-time, hour, week, month or year)");
        output("area", names_an_area, "holds a postcode district or sector");
      }
  }

  HubReceiverConfig cfg_;
  std::vector<std::pair<const toml::node*, std::string>> feed_refs_;  // every partner's feeds, to check
};

}  // namespace

const HubPartner* HubReceiverConfig::partner(std::string_view id) const {
  for (const auto& p : partners)
    if (p.id == id) return &p;
  return nullptr;
}

HubReceiverConfig load_hub_config(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    throw ConfigError({{file.string(), 0, 0, "config file not found or not a regular file", "check the --config path"}});
  return HubLoader(file).run();
}

}  // namespace svd::config

#pragma once
// What leaves the site, stated from the live config (`svdgw disclose`): for each feed, every
// source column and what becomes of it (dropped, kept, recoded, generalised, replaced by a keyed
// token), the names it leaves under, the rows the feed shares at all, and who sends it where
// under which key and schedule. Built from the loaded schemas, never written by hand, so the
// statement a Data Protection Officer signs cannot drift from what the gateway does; the schema
// digests tie it to the `extract.processed` events of the audit log.
// Pure functions of the config; any thread. Holds no value from any extract, and no key.

#include <optional>
#include <string>
#include <vector>

#include "config/gateway_config.h"

namespace svd::gateway {

struct DisclosedColumn {
  std::string source;  // the column as the extract names it
  std::string type;    // the schema's type
  // Identifies a person on its own or with others: an NHS number or postcode, or a component of
  // the person token.
  bool identifier = false;
  std::string treatment;  // drop, keep, recode, token, year, month, week, hour, age_band, postcode_district, postcode_sector
  std::string what;       // the treatment for people: "dropped: never leaves the site", …
  std::optional<std::string> output;  // the key it leaves under; none when dropped
};

struct DisclosedFeed {
  std::string id, schema, schema_file, schema_sha256;
  std::string format, encoding, schedule;
  std::vector<std::string> allowed_clients;
  std::vector<std::string> filters;  // one sentence per svd:filter condition
  std::vector<DisclosedColumn> columns;
  // The person token: the columns it is made from and the key it leaves under.
  std::vector<std::string> person_from;
  std::optional<std::string> person_output;
  std::vector<std::string> outputs;  // every key of a record that leaves, in record order
  // The outputs that together could single a person out, and the feed's min_group check on them
  // (0: none) with its policy ("warn" or "refuse").
  std::vector<std::string> quasi_identifiers;
  int min_group = 0;
  std::string small_groups;
};

struct Disclosure {
  std::string partner;
  std::string hub;                    // "host:port", or "" when [hub] is absent
  std::vector<std::string> key_ids;   // the linkage keys configured (ids only)
  std::vector<DisclosedFeed> feeds;
};

// Every feed, or only `feed` (nullopt when the config has none of that id).
std::optional<Disclosure> disclose(const config::GatewayConfig& cfg, const std::string& feed = "");

std::string to_json(const Disclosure& d);
std::string to_markdown(const Disclosure& d);
// A self-contained page (inline CSS, no script, no network) that prints on A4.
std::string to_html(const Disclosure& d);

}  // namespace svd::gateway

// svdgw disclose: what leaves the site, per feed, stated from the live config
// (gateway/disclosure.h); the material a Data Protection Officer's DPIA embeds (docs/dpia.md).

#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "apps/svdgw/command.h"
#include "apps/svdgw/common.h"
#include "gateway/disclosure.h"

namespace svd::svdgw {
namespace {

struct DiscloseOptions {
  std::filesystem::path config, out;
  std::string feed, format = "md";
};

int run_disclose(const DiscloseOptions& o) {
  auto cfg = load_config_or_explain(o.config);
  if (!cfg) return 1;
  auto d = gateway::disclose(*cfg, o.feed);
  if (!d) {
    std::cerr << "no feed \"" << o.feed << "\" in " << o.config.string() << '\n';
    return 1;
  }
  const std::string text = o.format == "json" ? gateway::to_json(*d)
                           : o.format == "html" ? gateway::to_html(*d)
                                                : gateway::to_markdown(*d);
  if (o.out.empty()) {
    std::cout << text;
    return std::cout.flush() ? 0 : 1;
  }
  std::ofstream f(o.out, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f.flush()) {
    std::cerr << "cannot write " << o.out.string() << '\n';
    return 1;
  }
  return 0;
}

}  // namespace

std::vector<Command> add_disclose(CLI::App& app) {
  auto o = std::make_shared<DiscloseOptions>();
  auto* cmd = app.add_subcommand("disclose", "State, per feed, what leaves the site and in what form");
  cmd->add_option("--config", o->config, "Gateway config (TOML)")->required();
  cmd->add_option("--feed", o->feed, "Only this feed (default: every feed)");
  cmd->add_option("--format", o->format, "md (default), html or json")->check(CLI::IsMember({"md", "html", "json"}));
  cmd->add_option("--out", o->out, "Write to this file instead of standard output");
  cmd->footer(
      "Every source column of each feed's schema and what becomes of it (dropped, kept, recoded, generalised, "
      "replaced by a keyed token), the names records leave under, the rows shared at all, the partner, the hub, "
      "the linkage key ids and the schedule, read from the config and its schemas as `svdgw run` loads them. "
      "Reads no key and no extract. Exit status: 0 written, 1 the config or the feed is wrong.");
  return {{cmd, [o] { return run_disclose(*o); }}};
}

}  // namespace svd::svdgw

// svdgw submit: the partner's upload client (ingest/submit.h).

#include <array>
#include <memory>

#include <CLI/CLI.hpp>

#include "apps/svdgw/command.h"
#include "ingest/submit.h"

namespace svd::svdgw {

std::vector<Command> add_submit(CLI::App& app) {
  auto options = std::make_shared<ingest::SubmitOptions>();
  ingest::SubmitOptions& so = *options;
  auto* submit = app.add_subcommand(
      "submit", "Send an extract to a gateway's HTTPS upload API with this partner's client certificate");
  submit->add_option("--url", so.url, "The gateway's upload API, e.g. https://gateway.example.org:8443")->required();
  submit->add_option("--feed", so.feed, "Feed id")->required();
  submit->add_option("--cert", so.cert, "This partner's client certificate (PEM, then any intermediates)")
      ->required()
      ->check(CLI::ExistingFile);
  submit->add_option("--key", so.key, "Its private key (PEM, unencrypted; keep it chmod 600)")
      ->required()
      ->check(CLI::ExistingFile);
  submit->add_option("--ca", so.ca, "The CA the gateway's certificate must chain to (the only one trusted)")
      ->required()
      ->check(CLI::ExistingFile);
  auto* submit_file = submit->add_option("file", so.file, "The extract")->check(CLI::ExistingFile);
  auto* submit_name =
      submit->add_option("--name", so.name, "Name of the extract on the gateway (default: the file's name)");
  submit
      ->add_option_function<std::string>(
          "--nothing-to-share", [options](const std::string& period) { options->nothing_to_share = period; },
          "Send no file, but an explicit 'nothing to share' return for PERIOD: an ISO week YYYY-Www, "
          "a month YYYY-MM or a day YYYY-MM-DD (e.g. 2026-W03)")
      ->type_name("PERIOD")
      ->excludes(submit_file)
      ->excludes(submit_name);
  submit
      ->add_option("--retries", so.retries, "Attempts after the first when one fails in a way that may pass (default 4)")
      ->check(CLI::Range(0u, 100u));
  submit->add_option("--timeout", so.timeout_seconds, "Seconds without progress before an attempt fails (default 60)")
      ->check(CLI::Range(0.001, 86400.0));
  submit->add_option("--max-backoff", so.max_backoff_seconds, "Longest wait between attempts in seconds (default 60)")
      ->check(CLI::Range(0.0, 3600.0));
  submit->add_flag("--quiet,-q", so.quiet, "No progress bar or retry notes (errors and the receipt still print)");
  auto waits = std::make_shared<std::array<bool, 2>>();  // --wait, --wait-for-hub
  submit->add_flag("--wait", (*waits)[0], "After the receipt, wait until the gateway has processed the extract");
  submit->add_flag("--wait-for-hub", (*waits)[1], "Wait until the hub has also answered every batch of it");
  submit->add_option("--wait-timeout", so.wait_timeout_seconds, "Longest wait in seconds (default 3600)")
      ->check(CLI::Range(1.0, 7.0 * 86400));
  submit->callback([submit_file, options, waits] {
    if (!*submit_file && !options->nothing_to_share) throw CLI::RequiredError("FILE or --nothing-to-share");
    if ((*waits)[1]) options->wait = ingest::SubmitOptions::Wait::acknowledged;
    else if ((*waits)[0]) options->wait = ingest::SubmitOptions::Wait::processed;
  });
  submit->footer(
      "Names are 1-128 characters of A-Z a-z 0-9 . _ - not starting with '.'. The file is hashed first and sent "
      "with its SHA-256 (Content-Digest): if it changes while being sent, the gateway refuses it and nothing is "
      "stored. Network failures, timeouts, 5xx and 507 (gateway storage full) are retried with growing waits; "
      "re-sending an extract the gateway already has is safe (it answers with the first receipt).\n"
      "With --wait or --wait-for-hub the outcome follows the receipt (rows valid and rejected by code, batches "
      "acknowledged and rejected by the hub).\n"
      "Exit status: 0 accepted (receipt on stdout; with --wait, processed, and with --wait-for-hub every batch "
      "acknowledged), 2 refused by the gateway, 3 gave up after the last attempt, 4 not shared (refused as a "
      "whole when processed, or batches rejected by the hub), 5 still waiting at --wait-timeout, 1 usage or "
      "configuration error (options, file, certificates, server not trusted).");

  return {{submit, [options] { return ingest::run_submit(*options); }}};
}

}  // namespace svd::svdgw

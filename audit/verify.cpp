#include "audit/verify.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "audit/audit_log.h"
#include "base/hex.h"
#include "crypto/sha256.h"
#include "protocol/checkpoint.h"

namespace svd::audit {
namespace {


bool signature_ok(const crypto::PublicKey& key, std::string_view message, std::string_view signature_hex) {
  std::vector<unsigned char> sig;
  return from_hex(signature_hex, sig) && sig.size() == 64 && crypto::verify_signature(key, message, sig);
}

// Every problem found, keyed by the sequence number it concerns; the report names the smallest.
class Findings {
 public:
  void add(std::uint64_t seq, std::string what) { problems_.emplace(seq, std::move(what)); }
  // The first problem at or before `seq`, if any.
  bool any_at_or_before(std::uint64_t seq) const { return !problems_.empty() && problems_.begin()->first <= seq; }
  void apply(VerifyReport& r) const {
    if (problems_.empty()) return;
    r.ok = false;
    r.first_bad_seq = problems_.begin()->first;
    r.problem = problems_.begin()->second;
  }

 private:
  std::multimap<std::uint64_t, std::string> problems_;
};

std::string seq_text(std::uint64_t s) { return std::to_string(s); }

}  // namespace

result<VerifyReport> verify(const VerifyInputs& in) {
  VerifyReport report;
  Findings findings;
  auto reader = AuditReader::open(in.log);
  if (!reader) return reader.error();
  auto checkpoints = (*reader)->checkpoints();
  if (!checkpoints) return checkpoints.error();

  // The hub's export, read first so that the walk over the log can keep the chain hashes at the
  // sequence numbers anyone vouched for.
  std::vector<protocol::CheckpointReceipt> witnessed;
  if (in.hub_checkpoints) {
    std::ifstream f(*in.hub_checkpoints);
    if (!f) return errc::io_error;
    std::string line;
    std::uint64_t n = 0;
    while (std::getline(f, line)) {
      ++n;
      if (line.empty()) continue;
      auto r = protocol::parse_checkpoint_receipt(line);
      if (!r || r->status == protocol::CheckpointStatus::rejected) {
        report.notes.push_back("line " + std::to_string(n) + " of the hub's export is not an accepted checkpoint");
        continue;
      }
      witnessed.push_back(std::move(*r));
    }
    if (f.bad()) return errc::io_error;
  }

  std::set<std::uint64_t> wanted;
  for (const auto& c : *checkpoints) wanted.insert(c.checkpoint.seq);
  for (const auto& w : witnessed) wanted.insert(w.checkpoint.seq);
  std::map<std::uint64_t, Hash> chain_at;  // recomputed from the rows' contents

  // 1. The rows.
  std::uint64_t expected = 1;
  Hash chain{};
  bool chain_intact = true;  // after the first broken link, stored hashes no longer say anything
  auto walked = (*reader)->for_each([&](const Entry& e) {
    ++report.events;
    if (e.seq != expected) {
      if (e.seq > expected)
        findings.add(expected, e.seq == expected + 1 ? "event " + seq_text(expected) + " is missing"
                                                     : "events " + seq_text(expected) + " to " + seq_text(e.seq - 1) +
                                                           " are missing");
      else
        findings.add(e.seq, "event " + seq_text(e.seq) + " is out of order");
      chain_intact = false;
      expected = e.seq;
    }
    const Hash leaf = leaf_hash(e.seq, e.event);
    chain = chain_next(chain, leaf);
    if (chain_intact) {
      if (!valid_event(e.event)) {
        findings.add(e.seq, "event " + seq_text(e.seq) + " has a malformed field");
        chain_intact = false;
      } else if (leaf != e.leaf_hash) {
        findings.add(e.seq, "event " + seq_text(e.seq) +
                                "'s contents do not match its leaf hash (the row was edited, swapped or inserted)");
        chain_intact = false;
      } else if (chain != e.chain_hash) {
        findings.add(e.seq, "event " + seq_text(e.seq) +
                                "'s chain hash does not follow from the event before (a row before it was removed, "
                                "inserted or reordered)");
        chain_intact = false;
      }
    }
    if (wanted.count(e.seq) != 0) chain_at[e.seq] = chain;
    expected = e.seq + 1;
    return true;
  });
  if (!walked) return walked.error();
  report.head = chain;
  const std::uint64_t last_seq = expected - 1;

  // A row already found broken explains a checkpoint that no longer matches: name the row.
  Findings rows = findings;

  // 2. The checkpoints stored with the log, and the hub's receipts for them.
  if (!in.device_key) report.notes.push_back("no device key given: checkpoint signatures were not checked");
  if (!in.witness_key) report.notes.push_back("no hub witness key given: the hub's cosignatures were not checked");
  std::uint64_t previous_ok = 0;  // the last checkpoint that matched the log
  for (const auto& c : *checkpoints) {
    ++report.checkpoints;
    const std::uint64_t s = c.checkpoint.seq;
    const std::string at = "checkpoint at seq " + seq_text(s);
    if (!in.partner.empty() && c.checkpoint.partner != in.partner)
      findings.add(s, at + " names partner '" + c.checkpoint.partner + "'");
    if (in.device_key && !signature_ok(*in.device_key, protocol::checkpoint_note(c.checkpoint), c.signature))
      findings.add(s, at + ": the device key's signature does not verify (forged or altered checkpoint)");
    auto it = chain_at.find(s);
    Hash signed_chain{};
    if (it == chain_at.end()) {
      findings.add(last_seq + 1, at + " is beyond the end of the log (" + seq_text(last_seq) +
                                     " events): the log was cut short");
    } else if (!from_hex(c.checkpoint.chain_hash, signed_chain) || signed_chain != it->second) {
      if (!rows.any_at_or_before(s))
        findings.add(previous_ok + 1, "the log differs from " + at + ": an event between seq " +
                                        seq_text(previous_ok + 1) + " and " + seq_text(s) +
                                        " was changed, removed or inserted and the chain rewritten");
    } else {
      previous_ok = s;
    }
    if (c.status == "accepted" || c.status == "duplicate") {
      ++report.checkpoints_witnessed;
      report.last_witnessed_seq = std::max(report.last_witnessed_seq, s);
      if (in.witness_key &&
          !signature_ok(*in.witness_key, protocol::witness_note(c.checkpoint, c.witnessed_at), c.cosignature))
        findings.add(s, at + ": the hub's cosignature does not verify");
    }
  }

  // 3. What the hub witnessed, from its own records.
  std::sort(witnessed.begin(), witnessed.end(),
            [](const auto& a, const auto& b) { return a.checkpoint.seq < b.checkpoint.seq; });
  previous_ok = 0;
  for (const auto& w : witnessed) {
    ++report.hub_checkpoints;
    const std::uint64_t s = w.checkpoint.seq;
    const std::string at = "the hub's checkpoint at seq " + seq_text(s);
    if (!in.partner.empty() && w.checkpoint.partner != in.partner) {
      findings.add(s, at + " is for partner '" + w.checkpoint.partner + "'");
      continue;
    }
    if (in.witness_key &&
        !signature_ok(*in.witness_key, protocol::witness_note(w.checkpoint, w.witnessed_at), w.cosignature)) {
      findings.add(s, at + ": its cosignature does not verify (not from the hub)");
      continue;
    }
    report.last_witnessed_seq = std::max(report.last_witnessed_seq, s);
    auto it = chain_at.find(s);
    Hash hub_chain{};
    if (it == chain_at.end())
      findings.add(last_seq + 1, at + " is beyond the end of the log (" + seq_text(last_seq) +
                                     " events): the log was cut short after the hub witnessed it");
    else if (!from_hex(w.checkpoint.chain_hash, hub_chain) || hub_chain != it->second) {
      if (!rows.any_at_or_before(s))
        findings.add(previous_ok + 1, "the log differs from " + at + ": an event between seq " +
                                          seq_text(previous_ok + 1) + " and " + seq_text(s) +
                                          " was changed, removed or inserted after the hub witnessed it");
    } else {
      previous_ok = s;
    }
  }
  if (!in.hub_checkpoints) report.notes.push_back("no hub export given: only the receipts stored locally were used");

  findings.apply(report);
  return report;
}

}  // namespace svd::audit

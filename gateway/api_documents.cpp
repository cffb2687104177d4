#include "gateway/api_documents.h"

#include <boost/json.hpp>

namespace svd::gateway {
namespace {

namespace json = boost::json;

json::object receipt_object(const ingest::StoredExtract& e) {
  json::object o;
  o["extract_id"] = e.id;
  o["feed"] = e.feed;
  o["kind"] = to_string(e.kind);
  o["name"] = e.name;
  o["sha256"] = e.sha256;
  o["bytes"] = e.bytes;
  o["received_at"] = e.received_at;
  o["status_url"] = "/v1/extracts/" + e.id;
  return o;
}

}  // namespace

std::string receipt_json(const ingest::StoredExtract& e) { return json::serialize(receipt_object(e)); }

std::string status_json(const ingest::StoredExtract& e, const deliver::ExtractProgress& p) {
  json::object o = receipt_object(e);
  o["state"] = to_string(e.state);
  if (e.finished_at.empty()) o["finished_at"] = nullptr;
  else o["finished_at"] = e.finished_at;
  json::value report = nullptr;
  if (!e.report_json.empty()) {
    boost::system::error_code ec;
    report = json::parse(e.report_json, ec);
    if (ec) report = nullptr;  // written by us; unreadable only if the store was damaged
  }
  o["report"] = std::move(report);
  o["batches"] = {{"total", p.batches},
                  {"sent", p.published},
                  {"acknowledged", p.acknowledged},
                  {"rejected", p.rejected},
                  {"records", p.records},
                  {"records_acknowledged", p.records_acknowledged}};
  return json::serialize(o);
}

std::string nothing_to_share_document(const std::string& feed, const std::string& period) {
  json::object o;
  o["svd_return"] = "nothing-to-share";
  o["version"] = 1;
  o["feed"] = feed;
  o["period"] = period;
  return json::serialize(o) + "\n";
}

}  // namespace svd::gateway

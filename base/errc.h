#pragma once
// Domain error codes shared by every module. Each code has a stable snake_case name
// (errc_name) that appears in validation reports and on the wire: renaming one is a
// contract change. Names describe what is wrong, never the offending value.
// Pure; any thread.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace svd {

enum class errc {
  ok = 0,
  // --- row-level: the row is rejected, the extract goes on -------------------------------
  missing_required = 1,
  invalid_integer,
  invalid_number,
  invalid_boolean,
  invalid_date,
  invalid_datetime,
  invalid_time,
  too_short,
  too_long,
  below_minimum,
  above_maximum,
  pattern_mismatch,
  not_in_enum,
  not_unique,
  invalid_nhs_number,
  invalid_postcode,
  in_future,
  invalid_age,            // date of birth after the date it is measured at
  wrong_field_count,      // CSV row with more or fewer cells than the header
  invalid_utf8,
  field_too_long,
  row_too_long,
  too_many_fields,
  invalid_json,
  not_an_object,          // a JSON Lines row that is not a JSON object
  json_too_deep,
  invalid_json_value,     // an object or array where a scalar was expected
  unmapped_code,          // a value the field's svd:recode has no category for
  // --- extract-level: the whole extract is refused --------------------------------------
  empty_file = 100,
  no_data_rows,
  missing_column,
  duplicate_column,
  unterminated_quote,
  binary_data,
  invalid_header,
  reject_threshold_exceeded,
  unique_limit_exceeded,
  io_error,
  small_groups,               // records in groups smaller than the feed's min_group, and the feed refuses them
  // --- keys -------------------------------------------------------------------------------
  key_file_unreadable = 200,
  key_file_permissions,
  key_file_malformed,
  key_file_exists,
  crypto_failure,
  // --- wire protocol (batches and receipts between gateway and hub) -------------------------
  bad_envelope = 300,         // the header line is missing, not JSON, or lacks a field
  unsupported_version,
  records_digest_mismatch,    // records_sha256 does not match the bytes after the header
  record_count_mismatch,      // count does not match the record lines
  topic_mismatch,             // the topic's partner or feed differs from the header's
  bad_receipt,
  bad_record,                 // a record line that is not a JSON object of the feed's columns
  unknown_feed,
  bad_checkpoint,             // an audit checkpoint message that is malformed or out of bounds
  bad_signature,              // a checkpoint (or a hub's cosignature) that does not verify
  checkpoint_does_not_extend, // a checkpoint that is not the continuation of the last one accepted
  unknown_device_key,         // the hub holds no device key for the partner
  feed_not_permitted,         // the partner may not send this feed (the hub's [[partner]] feeds)
  batch_too_large,            // a payload over the hub's [broker] max_batch_bytes
  batch_id_mismatch,          // the batch_id is not the one its partner, feed, extract and seq give
  // --- ingress (uploads and the spool) -------------------------------------------------------
  storage_full = 400,         // no space left (or the storage quota reached): nothing was accepted
  // --- audit log ----------------------------------------------------------------------------
  audit_corrupt = 500,        // the audit log does not verify (see audit/verify.h for where)
  // --- the hub's store ------------------------------------------------------------------------
  schema_incompatible = 600,  // a feed's table holds a column the schema dropped or retyped
};

// Every code with its name and message, in declaration order (docs/error-codes.md lists them).
struct ErrcEntry {
  errc code;
  std::string_view name;
  std::string_view message;
};
std::span<const ErrcEntry> errc_entries();

// True for codes that reject one row only.
constexpr bool is_row_error(errc e) { return static_cast<int>(e) > 0 && static_cast<int>(e) < 100; }

// The stable name used in reports ("invalid_nhs_number").
std::string_view errc_name(errc e);
// The code of a stable name, e.g. a reason a peer sent; nullopt for any other text.
std::optional<errc> errc_from_name(std::string_view name);

// A one-line explanation for people ("not a valid NHS number (Modulus 11 check failed)").
std::string_view errc_message(errc e);

// "<message> [<name>]" for one of our codes, for a line an operator reads; any other code's own
// message otherwise.
std::string errc_problem(const boost::system::error_code& ec);

const boost::system::error_category& svd_category();

inline boost::system::error_code make_error_code(errc e) {
  return {static_cast<int>(e), svd_category()};
}

template <class T>
using result = boost::system::result<T>;

}  // namespace svd

namespace boost::system {
template <>
struct is_error_code_enum<svd::errc> : std::true_type {};
}  // namespace boost::system

#include "base/errc.h"

#include <string>

namespace svd {
namespace {

using Entry = ErrcEntry;

constexpr Entry kEntries[] = {
    {errc::ok, "ok", "no error"},
    {errc::missing_required, "missing_required", "a required value is missing"},
    {errc::invalid_integer, "invalid_integer", "not a whole number"},
    {errc::invalid_number, "invalid_number", "not a number"},
    {errc::invalid_boolean, "invalid_boolean", "not a boolean (true/false)"},
    {errc::invalid_date, "invalid_date", "not a valid calendar date in the declared format"},
    {errc::invalid_datetime, "invalid_datetime", "not a valid date and time in the declared format"},
    {errc::invalid_time, "invalid_time", "not a valid time of day"},
    {errc::too_short, "too_short", "shorter than the schema's minLength"},
    {errc::too_long, "too_long", "longer than the schema's maxLength"},
    {errc::below_minimum, "below_minimum", "less than the schema's minimum"},
    {errc::above_maximum, "above_maximum", "greater than the schema's maximum"},
    {errc::pattern_mismatch, "pattern_mismatch", "does not match the schema's pattern"},
    {errc::not_in_enum, "not_in_enum", "not one of the schema's allowed values"},
    {errc::not_unique, "not_unique", "repeats a value that must be unique"},
    {errc::invalid_nhs_number, "invalid_nhs_number",
     "not a valid NHS number (10 digits, Modulus 11 check)"},
    {errc::invalid_postcode, "invalid_postcode", "not a valid UK postcode"},
    {errc::in_future, "in_future", "a date in the future where that is impossible"},
    {errc::invalid_age, "invalid_age",
     "an age below zero: a date of birth after the date the age is measured at, or a negative age"},
    {errc::wrong_field_count, "wrong_field_count", "the row has a different number of cells than the header"},
    {errc::invalid_utf8, "invalid_utf8", "text that is not valid UTF-8 (check the feed's declared encoding)"},
    {errc::field_too_long, "field_too_long", "a cell longer than the configured limit"},
    {errc::row_too_long, "row_too_long", "a row longer than the configured limit"},
    {errc::too_many_fields, "too_many_fields", "a row with more cells than the configured limit"},
    {errc::invalid_json, "invalid_json", "a line that is not valid JSON"},
    {errc::not_an_object, "not_an_object", "a JSON Lines row that is not a JSON object"},
    {errc::json_too_deep, "json_too_deep", "JSON nested deeper than the configured limit"},
    {errc::invalid_json_value, "invalid_json_value", "an object or array where a single value was expected"},
    {errc::unmapped_code, "unmapped_code", "a code the schema's recode map has no shared category for"},
    {errc::empty_file, "empty_file", "the extract is empty"},
    {errc::small_groups, "small_groups",
     "records whose quasi-identifiers too few others share (fewer than the feed's min_group): they could single a person out"},
    {errc::no_data_rows, "no_data_rows", "the extract has a header but no data rows"},
    {errc::missing_column, "missing_column", "a column the schema requires is missing from the header"},
    {errc::duplicate_column, "duplicate_column", "the header names the same column twice"},
    {errc::unterminated_quote, "unterminated_quote",
     "a quoted cell is never closed (the file ends inside quotes)"},
    {errc::binary_data, "binary_data", "binary content (NUL bytes): not a text extract"},
    {errc::invalid_header, "invalid_header", "the header row cannot be read"},
    {errc::reject_threshold_exceeded, "reject_threshold_exceeded",
     "the share of rejected rows is above the feed's threshold"},
    {errc::unique_limit_exceeded, "unique_limit_exceeded",
     "too many rows to check a unique constraint within the configured limit"},
    {errc::io_error, "io_error", "a file, database or socket could not be read or written"},
    {errc::key_file_unreadable, "key_file_unreadable", "the key file cannot be read"},
    {errc::key_file_permissions, "key_file_permissions",
     "the key file is readable by group or others (chmod 600 it)"},
    {errc::key_file_malformed, "key_file_malformed",
     "the key file is not in the expected form (64 hex digits for a linkage key, PEM Ed25519 for a device key)"},
    {errc::key_file_exists, "key_file_exists", "a key file already exists there; refusing to overwrite it"},
    {errc::crypto_failure, "crypto_failure", "a cryptographic operation failed"},
    {errc::bad_envelope, "bad_envelope", "the batch has no valid header line"},
    {errc::unsupported_version, "unsupported_version", "the batch uses a protocol version this side does not know"},
    {errc::records_digest_mismatch, "records_digest_mismatch",
     "records_sha256 does not match the records: the batch was altered or truncated"},
    {errc::record_count_mismatch, "record_count_mismatch", "the batch holds a different number of records than its header says"},
    {errc::topic_mismatch, "topic_mismatch", "the topic names a different partner or feed than the batch header"},
    {errc::bad_receipt, "bad_receipt", "the receipt is not valid"},
    {errc::bad_record, "bad_record", "a record is not a JSON object of the feed's columns"},
    {errc::unknown_feed, "unknown_feed", "the feed is not configured on this side"},
    {errc::bad_checkpoint, "bad_checkpoint", "the audit checkpoint message is malformed"},
    {errc::bad_signature, "bad_signature", "the signature does not verify with the expected key"},
    {errc::checkpoint_does_not_extend, "checkpoint_does_not_extend",
     "the checkpoint does not continue the audit log the hub accepted before"},
    {errc::unknown_device_key, "unknown_device_key", "no device key is configured for the partner"},
    {errc::feed_not_permitted, "feed_not_permitted", "this partner may not send this feed"},
    {errc::batch_too_large, "batch_too_large", "the batch is larger than the receiver accepts"},
    {errc::batch_id_mismatch, "batch_id_mismatch",
     "the batch id is not the one its partner, feed, extract digest and sequence number give"},
    {errc::storage_full, "storage_full", "no storage space left for the extract: nothing was accepted"},
    {errc::audit_corrupt, "audit_corrupt", "the audit log does not verify"},
    {errc::schema_incompatible, "schema_incompatible",
     "a feed's stored table does not fit its schema (a column dropped or its type changed)"},
};

const Entry* find(errc e) {
  for (const auto& entry : kEntries)
    if (entry.code == e) return &entry;
  return nullptr;
}

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "svd"; }
  std::string message(int ev) const override { return std::string(errc_message(static_cast<errc>(ev))); }
};

}  // namespace

std::span<const ErrcEntry> errc_entries() { return kEntries; }

std::string_view errc_name(errc e) {
  const Entry* entry = find(e);
  return entry ? entry->name : "unknown_error";
}

std::optional<errc> errc_from_name(std::string_view name) {
  for (const auto& entry : kEntries)
    if (entry.name == name) return entry.code;
  return std::nullopt;
}

std::string_view errc_message(errc e) {
  const Entry* entry = find(e);
  return entry ? entry->message : "unknown error";
}

std::string errc_problem(const boost::system::error_code& ec) {
  if (ec.category() != svd_category()) return ec.message();
  const auto code = static_cast<errc>(ec.value());
  return std::string(errc_message(code)) + " [" + std::string(errc_name(code)) + "]";
}

const boost::system::error_category& svd_category() {
  static const Category category;  // trivially destructible in practice; function-local by design
  return category;
}

}  // namespace svd

#pragma once
// The one rule for the names that become MQTT topic levels, certificate CNs and directory names:
// partner ids, client identities and feed ids. Pure; any thread.

#include <string_view>

namespace svd {

// 1 to 64 characters of [a-z0-9-], not starting with '-': never '/', '+', '#', '.', a space or
// an upper-case twin of another id.
bool valid_identity(std::string_view s);

// "spool", "gateway" and "hub": the names the gateway records its own actions and the spool
// directory's extracts under (audit/event.h, ingest/extract_store.h). Never a client's: a client
// certificate with CN "spool" would see every spool extract as its own, and "gateway" or "hub"
// would pass for the system in the audit log.
bool reserved_client_identity(std::string_view s);

}  // namespace svd

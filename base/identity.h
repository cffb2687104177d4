#pragma once
// The one rule for the names that become MQTT topic levels, certificate CNs and directory names:
// partner ids, client identities and feed ids. Pure; any thread.

#include <string_view>

namespace svd {

// 1 to 64 characters of [a-z0-9-], not starting with '-': never '/', '+', '#', '.', a space or
// an upper-case twin of another id.
bool valid_identity(std::string_view s);

}  // namespace svd

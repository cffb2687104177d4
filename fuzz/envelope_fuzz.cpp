// Every payload svdgw and svdhub take from the broker (protocol/envelope.h, checkpoint.h,
// status.h): a batch, a batch receipt, an audit checkpoint, a checkpoint receipt, a gateway
// status, and the topic names they come on. One target for all of them, each input given to
// every parser, rather than one target each or a selector byte: they are the same kind of input
// (small JSON from a peer, a batch being a JSON line and more), a seed or a find for one is a
// good start for the others, and a crash input is a payload as it would arrive, with nothing to
// strip. Besides the sanitizers, whatever a parser accepts must survive the round trip through
// its writer unchanged: both ends agree byte for byte, or the other side refuses.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/checkpoint.h"
#include "protocol/envelope.h"
#include "protocol/status.h"

namespace {

namespace protocol = svd::protocol;

template <class T, class Parse>
void round_trip(const T& parsed, Parse parse) {
  const std::string once = protocol::to_json(parsed);
  const auto again = parse(once);
  if (!again || protocol::to_json(*again) != once) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  if (const auto batch = protocol::parse_batch(in)) {
    const std::string remade = protocol::make_batch_payload(batch->header, batch->records);
    const auto again = protocol::parse_batch(remade);
    if (!again || again->records != batch->records ||
        protocol::make_batch_payload(again->header, again->records) != remade)
      std::abort();
  }
  (void)protocol::peek_batch_id(in);

  // Both receipt parsers, whichever is_checkpoint_receipt picks: each must refuse the other's
  // receipts cleanly too.
  (void)protocol::is_checkpoint_receipt(in);
  if (const auto r = protocol::parse_checkpoint_receipt(in)) round_trip(*r, protocol::parse_checkpoint_receipt);
  if (const auto r = protocol::parse_receipt(in)) round_trip(*r, protocol::parse_receipt);
  if (const auto m = protocol::parse_checkpoint_message(in)) {
    round_trip(*m, protocol::parse_checkpoint_message);
    (void)protocol::checkpoint_note(m->checkpoint);
  }
  if (const auto s = protocol::parse_status(in)) round_trip(*s, protocol::parse_status);

  std::string partner, feed;
  (void)protocol::parse_batch_topic(in, partner, feed);
  (void)protocol::parse_status_topic(in, partner);
  return 0;
}

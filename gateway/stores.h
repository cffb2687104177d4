#pragma once
// The gateway's two state databases and the threads that own them, as the daemon's components
// are handed them: a component never touches a store from its own thread, it posts the work to
// the store's io_context (and, where it needs the answer, waits for it off those threads).
// Both referents outlive every component that holds a Stores.

namespace boost::asio {
class io_context;
}
namespace svd::ingest {
class ExtractStore;
}
namespace svd::deliver {
class Outbox;
}

namespace svd::gateway {

struct Stores {
  boost::asio::io_context& store_io;  // owns `store` (extracts.db and the extract files)
  ingest::ExtractStore& store;
  boost::asio::io_context& outbox_io;  // owns `outbox` (outbox.db) and the forwarder's strand
  deliver::Outbox& outbox;
};

}  // namespace svd::gateway

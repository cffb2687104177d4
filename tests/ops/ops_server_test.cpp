// The local operations port: plain HTTP on 127.0.0.1, real sockets, a handler that records paths.

#include "ops/ops_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "tests/support/io_thread.h"

namespace svd::ops {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

struct Reply {
  beast::error_code ec;
  int status = 0;
  std::string body, content_type, allow;
  bool keep_alive = false;
};

class PlainClient {
 public:
  beast::error_code connect(unsigned short port) {
    stream_.emplace(io_);
    stream_->expires_after(10s);
    return run([&](auto h) { stream_->async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), h); });
  }
  beast::error_code write(const std::string& bytes) {
    stream_->expires_after(10s);
    return run([&](auto h) { asio::async_write(*stream_, asio::buffer(bytes), h); });
  }
  Reply read_reply() {
    Reply r;
    http::response_parser<http::string_body> p;
    stream_->expires_after(10s);
    r.ec = run([&](auto h) { http::async_read(*stream_, buffer_, p, h); });
    if (r.ec) return r;
    r.status = static_cast<int>(p.get().result_int());
    r.body = p.get().body();
    r.content_type = std::string(p.get()[http::field::content_type]);
    r.allow = std::string(p.get()[http::field::allow]);
    r.keep_alive = p.get().keep_alive();
    return r;
  }
  Reply request(const std::string& raw) {
    if (auto ec = write(raw)) {
      Reply r;
      r.ec = ec;
      return r;
    }
    return read_reply();
  }
  beast::error_code read_until_closed() {
    std::array<char, 1024> buf{};
    stream_->expires_after(10s);
    for (;;) {
      auto ec = run([&](auto h) { stream_->async_read_some(asio::buffer(buf), h); });
      if (ec) return ec;
    }
  }

 private:
  template <class Start>
  beast::error_code run(Start start) {
    beast::error_code result = asio::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    io_.restart();
    io_.run();
    return result;
  }
  asio::io_context io_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

std::string get(const std::string& target, const std::string& method = "GET") {
  return method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
}

class OpsServerTest : public ::testing::Test {
 protected:
  void SetUp() override { io_thread_ = std::make_unique<test_support::IoThread>(); }
  void TearDown() override {
    on_io([&] { server_.reset(); });
    io_thread_->stop();
  }

  template <class F>
  void on_io(F f) {
    io_thread_->run(std::move(f));
  }

  void start() {
    on_io([&] {
      auto s = OpsServer::open(
          io_thread_->io(), "127.0.0.1", 0,
          [this](std::string_view path) {
            std::lock_guard lock(mu_);
            paths_.emplace_back(path);
            if (path == "/metrics") return ops::Reply{200, "text/plain; version=0.0.4", "svdgw_up 1\n"};
            if (path == "/healthz") return ops::Reply{200, "application/json", R"({"status":"ok"})"};
            return ops::Reply{404, "application/problem+json", R"({"title":"Not found"})"};
          },
          [this](const std::string& line) {
            std::lock_guard lock(mu_);
            log_.push_back(line);
          });
      ASSERT_TRUE(s.has_value());
      server_ = std::move(*s);
    });
    ASSERT_NE(server_->port(), 0);
  }

  std::vector<std::string> paths() {
    std::lock_guard lock(mu_);
    return paths_;
  }

  std::unique_ptr<test_support::IoThread> io_thread_;
  std::unique_ptr<OpsServer> server_;
  std::mutex mu_;
  std::vector<std::string> paths_, log_;
};

TEST_F(OpsServerTest, ServesTheHandlersReplyWithKeepAlive) {
  start();
  PlainClient c;
  ASSERT_FALSE(c.connect(server_->port()));
  const Reply m = c.request(get("/metrics?name=x"));
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.body, "svdgw_up 1\n");
  EXPECT_EQ(m.content_type, "text/plain; version=0.0.4");
  EXPECT_TRUE(m.keep_alive);
  const Reply h = c.request(get("/healthz"));
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, R"({"status":"ok"})");
  EXPECT_EQ(c.request(get("/other")).status, 404);
  EXPECT_EQ(paths(), (std::vector<std::string>{"/metrics", "/healthz", "/other"}));
}

TEST_F(OpsServerTest, OnlyGet) {
  start();
  PlainClient c;
  ASSERT_FALSE(c.connect(server_->port()));
  const Reply r = c.request("POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.allow, "GET");
  EXPECT_FALSE(r.keep_alive);
  EXPECT_TRUE(paths().empty());
}

TEST_F(OpsServerTest, BoundedHeadAndNoBody) {
  start();
  PlainClient c;
  ASSERT_FALSE(c.connect(server_->port()));
  const std::string huge = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Fill: " + std::string(9000, 'a') + "\r\n\r\n";
  EXPECT_EQ(c.request(huge).status, 431);
  PlainClient c2;
  ASSERT_FALSE(c2.connect(server_->port()));
  EXPECT_EQ(c2.request("GET /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc").status, 400);
  PlainClient c3;
  ASSERT_FALSE(c3.connect(server_->port()));
  EXPECT_EQ(c3.request("GET metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").status, 400);
  EXPECT_TRUE(paths().empty());
}

TEST_F(OpsServerTest, AtMostEightConnections) {
  start();
  std::vector<std::unique_ptr<PlainClient>> open;
  for (int i = 0; i < 8; ++i) {
    open.push_back(std::make_unique<PlainClient>());
    ASSERT_FALSE(open.back()->connect(server_->port()));
    ASSERT_EQ(open.back()->request(get("/healthz")).status, 200);  // accepted and served
  }
  PlainClient ninth;
  ASSERT_FALSE(ninth.connect(server_->port()));  // TCP connects; the server closes it at once
  const Reply r = ninth.request(get("/healthz"));
  EXPECT_TRUE(r.ec);
  EXPECT_EQ(paths().size(), 8u);
}

TEST_F(OpsServerTest, StopClosesTheListenerAndEveryConnection) {
  start();
  PlainClient c;
  ASSERT_FALSE(c.connect(server_->port()));
  ASSERT_EQ(c.request(get("/healthz")).status, 200);
  const unsigned short port = server_->port();
  on_io([&] { server_->stop(); });
  EXPECT_TRUE(c.read_until_closed());
  PlainClient late;
  EXPECT_TRUE(late.connect(port));
}

TEST_F(OpsServerTest, OpenFailsOnAPortInUse) {
  start();
  on_io([&] {
    std::vector<std::string> lines;
    auto s = OpsServer::open(io_thread_->io(), "127.0.0.1", server_->port(), [](std::string_view) { return ops::Reply{}; },
                             [&](const std::string& l) { lines.push_back(l); });
    EXPECT_FALSE(s.has_value());
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("cannot listen"), std::string::npos);
  });
}

}  // namespace
}  // namespace svd::ops

// The data exchange between workers (worker/cluster/exchange.h) over real
// loopback gRPC: an ExchangeService in a grpc::Server on 127.0.0.1, a test
// receiver holding runtime::InputQueues, and ExchangeClient/RemoteTarget as
// a producer uses them.
#include "worker/cluster/exchange.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace weir::cluster {
namespace {

using namespace std::chrono_literals;

constexpr int kEdge = 3;      // the edge the test sends on
constexpr int kProducer = 0;  // its producer vertex, of kProducers subtasks
constexpr int kProducers = 2;
constexpr int kConsumer = 1;  // its consumer vertex, of two subtasks

// The test plan's channel of producer subtask p at consumer subtask c (other
// edges would have the channels in between).
int ChannelFor(int p, int c) {
  return 2 + p + 3 * c;
}

std::shared_ptr<const Schema> RowSchema() {
  static const auto s = std::make_shared<Schema>(std::vector<Field>{
      {"seq", TypeId::kBigint}, {"name", TypeId::kString}, {"x", TypeId::kDouble}});
  return s;
}

RecordBatch MakeRows(int64_t first, int n) {
  RecordBatch b(RowSchema());
  for (int i = 0; i < n; ++i) {
    const int64_t v = first + i;
    b.columns[0].AppendInt(v);
    if (v % 3 == 0)
      b.columns[1].AppendNull();
    else
      b.columns[1].AppendString("row-" + std::to_string(v));
    b.columns[2].AppendDouble(static_cast<double>(v) / 4);
    b.event_time.push_back(1000 + v);
  }
  return b;
}

void ExpectSameRows(const RecordBatch& want, const RecordBatch& got) {
  ASSERT_EQ(got.num_rows(), want.num_rows());
  ASSERT_EQ(got.columns.size(), want.columns.size());
  EXPECT_EQ(got.event_time, want.event_time);
  for (size_t c = 0; c < want.columns.size(); ++c)
    for (size_t r = 0; r < want.num_rows(); ++r)
      EXPECT_EQ(got.columns[c].ValueToString(r), want.columns[c].ValueToString(r))
          << "column " << c << " row " << r;
}

runtime::Element BatchElement(RecordBatch b, int channel) {
  runtime::Element e;
  e.kind = runtime::Element::Kind::kBatch;
  e.channel = channel;
  e.batch = std::move(b);
  return e;
}

// Subtasks 0 and 1 of vertex kConsumer, fed by edge kEdge from the
// kProducers subtasks of vertex kProducer.
class TestReceiver final : public ExchangeReceiver {
 public:
  explicit TestReceiver(size_t capacity) {
    for (int s = 0; s < 2; ++s) queues_[s] = std::make_unique<runtime::InputQueue>(capacity);
  }
  Result<ExchangeRoute> Route(int edge, int from_vertex, int from_subtask, int to_vertex,
                              int to_subtask) override {
    route_lookups_.fetch_add(1);
    if (edge != kEdge || from_vertex != kProducer || to_vertex != kConsumer)
      return Status::InvalidArgument("unknown edge " + std::to_string(edge));
    auto it = queues_.find(to_subtask);
    if (it == queues_.end())
      return Status::InvalidArgument("no subtask " + std::to_string(to_subtask) + " here");
    if (from_subtask < 0 || from_subtask >= kProducers)
      return Status::InvalidArgument("no producer subtask " + std::to_string(from_subtask));
    return ExchangeRoute{it->second.get(), RowSchema(), ChannelFor(from_subtask, to_subtask)};
  }
  runtime::InputQueue& queue(int s) { return *queues_.at(s); }
  void CloseAll() {
    for (auto& [s, q] : queues_) q->Close();
  }
  int route_lookups() const { return route_lookups_.load(); }

 private:
  std::map<int, std::unique_ptr<runtime::InputQueue>> queues_;
  std::atomic<int> route_lookups_{0};
};

// What a client's on_error saw; like Attempt::Fail, it may cancel the client
// from inside the callback.
struct ErrorLog {
  std::mutex mu;
  std::vector<std::string> errors;
  std::promise<void> first;
  bool fired = false;
  ExchangeClient* cancel_on_error = nullptr;

  std::function<void(const std::string&)> Callback() {
    return [this](const std::string& why) {
      ExchangeClient* c = nullptr;
      {
        std::lock_guard lock(mu);
        errors.push_back(why);
        if (!fired) {
          fired = true;
          first.set_value();
        }
        c = cancel_on_error;
      }
      if (c) c->Cancel();
    };
  }
  size_t count() {
    std::lock_guard lock(mu);
    return errors.size();
  }
};

v1::StreamHeader Header(const std::string& job, int64_t attempt) {
  v1::StreamHeader h;
  h.set_job_id(job);
  h.set_attempt(attempt);
  h.set_from_vertex(0);
  h.set_from_subtask(0);
  return h;
}

class ExchangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&service_);
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    address_ = "127.0.0.1:" + std::to_string(port);
    channel_ = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  }

  void TearDown() override {
    for (auto& r : receivers_) r->CloseAll();
    service_.Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + 5s);
    server_->Wait();
  }

  TestReceiver* NewReceiver(size_t capacity) {
    receivers_.push_back(std::make_unique<TestReceiver>(capacity));
    return receivers_.back().get();
  }

  std::unique_ptr<ExchangeClient> NewClient(const std::string& job, int64_t attempt,
                                            ErrorLog* log) {
    return std::make_unique<ExchangeClient>(channel_, Header(job, attempt), "w2 (" + address_ + ")",
                                            log->Callback());
  }

  // A short deploy wait, so the test of its expiry is quick; every other
  // test registers its attempts well within it.
  ExchangeService service_{std::chrono::seconds(3)};
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::vector<std::unique_ptr<TestReceiver>> receivers_;
};

std::optional<runtime::Element> PopWithin(runtime::InputQueue& q, std::chrono::milliseconds t) {
  return q.Pop(t);
}

// (a) Batches, watermarks, barriers and the end of input arrive in order, in
// the right queue, with their channel and identical rows.
TEST_F(ExchangeTest, ElementsArriveInOrderInTheRightQueue) {
  TestReceiver* rx = NewReceiver(64);
  service_.Register("job", 1, rx);
  ErrorLog log;
  auto client = NewClient("job", 1, &log);
  RemoteTarget to0(client.get(), kEdge, kConsumer, 0);
  RemoteTarget to1(client.get(), kEdge, kConsumer, 1);

  const RecordBatch a = MakeRows(0, 5), b = MakeRows(100, 3), c = MakeRows(200, 0);
  ASSERT_TRUE(to0.Push(BatchElement(a, 2)));
  ASSERT_TRUE(to1.Push(BatchElement(b, 5)));
  {
    runtime::Element wm;
    wm.kind = runtime::Element::Kind::kWatermark;
    wm.channel = 2;
    wm.watermark.watermark = 12345;
    ASSERT_TRUE(to0.Push(std::move(wm)));
  }
  {
    runtime::Element bar;
    bar.kind = runtime::Element::Kind::kBarrier;
    bar.channel = 2;
    bar.checkpoint_id = 7;
    ASSERT_TRUE(to0.Push(std::move(bar)));
  }
  {
    runtime::Element idle;
    idle.kind = runtime::Element::Kind::kWatermark;
    idle.channel = 5;
    idle.watermark.watermark = -5;
    idle.watermark.idle = true;
    ASSERT_TRUE(to1.Push(std::move(idle)));
  }
  ASSERT_TRUE(to0.Push(BatchElement(c, 2)));
  for (auto* t : {&to0, &to1}) {
    runtime::Element end;
    end.kind = runtime::Element::Kind::kEndOfInput;
    end.channel = t == &to0 ? 2 : 5;
    ASSERT_TRUE(t->Push(std::move(end)));
  }
  client->Close();  // waits until the receiver took everything
  EXPECT_EQ(log.count(), 0u) << log.errors.front();

  runtime::InputQueue& q0 = rx->queue(0);
  runtime::InputQueue& q1 = rx->queue(1);
  EXPECT_EQ(q0.size(), 5u);
  EXPECT_EQ(q1.size(), 3u);

  auto e = PopWithin(q0, 1s);
  ASSERT_TRUE(e);
  ASSERT_EQ(e->kind, runtime::Element::Kind::kBatch);
  EXPECT_EQ(e->channel, 2);
  EXPECT_EQ(e->batch.schema, RowSchema());
  ExpectSameRows(a, e->batch);
  e = PopWithin(q0, 1s);
  ASSERT_TRUE(e);
  ASSERT_EQ(e->kind, runtime::Element::Kind::kWatermark);
  EXPECT_EQ(e->channel, 2);
  EXPECT_EQ(e->watermark.watermark, 12345);
  EXPECT_FALSE(e->watermark.idle);
  e = PopWithin(q0, 1s);
  ASSERT_TRUE(e);
  ASSERT_EQ(e->kind, runtime::Element::Kind::kBarrier);
  EXPECT_EQ(e->channel, 2);
  EXPECT_EQ(e->checkpoint_id, 7);
  e = PopWithin(q0, 1s);
  ASSERT_TRUE(e);
  ASSERT_EQ(e->kind, runtime::Element::Kind::kBatch);
  EXPECT_EQ(e->batch.num_rows(), 0u);
  e = PopWithin(q0, 1s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, runtime::Element::Kind::kEndOfInput);
  EXPECT_EQ(e->channel, 2);

  e = PopWithin(q1, 1s);
  ASSERT_TRUE(e);
  ASSERT_EQ(e->kind, runtime::Element::Kind::kBatch);
  EXPECT_EQ(e->channel, 5);
  ExpectSameRows(b, e->batch);
  e = PopWithin(q1, 1s);
  ASSERT_TRUE(e);
  ASSERT_EQ(e->kind, runtime::Element::Kind::kWatermark);
  EXPECT_EQ(e->channel, 5);
  EXPECT_EQ(e->watermark.watermark, -5);
  EXPECT_TRUE(e->watermark.idle);
  e = PopWithin(q1, 1s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, runtime::Element::Kind::kEndOfInput);
  EXPECT_EQ(e->channel, 5);
  // The route (schema, channel) was looked up once per consumer subtask and
  // stream, not per element.
  EXPECT_EQ(rx->route_lookups(), 2);
}

// (b) A consumer that does not pop stops its producer after at most the
// credits plus what its queue holds; popping lets everything through.
TEST_F(ExchangeTest, BackpressureStopsTheSenderAndReleasesIt) {
  constexpr int kBatches = 50;
  constexpr int kCapacity = 1;
  TestReceiver* rx = NewReceiver(kCapacity);
  service_.Register("job", 1, rx);
  ErrorLog log;
  auto client = NewClient("job", 1, &log);
  RemoteTarget target(client.get(), kEdge, kConsumer, 0);
  std::atomic<int> sent{0};
  std::atomic<bool> failed{false};
  std::thread sender([&] {
    for (int i = 0; i < kBatches; ++i) {
      if (!target.Push(BatchElement(MakeRows(i * 10, 10), ChannelFor(0, 0)))) {
        failed.store(true);
        return;
      }
      sent.fetch_add(1);
    }
  });
  const int bound = kExchangeCredits + kCapacity + 2;
  // The sender fills the credits quickly, then stays stuck.
  for (int i = 0; i < 100 && sent.load() < kExchangeCredits; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_GE(sent.load(), kExchangeCredits);
  std::this_thread::sleep_for(100ms);
  const int stuck_at = sent.load();
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(10ms);
    EXPECT_LE(sent.load(), bound);
  }
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(sent.load(), stuck_at) << "the sender moved while nobody popped";
  EXPECT_LE(sent.load(), bound);
  EXPECT_LT(sent.load(), kBatches);
  EXPECT_EQ(rx->queue(0).size(), static_cast<size_t>(kCapacity));

  // Pop everything: all 50 arrive, in order.
  for (int i = 0; i < kBatches; ++i) {
    auto e = rx->queue(0).Pop(5s);
    ASSERT_TRUE(e) << "batch " << i << " did not arrive";
    ASSERT_EQ(e->kind, runtime::Element::Kind::kBatch);
    ExpectSameRows(MakeRows(i * 10, 10), e->batch);
  }
  sender.join();
  EXPECT_FALSE(failed.load());
  EXPECT_EQ(sent.load(), kBatches);
  client->Close();
  EXPECT_EQ(log.count(), 0u);
  EXPECT_EQ(rx->queue(0).size(), 0u);
}

// (c) A frame that does not fit the plan ends the stream, and the client
// hears of it (its on_error cancels the client, as Attempt::Fail does).
TEST_F(ExchangeTest, AFrameForAnUnknownSubtaskEndsTheStream) {
  TestReceiver* rx = NewReceiver(16);
  service_.Register("job", 1, rx);
  ErrorLog log;
  auto client = NewClient("job", 1, &log);
  log.cancel_on_error = client.get();
  RemoteTarget good(client.get(), kEdge, kConsumer, 0);
  RemoteTarget bad(client.get(), kEdge, kConsumer, 9);
  ASSERT_TRUE(good.Push(BatchElement(MakeRows(0, 2), ChannelFor(0, 0))));
  (void)bad.Push(BatchElement(MakeRows(2, 2), ChannelFor(0, 0)));  // may be accepted locally
  ASSERT_EQ(log.first.get_future().wait_for(10s), std::future_status::ready)
      << "on_error was not called";
  EXPECT_NE(log.errors.front().find("w2"), std::string::npos) << log.errors.front();
  // The stream is gone: pushes fail at once.
  EXPECT_FALSE(good.Push(BatchElement(MakeRows(4, 2), ChannelFor(0, 0))));
  // Only the element before the bad one arrived.
  auto e = rx->queue(0).Pop(1s);
  ASSERT_TRUE(e);
  ExpectSameRows(MakeRows(0, 2), e->batch);
  EXPECT_EQ(rx->queue(0).size(), 0u);
  EXPECT_EQ(rx->queue(1).size(), 0u);
  client.reset();  // no hang on teardown
  EXPECT_EQ(log.count(), 1u);
}

TEST_F(ExchangeTest, UnknownEdgesAndMalformedBatchesEndTheStream) {
  TestReceiver* rx = NewReceiver(16);
  service_.Register("job", 1, rx);
  struct Case {
    std::string what;
    std::function<v1::ExchangeElement()> element;
  };
  const std::vector<Case> cases = {
      {"an unknown edge",
       [] {
         v1::ExchangeElement el;
         el.set_to_vertex(kConsumer);
         el.set_kind(v1::ExchangeElement::KIND_BATCH);
         el.set_edge(kEdge + 1);
         return el;
       }},
      {"a malformed batch",
       [] {
         v1::ExchangeElement el;
         el.set_to_vertex(kConsumer);
         el.set_kind(v1::ExchangeElement::KIND_BATCH);
         el.set_edge(kEdge);
         el.set_channel(ChannelFor(0, 0));
         el.set_batch("\x01\x05\x03garbage");
         return el;
       }},
      {"an element without a kind",
       [] {
         v1::ExchangeElement el;
         el.set_to_vertex(kConsumer);
         el.set_edge(kEdge);
         el.set_channel(ChannelFor(0, 0));
         return el;
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    ErrorLog log;
    auto client = NewClient("job", 1, &log);
    log.cancel_on_error = client.get();
    (void)client->Send(c.element());
    ASSERT_EQ(log.first.get_future().wait_for(10s), std::future_status::ready);
    EXPECT_FALSE(client->Send(c.element()));
  }
  EXPECT_EQ(rx->queue(0).size(), 0u);
}

// A stream may open before its attempt is deployed here: it waits for the
// registration.
TEST_F(ExchangeTest, AStreamWaitsForALateRegistration) {
  TestReceiver* rx = NewReceiver(16);
  ErrorLog log;
  auto client = NewClient("job", 4, &log);
  RemoteTarget target(client.get(), kEdge, kConsumer, 1);
  auto pushed = std::async(std::launch::async, [&] {
    return target.Push(BatchElement(MakeRows(0, 3), ChannelFor(0, 1)));
  });
  EXPECT_EQ(pushed.wait_for(200ms), std::future_status::timeout) << "sent without a credit";
  service_.Register("job", 4, rx);
  ASSERT_EQ(pushed.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(pushed.get());
  auto e = rx->queue(1).Pop(5s);
  ASSERT_TRUE(e);
  ExpectSameRows(MakeRows(0, 3), e->batch);
  client->Close();
  EXPECT_EQ(log.count(), 0u);
}

// (d) Unregister with a handler waiting for the next frame returns at once
// (it cancels the stream), and the sender hears that the stream broke.
TEST_F(ExchangeTest, UnregisterWithAnIdleStreamReturns) {
  TestReceiver* rx = NewReceiver(16);
  service_.Register("job", 1, rx);
  ErrorLog log;
  auto client = NewClient("job", 1, &log);
  log.cancel_on_error = client.get();
  RemoteTarget target(client.get(), kEdge, kConsumer, 0);
  ASSERT_TRUE(target.Push(BatchElement(MakeRows(0, 1), ChannelFor(0, 0))));
  ASSERT_TRUE(rx->queue(0).Pop(5s));  // the handler is now in Read
  auto done = std::async(std::launch::async, [&] { service_.Unregister("job", 1); });
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready) << "Unregister hangs";
  ASSERT_EQ(log.first.get_future().wait_for(10s), std::future_status::ready)
      << "the sender was not told";
  EXPECT_FALSE(target.Push(BatchElement(MakeRows(1, 1), ChannelFor(0, 0))));
  // Unregistering again, or an unknown attempt, is a no-op.
  service_.Unregister("job", 1);
  service_.Unregister("nope", 3);
}

// (d) A handler blocked on a full queue holds the receiver until the queue is
// closed (the attempt closes its queues when cancelled, before Unregister):
// then Unregister returns and the receiver is no longer used.
TEST_F(ExchangeTest, UnregisterWithAHandlerBlockedOnAFullQueueReturnsOnceItIsClosed) {
  TestReceiver* rx = NewReceiver(1);
  service_.Register("job", 1, rx);
  ErrorLog log;
  auto client = NewClient("job", 1, &log);
  log.cancel_on_error = client.get();
  RemoteTarget target(client.get(), kEdge, kConsumer, 0);
  ASSERT_TRUE(target.Push(BatchElement(MakeRows(0, 1), ChannelFor(0, 0))));
  ASSERT_TRUE(
      target.Push(BatchElement(MakeRows(1, 1), ChannelFor(0, 0))));  // blocks the handler in Push
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(rx->queue(0).size(), 1u);
  rx->CloseAll();
  auto done = std::async(std::launch::async, [&] { service_.Unregister("job", 1); });
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready) << "Unregister hangs";
  ASSERT_EQ(log.first.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(target.Push(BatchElement(MakeRows(2, 1), ChannelFor(0, 0))));
}

// (d) A stream to an attempt that is not registered waits for it (up to the
// deploy wait, 30 s) and fails when it does not come; Shutdown ends the wait
// at once.
TEST_F(ExchangeTest, AStreamToAnUnregisteredAttemptFailsOnShutdown) {
  ErrorLog log;
  auto client = NewClient("job", 77, &log);
  log.cancel_on_error = client.get();
  RemoteTarget target(client.get(), kEdge, kConsumer, 0);
  auto pushed = std::async(std::launch::async, [&] {
    return target.Push(BatchElement(MakeRows(0, 1), ChannelFor(0, 0)));
  });
  EXPECT_EQ(pushed.wait_for(300ms), std::future_status::timeout);
  EXPECT_EQ(log.count(), 0u);
  service_.Shutdown();
  ASSERT_EQ(pushed.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(pushed.get());
  ASSERT_EQ(log.first.get_future().wait_for(10s), std::future_status::ready);
}

// The same without Shutdown: on_error once the deploy wait (3 s here) is over.
TEST_F(ExchangeTest, AStreamToAnUnregisteredAttemptFailsAfterTheDeployWait) {
  ErrorLog log;
  auto client = NewClient("job", 78, &log);
  log.cancel_on_error = client.get();
  RemoteTarget target(client.get(), kEdge, kConsumer, 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(target.Push(BatchElement(MakeRows(0, 1), ChannelFor(0, 0))));
  ASSERT_EQ(log.first.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 2900ms);
}

// Forged frames, written by a raw client as a hostile peer would: a channel
// that is not the producer's (another producer's, negative, huge), a header
// naming another vertex or a producer subtask the plan lacks, a barrier of
// no checkpoint. Each ends the stream with INVALID_ARGUMENT before anything
// reaches a queue, and counts in refused_streams().
TEST_F(ExchangeTest, ForgedFramesEndTheStreamAndCount) {
  TestReceiver* rx = NewReceiver(16);
  service_.Register("job", 1, rx);
  auto send_raw = [&](const v1::StreamHeader& h, v1::ExchangeElement el) {
    auto stub = v1::Exchange::NewStub(channel_);
    grpc::ClientContext ctx;
    auto stream = stub->Transfer(&ctx);
    v1::ExchangeFrame first;
    *first.mutable_header() = h;
    stream->Write(first);
    v1::ExchangeFrame data;
    *data.add_elements() = std::move(el);
    stream->Write(data);
    stream->WritesDone();
    v1::ExchangeCredit c;
    while (stream->Read(&c)) {
    }
    return stream->Finish();
  };
  auto batch_to = [](int consumer, int channel) {
    v1::ExchangeElement el;
    el.set_to_vertex(kConsumer);
    el.set_to_subtask(consumer);
    el.set_edge(kEdge);
    el.set_channel(channel);
    el.set_kind(v1::ExchangeElement::KIND_END_OF_INPUT);
    return el;
  };
  struct Case {
    std::string what;
    v1::StreamHeader header;
    v1::ExchangeElement element;
  };
  v1::StreamHeader other_vertex = Header("job", 1);
  other_vertex.set_from_vertex(7);
  v1::StreamHeader no_such_producer = Header("job", 1);
  no_such_producer.set_from_subtask(kProducers);
  v1::StreamHeader negative_producer = Header("job", 1);
  negative_producer.set_from_subtask(-1);
  v1::ExchangeElement barrier0 = batch_to(0, ChannelFor(0, 0));
  barrier0.set_kind(v1::ExchangeElement::KIND_BARRIER);
  const std::vector<Case> cases = {
      {"another producer's channel", Header("job", 1), batch_to(0, ChannelFor(1, 0))},
      {"a channel of another consumer", Header("job", 1), batch_to(0, ChannelFor(0, 1))},
      {"a negative channel", Header("job", 1), batch_to(0, -1)},
      {"a huge channel", Header("job", 1), batch_to(1, 1 << 30)},
      {"a header naming another vertex", other_vertex, batch_to(0, ChannelFor(0, 0))},
      {"a producer subtask the plan lacks", no_such_producer, batch_to(0, ChannelFor(0, 0))},
      {"a negative producer subtask", negative_producer, batch_to(0, ChannelFor(0, 0))},
      {"a barrier of checkpoint 0", Header("job", 1), barrier0},
  };
  int64_t refused = service_.refused_streams();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    grpc::Status st = send_raw(c.header, c.element);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
    EXPECT_EQ(service_.refused_streams(), ++refused);
    EXPECT_EQ(rx->queue(0).size(), 0u);
    EXPECT_EQ(rx->queue(1).size(), 0u);
  }
  // The producer's own channel goes through.
  EXPECT_TRUE(send_raw(Header("job", 1), batch_to(1, ChannelFor(0, 1))).ok());
  auto e = rx->queue(1).Pop(1s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, runtime::Element::Kind::kEndOfInput);
  EXPECT_EQ(e->channel, ChannelFor(0, 1));
  EXPECT_EQ(service_.refused_streams(), refused);
}

}  // namespace
}  // namespace weir::cluster

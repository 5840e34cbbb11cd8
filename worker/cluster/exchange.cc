#include "worker/cluster/exchange.h"

#include <chrono>

#include "common/batch_codec.h"
#include "common/rpc/status.h"

namespace weir::cluster {

using namespace std::chrono_literals;

// ---------------------------------------------------------------- service

ExchangeService::~ExchangeService() {
  Shutdown();
}

void ExchangeService::Register(const std::string& job, int64_t attempt,
                               ExchangeReceiver* receiver) {
  std::lock_guard lock(mu_);
  entries_[{job, attempt}].receiver = receiver;
  cv_.notify_all();
}

void ExchangeService::Unregister(const std::string& job, int64_t attempt) {
  std::unique_lock lock(mu_);
  auto it = entries_.find({job, attempt});
  if (it == entries_.end()) return;
  it->second.receiver = nullptr;
  for (grpc::ServerContext* ctx : it->second.contexts) ctx->TryCancel();
  cv_.notify_all();
  cv_.wait(lock, [&] { return it->second.active == 0; });
  entries_.erase(it);
}

void ExchangeService::Shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
  for (auto& [key, e] : entries_)
    for (grpc::ServerContext* ctx : e.contexts) ctx->TryCancel();
  cv_.notify_all();
}

grpc::Status ExchangeService::Transfer(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<v1::ExchangeCredit, v1::ExchangeFrame>* stream) {
  v1::ExchangeFrame frame;
  if (!stream->Read(&frame)) return grpc::Status::OK;
  if (!frame.has_header())
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first frame has no header");
  const v1::StreamHeader header = frame.header();
  const Key key{header.job_id(), header.attempt()};

  // Find the attempt (it may be deploying still) and hold it.
  ExchangeReceiver* receiver = nullptr;
  {
    std::unique_lock lock(mu_);
    // Woken by Register; also every 200 ms to notice a sender that gave up.
    const auto until = std::chrono::steady_clock::now() + deploy_wait_;
    while (!shutdown_ && !ctx->IsCancelled() && std::chrono::steady_clock::now() < until) {
      auto it = entries_.find(key);
      if (it != entries_.end() && it->second.receiver != nullptr) break;
      cv_.wait_for(lock, 200ms);
    }
    auto it = entries_.find(key);
    if (shutdown_ || it == entries_.end() || !it->second.receiver)
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "job " + header.job_id() + " attempt " +
                                                             std::to_string(header.attempt()) +
                                                             " does not run here");
    receiver = it->second.receiver;
    it->second.active++;
    it->second.contexts.insert(ctx);
  }
  auto release = [&] {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    it->second.active--;
    it->second.contexts.erase(ctx);
    cv_.notify_all();
  };

  grpc::Status result = grpc::Status::OK;
  v1::ExchangeCredit credit;
  credit.set_credits(kExchangeCredits);
  bool ok = stream->Write(credit);
  credit.set_credits(1);
  FrameHandler handler(header, receiver);
  // The header frame may carry elements too.
  bool have = true;
  while (ok && have) {
    Status st = handler.Deliver(frame);
    if (!st.ok()) {
      if (st.code() == StatusCode::kInvalidArgument)
        refused_.fetch_add(1, std::memory_order_relaxed);
      result = rpc::ToGrpc(st);
      break;
    }
    // Every data frame took a credit; the header-only first frame did not.
    if (frame.elements_size() > 0 && !stream->Write(credit)) break;
    frame.Clear();
    have = stream->Read(&frame);
  }
  release();
  return result;
}

// ---------------------------------------------------------------- client

ExchangeClient::ExchangeClient(std::shared_ptr<grpc::Channel> channel, v1::StreamHeader header,
                               std::string peer, std::function<void(const std::string&)> on_error)
    : channel_(std::move(channel)),
      header_(std::move(header)),
      peer_(std::move(peer)),
      on_error_(std::move(on_error)) {}

ExchangeClient::~ExchangeClient() {
  Cancel();
  if (reader_.joinable()) reader_.join();
  if (stream_) (void)stream_->Finish();
}

bool ExchangeClient::Open() {
  ctx_.set_wait_for_ready(true);
  auto stub = v1::Exchange::NewStub(channel_);
  auto stream = stub->Transfer(&ctx_);
  v1::ExchangeFrame first;
  *first.mutable_header() = header_;
  // The header goes alone: the receiver grants credits for data frames.
  if (!stream->Write(first)) {
    grpc::Status st = stream->Finish();
    bool report;
    {
      std::lock_guard lock(mu_);
      broken_ = true;
      report = !cancelled_ && on_error_;
    }
    // Outside mu_: on_error may cancel this client (Attempt::Fail does).
    if (report)
      on_error_("exchange stream to worker " + peer_ + " could not open: " + st.error_message());
    return false;
  }
  std::lock_guard lock(mu_);
  stream_ = std::move(stream);
  sent_header_ = true;
  reader_ = std::thread([this] { ReadCredits(); });
  return true;
}

void ExchangeClient::ReadCredits() {
  v1::ExchangeCredit c;
  while (stream_->Read(&c)) {
    std::lock_guard lock(mu_);
    credits_ += c.credits();
    cv_.notify_all();
  }
  // Finish() waits for the writer too: the destructor or Close calls it.
  bool report;
  {
    std::lock_guard lock(mu_);
    broken_ = true;
    cv_.notify_all();
    report = !cancelled_ && !closed_ && on_error_;
  }
  // Outside mu_: on_error may cancel this client (Attempt::Fail does).
  if (report) on_error_("exchange stream to worker " + peer_ + " broke");
}

bool ExchangeClient::Send(v1::ExchangeElement&& element) {
  {
    std::lock_guard lock(mu_);
    if (cancelled_ || broken_) return false;
  }
  if (!sent_header_ && !Open()) return false;
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return cancelled_ || broken_ || credits_ > 0; });
  if (cancelled_ || broken_) return false;
  --credits_;
  lock.unlock();
  v1::ExchangeFrame frame;
  *frame.add_elements() = std::move(element);
  // Writes come from the producer's thread only; the reader thread only reads.
  return stream_->Write(frame);
}

void ExchangeClient::Close() {
  {
    std::lock_guard lock(mu_);
    if (!sent_header_ || cancelled_ || closed_) return;
    closed_ = true;
  }
  stream_->WritesDone();
  if (reader_.joinable()) reader_.join();
  grpc::Status st = stream_->Finish();
  stream_.reset();
  if (!st.ok() && on_error_)
    on_error_("exchange stream to worker " + peer_ + " ended: " + st.error_message());
}

void ExchangeClient::Cancel() {
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return;
    cancelled_ = true;
    cv_.notify_all();
  }
  ctx_.TryCancel();
}

bool RemoteTarget::Push(runtime::Element&& e) {
  v1::ExchangeElement el;
  el.set_to_vertex(to_vertex_);
  el.set_to_subtask(to_subtask_);
  el.set_channel(e.channel);
  el.set_edge(edge_);
  switch (e.kind) {
    case runtime::Element::Kind::kBatch:
      el.set_kind(v1::ExchangeElement::KIND_BATCH);
      EncodeBatch(e.batch, el.mutable_batch());
      break;
    case runtime::Element::Kind::kWatermark:
      el.set_kind(v1::ExchangeElement::KIND_WATERMARK);
      el.set_watermark_ms(e.watermark.watermark);
      el.set_idle(e.watermark.idle);
      break;
    case runtime::Element::Kind::kBarrier:
      el.set_kind(v1::ExchangeElement::KIND_BARRIER);
      el.set_checkpoint_id(e.checkpoint_id);
      break;
    case runtime::Element::Kind::kEndOfInput:
      el.set_kind(v1::ExchangeElement::KIND_END_OF_INPUT);
      break;
  }
  return client_->Send(std::move(el));
}

}  // namespace weir::cluster

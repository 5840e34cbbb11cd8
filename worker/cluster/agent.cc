#include "worker/cluster/agent.h"

#include <chrono>
#include <thread>

#include "common/checkpoint/storage.h"
#include "common/log.h"

namespace weir::cluster {

using namespace std::chrono_literals;

namespace {
int64_t NowMs() {
  return SystemClock::Get()->NowMillis();
}
}  // namespace

Agent::Agent(AgentOptions options, ExchangeService* exchange)
    : options_(std::move(options)), exchange_(exchange) {}

Agent::~Agent() {
  Stop();
  CancelAll();
}

void Agent::Log(const std::string& m) const {
  log::Info(m, {{"worker", options_.worker_id}});
}

void Agent::Stop() {
  stop_.store(true);
  std::lock_guard lock(stream_mu_);
  if (ctx_) ctx_->TryCancel();
}

std::shared_ptr<grpc::Channel> Agent::ChannelTo(const std::string& address) {
  std::lock_guard lock(mu_);
  auto& ch = channels_[address];
  if (!ch) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(64 << 20);
    // Keepalive notices a peer that vanished without closing its connections.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 2000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    ch = grpc::CreateCustomChannel(address, options_.credentials, args);
  }
  return ch;
}

void Agent::Send(v1::WorkerMessage m) {
  std::lock_guard lock(stream_mu_);
  if (stream_) stream_->Write(m);  // a broken session drops it: the coordinator restarts
}

void Agent::Run() {
  int64_t backoff = 100;
  bool told = false;
  while (!stop_.load()) {
    if (RunSession()) {
      backoff = 100;
      told = false;
    } else if (!told) {
      Log("coordinator " + options_.coordinator + " unavailable; retrying");
      told = true;
    }
    CancelAll();
    for (int64_t waited = 0; waited < backoff && !stop_.load(); waited += 50)
      std::this_thread::sleep_for(50ms);
    backoff = std::min<int64_t>(backoff * 2, 2000);
  }
}

bool Agent::RunSession() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(options_.coordinator, options_.credentials, args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + 2s)) return false;
  auto stub = v1::Control::NewStub(channel);
  grpc::ClientContext ctx;
  auto stream = stub->Session(&ctx);
  {
    std::lock_guard lock(stream_mu_);
    if (stop_.load()) return false;
    stream_ = stream.get();
    ctx_ = &ctx;
  }
  v1::WorkerMessage reg;
  auto* r = reg.mutable_register_();
  r->set_worker_id(options_.worker_id);
  r->set_address(options_.address);
  r->set_slots(options_.slots);
  r->set_version("0.1.0");
  Send(reg);

  v1::CoordinatorMessage first;
  bool registered = stream->Read(&first) && first.has_registered();
  if (registered) {
    heartbeat_ms_.store(std::max<int64_t>(50, first.registered().heartbeat_interval_ms()));
    fence_ms_.store(std::max<int64_t>(200, first.registered().fence_after_ms()));
    last_heard_ms_.store(NowMs());
    connected_.store(true);
    Log("registered with coordinator " + options_.coordinator + " as " + options_.worker_id + " (" +
        std::to_string(options_.slots) + " slots)");
    std::atomic<bool> done{false};
    std::thread heartbeats([&] {
      while (!done.load() && !stop_.load()) {
        v1::WorkerMessage hb;
        hb.mutable_heartbeat()->set_time_ms(NowMs());
        {
          std::lock_guard lock(mu_);
          for (auto& [k, a] : attempts_)
            if (!a->exited()) *hb.mutable_heartbeat()->add_progress() = a->Progress();
        }
        Send(hb);
        Reap();
        if (NowMs() - last_heard_ms_.load() > fence_ms_.load()) {
          Log("no word from the coordinator for " + std::to_string(fence_ms_.load()) +
              " ms: cancelling this worker's tasks and registering again");
          ctx.TryCancel();
          break;
        }
        for (int64_t w = 0; w < heartbeat_ms_.load() && !done.load(); w += 10)
          std::this_thread::sleep_for(10ms);
      }
    });
    v1::CoordinatorMessage m;
    while (!stop_.load() && stream->Read(&m)) {
      last_heard_ms_.store(NowMs());
      Handle(m);
    }
    done.store(true);
    connected_.store(false);
    heartbeats.join();
    Log("session with coordinator " + options_.coordinator + " ended");
  }
  {
    std::lock_guard lock(stream_mu_);
    stream_ = nullptr;
    ctx_ = nullptr;
  }
  ctx.TryCancel();
  (void)stream->Finish();
  return registered;
}

void Agent::Handle(const v1::CoordinatorMessage& m) {
  auto find = [&](const std::string& job, int64_t attempt) -> std::shared_ptr<Attempt> {
    std::lock_guard lock(mu_);
    auto it = attempts_.find({job, attempt});
    return it == attempts_.end() ? nullptr : it->second;
  };
  switch (m.msg_case()) {
    case v1::CoordinatorMessage::kDeploy: {
      const auto& d = m.deploy();
      if (find(d.job_id(), d.attempt())) return;  // a repeat
      AttemptEnv env;
      env.worker_id = options_.worker_id;
      env.data_dir = options_.data_dir;
      env.exchange = exchange_;
      env.channel_to = [this](const std::string& a) { return ChannelTo(a); };
      env.send = [this](v1::WorkerMessage msg) { Send(std::move(msg)); };
      auto attempt = std::make_shared<Attempt>(d, env);
      Status st = attempt->Start();
      if (!st.ok()) {
        Log("job " + d.job_id() + " attempt " + std::to_string(d.attempt()) +
            " could not start: " + st.message());
        for (auto kind : {v1::TaskEvent::KIND_FAILED, v1::TaskEvent::KIND_EXITED}) {
          v1::WorkerMessage ev;
          ev.mutable_task_event()->set_job_id(d.job_id());
          ev.mutable_task_event()->set_attempt(d.attempt());
          ev.mutable_task_event()->set_kind(kind);
          ev.mutable_task_event()->set_message(st.message());
          ev.mutable_task_event()->set_permanent(IsPermanent(st));
          Send(ev);
        }
        return;
      }
      std::lock_guard lock(mu_);
      attempts_[{d.job_id(), d.attempt()}] = std::move(attempt);
      return;
    }
    case v1::CoordinatorMessage::kTrigger:
      if (auto a = find(m.trigger().job_id(), m.trigger().attempt()))
        a->Trigger(m.trigger().checkpoint_id(), m.trigger().savepoint());
      return;
    case v1::CoordinatorMessage::kCheckpointDone:
      if (auto a = find(m.checkpoint_done().job_id(), m.checkpoint_done().attempt()))
        a->CheckpointDone(m.checkpoint_done().checkpoint_id(), m.checkpoint_done().ok());
      return;
    case v1::CoordinatorMessage::kCancel:
      if (auto a = find(m.cancel().job_id(), m.cancel().attempt())) {
        if (m.cancel().drain_commits_ms() > 0)
          a->CancelAfterCommits(m.cancel().drain_commits_ms());
        else
          a->Cancel();
      } else {
        // Nothing of that attempt runs here (it ended, or its deployment
        // never came): say so, or the coordinator would wait for it.
        v1::WorkerMessage ev;
        ev.mutable_task_event()->set_job_id(m.cancel().job_id());
        ev.mutable_task_event()->set_attempt(m.cancel().attempt());
        ev.mutable_task_event()->set_kind(v1::TaskEvent::KIND_EXITED);
        Send(ev);
      }
      return;
    case v1::CoordinatorMessage::kRelease:
      if (auto a = find(m.release().job_id(), m.release().attempt())) a->Release();
      return;
    default:
      return;
  }
}

std::string Agent::RenderMetrics() {
  Metrics m;
  const Labels w = {{"worker", options_.worker_id}};
  m.Gauge("weir_worker_slots", "Task slots this worker offers", w, options_.slots);
  m.Gauge("weir_worker_connected", "1 while the worker has a session with the coordinator", w,
          connected_.load() ? 1 : 0);
  std::vector<std::shared_ptr<Attempt>> attempts;
  {
    std::lock_guard lock(mu_);
    for (auto& [k, a] : attempts_) attempts.push_back(a);
  }
  m.Gauge("weir_worker_attempts", "Job attempts running on this worker", w,
          static_cast<double>(attempts.size()));
  m.Counter("weir_checkpoint_storage_errors_total",
            "Checkpoint storage housekeeping that failed (retention, garbage collection, "
            "removing an incomplete checkpoint); each is logged with its cause",
            w, static_cast<double>(checkpoint::CheckpointStorage::HousekeepingErrors()));
  m.Counter("weir_exchange_refused_streams_total",
            "Exchange streams ended because a frame did not fit the job's plan (forged or "
            "corrupt: wrong channel, edge, producer or consumer, or an undecodable batch)",
            w, static_cast<double>(exchange_->refused_streams()));
  for (const auto& a : attempts) a->CollectMetrics(m);
  return m.Render();
}

void Agent::Reap() {
  std::vector<std::shared_ptr<Attempt>> done;
  {
    std::lock_guard lock(mu_);
    for (auto it = attempts_.begin(); it != attempts_.end();) {
      if (it->second->exited()) {
        done.push_back(std::move(it->second));
        it = attempts_.erase(it);
      } else {
        ++it;
      }
    }
  }
  done.clear();  // outside the lock: destruction joins threads
}

void Agent::CancelAll() {
  std::map<std::pair<std::string, int64_t>, std::shared_ptr<Attempt>> all;
  {
    std::lock_guard lock(mu_);
    all.swap(attempts_);
  }
  for (auto& [k, a] : all) a->Cancel();
  all.clear();
}

}  // namespace weir::cluster

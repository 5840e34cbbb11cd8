// Crash points: deterministic SIGKILLs for the crash tests.
//
// WEIR_TEST_CRASH=NAME:N makes the process kill itself with SIGKILL the N-th
// time it reaches crash point NAME (N >= 1), so a test can place a real
// kill -9 exactly where a race would otherwise put it by chance:
//   after-precommit   a sink pre-committed checkpoint N, before its ack
//   before-complete   checkpoint N is uploaded, its metadata not yet written
//   after-complete    N's metadata is durable, the sinks have not committed
//   after-commit      a sink committed N
// Without the variable a crash point costs one relaxed atomic load.
//
// WEIR_TEST_FAIL=NAME:N makes FailPoint(NAME) return an error the N-th time
// it is reached (a task failure the process restarts from, per `restart`).
//
// WEIR_TEST_DELAY=NAME:N:MS makes DelayPoint(NAME) sleep MS milliseconds the
// N-th time it is reached and every time after, to hold one side of a race:
//   trigger-after-finish  a worker, some of whose tasks have finished, got
//                         TriggerCheckpoint (before it acts on it)
#pragma once

#include <string_view>

#include "common/status.h"

namespace weir::runtime {

void CrashPoint(std::string_view name);
Status FailPoint(std::string_view name);
void DelayPoint(std::string_view name);

}  // namespace weir::runtime

// The next step of a virtual clock, run once every continuation the last step woke has run: a
// microtask that queues `fn` as a process.nextTick, which Node runs only when the microtask queue is
// empty (however deep the chain of continuations). The point setImmediate reaches, without a turn
// of the event loop (timers phase, epoll_wait, check phase) per step; a clock still yields to the
// event loop now and then so real I/O gets its turns (sim/scheduler.ts, the test host's clock).
export function afterMicrotasks(fn: () => void): void {
  queueMicrotask(() => process.nextTick(fn));
}

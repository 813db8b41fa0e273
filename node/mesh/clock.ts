/**
 * The clocks of the mesh code (issue 19 item 3b). Durations, liveness and "was it heard after
 * it disconnected" are measured on a monotonic clock: a wall-clock step (NTP correcting an hour,
 * a VM resumed, an operator's `date -s`) must never make a member look silent for an hour or
 * alive for an hour after it went. The wall clock is used only for what people read: the `at`
 * of a summary and `lastSeen` in `peers`.
 */

/** Monotonic ms, anchored at the wall clock when the process started (equal to it until a step). */
export function monoNow (): number {
  return Math.round(performance.timeOrigin + performance.now())
}

/** A monotonic time as wall-clock ms since the epoch, by its age now. */
export function wallOf (mono: number, wallNow = Date.now(), monoNowMs = monoNow()): number {
  return wallNow - (monoNowMs - mono)
}

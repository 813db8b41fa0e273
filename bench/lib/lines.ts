/**
 * Timestamped lines of a child's stdout and stderr. Join and event delivery are measured by when
 * a daemon logs them (procmesh: "joined the view", Serf: "EventMemberJoin", "Received event"), read
 * off its pipes as they arrive: the same clock and the same method for both sides, no polling.
 */
import type { ChildProcess } from 'node:child_process'
import { nowMs } from './stats.js'

export interface Line {
  /** arrival time, nowMs() */
  at: number
  text: string
}

interface Waiter {
  match: (line: string) => boolean
  since: number
  /** matching lines still to come */
  remaining: number
  resolve: (at: number) => void
}

/** Lines kept per process: enough for every event of a run, bounded for a chatty daemon. */
const MAX_LINES = 5000

export class LineLog {
  private readonly lines: Line[] = []
  private waiters: Waiter[] = []
  private readonly partial = { stdout: '', stderr: '' }

  constructor (child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { this.feed('stdout', chunk) })
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { this.feed('stderr', chunk) })
  }

  /** The first line at or after `since` that matches, now or when it arrives; the time it arrived. */
  next (match: (line: string) => boolean, since: number): Promise<number> {
    return this.nth(match, since, 1)
  }

  /** When the `count`-th line at or after `since` that matches arrived (or arrives). */
  nth (match: (line: string) => boolean, since: number, count: number): Promise<number> {
    const found = this.lines.filter(l => l.at >= since && match(l.text))
    if (found.length >= count) return Promise.resolve(found[count - 1].at)
    return new Promise(resolve => { this.waiters.push({ match, since, remaining: count - found.length, resolve }) })
  }

  /** Forget pending waiters (after a timeout), so they do not pile up across runs. */
  cancelWaiters (): void {
    this.waiters = []
  }

  tail (count = 30): string {
    return this.lines.slice(-count).map(l => l.text).join('\n')
  }

  private feed (stream: 'stdout' | 'stderr', chunk: string): void {
    const at = nowMs()
    const text = this.partial[stream] + chunk
    const parts = text.split('\n')
    this.partial[stream] = parts.pop() ?? ''
    for (const part of parts) {
      const line = { at, text: part }
      this.lines.push(line)
      if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES)
      if (this.waiters.length === 0) continue
      const still: Waiter[] = []
      for (const w of this.waiters) {
        if (at >= w.since && w.match(part) && --w.remaining === 0) w.resolve(at)
        else still.push(w)
      }
      this.waiters = still
    }
  }
}

/** Resolves with the promise's value, or undefined after `ms`. */
export async function within<T> (promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>(resolve => { timer = setTimeout(() => { resolve(undefined) }, ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

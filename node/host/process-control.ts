/**
 * Stopping processes safely (THREATS.md invariant 2): a signal only ever reaches the process the
 * caller saw, identified by pid AND start time, never pid <= 1, a negative pid (a process group,
 * or -1 = every process), the node itself or its parent.
 *
 * The /proc readers are injected so the rules can be tested without real processes; the real
 * ones are below (createProcReaders), built on the collector's own parsers so a start time read
 * here is computed exactly as the `list` protocol computed the one the caller carries.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { ProcmeshError, errnoCode } from '../../protocols/errors.js'
import type { StopRequest, StopResult } from '../../protocols/messages.js'
import type { Logger } from '../logger.js'
import { DEFAULT_CLOCK_TICKS, parseProcStat, parseSystemStat, startTimeMs, type PidStat } from './proc-parse.js'
import { NON_TERMINATING_SIGNALS, toNodeSignal } from './signals.js'

export const DEFAULT_PROC_ROOT = '/proc'
/** How often a grace period checks whether the signalled processes have exited (ms). */
export const GRACE_POLL_MS = 50
/**
 * Processes a tree stop collects at most. The STOP result's `signalled` list is capped at 65536
 * by its validator; a tree larger than that is a fork bomb, and the rest is left for a second stop.
 */
export const MAX_TREE_PROCESSES = 65536
/**
 * Allowed difference between the start time a stop carries and the one read now (ms).
 * Zero on purpose: the collector and this module compute start times with the same function
 * (startTimeMs: boot time in whole seconds + clock ticks, integral ms at USER_HZ 100) from the
 * same kernel fields, so the same process always gives the same number. Any tolerance would
 * only widen the window in which a reused pid passes as the old process. The one way equal
 * processes differ is a wall-clock step between list and stop (btime moves with it): then the
 * stop answers `gone` and the caller lists again, which is the safe failure.
 */
export const START_TIME_TOLERANCE_MS = 0
/** A tree's members found by scanning /proc are reused for this long (ms), see createProcReaders. */
export const CHILDREN_SCAN_TTL_MS = 50

/** What a stop needs to know about processes; injected so tests can fake /proc. */
export interface ProcReaders {
  /** start time (ms epoch) of a live process, or undefined when it is gone or a zombie */
  readStartTime: (pid: number) => Promise<number | undefined>
  /** pids of the live processes whose parent is pid */
  listChildren: (pid: number) => Promise<number[]>
}

export interface StopOptions extends ProcReaders {
  /** the node's own pid, never signalled */
  selfPid: number
  /** the node's parent, never signalled (a supervisor such as systemd or the user's shell) */
  parentPid: number
  /** sends a signal (default process.kill); throws errors with code EPERM / ESRCH */
  kill?: (pid: number, signal: NodeJS.Signals) => void
  /** grace-period poll interval (default GRACE_POLL_MS) */
  pollMs?: number
  log?: Logger
}

/** Why a pid may never be signalled, or undefined when it may (pure). */
export function refusalReason (pid: number, selfPid: number, parentPid: number): string | undefined {
  if (!Number.isSafeInteger(pid)) return `pid ${pid} is not an integer`
  if (pid === -1) return 'pid -1 would signal every process'
  if (pid < -1) return `pid ${pid} would signal every process in process group ${-pid}`
  if (pid === 0) return "pid 0 would signal the node's own process group"
  if (pid === 1) return 'pid 1 is init: signalling it could bring the whole host down'
  if (pid === selfPid) return `pid ${pid} is this procmesh node itself`
  if (pid === parentPid) return `pid ${pid} is the parent of this procmesh node`
  return undefined
}

/** Whether a start time read now names the process the caller saw. */
export function sameStartTime (current: number | undefined, expected: number): boolean {
  return current !== undefined && Math.abs(current - expected) <= START_TIME_TOLERANCE_MS
}

interface Target { pid: number, startTime: number }

/**
 * Stop a process (optionally with its whole subtree) as StopRequest asks.
 *
 * - refused pids throw REFUSED naming the reason; nothing is signalled;
 * - a pid that no longer exists or whose start time differs is `gone`; nothing is signalled;
 * - tree: the subtree is collected BEFORE any signal (a parent's death reparents its children,
 *   after which they can no longer be found through it), then signalled parent first: a parent
 *   that respawns or re-forks children (a supervisor, a shell loop) is stopped before it sees
 *   its children die, and STOP freezes a tree top-down. Each member's start time is checked
 *   again right before its signal, so a member that exited meanwhile and whose pid was reused
 *   is skipped. Refused members (the node, its parent) are skipped;
 * - graceMs: wait up to that long for every signalled process to exit (`exited`), else KILL the
 *   survivors (and, for a tree, children they forked meanwhile) and answer `signalled` with
 *   `escalated: true` (false whenever no KILL was needed);
 * - without grace the answer is `signalled` (the signal was delivered; whether the process
 *   ends, and when, is its business).
 * EPERM on the named pid throws OS_DENIED; on a tree member it is logged and the member skipped
 * (the parent was already signalled; aborting half-way would help no one).
 */
export async function stopProcess (req: StopRequest, opts: StopOptions): Promise<StopResult> {
  const { pid, signal } = req
  const refused = refusalReason(pid, opts.selfPid, opts.parentPid)
  if (refused !== undefined) throw new ProcmeshError('REFUSED', refused)
  const graceMs = req.graceMs ?? 0
  if (graceMs > 0 && NON_TERMINATING_SIGNALS.has(signal)) {
    throw new ProcmeshError('INVALID_REQUEST', `graceMs: means nothing with signal ${signal}, which does not end a process`)
  }
  const gone: StopResult = { pid, signal, result: 'gone', signalled: [], escalated: false }
  const current = await opts.readStartTime(pid)
  if (!sameStartTime(current, req.startTime)) return gone

  const root: Target = { pid, startTime: req.startTime }
  const targets = req.tree ? await collectTree([root], opts, new Set([pid])) : [root]
  const kill = opts.kill ?? ((p: number, s: NodeJS.Signals) => { process.kill(p, s) })
  const signalled = await signalAll(targets, toNodeSignal(signal), pid, opts, kill)
  if (signalled.length === 0) return gone
  const result: StopResult = { pid, signal, result: 'signalled', signalled: signalled.map(t => t.pid), escalated: false }
  if (graceMs <= 0) return result

  const pollMs = opts.pollMs ?? GRACE_POLL_MS
  const deadline = Date.now() + graceMs
  let alive = signalled
  for (;;) {
    alive = await stillAlive(alive, opts)
    if (alive.length === 0) return { ...result, result: 'exited' }
    const left = deadline - Date.now()
    if (left <= 0) break
    await sleep(Math.min(pollMs, left))
  }
  if (signal === 'KILL') return result
  // the survivors, plus whatever they forked during the grace period
  const seen = new Set(alive.map(t => t.pid))
  const survivors = req.tree ? await collectTree(alive, opts, seen) : alive
  const killed = await signalAll(survivors, 'SIGKILL', pid, opts, kill)
  const all = new Set(result.signalled)
  for (const t of killed) all.add(t.pid)
  // escalated: KILL actually reached a survivor (one that exited just before it does not count)
  return { ...result, signalled: [...all], escalated: killed.length > 0 }
}

/** The given processes and all their live descendants, breadth first (parents before children). */
async function collectTree (roots: Target[], opts: StopOptions, seen: Set<number>): Promise<Target[]> {
  const out: Target[] = [...roots]
  for (let i = 0; i < out.length && out.length < MAX_TREE_PROCESSES; i++) {
    for (const child of await opts.listChildren(out[i].pid)) {
      if (seen.has(child) || out.length >= MAX_TREE_PROCESSES) continue
      seen.add(child)
      const why = refusalReason(child, opts.selfPid, opts.parentPid)
      if (why !== undefined) {
        opts.log?.info('stop of %d: skipping its descendant %d: %s', out[0].pid, child, why)
        continue
      }
      const startTime = await opts.readStartTime(child)
      if (startTime !== undefined) out.push({ pid: child, startTime })
    }
  }
  return out
}

/** Signal each target whose start time still matches; returns the ones signalled. */
async function signalAll (targets: Target[], sig: NodeJS.Signals, named: number, opts: StopOptions, kill: (pid: number, signal: NodeJS.Signals) => void): Promise<Target[]> {
  const done: Target[] = []
  for (const t of targets) {
    if (!sameStartTime(await opts.readStartTime(t.pid), t.startTime)) continue
    try {
      kill(t.pid, sig)
      done.push(t)
    } catch (err: unknown) {
      const code = errnoCode(err)
      if (code === 'ESRCH') continue
      if (code === 'EPERM') {
        if (t.pid === named) throw new ProcmeshError('OS_DENIED', `permission denied by the OS to signal pid ${t.pid}`)
        opts.log?.warn('stop of %d: permission denied by the OS to signal its descendant %d', named, t.pid)
        continue
      }
      throw err
    }
  }
  return done
}

async function stillAlive (targets: Target[], opts: ProcReaders): Promise<Target[]> {
  const out: Target[] = []
  for (const t of targets) {
    if (sameStartTime(await opts.readStartTime(t.pid), t.startTime)) out.push(t)
  }
  return out
}

// ---- the real readers (Linux /proc) ----

/** /proc/[pid]/stat parsed, or undefined when the process is gone or its stat unreadable. */
export function readPidStat (pid: number, procRoot: string = DEFAULT_PROC_ROOT): PidStat | undefined {
  try {
    return parseProcStat(readFileSync(`${procRoot}/${pid}/stat`, 'utf8'))
  } catch {
    return undefined
  }
}

/** Boot time in seconds since the epoch, as the collector reads it (each time: it moves with clock steps). */
export function readBootTime (procRoot: string = DEFAULT_PROC_ROOT): number {
  return parseSystemStat(readFileSync(`${procRoot}/stat`, 'utf8')).btime
}

/**
 * Start time (ms epoch) of pid, computed exactly as the collector does; never throws (undefined
 * when it cannot be read, e.g. without /proc). Zombies count as gone
 * unless includeZombies: a zombie has exited, cannot act on a signal, and its pid cannot be
 * reused until it is reaped. (Orphans are reaped by pid 1, and not every container's pid 1 reaps.)
 */
export function readStartTimeSync (pid: number, opts: { procRoot?: string, clockTicks?: number, includeZombies?: boolean } = {}): number | undefined {
  const procRoot = opts.procRoot ?? DEFAULT_PROC_ROOT
  const stat = readPidStat(pid, procRoot)
  if (stat === undefined || stat.pid !== pid) return undefined
  if (opts.includeZombies !== true && (stat.state === 'Z' || stat.state === 'X')) return undefined
  let btime: number
  try {
    btime = readBootTime(procRoot)
  } catch {
    return undefined
  }
  return startTimeMs(stat.startTicks, btime, opts.clockTicks ?? DEFAULT_CLOCK_TICKS)
}

/** ppid -> live children, from one scan of every /proc/[pid]/stat (zombies left out). */
export function scanChildren (procRoot: string = DEFAULT_PROC_ROOT): Map<number, number[]> {
  const byParent = new Map<number, number[]>()
  for (const name of readdirSync(procRoot)) {
    const c = name.charCodeAt(0)
    if (c < 0x31 || c > 0x39) continue
    const stat = readPidStat(Number(name), procRoot)
    if (stat === undefined || stat.state === 'Z' || stat.state === 'X') continue
    const list = byParent.get(stat.ppid)
    if (list === undefined) byParent.set(stat.ppid, [stat.pid])
    else list.push(stat.pid)
  }
  return byParent
}

/**
 * The real readers. listChildren scans all of /proc (children are only findable through their
 * ppid); one scan serves a whole tree walk, which asks for every member's children within a
 * few ms, and is redone after CHILDREN_SCAN_TTL_MS, so the walk after a grace period (at least
 * one poll later) sees what the survivors forked meanwhile.
 */
export function createProcReaders (opts: { procRoot?: string, clockTicks?: number } = {}): ProcReaders {
  const procRoot = opts.procRoot ?? DEFAULT_PROC_ROOT
  let scan: { at: number, byParent: Map<number, number[]> } | undefined
  return {
    readStartTime: async pid => readStartTimeSync(pid, { procRoot, clockTicks: opts.clockTicks }),
    listChildren: async pid => {
      if (scan === undefined || Date.now() - scan.at > CHILDREN_SCAN_TTL_MS) {
        const byParent = scanChildren(procRoot)
        scan = { at: Date.now(), byParent }
      }
      return [...(scan.byParent.get(pid) ?? [])]
    }
  }
}

function sleep (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}

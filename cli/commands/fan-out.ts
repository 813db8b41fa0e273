/**
 * Fan-out `run` and `kill` over a group target (`all`, `tag:K=V`): one line per
 * host as its answer arrives, `--json` one entry per host, and an exit code that
 * says whether every host (or, with `--any`, at least one) did it.
 */
import { createInterface } from 'node:readline/promises'
import type { PeerError, PsEntry, RunEntry, RunParams } from '../../protocols/control.js'
import { ProcmeshError, toProcmeshError } from '../../protocols/errors.js'
import type { ProcessInfo } from '../../protocols/types.js'
import type { SignalName } from '../../protocols/messages.js'
import type { CliContext } from '../context.js'
import { safeText } from '../../protocols/text.js'

/** A group start waits this long for the slowest host (the node gives each host its own deadline). */
export const FAN_OUT_RUN_TIMEOUT_MS = 60_000
/** Stops sent at once during a fan-out kill. */
export const FAN_OUT_KILL_CONCURRENCY = 16
/** Hosts the node may answer for in one group call (bounded like the view). */
const MAX_FAN_OUT_ENTRIES = 4096

/** Remote strings (names, commands, messages) with their control characters escaped: one rule, protocols/text.ts. */
export const printable = safeText

/** One host's answer to a group start; a malformed one that still names its host becomes its PROTOCOL_ERROR. */
export function formatRunEntry (e: RunEntry): string {
  return 'error' in e
    ? `${printable(e.name)}: ${e.error.code} ${printable(e.error.message)}`
    : `${printable(e.name)}: started ${e.managedId} pid ${e.pid}`
}

/** 0 when every host started it (with `any`: at least one), else 1 (pure). */
export function fanOutExitCode (ok: number, total: number, any: boolean): number {
  if (total === 0) return 1
  return (any ? ok > 0 : ok === total) ? 0 : 1
}

/**
 * A host the view already marks offline (left, or its node stopped): listed with its
 * error, but not counted against the exit code, so `run all` does not fail for the
 * hour a departed host stays in the view.
 */
export function isOfflineEntry (e: { error?: PeerError } | object): boolean {
  return 'error' in e && (e.error as PeerError).code === 'PEER_OFFLINE'
}

/**
 * The entries of a fan-out answer that fail the call: a host that was asked and did not
 * answer is never a success. Hosts the view already marks offline do not count (see above).
 */
export function unanswered<E extends object> (entries: readonly E[]): E[] {
  return entries.filter(e => 'error' in e && !isOfflineEntry(e))
}

/**
 * Whether a fan-out answer fails the call (exit 1): a host that was asked did not answer, or
 * no host answered at all (a lone target the view marks offline is a failure, as in `ps`).
 */
export function failsCall<E extends object> (entries: readonly E[]): boolean {
  return unanswered(entries).length > 0 || (entries.length > 0 && entries.every(e => 'error' in e))
}

function summaryLine (verb: string, ok: number, total: number, offline: number): string {
  const skipped = offline > 0 ? ` (${offline} offline host${offline === 1 ? '' : 's'} skipped)` : ''
  return `${verb} on ${ok} of ${total} host${total === 1 ? '' : 's'}${skipped}`
}

/** `run all|tag:K=V -- CMD`: start on every matching host, a line per host as it answers. */
export async function runOnGroup (ctx: CliContext, params: RunParams, any: boolean): Promise<number> {
  const seen = new Set<string>()
  const streamed: RunEntry[] = []
  const accept = (entry: RunEntry): void => {
    if (seen.has(entry.peerId) || seen.size >= MAX_FAN_OUT_ENTRIES) return
    seen.add(entry.peerId)
    streamed.push(entry)
    if (!ctx.json) ctx.out(formatRunEntry(entry))
  }
  const client = await ctx.connect()
  let final: RunEntry[]
  try {
    final = await client.runGroup(params, {
      onData: accept,
      onMalformed: err => { ctx.err(`procmesh run: a malformed entry from the node: ${err.message}`) },
      timeoutMs: FAN_OUT_RUN_TIMEOUT_MS
    })
  } finally {
    client.close()
  }
  // the final answer repeats every entry: take the ones whose notification was lost
  for (const value of final) accept(value)
  const ok = streamed.filter(e => !('error' in e)).length
  const offline = streamed.filter(isOfflineEntry).length
  if (ctx.json) ctx.out(JSON.stringify(streamed))
  else ctx.err(summaryLine('started', ok, streamed.length - offline, offline))
  return fanOutExitCode(ok, streamed.length - offline, any)
}

/** A process a fan-out kill previewed: stopped only if its pid still has this start time. */
export interface KillCandidate { peerId: string, name: string, pid: number, startTime: number, cmd: string }

export interface HostKillResult {
  peerId: string
  name: string
  /** set when the host could not be listed; nothing was signalled there */
  error?: PeerError
  processes: Array<{ pid: number, cmd: string, result?: 'signalled' | 'exited' | 'gone', signal?: string, error?: PeerError }>
}

/**
 * The processes a fan-out kill would stop (pure): every listed process of every host
 * that answered, except the CLI's own process on its own host (its command line
 * contains the filter text too).
 */
export function killCandidates (entries: readonly PsEntry[], own: { peerId: string, pid: number }): { candidates: KillCandidate[], failed: Array<{ peerId: string, name: string, error: PeerError }> } {
  const candidates: KillCandidate[] = []
  const failed: Array<{ peerId: string, name: string, error: PeerError }> = []
  for (const e of entries) {
    if ('error' in e) { failed.push(e); continue }
    for (const p of e.processes as ProcessInfo[]) {
      if (e.peerId === own.peerId && p.pid === own.pid) continue
      candidates.push({ peerId: e.peerId, name: e.name, pid: p.pid, startTime: p.startTime, cmd: p.cmd })
    }
  }
  return { candidates, failed }
}

export function formatPreview (candidates: readonly KillCandidate[]): string {
  return candidates.map(c => `  ${printable(c.name)}  pid ${c.pid}  ${printable(c.cmd)}`).join('\n')
}

/** Ask on the terminal; false when stdin is not one (the caller then needs --yes). */
async function confirmOnTerminal (question: string): Promise<boolean> {
  if (process.stdin.isTTY !== true) throw new ProcmeshError('INVALID_REQUEST', 'kill --filter asks for confirmation but stdin is not a terminal; add --yes')
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    const answer = await rl.question(question)
    return /^y(es)?$/i.test(answer.trim())
  } finally {
    rl.close()
  }
}

export interface GroupKillOptions {
  target: string
  filter: string
  signal: SignalName
  yes: boolean
  /** asks the user; default: a y/N question on the terminal */
  confirm?: (question: string) => Promise<boolean>
}

/** `kill TARGET --filter TEXT`: preview, confirm, then stop exactly the previewed processes. */
export async function killOnGroup (ctx: CliContext, opts: GroupKillOptions): Promise<number> {
  const client = await ctx.connect()
  try {
    const self = await client.id()
    const own = { peerId: self.peerId, pid: process.pid }
    const listed = await client.ps({ target: opts.target, filter: opts.filter })
    const { candidates, failed } = killCandidates(listed, own)
    for (const f of failed) ctx.err(`${printable(f.name)}: ${f.error.code} ${printable(f.error.message)} (not listed, nothing stopped there)`)
    const unlisted = failed.filter(f => !isOfflineEntry(f)).length
    if (candidates.length === 0) {
      if (ctx.json) ctx.out(JSON.stringify(hostResults(listed, [], [])))
      else ctx.err(`no process matches ${JSON.stringify(opts.filter)} on ${listed.length - failed.length} host(s) of ${opts.target}`)
      return 1
    }
    if (!opts.yes) {
      const hosts = new Set(candidates.map(c => c.peerId)).size
      ctx.err(`these ${candidates.length} processes on ${hosts} host(s) match ${JSON.stringify(opts.filter)}:\n${formatPreview(candidates)}`)
      const ok = await (opts.confirm ?? confirmOnTerminal)(`send ${opts.signal} to all ${candidates.length}? [y/N] `)
      if (!ok) { ctx.err('nothing stopped'); return 1 }
    }
    const outcomes: Array<HostKillResult['processes'][number] & { peerId: string }> = []
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < candidates.length) {
        const c = candidates[next++]
        try {
          const r = await client.kill({ target: c.peerId, pid: c.pid, startTime: c.startTime, signal: opts.signal }, { timeoutMs: 30_000 })
          outcomes.push({ peerId: c.peerId, pid: c.pid, cmd: c.cmd, result: r.result, signal: r.signal })
          if (!ctx.json) ctx.out(`${printable(c.name)}: pid ${c.pid} ${r.result}${r.result === 'gone' ? ' (already exited)' : ` (${r.signal})`}`)
        } catch (err: unknown) {
          const error = toProcmeshError(err).toJSON()
          outcomes.push({ peerId: c.peerId, pid: c.pid, cmd: c.cmd, error })
          if (!ctx.json) ctx.out(`${printable(c.name)}: pid ${c.pid} ${error.code} ${printable(error.message)}`)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(FAN_OUT_KILL_CONCURRENCY, candidates.length) }, worker))
    const results = hostResults(listed, candidates, outcomes)
    const stopped = outcomes.filter(o => o.error === undefined).length
    if (ctx.json) ctx.out(JSON.stringify(results))
    else ctx.err(`stopped ${stopped} of ${candidates.length} processes`)
    // a process that exited by itself (gone) is stopped as far as the caller is concerned
    return stopped === candidates.length && unlisted === 0 ? 0 : 1
  } finally {
    client.close()
  }
}

function hostResults (listed: readonly PsEntry[], candidates: readonly KillCandidate[], outcomes: ReadonlyArray<HostKillResult['processes'][number] & { peerId: string }>): HostKillResult[] {
  return listed.map(e => 'error' in e
    ? { peerId: e.peerId, name: e.name, error: e.error, processes: [] }
    : {
        peerId: e.peerId,
        name: e.name,
        processes: outcomes.filter(o => o.peerId === e.peerId).map(({ peerId: _peerId, ...rest }) => rest)
      })
    .filter(h => h.error !== undefined || candidates.length === 0 || candidates.some(c => c.peerId === h.peerId))
}

import { safe } from '../format.js'
import { CONTROL_API } from '../../protocols/control-api.js'
import { checkAnswer } from '../../protocols/errors.js'
import type { KillParams, KillResult } from '../../protocols/control.js'
import { MAX_GRACE_MS, SIGNALS, signalFromText, type SignalName } from '../../protocols/messages.js'
import { MANAGED_REF_PATTERN } from '../../protocols/managed.js'
import { UsageError, parseDuration } from '../args.js'
import { bool, str, type CommandSpec } from '../command.js'
import { killOnGroup } from './fan-out.js'

/** The largest pid any platform hands out (Linux caps pid_max at 2^22; this leaves room). */
const MAX_PID = 2 ** 31 - 1

/** `TERM`, `term`, `SIGTERM` and `sigterm` all mean TERM; anything outside SIGNALS is a usage error. */
export function parseSignal (text: string): SignalName {
  const found = signalFromText(text)
  if (found === undefined) throw new UsageError(`--signal: one of ${SIGNALS.join(', ')} (with or without SIG), got ${JSON.stringify(text)}`)
  return found
}

/** A pid is a plain decimal integer; 0 and 1 pass here and are refused by the target with its reason. */
export function parsePid (text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > MAX_PID) throw new UsageError(`PID: expected an integer process id, got ${JSON.stringify(text)}`)
  return Number(text)
}

/** A kill answer checked as the control API's descriptor checks it (tests, callers of the raw API). */
export function parseKillResult (value: unknown): KillResult {
  return checkAnswer(() => CONTROL_API.kill.validateResult(value), 'kill: bad answer from the node')
}

/** `pid 123 on hostB: signalled (TERM)`, plus the other pids a --tree kill reached. */
export function formatKillResult (r: KillResult): string {
  const line = r.result === 'gone'
    ? `pid ${r.pid} on ${safe(r.name)}: gone (not signalled: it exited or its pid now belongs to another process)`
    : `pid ${r.pid} on ${safe(r.name)}: ${r.result} (${r.signal})${r.escalated ? '; the grace period ran out: escalated to KILL' : ''}`
  const others = r.signalled.filter(p => p !== r.pid)
  return others.length > 0 ? `${line}; also signalled ${others.length}: ${others.join(' ')}` : line
}

export const killCommand: CommandSpec = {
  usage: `procmesh kill TARGET PID|NAME|ID [--signal TERM] [--tree] [--grace 5s] [--home DIR] [--json]\n` +
    `   or: procmesh kill TARGET --filter TEXT [--signal TERM] [--yes] [--home DIR] [--json]\n` +
    '  NAME|ID: a managed process (procmesh ls), signalled at its current pid\n' +
    `  --signal: ${SIGNALS.join(', ')} (SIGTERM or term work too)\n` +
    '  --tree: signal the whole subtree; --grace: wait this long, then KILL what is left\n' +
    '  --filter: stop every process whose name or command line contains TEXT on every host of\n' +
    '  TARGET (all, tag:K=V or one host), after showing them and asking (--yes: do not ask);\n' +
    '  exit 0 when every one was stopped or had exited',
  options: {
    signal: { type: 'string' },
    tree: { type: 'boolean' },
    grace: { type: 'string' },
    filter: { type: 'string' },
    yes: { type: 'boolean' }
  },
  positionals: [1, 2],
  async run (ctx, values, positionals) {
    const filter = str(values, 'filter')
    if (filter !== undefined) {
      if (positionals.length > 1) throw new UsageError('kill --filter TEXT stops what matches; give no PID')
      if (bool(values, 'tree') || str(values, 'grace') !== undefined) throw new UsageError('--tree and --grace go with a PID, not with --filter')
      if (filter.trim() === '') throw new UsageError('--filter: must not be empty (it would match every process)')
      return await killOnGroup(ctx, { target: positionals[0], filter, signal: parseSignal(str(values, 'signal') ?? 'TERM'), yes: bool(values, 'yes') })
    }
    if (positionals.length < 2) throw new UsageError('missing PID: procmesh kill TARGET PID|NAME|ID, or procmesh kill TARGET --filter TEXT')
    if (bool(values, 'yes')) throw new UsageError('--yes goes with --filter')
    const [target, what] = positionals
    // digits are a pid; anything else names a managed process (its name or managed id)
    const byRef = !/^\d+$/.test(what)
    if (byRef && !MANAGED_REF_PATTERN.test(what)) throw new UsageError(`PID|NAME|ID: expected a process id, or the name or managed id of a managed process, got ${JSON.stringify(what)}`)
    const signalText = str(values, 'signal')
    const graceText = str(values, 'grace')
    const graceMs = graceText !== undefined ? parseDuration(graceText, '--grace') : undefined
    if (graceMs !== undefined && graceMs > MAX_GRACE_MS) throw new UsageError(`--grace: at most ${MAX_GRACE_MS / 60_000} min`)
    const params: KillParams = {
      target,
      ...(byRef ? { ref: what } : { pid: parsePid(what) }),
      // the contract's default is TERM: say so explicitly rather than rely on the node's default
      signal: parseSignal(signalText ?? 'TERM'),
      ...(bool(values, 'tree') ? { tree: true } : {}),
      ...(graceMs !== undefined ? { graceMs } : {})
    }
    const client = await ctx.connect()
    let result: KillResult
    try {
      result = await client.kill(params)
    } finally {
      client.close()
    }
    ctx.out(ctx.json
      ? JSON.stringify({ peerId: result.peerId, name: result.name, pid: result.pid, signal: result.signal, result: result.result, signalled: result.signalled, escalated: result.escalated })
      : formatKillResult(result))
    // `gone` is a successful answer but the user's intent (stop that process) was not carried
    // out, and the contract lists "process gone" among the runtime failures: report it and
    // exit 1, so `procmesh kill ... && next-step` does not go on as if we had stopped it.
    // `exited` (it ended during the grace period) is what the user wanted: exit 0.
    if (result.result === 'gone') {
      ctx.err(`procmesh kill: pid ${result.pid} on ${result.name} is gone; nothing was signalled`)
      return 1
    }
    return 0
  }
}

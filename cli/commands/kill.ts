import type { KillParams, KillResult } from '../../protocols/control.js'
import { MAX_GRACE_MS, SIGNALS, signalFromText, type SignalName } from '../../protocols/messages.js'
import { UsageError, parseDuration } from '../args.js'
import { bool, str, type CommandSpec } from '../command.js'

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

/** `pid 123 on hostB: signalled (TERM)`, plus the other pids a --tree kill reached. */
export function formatKillResult (r: KillResult): string {
  const line = r.result === 'gone'
    ? `pid ${r.pid} on ${r.name}: gone (not signalled: it exited or its pid now belongs to another process)`
    : `pid ${r.pid} on ${r.name}: ${r.result} (${r.signal})`
  const others = r.signalled.filter(p => p !== r.pid)
  return others.length > 0 ? `${line}; also signalled ${others.length}: ${others.join(' ')}` : line
}

export const killCommand: CommandSpec = {
  usage: `procmesh kill TARGET PID [--signal TERM] [--tree] [--grace 5s] [--home DIR] [--json]\n` +
    `  --signal: ${SIGNALS.join(', ')} (SIGTERM or term work too)\n` +
    '  --tree: signal the whole subtree; --grace: wait this long, then KILL what is left',
  options: {
    signal: { type: 'string' },
    tree: { type: 'boolean' },
    grace: { type: 'string' }
  },
  positionals: [2, 2],
  async run (ctx, values, positionals) {
    const [target, pidText] = positionals
    const pid = parsePid(pidText)
    const signalText = str(values, 'signal')
    const graceText = str(values, 'grace')
    const graceMs = graceText !== undefined ? parseDuration(graceText, '--grace') : undefined
    if (graceMs !== undefined && graceMs > MAX_GRACE_MS) throw new UsageError(`--grace: at most ${MAX_GRACE_MS / 60_000} min`)
    const params: KillParams = {
      target,
      pid,
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
      ? JSON.stringify({ peerId: result.peerId, name: result.name, pid: result.pid, signal: result.signal, result: result.result, signalled: result.signalled })
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

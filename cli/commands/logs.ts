import type { LogsParams, LogsResult } from '../../protocols/control.js'
import { MANAGED_ID_PATTERN, type LogChunk } from '../../protocols/messages.js'
import { UsageError } from '../args.js'
import { bool, type CommandSpec } from '../command.js'

/** A partial line longer than this is written out even without its newline, so memory stays bounded. */
const MAX_PENDING_LINE = 64 * 1024

export interface LineWriter {
  push: (data: string) => void
  flush: () => void
}

/**
 * Pass text on in whole lines. The CLI's writers end every write with a newline,
 * so chunks that split a line must be joined before they are written.
 */
export function lineWriter (write: (text: string) => void, maxPending = MAX_PENDING_LINE): LineWriter {
  let pending = ''
  const flush = (): void => {
    if (pending !== '') write(pending)
    pending = ''
  }
  return {
    push (data) {
      pending += data
      const nl = pending.lastIndexOf('\n')
      if (nl >= 0) {
        write(pending.slice(0, nl + 1))
        pending = pending.slice(nl + 1)
      }
      if (pending.length > maxPending) flush()
    },
    flush
  }
}

/** `[exited with code N]` / `[killed by SIGTERM]`, or undefined while the process runs. */
export function formatExit (r: Pick<LogsResult, 'exited' | 'exitCode' | 'signal'>): string | undefined {
  if (!r.exited) return undefined
  if (r.signal !== null) return `[killed by ${r.signal.startsWith('SIG') ? r.signal : `SIG${r.signal}`}]`
  return `[exited with code ${r.exitCode ?? 'unknown'}]`
}

export const logsCommand: CommandSpec = {
  usage: 'procmesh logs TARGET ID|NAME|PID [--follow] [--home DIR] [--json]\n' +
    '  output of a process started with procmesh run (its managed id, name, or current pid); --follow until it exits or Ctrl-C',
  options: {
    follow: { type: 'boolean', short: 'f' }
  },
  positionals: [2, 2],
  async run (ctx, values, positionals) {
    const [target, managedId] = positionals
    if (!MANAGED_ID_PATTERN.test(managedId)) throw new UsageError(`ID|NAME|PID: not a managed id, name or pid: ${JSON.stringify(managedId)}`)
    const follow = bool(values, 'follow')
    const params: LogsParams = { target, managedId, follow }
    const stdout = lineWriter(ctx.out)
    const stderr = lineWriter(ctx.err)
    const onData = (chunk: LogChunk): void => {
      if (ctx.json) ctx.out(JSON.stringify({ stream: chunk.stream, data: chunk.data }))
      else (chunk.stream === 'stdout' ? stdout : stderr).push(chunk.data)
    }

    // Ctrl-C ends a follow: the socket closes, the node stops following, we exit 0
    const interrupt = new AbortController()
    const onSigint = (): void => { interrupt.abort() }
    const client = await ctx.connect()
    if (follow) process.once('SIGINT', onSigint)
    let result: LogsResult | undefined
    try {
      result = await client.logs(params, { onData, onMalformed: err => { ctx.err(`procmesh logs: ignoring a malformed chunk: ${err.message}`) }, signal: interrupt.signal })
    } catch (err: unknown) {
      if (!interrupt.signal.aborted) throw err
    } finally {
      process.off('SIGINT', onSigint)
      client.close()
      stdout.flush()
      stderr.flush()
    }
    if (result === undefined) return 0

    if (ctx.json) {
      ctx.out(JSON.stringify({ exited: result.exited, exitCode: result.exitCode, signal: result.signal, truncated: result.truncated }))
    } else {
      if (result.truncated) ctx.err('[earlier output was dropped: it exceeded the buffer kept for this process]')
      const exit = formatExit(result)
      if (exit !== undefined) ctx.err(exit)
    }
    return 0
  }
}

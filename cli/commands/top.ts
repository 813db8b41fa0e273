import { spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { ProcmeshError, errorMessage } from '../../protocols/errors.js'
import { DEFAULT_INTERVAL_MS } from '../../protocols/limits.js'
import { UsageError, parseInterval } from '../args.js'
import { bool, str, type CommandSpec } from '../command.js'
import { ControlClient, isNoNode } from '../control-client.js'

/** The log of a node that top started, in the node's home. */
export const NODE_LOG_NAME = 'node.log'
/** How long top waits for a node it started to open its control socket. */
export const NODE_START_TIMEOUT_MS = 10_000
const NODE_START_POLL_MS = 200

/** The command line of a background node for this home: the same program, `node --home HOME`. */
export function nodeSpawnArgs (entryScript: string, home: string): string[] {
  return [entryScript, 'node', '--home', home]
}

export interface StartedNode { pid: number, log: string }

/** Start `procmesh node` detached, output to HOME/node.log, and wait until its socket answers. */
export async function startNodeInBackground (home: string, entryScript: string, timeoutMs = NODE_START_TIMEOUT_MS): Promise<StartedNode> {
  mkdirSync(home, { recursive: true, mode: 0o700 })
  const log = join(home, NODE_LOG_NAME)
  const fd = openSync(log, 'a', 0o600)
  let exited: string | undefined
  let pid: number | undefined
  try {
    const child = spawn(process.execPath, nodeSpawnArgs(entryScript, home), { detached: true, stdio: ['ignore', fd, fd], shell: false })
    child.once('exit', (code, signal) => { exited = signal !== null ? `killed by ${signal}` : `exit code ${code ?? '?'}` })
    child.once('error', err => { exited = err.message })
    child.unref()
    pid = child.pid
  } finally {
    closeSync(fd)
  }
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new ProcmeshError('NO_NODE', `the node top started for ${home} stopped at once (${exited}); see ${log}`)
    try {
      const client = await ControlClient.connect(home, NODE_START_POLL_MS * 5)
      client.close()
      return { pid: pid ?? 0, log }
    } catch (err: unknown) {
      if (!isNoNode(err)) throw err
    }
    await new Promise(resolve => setTimeout(resolve, NODE_START_POLL_MS))
  }
  throw new ProcmeshError('TIMEOUT', `the node top started for ${home} did not open its control socket within ${timeoutMs / 1000} s; see ${log}`)
}

export const topCommand: CommandSpec = {
  usage: 'procmesh top [--home DIR] [--interval 2s] [--no-start]',
  options: {
    interval: { type: 'string' },
    'no-start': { type: 'boolean' }
  },
  positionals: [0, 0],
  async run (ctx, values) {
    if (ctx.json) throw new UsageError('top is interactive; for JSON use procmesh peers --json or procmesh ps --json')
    const intervalMs = parseInterval(str(values, 'interval'), DEFAULT_INTERVAL_MS)
    if (process.stdin.isTTY !== true || process.stdout.isTTY !== true) {
      throw new ProcmeshError('UNAVAILABLE', 'top needs a terminal (stdin and stdout must be a TTY); for scripts use procmesh peers or procmesh ps')
    }

    let initialStatus: string | undefined
    try {
      (await ControlClient.connect(ctx.home)).close()
    } catch (err: unknown) {
      if (!isNoNode(err) || bool(values, 'no-start')) throw err
      const entry = process.argv[1]
      if (entry === undefined) throw new ProcmeshError('NO_NODE', `no node is running for home ${ctx.home}, and top cannot tell how to start one`)
      ctx.err(`procmesh top: no node was running for ${ctx.home}; starting one in the background…`)
      let started: StartedNode
      try {
        started = await startNodeInBackground(ctx.home, entry)
      } catch (startErr: unknown) {
        throw startErr instanceof ProcmeshError ? startErr : new ProcmeshError('NO_NODE', `could not start a node: ${errorMessage(startErr)}`)
      }
      initialStatus = `started a node in the background (pid ${started.pid}, log ${started.log}); it keeps running after top quits`
      ctx.err(`procmesh top: ${initialStatus}`)
    }

    // blessed loads only now: `procmesh peers` and friends never pay for it
    const { TopApp } = await import('../tui/app.js')
    const app = new TopApp({
      connect: async () => await ControlClient.connect(ctx.home),
      intervalMs,
      initialStatus,
      handleSignals: true
    })
    await app.run()
    return 0
  }
}

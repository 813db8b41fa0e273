import { randomUUID } from 'node:crypto'
import type { RunParams, RunResult } from '../../protocols/control.js'
import { ProcmeshError } from '../../protocols/errors.js'
import { MAX_PATH_BYTES, REQUEST_ID_PATTERN, validateArgv, validateEnv } from '../../protocols/messages.js'
import { expectString } from '../../protocols/validate.js'
import { UsageError, parsePairs } from '../args.js'
import { str, strs, type CommandSpec } from '../command.js'

/** One id per invocation: the node (and any retry on the way) starts at most one process for it. */
export function newRequestId (): string {
  const id = `cli-${randomUUID()}`
  if (!REQUEST_ID_PATTERN.test(id)) throw new Error(`request id ${id} does not match ${String(REQUEST_ID_PATTERN)}`)
  return id
}

/** Check locally what the target would refuse anyway, so a typo is a usage error, not a round trip. */
function localCheck<T> (check: () => T): T {
  try {
    return check()
  } catch (err: unknown) {
    if (err instanceof ProcmeshError) throw new UsageError(err.message)
    throw err
  }
}

export const runProcessCommand: CommandSpec = {
  usage: 'procmesh run TARGET [--cwd DIR] [--env K=V]... [--home DIR] [--json] -- CMD [ARG...]\n' +
    '  starts CMD (no shell) on TARGET, which must name one peer; --cwd is a directory on the target',
  options: {
    cwd: { type: 'string' },
    env: { type: 'string', multiple: true }
  },
  // more than one positional is reported below with a hint instead of a bare parse error
  positionals: [1, Infinity],
  passThrough: true,
  async run (ctx, values, positionals, rest) {
    if (positionals.length > 1) throw new UsageError(`the command goes after --: procmesh run ${positionals[0]} -- ${positionals.slice(1).join(' ')}`)
    if (rest.length === 0) throw new UsageError('missing the command: procmesh run TARGET -- CMD [ARG...]')
    const argv = localCheck(() => validateArgv(rest))
    const envPairs = strs(values, 'env')
    const env = envPairs.length > 0 ? localCheck(() => validateEnv(parsePairs(envPairs, '--env'))) : undefined
    const cwd = str(values, 'cwd')
    if (cwd !== undefined) localCheck(() => expectString(cwd, '--cwd', { maxBytes: MAX_PATH_BYTES, minLength: 1, noNul: true }))
    const params: RunParams = {
      target: positionals[0],
      argv,
      ...(cwd !== undefined ? { cwd } : {}),
      ...(env !== undefined ? { env } : {}),
      requestId: newRequestId()
    }
    const client = await ctx.connect()
    let result: RunResult
    try {
      result = await client.run(params)
    } finally {
      client.close()
    }
    if (ctx.json) {
      ctx.out(JSON.stringify({ peerId: result.peerId, name: result.name, managedId: result.managedId, pid: result.pid, startTime: result.startTime }))
    } else {
      ctx.out(`started ${result.managedId} pid ${result.pid} on ${result.name}`)
    }
    return 0
  }
}

import { safe } from '../format.js'
import { randomUUID } from 'node:crypto'
import type { RunParams, RunResult } from '../../protocols/control.js'
import { ProcmeshError, toProcmeshError } from '../../protocols/errors.js'
import { MAX_PATH_BYTES, REQUEST_ID_PATTERN, validateArgv, validateEnv } from '../../protocols/messages.js'
import { expectString, isOneOf } from '../../protocols/validate.js'
import {
  DEFAULT_BACKOFF_MAX_MS, DEFAULT_BACKOFF_MS, DEFAULT_MAX_RESTARTS, MAX_BACKOFF_MS, MAX_MAX_RESTARTS, MIN_BACKOFF_MS, RESTART_POLICIES,
  validateManagedName, type RestartPolicy
} from '../../protocols/managed.js'
import { UsageError, parseDuration, parsePairs } from '../args.js'
import { bool, str, strs, type CommandSpec } from '../command.js'
import { runOnGroup } from './fan-out.js'
import { isGroupTarget } from '../process-view.js'

/** One id per invocation: the node (and any retry on the way) starts at most one process for it. */
export function newRequestId (): string {
  const id = `cli-${randomUUID()}`
  if (!REQUEST_ID_PATTERN.test(id)) throw new Error(`request id ${id} does not match ${String(REQUEST_ID_PATTERN)}`)
  return id
}

/** `--request-id ID`, checked against the pattern every node accepts. */
function requestIdOption (values: Parameters<CommandSpec['run']>[1]): string | undefined {
  const id = str(values, 'request-id')
  if (id !== undefined && !REQUEST_ID_PATTERN.test(id)) throw new UsageError(`--request-id: 1 to 64 of A-Z a-z 0-9 _ . : -, as run prints it; got ${JSON.stringify(id)}`)
  return id
}

/** Delays before asking again, with the same request id, after an answer was lost. */
export const RUN_RETRY_DELAYS_MS: readonly number[] = [1000, 3000]

/** Errors only the target (or its node) answers: they settle what became of a start. */
const TARGET_VERDICTS: ReadonlySet<string> = new Set(['INVALID_REQUEST', 'FORBIDDEN', 'REFUSED', 'SPAWN_FAILED', 'OS_DENIED', 'BUSY', 'SERVER_ERROR'])

/** The answer to a start was lost on the way (the start may have happened); anything else is a verdict. */
function answerLost (err: unknown): boolean {
  return err instanceof ProcmeshError && (err.code === 'OUTCOME_UNKNOWN' || err.code === 'TIMEOUT' || err.code === 'UNAVAILABLE')
}

/**
 * One start on one host. A lost answer is asked again with the same request id (the target
 * starts nothing twice for it); when every answer was lost after one may have been delivered,
 * the outcome is unknown, and the error says so and how to ask again.
 */
async function startWithRetries (ctx: Parameters<CommandSpec['run']>[0], params: RunParams, command: string[]): Promise<RunResult> {
  let unknown = false
  let last: unknown
  for (let attempt = 0; attempt <= RUN_RETRY_DELAYS_MS.length; attempt++) {
    if (attempt > 0) await new Promise(resolve => setTimeout(resolve, RUN_RETRY_DELAYS_MS[attempt - 1]))
    try {
      const client = await ctx.connect()
      try {
        return await client.run(params)
      } finally {
        client.close()
      }
    } catch (err: unknown) {
      last = err
      if (!answerLost(err)) break
      if (err instanceof ProcmeshError && err.code !== 'UNAVAILABLE') unknown = true
      if (!ctx.json) ctx.err(`procmesh run: ${safe(toProcmeshError(err).message)}; asking again with the same request id`)
    }
  }
  // once an answer was lost, only an answer from the target settles it: failing to reach it again does not
  if (unknown && !(last instanceof ProcmeshError && TARGET_VERDICTS.has(last.code))) {
    const again = ['procmesh', 'run', params.target, '--request-id', params.requestId ?? '', '--', ...command].map(shellWord).join(' ')
    throw new ProcmeshError('OUTCOME_UNKNOWN', `the outcome is unknown: ${params.target} may or may not have started it (${toProcmeshError(last).message}). ` +
      `Nothing was started twice. Ask again, without starting a second copy: ${again}`)
  }
  throw last
}

/** A word as a POSIX shell reads it back: bare when safe, else single-quoted. */
function shellWord (w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`
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

/** `--backoff 1s` (first delay) or `--backoff 1s..60s` (first delay..cap). */
export function parseBackoff (text: string): { backoffMs: number, backoffMaxMs: number } {
  const [lo, hi, ...extra] = text.split('..')
  if (extra.length > 0 || lo === '' || hi === '') throw new UsageError(`--backoff: expected DELAY or FIRST..MAX (e.g. 1s..60s), got ${JSON.stringify(text)}`)
  const backoffMs = parseDuration(lo, '--backoff')
  const backoffMaxMs = hi !== undefined ? parseDuration(hi, '--backoff') : Math.max(backoffMs, DEFAULT_BACKOFF_MAX_MS)
  for (const v of [backoffMs, backoffMaxMs]) {
    if (v < MIN_BACKOFF_MS || v > MAX_BACKOFF_MS) throw new UsageError(`--backoff: each delay between ${MIN_BACKOFF_MS}ms and ${MAX_BACKOFF_MS / 60_000}m, got ${JSON.stringify(text)}`)
  }
  if (backoffMaxMs < backoffMs) throw new UsageError(`--backoff: the cap (${hi ?? ''}) is below the first delay (${lo})`)
  return { backoffMs, backoffMaxMs }
}

/** The restart policy the flags ask for, or undefined when none was given (the node's default: no). */
export function parsePolicy (values: Parameters<CommandSpec['run']>[1]): RestartPolicy | undefined {
  const restart = str(values, 'restart')
  const maxText = str(values, 'max-restarts')
  const backoffText = str(values, 'backoff')
  if (restart === undefined) {
    if (maxText !== undefined || backoffText !== undefined) throw new UsageError('--max-restarts and --backoff go with --restart on-failure|always')
    return undefined
  }
  if (!isOneOf(restart, RESTART_POLICIES)) throw new UsageError(`--restart: one of ${RESTART_POLICIES.join(', ')}, got ${JSON.stringify(restart)}`)
  let maxRestarts = DEFAULT_MAX_RESTARTS
  if (maxText !== undefined) {
    if (!/^\d{1,6}$/.test(maxText) || Number(maxText) > MAX_MAX_RESTARTS) throw new UsageError(`--max-restarts: an integer 0..${MAX_MAX_RESTARTS}, got ${JSON.stringify(maxText)}`)
    maxRestarts = Number(maxText)
  }
  const backoff = backoffText !== undefined ? parseBackoff(backoffText) : undefined
  return {
    restart,
    maxRestarts,
    backoffMs: backoff?.backoffMs ?? DEFAULT_BACKOFF_MS,
    backoffMaxMs: backoff?.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS
  }
}

export const runProcessCommand: CommandSpec = {
  usage: 'procmesh run TARGET [--name N] [--restart no|on-failure|always] [--max-restarts 10] [--backoff 100ms..60s]\n' +
    '                    [--cwd DIR] [--env K=V]... [--any] [--home DIR] [--json] -- CMD [ARG...]\n' +
    '  starts CMD (no shell) on TARGET; --cwd is a directory on the target\n' +
    '  TARGET all or tag:K=V starts it on every matching host (each checks your role), a line per\n' +
    '  host as it answers (--json: one entry per host); exit 0 only if every host started it\n' +
    '  (--any: if at least one did)\n' +
    '  --name: unique on the target, usable instead of the managed id (logs, kill, restart, rm)\n' +
    '  --restart: bring it back after it exits (on-failure: unless it exited 0), also after a reboot;\n' +
    '    delays double from the first --backoff delay to its cap; --max-restarts quick crashes in a row\n' +
    '    stop it (state crash-loop) until procmesh restart. A stop through procmesh is never restarted.\n' +
    '  --request-id ID: the id of an earlier run whose answer was lost: the target answers with the\n' +
    '    process that run started (nothing is started twice), or starts it if it never did.\n' +
    '  a lost answer is retried with the same id; if it stays lost, run says the outcome is unknown\n' +
    '  (exit 1) and prints the command that asks again',
  options: {
    cwd: { type: 'string' },
    env: { type: 'string', multiple: true },
    name: { type: 'string' },
    restart: { type: 'string' },
    'max-restarts': { type: 'string' },
    backoff: { type: 'string' },
    any: { type: 'boolean' },
    'request-id': { type: 'string' }
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
    const nameText = str(values, 'name')
    const name = nameText !== undefined ? localCheck(() => validateManagedName(nameText, '--name')) : undefined
    const policy = parsePolicy(values)
    const params: RunParams = {
      target: positionals[0],
      argv,
      ...(name !== undefined ? { name } : {}),
      ...(policy !== undefined ? { policy } : {}),
      ...(cwd !== undefined ? { cwd } : {}),
      ...(env !== undefined ? { env } : {}),
      requestId: requestIdOption(values) ?? newRequestId()
    }
    if (isGroupTarget(params.target)) return await runOnGroup(ctx, params, bool(values, 'any'))
    if (bool(values, 'any')) throw new UsageError('--any is for a group target (all, tag:K=V)')
    const result = await startWithRetries(ctx, params, rest)
    if (ctx.json) {
      ctx.out(JSON.stringify({ peerId: result.peerId, name: result.name, managedId: result.managedId, pid: result.pid, startTime: result.startTime }))
    } else {
      ctx.out(`started ${name !== undefined ? `${safe(name)} (${result.managedId})` : result.managedId} pid ${result.pid} on ${safe(result.name)}`)
    }
    return 0
  }
}

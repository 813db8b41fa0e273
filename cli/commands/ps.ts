import { FAN_OUT_ANSWER_TIMEOUT_MS } from '../../protocols/control-api.js'
import type { PsEntry, PsParams } from '../../protocols/control.js'
import { ProcmeshError, plainDuration } from '../../protocols/errors.js'
import { isOfflineEntry } from './fan-out.js'
import { MAX_FILTER_BYTES } from '../../protocols/messages.js'
import { safe, safePsEntry } from '../format.js'
import { UsageError, parseDuration, parsePositiveInt } from '../args.js'
import { bool, str, type CommandSpec, type OptionValues } from '../command.js'
import type { CliContext } from '../context.js'
import { buildTree, flattenTree, isSortKey, SORT_KEYS, type SortSpec } from '../../protocols/processes.js'
import { formatPeerHeader, formatProcessTable, formatProcessTree, isGroupTarget, psEntryJson, selectProcesses, type SelectOptions } from '../process-view.js'

/** How long ps waits for all targets unless --timeout says otherwise: the ps method's own (protocols/control-api.ts). */
export const DEFAULT_PS_TIMEOUT_MS = FAN_OUT_ANSWER_TIMEOUT_MS
/** `ps` lists in pid order unless asked otherwise, like ps(1). */
export const DEFAULT_PS_SORT: SortSpec = { key: 'pid' }

/** COLUMNS wins (as in ps(1)), else the TTY's width; no truncation when stdout is not a terminal. */
export function terminalWidth (env: NodeJS.ProcessEnv): number | undefined {
  const columns = Number(env.COLUMNS)
  if (Number.isSafeInteger(columns) && columns > 0) return columns
  return process.stdout.isTTY ? process.stdout.columns : undefined
}

interface PsOptions {
  target: string
  select: SelectOptions
  tree: boolean
  strict: boolean
  timeoutMs: number
}

function parseOptions (values: OptionValues, positionals: string[]): PsOptions {
  const sortText = str(values, 'sort')
  if (sortText !== undefined && !isSortKey(sortText)) throw new UsageError(`--sort: one of ${SORT_KEYS.join(', ')}, got ${JSON.stringify(sortText)}`)
  const limitText = str(values, 'limit')
  const filter = str(values, 'filter')
  if (filter !== undefined && Buffer.byteLength(filter) > MAX_FILTER_BYTES) throw new UsageError(`--filter: longer than ${MAX_FILTER_BYTES} bytes`)
  const timeoutText = str(values, 'timeout')
  const timeoutMs = timeoutText !== undefined ? parseDuration(timeoutText, '--timeout') : DEFAULT_PS_TIMEOUT_MS
  if (timeoutMs <= 0) throw new UsageError('--timeout: must be more than 0')
  const target = positionals[0] ?? 'self'
  if (target === '') throw new UsageError('TARGET: must not be empty')
  return {
    target,
    select: {
      filter: filter !== undefined && filter !== '' ? filter : undefined,
      sort: sortText !== undefined && isSortKey(sortText) ? { key: sortText } : DEFAULT_PS_SORT,
      limit: limitText !== undefined ? parsePositiveInt(limitText, '--limit') : undefined,
      ...(bool(values, 'managed') ? { managed: true } : {})
    },
    tree: bool(values, 'tree'),
    strict: bool(values, 'strict'),
    timeoutMs
  }
}

/** Human output of one peer's answer (header only for group targets). */
function renderEntry (entry: PsEntry, opts: PsOptions, group: boolean, width: number | undefined, now: number): string {
  if ('error' in entry) return formatPeerHeader(entry)
  const selection = selectProcesses(entry.processes, opts.select)
  // the tree arranges exactly the selected rows, so it agrees with the flat and JSON views
  const body = opts.tree
    ? formatProcessTree(flattenTree(buildTree(selection.processes), { sort: opts.select.sort }), { now, width })
    : formatProcessTable(selection.processes, { now, width })
  return group ? `${formatPeerHeader(entry, selection)}\n${body}` : body
}

function describeFailures (entries: PsEntry[]): string {
  return entries.flatMap(e => 'error' in e ? [safe(`${e.name}: ${e.error.code} ${e.error.message}`)] : []).join('; ')
}

async function runPs (ctx: CliContext, opts: PsOptions): Promise<number> {
  const group = isGroupTarget(opts.target)
  const width = ctx.json ? undefined : terminalWidth(ctx.env)
  const entries = new Map<string, PsEntry>()
  let printed = 0
  const accept = (entry: PsEntry): void => {
    if (entries.has(entry.peerId)) return // the final result repeats what was streamed
    entries.set(entry.peerId, entry)
    if (ctx.json) return
    if ('error' in entry && !group) return // a lone target's failure goes to stderr at the end
    if (group && printed > 0) ctx.out('')
    ctx.out(renderEntry(safePsEntry(entry), opts, group, width, Date.now()))
    printed++
  }

  // the node gives each host a little less than our deadline, so every host that did not
  // answer comes back as an error entry naming it instead of silently missing
  const params: PsParams = { target: opts.target, streamed: true, hostTimeoutMs: hostTimeoutFor(opts.timeoutMs), ...(opts.select.filter !== undefined ? { filter: opts.select.filter } : {}) }
  const client = await ctx.connect()
  const deadline = new AbortController()
  const timer = setTimeout(() => { deadline.abort() }, opts.timeoutMs)
  let timedOut = false
  try {
    // the deadline keeps what arrived: the call itself waits until it aborts
    const result = await client.ps(params, {
      onData: accept,
      onMalformed: err => { ctx.err(`procmesh ps: ignoring a malformed answer from the node: ${err.message}`) },
      signal: deadline.signal,
      timeoutMs: false
    })
    for (const entry of result) accept(entry)
  } catch (err: unknown) {
    if (!deadline.signal.aborted) throw err
    timedOut = true
  } finally {
    clearTimeout(timer)
    client.close()
  }

  const all = [...entries.values()]
  if (all.length === 0) {
    if (timedOut) throw new ProcmeshError('TIMEOUT', `no answer for ${opts.target} within ${opts.timeoutMs} ms (raise --timeout)`)
    throw new ProcmeshError('UNKNOWN_PEER', `no peer matched ${JSON.stringify(opts.target)}`)
  }
  if (ctx.json) {
    ctx.out(JSON.stringify(all.map(e => 'error' in e ? psEntryJson(e) : psEntryJson(e, selectProcesses(e.processes, opts.select).processes))))
  }

  const failed = all.filter(e => 'error' in e)
  if (timedOut) ctx.err(`procmesh ps: the node gave no answer for some hosts within ${plainDuration(opts.timeoutMs)}; they are missing above`)
  if (failed.length === all.length) {
    ctx.err(`procmesh ps: ${all.length === 1 ? '' : 'every target failed: '}${describeFailures(failed)}`)
    return 1
  }
  return psExitCode(all, timedOut, opts.strict, msg => { ctx.err(`procmesh ps: ${msg}`) })
}

/** The per-host wait the node is asked for: a little less than the CLI's own, so the node always answers first. */
export function hostTimeoutFor (timeoutMs: number): number {
  return Math.max(1, timeoutMs - Math.min(2000, Math.floor(timeoutMs / 4)))
}

/**
 * 1 when a host that was asked did not answer (or the node gave up on the whole call): a
 * missing host is never a success. Hosts the view already marks offline are listed with their
 * error but do not fail the call, as in every fan-out, unless --strict (pure but for `say`).
 */
export function psExitCode (entries: readonly PsEntry[], timedOut: boolean, strict: boolean, say: (msg: string) => void): number {
  const failed = entries.filter(e => 'error' in e)
  const counted = strict ? failed : failed.filter(e => !isOfflineEntry(e))
  if (counted.length > 0) say(`${counted.length} of ${entries.length} hosts did not answer: ${describeFailures(counted)}`)
  else if (failed.length > 0) say(`${failed.length} offline host${failed.length === 1 ? '' : 's'} skipped (--strict counts them)`)
  return counted.length > 0 || timedOut ? 1 : 0
}

export const psCommand: CommandSpec = {
  usage: `procmesh ps [TARGET] [--tree] [--sort ${SORT_KEYS.join('|')}] [--filter TEXT] [--managed] [--limit N] [--strict] [--timeout 15s] [--home DIR] [--json]\n` +
    '  TARGET: a node name, peer id (or unique prefix), tag:KEY=VALUE, all, or self (default)\n' +
    '  --managed: only processes started through procmesh (shown as @NAME, or @ID without a name)\n' +
    '  exit 1 when any host that was asked did not answer (each is named on stderr and, with --json,\n' +
    '  has an "error"); hosts the view marks offline are listed but skipped, --strict counts them too',
  options: {
    tree: { type: 'boolean' },
    sort: { type: 'string' },
    filter: { type: 'string' },
    managed: { type: 'boolean' },
    limit: { type: 'string' },
    strict: { type: 'boolean' },
    timeout: { type: 'string' }
  },
  positionals: [0, 1],
  async run (ctx, values, positionals) {
    return runPs(ctx, parseOptions(values, positionals))
  }
}

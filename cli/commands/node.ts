import { MAX_NAME_BYTES, MAX_TAGS } from '../../protocols/limits.js'
import { ProcmeshError, errnoCode, plainCause } from '../../protocols/errors.js'
import { resolve as resolvePath } from 'node:path'
import { expectNodeName, expectPlainText } from '../../protocols/text.js'
import { isOneOf } from '../../protocols/validate.js'
import { UsageError, parseDuration, parseInterval, parsePairs, parseSize, untilStopSignal } from '../args.js'
import { bool, str, strs, type CommandSpec, type OptionsConfig } from '../command.js'
import type { NodeConfig, ProcmeshNode } from '../../node/procmesh-node.js'
import { parseThresholds, type Thresholds } from '../../protocols/thresholds.js'

/** The node's flags that `procmesh service install` also takes and writes into the unit's ExecStart. */
export const NODE_UNIT_OPTIONS = {
  name: { type: 'string' },
  tag: { type: 'string', multiple: true },
  listen: { type: 'string', multiple: true },
  bootstrap: { type: 'string', multiple: true },
  interval: { type: 'string' },
  'no-mdns': { type: 'boolean' },
  readonly: { type: 'boolean' },
  history: { type: 'string' },
  'history-size': { type: 'string' },
  alert: { type: 'string', multiple: true }
} as const satisfies OptionsConfig

/** below these the durable history cannot hold one segment */
const MIN_HISTORY_RETENTION_MS = 60_000
const MIN_HISTORY_BYTES = 1024 * 1024

/** `--history DURATION`: how long the node keeps its durable history (0: record nothing). */
export function parseHistoryRetention (text: string): number {
  const ms = parseDuration(text, '--history')
  if (ms !== 0 && ms < MIN_HISTORY_RETENTION_MS) throw new UsageError('--history: at least 1m (or 0: record nothing)')
  return ms
}

/** `--history-size SIZE`: the cap of the durable history on disk. */
export function parseHistorySize (text: string): number {
  const bytes = parseSize(text, '--history-size')
  if (bytes < MIN_HISTORY_BYTES) throw new UsageError('--history-size: at least 1MiB')
  return bytes
}

/**
 * A start-up failure in words a user can act on (pure): the path or address and the cause, never
 * a raw errno, a stack or libp2p's advice about its own options.
 */
export function describeStartFailure (err: unknown): string {
  const code = errnoCode(err)
  if (code !== undefined && typeof err === 'object' && err !== null && 'path' in err && typeof err.path === 'string') {
    const hint = code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? ' (the home must be a directory this user can write; choose another with --home)' : ''
    return `${err.path}: ${plainCause(err)}${hint}`
  }
  if (err instanceof Error && err.name === 'UnsupportedListenAddressesError') {
    // libp2p lists each address with its error on its own line: "  /ip4/.../tcp/0: Error: listen EADDRNOTAVAIL: ..."
    const failed = [...err.message.matchAll(/^\s*(\/\S+): Error: \w+ (E[A-Z]+)/gm)].map(m => `${m[1]}: ${plainCause({ code: m[2] })}`)
    if (failed.length > 0) return `cannot listen on ${failed.join('; ')} (change --listen)`
  }
  return plainCause(err)
}

/** What a node whose home was deleted under it says before it stops. */
export function homeLostMessage (home: string, problem: string): string {
  return `the home ${home} was lost while this node ran (${problem}). Stopping: without its home the node can record no start, ` +
    'audit no decision and keep no trust change, and no command can reach it. Managed processes keep running. ' +
    `To keep this node's identity and mesh, restore the home from a backup, then start the node again; ` +
    'otherwise join the mesh again with procmesh join TOKEN (procmesh node alone would create a new mesh)'
}

export const nodeCommand: CommandSpec = {
  usage: 'procmesh node [--name N] [--tag K=V]... [--listen MA]... [--bootstrap MA]... [--interval 2s] [--no-mdns] [--readonly] [--policy FILE] [--history 7d|0] [--history-size 256MiB] [--alert METRIC=C,W,X]... [--log-level info] [--home DIR]',
  options: {
    ...NODE_UNIT_OPTIONS,
    policy: { type: 'string' },
    'log-level': { type: 'string' }
  },
  positionals: [0, 0],
  async run (ctx, values) {
    // the daemon's modules (and libp2p) load only here, never for client commands
    const { createProcmeshNode, defaultNodeConfig } = await import('../../node/procmesh-node.js')
    const { createLogger, LOG_LEVELS } = await import('../../node/logger.js')
    const { multiaddr } = await import('@multiformats/multiaddr')
    const defaults = defaultNodeConfig(ctx.home)
    const intervalMs = parseInterval(str(values, 'interval'), defaults.intervalMs)
    const tags = parsePairs(strs(values, 'tag'), '--tag')
    if (Object.keys(tags).length > MAX_TAGS) throw new UsageError(`--tag: at most ${MAX_TAGS} tags`)
    const name = str(values, 'name') ?? defaults.name
    if (name === '' || Buffer.byteLength(name) > MAX_NAME_BYTES) throw new UsageError(`--name: must be 1 to ${MAX_NAME_BYTES} bytes`)
    // other nodes refuse such a summary: a name must never read as a peer id or carry escapes
    try { expectNodeName(name, '--name') } catch (err: unknown) { throw new UsageError(err instanceof Error ? err.message : String(err)) }
    for (const [k, v] of Object.entries(tags)) {
      try { expectPlainText(k, '--tag key'); expectPlainText(v, `--tag ${k}`) } catch (err: unknown) { throw new UsageError(err instanceof Error ? err.message : String(err)) }
    }
    const listen = strs(values, 'listen').length > 0 ? strs(values, 'listen') : defaults.listen
    const bootstrap = strs(values, 'bootstrap')
    for (const [flag, list] of [['--listen', listen], ['--bootstrap', bootstrap]] as const) {
      for (const ma of list) {
        try { multiaddr(ma) } catch { throw new UsageError(`${flag}: not a multiaddr: ${JSON.stringify(ma)}`) }
      }
    }
    const level = str(values, 'log-level') ?? 'info'
    if (!isOneOf(level, LOG_LEVELS)) throw new UsageError(`--log-level: one of ${LOG_LEVELS.join(', ')}`)
    const historyText = str(values, 'history')
    const historyRetentionMs = historyText !== undefined ? parseHistoryRetention(historyText) : defaults.historyRetentionMs
    const sizeText = str(values, 'history-size')
    const historyMaxBytes = sizeText !== undefined ? parseHistorySize(sizeText) : defaults.historyMaxBytes
    let thresholds: Thresholds
    try { thresholds = parseThresholds(strs(values, 'alert')) } catch (err: unknown) { throw new UsageError(err instanceof Error ? err.message : String(err)) }
    const config: NodeConfig = {
      ...defaults,
      name,
      tags,
      listen,
      bootstrap,
      mdns: !bool(values, 'no-mdns'),
      intervalMs,
      readonly: bool(values, 'readonly'),
      // started processes find commands on the PATH the node was started with
      spawnEnv: { PATH: ctx.env.PATH ?? defaults.spawnEnv.PATH },
      historyRetentionMs,
      historyMaxBytes,
      thresholds,
      ...(str(values, 'policy') !== undefined ? { policyFile: resolvePath(str(values, 'policy') ?? '') } : {})
    }
    const log = createLogger({ level })
    const stopped = untilStopSignal()
    const { watchHome } = await import('../../node/control/home-watch.js')
    // a rotated mesh key (rotate-key) rebuilds the node from its home; managed processes live on
    for (;;) {
      let node: ProcmeshNode
      try {
        node = await createProcmeshNode(config, log)
        await node.start()
      } catch (err: unknown) {
        throw new ProcmeshError(err instanceof ProcmeshError ? err.code : 'SERVER_ERROR', `cannot start: ${describeStartFailure(err)}`)
      }
      ctx.err(`procmesh node ${config.name} running; peer id ${node.peerId}; control socket ${node.paths.socket}`)
      // a home deleted under the running node: it stops, loudly (node/control/home-watch.ts says why)
      let onLost: (problem: string) => void = () => {}
      const lost = new Promise<string>(resolve => { onLost = resolve })
      const stopWatch = watchHome([
        { what: 'home', path: node.paths.dir },
        { what: 'control socket', path: node.paths.socket },
        { what: 'identity key', path: node.paths.identityKey }
      ], problem => { onLost(problem) })
      const next = await Promise.race([
        stopped.then(signal => ({ signal })),
        node.restartNeeded.then(reason => ({ reason })),
        lost.then(problem => ({ problem }))
      ])
      stopWatch()
      if ('problem' in next) {
        const message = homeLostMessage(node.paths.dir, next.problem)
        log.error('%s', message)
        ctx.err(`procmesh node: ${message}`)
        await node.stop().catch((err: unknown) => { log.warn('stopping without a home: %s', err instanceof Error ? err.message : String(err)) })
        return 1
      }
      if ('signal' in next) log.info('%s received, stopping', next.signal)
      else log.info('restarting: %s', next.reason)
      await node.stop()
      if ('signal' in next) break
    }
    log.info('stopped')
    return 0
  }
}

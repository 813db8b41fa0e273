/**
 * `procmesh service install|uninstall|status`: a systemd unit that runs this host's node at boot.
 * The unit's text comes from node/setup/service-unit.ts; this module finds the paths, writes the file and
 * talks to systemctl, and only when systemd runs this host (and no --root is given).
 */
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { homedir } from 'node:os'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { ProcmeshError, errorMessage, errnoCode } from '../../protocols/errors.js'
import { MAX_INTERVAL_MS, MAX_NAME_BYTES, MAX_TAGS, MIN_INTERVAL_MS } from '../../protocols/limits.js'
import { isOneOf } from '../../protocols/validate.js'
import { UNIT_NAME, nodeArgsFor, renderUnit, systemctlArgs, unitPath, type NodeFlags, type ServiceScope } from '../../node/setup/service-unit.js'
import { UsageError, parseDuration, parsePairs } from '../args.js'
import { bool, str, strs, type CommandSpec, type OptionValues } from '../command.js'
import type { CliContext } from '../context.js'
import { nodeRunning } from '../control-client.js'
import { NODE_UNIT_OPTIONS, parseHistoryRetention, parseHistorySize } from './node.js'
import { parseThresholds } from '../../protocols/thresholds.js'

/** systemctl gets this long per call (enable --now waits for the start job). */
const SYSTEMCTL_TIMEOUT_MS = 60_000
/** sd_booted(3): this directory exists exactly when systemd is the running init. */
const SYSTEMD_RUNTIME_DIR = '/run/systemd/system'

const ACTIONS = ['install', 'uninstall', 'status'] as const
/** Flags that shape the node's command line: install only. */
const NODE_FLAGS = Object.keys(NODE_UNIT_OPTIONS)

/** True inside a Node single executable application (require: a SEA cannot import()). */
export function runningAsSea (): boolean {
  try {
    const sea = createRequire(import.meta.url)('node:sea') as typeof import('node:sea')
    return sea.isSea()
  } catch {
    return false
  }
}

/**
 * The command that runs this procmesh again: the executable alone when it is a SEA, else Node and
 * the absolute script (symlinks resolved: an npm bin link points into the package).
 */
export function procmeshCommand (facts: { sea: boolean, execPath: string, script: string | undefined }): string[] {
  if (facts.sea) return [facts.execPath]
  if (facts.script === undefined) throw new ProcmeshError('UNAVAILABLE', 'cannot tell which script runs procmesh (process.argv[1] is missing)')
  return [facts.execPath, facts.script]
}

function currentCommand (): string[] {
  const script = process.argv[1]
  const sea = runningAsSea()
  return procmeshCommand({ sea, execPath: process.execPath, script: sea || script === undefined ? script : realpathSync(resolve(script)) })
}

function scopeOf (values: OptionValues): ServiceScope {
  if (bool(values, 'user') && bool(values, 'system')) throw new UsageError('--user and --system exclude each other')
  if (bool(values, 'user')) return 'user'
  if (bool(values, 'system')) return 'system'
  return process.getuid?.() === 0 ? 'system' : 'user'
}

function configHome (env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_CONFIG_HOME
  if (xdg !== undefined && isAbsolute(xdg)) return xdg
  return join(env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir(), '.config')
}

async function nodeFlags (ctx: CliContext, values: OptionValues): Promise<NodeFlags> {
  const name = str(values, 'name')
  if (name !== undefined && (name === '' || Buffer.byteLength(name) > MAX_NAME_BYTES)) throw new UsageError(`--name: must be 1 to ${MAX_NAME_BYTES} bytes`)
  const tags = parsePairs(strs(values, 'tag'), '--tag')
  if (Object.keys(tags).length > MAX_TAGS) throw new UsageError(`--tag: at most ${MAX_TAGS} tags`)
  const interval = str(values, 'interval')
  if (interval !== undefined) {
    const ms = parseDuration(interval, '--interval')
    if (ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS) throw new UsageError(`--interval: must be between ${MIN_INTERVAL_MS} ms and ${MAX_INTERVAL_MS / 60000} min`)
  }
  const listen = strs(values, 'listen')
  const bootstrap = strs(values, 'bootstrap')
  if (listen.length > 0 || bootstrap.length > 0) {
    // checked now: a typo found by the node at boot would only show in the journal
    const { multiaddr } = await import('@multiformats/multiaddr')
    for (const [flag, list] of [['--listen', listen], ['--bootstrap', bootstrap]] as const) {
      for (const ma of list) {
        try { multiaddr(ma) } catch { throw new UsageError(`${flag}: not a multiaddr: ${JSON.stringify(ma)}`) }
      }
    }
  }
  // checked now, as the node will check them: a bad value would only show in the journal
  const history = str(values, 'history')
  if (history !== undefined) parseHistoryRetention(history)
  const historySize = str(values, 'history-size')
  if (historySize !== undefined) parseHistorySize(historySize)
  const alerts = strs(values, 'alert')
  try { parseThresholds(alerts) } catch (err: unknown) { throw new UsageError(err instanceof Error ? err.message : String(err)) }
  return { home: ctx.home, name, tags, listen, bootstrap, interval, history, historySize, alerts, mdns: !bool(values, 'no-mdns'), readonly: bool(values, 'readonly') }
}

interface Systemd { running: boolean, pid1: string }

function systemdState (): Systemd {
  let pid1 = 'unknown'
  try { pid1 = readFileSync('/proc/1/comm', 'utf8').trim() } catch { /* not Linux, or /proc hidden */ }
  return { running: existsSync(SYSTEMD_RUNTIME_DIR), pid1 }
}

interface SystemctlResult { code: number, stdout: string, stderr: string }

function systemctl (scope: ServiceScope, ...args: string[]): Promise<SystemctlResult> {
  return new Promise((resolvePromise, reject) => {
    execFile('systemctl', systemctlArgs(scope, ...args), { timeout: SYSTEMCTL_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') {
        reject(new ProcmeshError('UNAVAILABLE', `systemctl ${args.join(' ')}: ${err.message}`))
        return
      }
      resolvePromise({ code: err === null ? 0 : Number(err.code), stdout: stdout.trim(), stderr: stderr.trim() })
    })
  })
}

async function systemctlOk (scope: ServiceScope, ...args: string[]): Promise<void> {
  const r = await systemctl(scope, ...args)
  if (r.code !== 0) throw new ProcmeshError('UNAVAILABLE', `systemctl ${systemctlArgs(scope, ...args).join(' ')} failed (exit ${r.code}): ${r.stderr || r.stdout}`)
}

function writeDenied (file: string, err: unknown, scope: ServiceScope): ProcmeshError {
  const code = errnoCode(err)
  if (code === 'EACCES' || code === 'EPERM') {
    return new ProcmeshError('OS_DENIED', `cannot write ${file}: permission denied${scope === 'system' ? ' (a system unit needs root: sudo procmesh service install, or --user)' : ''}`)
  }
  return new ProcmeshError('SERVER_ERROR', `cannot write ${file}: ${errorMessage(err)}`)
}

function manualSteps (scope: ServiceScope, action: 'install' | 'uninstall'): string {
  const sc = `systemctl${scope === 'user' ? ' --user' : ''}`
  return action === 'install' ? `${sc} daemon-reload && ${sc} enable --now ${UNIT_NAME}` : `${sc} disable --now ${UNIT_NAME}; ${sc} daemon-reload`
}

function notRunningNote (systemd: Systemd, scope: ServiceScope, action: 'install' | 'uninstall'): string {
  return `systemd is not running here (PID 1 is ${systemd.pid1}), so nothing was ${action === 'install' ? 'started' : 'stopped'}; on a host booted with systemd run: ${manualSteps(scope, action)}`
}

async function install (ctx: CliContext, values: OptionValues, scope: ServiceScope, path: string, root: string | undefined): Promise<number> {
  const flags = await nodeFlags(ctx, values)
  const command = currentCommand()
  const unit = renderUnit({ scope, command, nodeArgs: nodeArgsFor(flags), home: ctx.home, readonly: flags.readonly })
  if (bool(values, 'dry-run')) {
    ctx.out(ctx.json ? JSON.stringify({ action: 'install', scope, path, unit, dryRun: true }) : unit)
    return 0
  }
  try {
    await mkdir(dirname(path), { recursive: true })
    const tmp = `${path}.tmp-${process.pid}`
    await writeFile(tmp, unit, { mode: 0o644 })
    await rename(tmp, path)
  } catch (err: unknown) {
    throw writeDenied(path, err, scope)
  }
  const lines = [`wrote ${path} (${scope} unit; node home ${ctx.home})`]
  const notes: string[] = []
  const systemd = systemdState()
  let started = false
  if (root !== undefined) {
    notes.push(`--root ${root}: the unit is in the image; nothing was started`)
  } else {
    // the node makes its home 0700 itself; made now so a --readonly unit's ReadWritePaths exists
    const { ensureHome } = await import('../../node/setup/home.js')
    await ensureHome(ctx.home)
    if (await nodeRunning(ctx.home)) notes.push(`a node is already running for ${ctx.home}: stop it, the service's node cannot start while it runs`)
    if (systemd.running) {
      await systemctlOk(scope, 'daemon-reload')
      await systemctlOk(scope, 'enable', '--now', UNIT_NAME)
      started = true
      lines.push(`enabled and started ${UNIT_NAME}: the node runs now and at every ${scope === 'system' ? 'boot' : 'login'}`)
      if (scope === 'user') notes.push(`to run it at boot without a login session: loginctl enable-linger ${ctx.env.USER ?? '$USER'}`)
    } else {
      notes.push(notRunningNote(systemd, scope, 'install'))
    }
  }
  if (ctx.json) {
    ctx.out(JSON.stringify({ action: 'install', scope, path, home: ctx.home, command, systemd: systemd.running, started, notes }))
  } else {
    ctx.out([...lines, ...notes.map(n => `note: ${n}`)].join('\n'))
  }
  return 0
}

async function uninstall (ctx: CliContext, scope: ServiceScope, path: string, root: string | undefined): Promise<number> {
  const systemd = systemdState()
  const installed = existsSync(path)
  const notes: string[] = []
  if (!installed) {
    notes.push(`${path} does not exist: nothing to remove`)
  } else {
    const live = root === undefined && systemd.running
    if (live) await systemctlOk(scope, 'disable', '--now', UNIT_NAME)
    try {
      await rm(path)
    } catch (err: unknown) {
      throw writeDenied(path, err, scope)
    }
    if (live) await systemctlOk(scope, 'daemon-reload')
    else if (root === undefined) notes.push(notRunningNote(systemd, scope, 'uninstall'))
  }
  if (ctx.json) ctx.out(JSON.stringify({ action: 'uninstall', scope, path, removed: installed, notes }))
  else ctx.out([...(installed ? [`removed ${path}${root === undefined && systemd.running ? ` (${UNIT_NAME} stopped and disabled)` : ''}`] : []), ...notes.map(n => `note: ${n}`)].join('\n'))
  return 0
}

async function status (ctx: CliContext, scope: ServiceScope, path: string, root: string | undefined): Promise<number> {
  const systemd = systemdState()
  const installed = existsSync(path)
  let enabled: string | null = null
  let active: string | null = null
  if (installed && root === undefined && systemd.running) {
    // is-enabled / is-active exit non-zero for "disabled" / "inactive": their output is the answer
    enabled = (await systemctl(scope, 'is-enabled', UNIT_NAME)).stdout || null
    active = (await systemctl(scope, 'is-active', UNIT_NAME)).stdout || null
  }
  let execStart: string | null = null
  if (installed) execStart = /^ExecStart=(.*)$/m.exec(await readFile(path, 'utf8'))?.[1] ?? null
  const running = await nodeRunning(ctx.home)
  if (ctx.json) {
    ctx.out(JSON.stringify({ scope, path, installed, execStart, systemd: systemd.running, enabled, active, node: { home: ctx.home, running } }))
    return 0
  }
  const lines = [`unit     ${path}: ${installed ? 'installed' : 'not installed'}`]
  if (execStart !== null) lines.push(`runs     ${execStart}`)
  if (!systemd.running) lines.push(`systemd  not running here (PID 1 is ${systemd.pid1})`)
  else if (installed && root === undefined) lines.push(`systemd  ${enabled ?? 'unknown'}, ${active ?? 'unknown'}`)
  lines.push(`node     ${running ? 'running' : 'not running'} for home ${ctx.home}`)
  ctx.out(lines.join('\n'))
  return 0
}

export const serviceCommand: CommandSpec = {
  usage: 'procmesh service install|uninstall|status [--user|--system] [--home DIR] [--root DIR] [--json]\n' +
    '       procmesh service install ... [--name N] [--tag K=V]... [--listen MA]... [--bootstrap MA]... [--interval 2s] [--history 7d] [--history-size 256MiB] [--alert METRIC=C,W,X]... [--no-mdns] [--readonly] [--dry-run]\n' +
    '  a systemd unit running `procmesh node --home DIR` at boot, restarting it on failure.\n' +
    '  --system (default for root): /etc/systemd/system; --user: ~/.config/systemd/user.\n' +
    '  --dry-run prints the unit; --root DIR writes into an image root and starts nothing.\n' +
    '  Without systemd running, install writes the unit and prints the systemctl commands to run.\n' +
    '  The unit sandboxes nothing unless --readonly: processes started through the mesh would inherit it.',
  options: {
    user: { type: 'boolean' },
    system: { type: 'boolean' },
    root: { type: 'string' },
    'dry-run': { type: 'boolean' },
    ...NODE_UNIT_OPTIONS
  },
  positionals: [1, 1],
  async run (ctx, values, positionals) {
    const action = positionals[0]
    if (!isOneOf(action, ACTIONS)) throw new UsageError(`unknown action ${JSON.stringify(action)} (install, uninstall or status)`)
    if (action !== 'install') {
      const stray = [...NODE_FLAGS, 'dry-run'].filter(f => values[f] !== undefined)
      if (stray.length > 0) throw new UsageError(`--${stray[0]} applies to install only`)
    }
    const scope = scopeOf(values)
    const rootFlag = str(values, 'root')
    const root = rootFlag !== undefined ? resolve(rootFlag) : undefined
    const path = unitPath(scope, { configHome: configHome(ctx.env), root })
    if (action === 'install') return await install(ctx, values, scope, path, root)
    if (action === 'uninstall') return await uninstall(ctx, scope, path, root)
    return await status(ctx, scope, path, root)
  }
}

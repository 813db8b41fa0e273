/**
 * The systemd unit that runs a procmesh node at boot: pure text generation, no I/O.
 *
 * Hardening and what it must not do: everything `procmesh run` starts is a child of the node and
 * inherits its sandbox (mount namespace, no_new_privs, capability bounding set, private /tmp).
 * A node that may start processes therefore gets only settings that cannot get in a workload's
 * way: NoNewPrivileges would strip setuid programs (sudo, ping, passwd) started through the mesh,
 * ProtectSystem=strict/full and ProtectHome would make /usr, /etc or /home read-only for them,
 * PrivateTmp would hide the host's /tmp (and the sockets other services keep there). A node run
 * with --readonly starts and stops nothing, so its system unit is sandboxed tightly.
 */

export type ServiceScope = 'system' | 'user'

export const UNIT_NAME = 'procmesh.service'

export class ServiceUnitError extends Error {
  override name = 'ServiceUnitError'
}

export interface UnitInit {
  scope: ServiceScope
  /** the program and its leading arguments: [the executable] or [node, /abs/bin/procmesh.js] */
  command: readonly string[]
  /** arguments after `node`: --home first, then name, tags, addresses, flags */
  nodeArgs: readonly string[]
  /** the node's home: the one path a --readonly node may write */
  home: string
  readonly: boolean
}

/** What the node's flags in a unit are made from (validated by the caller). */
export interface NodeFlags {
  home: string
  name?: string
  tags: Record<string, string>
  listen: readonly string[]
  bootstrap: readonly string[]
  mdns: boolean
  interval?: string
  /** durable history retention and size cap, as given to `procmesh node` */
  history?: string
  historySize?: string
  /** --alert METRIC=C,W,X, as given to `procmesh node` */
  alerts?: string[]
  readonly: boolean
}

/** The `procmesh node` arguments for these flags, in a stable order. */
export function nodeArgsFor (flags: NodeFlags): string[] {
  const args = ['--home', flags.home]
  if (flags.name !== undefined) args.push('--name', flags.name)
  for (const [k, v] of Object.entries(flags.tags)) args.push('--tag', `${k}=${v}`)
  for (const ma of flags.listen) args.push('--listen', ma)
  for (const ma of flags.bootstrap) args.push('--bootstrap', ma)
  if (flags.interval !== undefined) args.push('--interval', flags.interval)
  if (flags.history !== undefined) args.push('--history', flags.history)
  if (flags.historySize !== undefined) args.push('--history-size', flags.historySize)
  for (const a of flags.alerts ?? []) args.push('--alert', a)
  if (!flags.mdns) args.push('--no-mdns')
  if (flags.readonly) args.push('--readonly')
  return args
}

/** Where the unit goes. `configHome` is $XDG_CONFIG_HOME or ~/.config; `root` an image root or '/'. */
export function unitPath (scope: ServiceScope, opts: { configHome: string, root?: string }): string {
  const dir = scope === 'system' ? '/etc/systemd/system' : `${opts.configHome.replace(/\/+$/, '')}/systemd/user`
  const root = (opts.root ?? '/').replace(/\/+$/, '')
  return `${root}${dir}/${UNIT_NAME}`
}

/** Words that need no quotes (`%%` and `$$` included: they are escaped by then). */
const BARE_ARG = /^[A-Za-z0-9_@+=:,./%$-]+$/
/** A unit line cannot carry these without changing what the node would see. */
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/

/**
 * One word of an ExecStart line, as systemd reads it back unchanged: `%` and `$` doubled (no
 * specifier or variable expansion), quoted with `"` when it holds anything but plain characters.
 */
export function quoteExecArg (arg: string, what = 'argument'): string {
  if (arg === '') return '""'
  if (CONTROL_CHARS.test(arg)) throw new ServiceUnitError(`${what}: control characters cannot go into a systemd unit: ${JSON.stringify(arg)}`)
  const escaped = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$')
  if (BARE_ARG.test(escaped)) return escaped
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/** The ExecStart value: the program must be an absolute path (systemd resolves nothing else). */
export function execStartLine (command: readonly string[], nodeArgs: readonly string[]): string {
  const [program] = command
  if (program === undefined || !program.startsWith('/')) throw new ServiceUnitError(`the program must be an absolute path, got ${JSON.stringify(program ?? '')}`)
  return [...command, 'node', ...nodeArgs].map((a, i) => quoteExecArg(a, i === 0 ? 'program' : `argument ${i}`)).join(' ')
}

/**
 * Every unit. Each line here is safe for a node whose started processes must be able to do
 * anything the node's user can.
 */
const SERVICE_LINES: ReadonlyArray<readonly [string, string, string?]> = [
  ['Type', 'simple'],
  ['Restart', 'on-failure'],
  ['RestartSec', '2'],
  ['TimeoutStopSec', '15', 'the node closes its connections and exits within a few seconds'],
  ['KillMode', 'process', 'stop and restart signal the node only: processes it started keep running (a node restart is not a request to stop workloads)'],
  ['OOMPolicy', 'continue', 'the kernel killing a started process for memory must not stop the node'],
  ['LimitNOFILE', '65536', 'up to 300 peer connections plus the pipes of started processes'],
  ['SyslogIdentifier', 'procmesh']
]

/** Added for a --readonly node's system unit: it starts and stops nothing, so box it in. */
function readonlySandbox (home: string): Array<readonly [string, string]> {
  return [
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['ProtectHome', 'read-only'],
    ['ReadWritePaths', quoteExecArg(home, 'home')],
    ['PrivateTmp', 'yes'],
    ['PrivateDevices', 'yes'],
    ['ProtectKernelTunables', 'yes'],
    ['ProtectKernelModules', 'yes'],
    ['ProtectKernelLogs', 'yes'],
    ['ProtectControlGroups', 'yes'],
    ['ProtectClock', 'yes'],
    ['ProtectHostname', 'yes'],
    ['RestrictSUIDSGID', 'yes'],
    ['RestrictRealtime', 'yes'],
    ['RestrictNamespaces', 'yes'],
    ['LockPersonality', 'yes'],
    ['SystemCallArchitectures', 'native'],
    // netlink: os.networkInterfaces() for mDNS and the announced addresses
    ['RestrictAddressFamilies', 'AF_UNIX AF_INET AF_INET6 AF_NETLINK']
  ]
}

/** The unit file's text. */
export function renderUnit (init: UnitInit): string {
  if (!init.home.startsWith('/')) throw new ServiceUnitError(`home must be an absolute path, got ${JSON.stringify(init.home)}`)
  const lines: string[] = [
    '# procmesh node, written by `procmesh service install`: run it again to change this file,',
    '# `procmesh service uninstall` to remove it.',
    '[Unit]',
    'Description=procmesh node (peer-to-peer process mesh)'
  ]
  if (init.scope === 'system') {
    // a user manager cannot order itself after the system's network targets
    lines.push('Wants=network-online.target', 'After=network-online.target')
  }
  lines.push('', '[Service]', `ExecStart=${execStartLine(init.command, init.nodeArgs)}`)
  for (const [key, value, why] of SERVICE_LINES) {
    if (why !== undefined) lines.push(`# ${why}`)
    lines.push(`${key}=${value}`)
  }
  if (init.readonly) {
    if (init.scope === 'system') {
      lines.push('# --readonly: this node starts and stops nothing, so it runs sandboxed')
      for (const [key, value] of readonlySandbox(init.home)) lines.push(`${key}=${value}`)
    } else {
      // the other sandboxing settings need privileges a user manager may lack
      lines.push('# --readonly: this node starts and stops nothing', 'NoNewPrivileges=yes')
    }
  } else {
    lines.push('# no sandboxing: processes started through the mesh inherit it (see procmesh service --help)')
  }
  lines.push('', '[Install]', `WantedBy=${init.scope === 'system' ? 'multi-user.target' : 'default.target'}`, '')
  return lines.join('\n')
}

/** The `systemctl` arguments for a scope (user units go to the user's own manager). */
export function systemctlArgs (scope: ServiceScope, ...args: string[]): string[] {
  return scope === 'user' ? ['--user', ...args] : args
}

/**
 * The `procmesh` command: parse, dispatch, map errors to exit codes.
 * Command modules load lazily so `procmesh peers` never loads libp2p.
 */
import { parseArgs } from 'node:util'
import { ProcmeshError, errorMessage } from '../protocols/errors.js'
import { safeText } from '../protocols/text.js'
import { UsageError, resolveHome } from './args.js'
import type { CommandSpec, OptionValues, OptionsConfig } from './command.js'
import { createContext, type CliIO } from './context.js'

const COMMANDS: Record<string, { summary: string, load: () => Promise<CommandSpec> }> = {
  node: { summary: 'run the mesh node on this host', load: async () => (await import('./commands/node.js')).nodeCommand },
  id: { summary: "this node's peer id, name and addresses", load: async () => (await import('./commands/id.js')).idCommand },
  peers: { summary: 'the mesh view: every known node and its status', load: async () => (await import('./commands/peers.js')).peersCommand },
  ps: { summary: 'processes of a peer (or all, or tag:K=V), as a table or a tree', load: async () => (await import('./commands/ps.js')).psCommand },
  run: { summary: 'start a command on a peer (no shell), as a managed process', load: async () => (await import('./commands/run.js')).runProcessCommand },
  kill: { summary: 'signal a process (or its subtree) on a peer', load: async () => (await import('./commands/kill.js')).killCommand },
  web: { summary: 'a browser dashboard and JSON API over the whole mesh', load: async () => (await import('./commands/web.js')).webCommand },
  logs: { summary: 'output of a managed process, optionally following it', load: async () => (await import('./commands/logs.js')).logsCommand },
  ls: { summary: 'managed processes of a peer (or all): state, restarts, last exit, policy', load: async () => (await import('./commands/ls.js')).lsCommand },
  restart: { summary: 'stop a managed process and start it again (by name or id)', load: async () => (await import('./commands/restart.js')).restartCommand },
  rm: { summary: 'forget a managed process (stopping it first) and its log files', load: async () => (await import('./commands/rm.js')).rmCommand },
  deploy: { summary: 'keep N copies of a command running on the hosts a selector names (signed, mesh-wide)', load: async () => (await import('./commands/deploy.js')).deployCommand },
  deployments: { summary: 'deployments: desired vs running copies, where each runs, why one cannot be placed', load: async () => (await import('./commands/deploy.js')).deploymentsCommand },
  undeploy: { summary: 'stop every copy of a deployment on every host', load: async () => (await import('./commands/deploy.js')).undeployCommand },
  top: { summary: 'the terminal UI: every host and process of the mesh, live', load: async () => (await import('./commands/top.js')).topCommand },
  invite: { summary: 'print a join token for another host (--role grants it a role here)', load: async () => (await import('./commands/invite.js')).inviteCommand },
  join: { summary: 'join the mesh of a token: store its key, make the inviter an admin', load: async () => (await import('./commands/join.js')).joinCommand },
  trust: { summary: 'list, grant or revoke the roles of peers on this node', load: async () => (await import('./commands/trust.js')).trustCommand },
  'rotate-key': { summary: 'hand a new mesh key to the members you name; everyone else is out', load: async () => (await import('./commands/rotate-key.js')).rotateKeyCommand },
  history: { summary: 'what a host (or all) did over a time range: CPU/memory chart, top processes, starts and exits', load: async () => (await import('./commands/history.js')).historyCommand },
  audit: { summary: 'the audit log of a node: start/stop decisions, refusals, denied connections', load: async () => (await import('./commands/audit.js')).auditCommand },
  service: { summary: 'install, remove or show the systemd unit that runs the node at boot', load: async () => (await import('./commands/service.js')).serviceCommand },
  doctor: { summary: 'check this host: home and key files, socket, port, mDNS, clock; say how to fix', load: async () => (await import('./commands/doctor.js')).doctorCommand }
}

const COMMON_OPTIONS: OptionsConfig = {
  home: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
}

export function mainUsage (): string {
  const names = Object.keys(COMMANDS)
  const width = Math.max(...names.map(n => n.length))
  return [
    'usage: procmesh COMMAND [options]   (every command takes --home DIR and --json)',
    '',
    ...names.map(n => `  ${n.padEnd(width)}  ${COMMANDS[n].summary}`),
    '',
    'procmesh COMMAND --help shows the options of a command.'
  ].join('\n')
}

function defaultIO (): CliIO {
  return {
    out: text => { process.stdout.write(text.endsWith('\n') ? text : text + '\n') },
    err: text => { process.stderr.write(text.endsWith('\n') ? text : text + '\n') },
    env: process.env
  }
}

/**
 * `--from -2h`: parseArgs takes a value starting with a dash for an option, so a relative
 * time (or a negative number) after a string option is joined to it (`--from=-2h`).
 */
export function joinNegativeValues (args: string[], options: OptionsConfig): string[] {
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    const m = /^--([^=]+)$/.exec(args[i])
    const next = args[i + 1]
    if (m !== null && options[m[1]]?.type === 'string' && next !== undefined && /^-\d/.test(next)) { out.push(`${args[i]}=${next}`); i++; continue }
    out.push(args[i])
  }
  return out
}

/** Run a command line and return its exit code (does not exit). */
export async function runCommand (argv: string[], io: CliIO = defaultIO()): Promise<number> {
  const [name, ...args] = argv
  // `procmesh help ps` is `procmesh ps --help`
  if (name === 'help' && args.length > 0) {
    if (COMMANDS[args[0]] === undefined) {
      io.err(`procmesh help: unknown command ${JSON.stringify(args[0])}\n\n${mainUsage()}`)
      return 2
    }
    return await runCommand([args[0], '--help'], io)
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.err : io.out)(mainUsage())
    return name === undefined ? 2 : 0
  }
  if (name === '--version' || name === 'version') {
    const { PROCMESH_VERSION } = await import('../protocols/ids.js')
    io.out(PROCMESH_VERSION)
    return 0
  }
  const entry = COMMANDS[name]
  if (entry === undefined) {
    io.err(`procmesh: unknown command ${JSON.stringify(name)}\n\n${mainUsage()}`)
    return 2
  }
  const spec = await entry.load()
  const dash = args.indexOf('--')
  const own = spec.passThrough === true && dash >= 0 ? args.slice(0, dash) : args
  const rest = spec.passThrough === true && dash >= 0 ? args.slice(dash + 1) : []
  let values: OptionValues
  let positionals: string[]
  try {
    const parsed = parseArgs({ args: joinNegativeValues(own, spec.options), options: { ...COMMON_OPTIONS, ...spec.options }, allowPositionals: true, strict: true })
    values = parsed.values
    positionals = parsed.positionals
    if (values.help === true) { io.out(usageOf(spec)); return 0 }
    const [min, max] = spec.positionals
    if (positionals.length < min) throw new UsageError('missing arguments')
    if (positionals.length > max) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[max])}`)
  } catch (err: unknown) {
    io.err(`procmesh ${name}: ${errorMessage(err)}\n${usageOf(spec)}`)
    return 2
  }
  const json = values.json === true
  const ctx = createContext(io, resolveHome(typeof values.home === 'string' ? values.home : undefined, io.env), json)
  try {
    return await spec.run(ctx, values, positionals, rest)
  } catch (err: unknown) {
    if (err instanceof UsageError) {
      io.err(`procmesh ${name}: ${err.message}\n${usageOf(spec)}`)
      return 2
    }
    const pe = err instanceof ProcmeshError ? err : new ProcmeshError('SERVER_ERROR', errorMessage(err))
    if (json) io.out(JSON.stringify({ error: pe.toJSON() }))
    // error messages may carry remote text (names, another node's error): escaped, one line
    io.err(`procmesh ${name}: ${safeText(pe.message)}`)
    return 1
  }
}

function usageOf (spec: CommandSpec): string {
  return `usage: ${spec.usage}`
}

/** Entry point used by bin/procmesh.js: the only place that sets the exit code. */
export async function run (argv: string[]): Promise<void> {
  const code = await runCommand(argv)
  process.exitCode = code
}

// Simulated hosts on one machine, for multi-host tests (see DESIGN.md, "Testing on one machine as
// if on many").
//
// A simulated host is a network namespace plus its own PID, UTS and mount namespaces with /proc
// mounted, so it has its own interfaces, hostname and process table. The hosts of one SimNet are
// joined by a Linux bridge that lives in a separate "switch" network namespace: the machine's root
// network namespace never gets a bridge, a veth or an address from us, multicast (mDNS) never
// leaves the simulated LAN, and the root namespace's firewall (br_netfilter + a FORWARD DROP
// policy, as Docker installs) cannot drop the bridged traffic.
//
// With `subnets: 2` there is a second bridge (a second LAN) in the same switch namespace and a
// router namespace with one leg on each: unicast is routed between the two /24s, multicast (mDNS)
// stays on its own LAN, as on two real subnets behind a router.
//
// Every name a run creates starts with `<prefix><4-char run id>` (e.g. `pmtk3x9`), so concurrent
// runs never collide and `cleanupStale` can find the leftovers of crashed runs. Nothing happens at
// import time; tests create a SimNet and call `destroy()` in `after()`.

import { execFile, spawn as spawnChild, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { accessSync, constants as fsConstants, readFileSync, readdirSync, readlinkSync } from 'node:fs'
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import type { TestContext } from 'node:test'
import { inspect } from 'node:util'

/** Names of everything a SimNet creates start with this unless `prefix` says otherwise. */
export const DEFAULT_PREFIX = 'pmt'

// Short enough that `<prefix><id>v<n>` fits the kernel's 15-character interface names.
const PREFIX_PATTERN = /^[a-z][a-z0-9]{0,5}$/
const RUN_ID_LENGTH = 4
// Last octet of a host address; .0 and .255 are the network and broadcast addresses, .254 the router.
const MAX_HOSTS = 253
const ROUTER_OCTET = 254
const HOSTNAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}$/
// One `ip` invocation is milliseconds; a slow machine under load still finishes well inside this.
const IP_TIMEOUT_MS = 10_000
// Starting a holder is ip + unshare + sh + hostname + perl: tens of milliseconds.
const HOLDER_START_TIMEOUT_MS = 10_000
const LINK_UP_TIMEOUT_MS = 10_000
const EXEC_TIMEOUT_MS = 15_000
// Processes SIGKILLed by the kernel are gone in milliseconds; this only bounds a wedged kernel.
const KILL_TIMEOUT_MS = 10_000
// exec() collects output in memory; a runaway command must not take the test runner down.
const MAX_EXEC_OUTPUT_BYTES = 16 * 1024 * 1024
const POLL_INTERVAL_MS = 20

// Pid 1 of every simulated host. Like any init it reaps orphans, so crashed processes never linger
// as zombies in the host's /proc. It exits when its stdin (a pipe from the harness) closes, which
// kills the whole PID namespace: if the test runner dies without calling destroy(), the host's
// processes die with it and only the namespaces' mount points are left for cleanupStale().
const INIT_PERL = [
  '$SIG{CHLD} = sub {};',
  'my $rin = ""; vec($rin, fileno(STDIN), 1) = 1;',
  'while (1) {',
  '  1 while waitpid(-1, 1) > 0;',
  '  my $rout = $rin;',
  '  if (select($rout, undef, undef, 1) > 0) { exit 0 if !sysread(STDIN, my $buf, 64) }',
  '}'
].join('\n')
// "$1" is the hostname and "$2" the init program, passed as arguments, never spliced into the script.
const HOLDER_SCRIPT = 'hostname "$1" || exit 1; exec perl -e "$2"'

export interface ExecOptions {
  /** Kill the command (and everything it started) after this long; default 15 s. */
  timeoutMs?: number
  /** Added to the environment (which already has HOME = host.home and HOSTNAME = host.name). */
  env?: Record<string, string>
  /** Written to the command's stdin, which is then closed. */
  input?: string
  /** Working directory inside the host; default host.home. */
  cwd?: string
}

export interface ExecResult {
  /** Exit code, or null if the command was killed by a signal. */
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface SpawnOptions {
  /** Added to the environment (which already has HOME = host.home and HOSTNAME = host.name). */
  env?: Record<string, string>
  /** Working directory inside the host; default host.home. */
  cwd?: string
}

export interface SimHost {
  /** The host's hostname, as `hostname` and os.hostname() report it inside the host. */
  readonly name: string
  /** Its network namespace (`ip netns`). */
  readonly ns: string
  /** IPv4 address of its eth0 on the simulated LAN (a /24). */
  readonly ip: string
  /** Which LAN it is on: 0, or 1 for the second subnet of a `subnets: 2` SimNet. */
  readonly subnet: number
  /** Root-namespace pid of the host's pid 1. */
  readonly initPid: number
  /** A fresh empty directory for this host's procmesh home; HOME inside exec/spawn by default. */
  readonly home: string
  /** Runs argv inside the host and collects its output. Rejects on timeout (after killing it). */
  exec: (argv: string[], opts?: ExecOptions) => Promise<ExecResult>
  /**
   * Starts a long-running argv inside the host, stdin/stdout/stderr piped. The ChildProcess is the
   * `nsenter` wrapper: its exit code/signal are the inner process's, and its kill(signal) delivers
   * the signal to the inner process (nsenter itself does not forward signals).
   */
  spawn: (argv: string[], opts?: SpawnOptions) => ChildProcess
  /** Unplugs the host's cable: its switch port goes down, eth0 loses carrier. */
  linkDown: () => Promise<void>
  /** Plugs the cable back in and waits until the port forwards again. */
  linkUp: () => Promise<void>
  /** SIGKILLs every process in the host except its init, as a crash would; waits until they are gone. */
  kill9All: () => Promise<void>
}

export interface SimNet {
  /** The run's name prefix (`<prefix><run id>`); every namespace, interface and temp dir starts with it. */
  readonly id: string
  readonly hosts: SimHost[]
  /** Adds a host to the LAN (`subnet` 0 unless given); the default name is `host-<n>`. */
  addHost: (name?: string, opts?: AddHostOptions) => Promise<SimHost>
  /** The /24 prefixes of the LANs (`10.x.y`), subnet 0 first. */
  readonly subnets: readonly string[]
  /** Kills every process of every host and removes namespaces, interfaces and homes. Idempotent. */
  destroy: () => Promise<void>
}

export interface CreateSimNetOptions {
  /** Number of hosts to start with (all on subnet 0). */
  hosts: number
  /** Name prefix, `[a-z][a-z0-9]{0,5}`; default `pmt`. */
  prefix?: string
  /** 1 (default): one LAN. 2: two LANs joined by a router (`.254` on each), no multicast between them. */
  subnets?: 1 | 2
}

export interface AddHostOptions {
  /** The LAN to plug the host into: 0 (default) or 1 (needs `subnets: 2`). */
  subnet?: number
}

export interface WaitForOptions {
  timeoutMs: number
  intervalMs?: number
  /** Finishes the sentence "timed out after Xms waiting for ...". */
  what: string
}

export class HarnessTimeoutError extends Error {
  override name = 'HarnessTimeoutError'
}

export class HarnessCommandError extends Error {
  override name = 'HarnessCommandError'
}

/** Undefined if simulated hosts can be created here; otherwise why not. */
export function harnessSkipReason (): string | undefined {
  if (process.platform !== 'linux') return `simulated hosts need Linux namespaces (platform is ${process.platform})`
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'simulated hosts need root (namespaces, veths and bridges)'
  const caps = effectiveCapabilities()
  // CAP_NET_ADMIN (12) for links and addresses, CAP_SYS_ADMIN (21) for setns/unshare/mount.
  if (caps !== undefined && ((caps >> 12n) & 1n) === 0n) return 'simulated hosts need CAP_NET_ADMIN (e.g. a container without --cap-add NET_ADMIN)'
  if (caps !== undefined && ((caps >> 21n) & 1n) === 0n) return 'simulated hosts need CAP_SYS_ADMIN (e.g. an unprivileged container)'
  if (!canRead('/proc/self/ns/pid') || !canRead('/proc/self/ns/net') || !canRead('/proc/self/ns/uts')) return 'the kernel lacks PID, network or UTS namespaces'
  const tools: Array<[string, string]> = [
    ['ip', 'iproute2'], ['unshare', 'util-linux'], ['nsenter', 'util-linux'],
    ['hostname', 'hostname'], ['perl', 'perl, the init of each simulated host']
  ]
  const missing = tools.filter(([tool]) => findExecutable(tool) === undefined)
  if (missing.length > 0) return `not in PATH: ${missing.map(([tool, pkg]) => `\`${tool}\` (${pkg})`).join(', ')}`
  return undefined
}

/**
 * For node:test: returns true if the harness can run. Otherwise skips the test (t.skip) and returns
 * false, or throws when CI=true, where a missing harness must fail the build rather than hide it.
 */
export function requireHarness (t: Pick<TestContext, 'skip'>): boolean {
  const reason = harnessSkipReason()
  if (reason === undefined) return true
  if (process.env.CI === 'true') throw new Error(`multi-host harness unavailable under CI=true: ${reason}`)
  t.skip(reason)
  return false
}

/**
 * Polls fn until it returns a truthy value and returns that value. Errors thrown by fn count as "not
 * yet". Throws HarnessTimeoutError naming `what` and the last value or error.
 */
export async function waitFor<T> (fn: () => Promise<T | undefined> | T | undefined, opts: WaitForOptions): Promise<T> {
  const intervalMs = opts.intervalMs ?? 50
  const deadline = Date.now() + opts.timeoutMs
  let last = 'no attempt finished'
  for (;;) {
    const remaining = deadline - Date.now()
    if (remaining <= 0) break
    try {
      // A single hung attempt must not outlive the deadline.
      const value = await withTimeout(Promise.resolve().then(fn), remaining)
      if (value) return value
      last = `last value: ${inspect(value)}`
    } catch (err: unknown) {
      if (err instanceof AttemptTimeoutError) {
        last = 'last attempt still running'
        break
      }
      last = `last error: ${errorMessage(err)}`
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())))
  }
  throw new HarnessTimeoutError(`timed out after ${opts.timeoutMs}ms waiting for ${opts.what} (${last})`)
}

/** The pid (inside its host) of a process started with SimHost.spawn. */
export async function hostPid (child: ChildProcess): Promise<number> {
  const wrapperPid = child.pid
  if (wrapperPid === undefined) throw new HarnessCommandError('the process did not start')
  const innerPid = await waitFor(() => {
    if (child.exitCode !== null || child.signalCode !== null) throw new HarnessCommandError('the process already exited')
    return childPids(wrapperPid)[0]
  }, { timeoutMs: 5_000, intervalMs: 5, what: `nsenter (pid ${wrapperPid}) to start its child` })
  const nsPids = readNsPids(innerPid)
  const inHost = nsPids?.[nsPids.length - 1]
  if (inHost === undefined) throw new HarnessCommandError(`cannot read NSpid of pid ${innerPid}`)
  return inHost
}

/** Creates a simulated LAN with `hosts` hosts. Removes leftovers of crashed runs with the same prefix first. */
export async function createSimNet (opts: CreateSimNetOptions): Promise<SimNet> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX
  if (!PREFIX_PATTERN.test(prefix)) throw new RangeError(`prefix: must match ${String(PREFIX_PATTERN)}, got ${JSON.stringify(prefix)}`)
  if (!Number.isInteger(opts.hosts) || opts.hosts < 0 || opts.hosts > MAX_HOSTS) throw new RangeError(`hosts: must be an integer 0..${MAX_HOSTS}, got ${opts.hosts}`)
  const reason = harnessSkipReason()
  if (reason !== undefined) throw new Error(`cannot create simulated hosts: ${reason}`)
  await cleanupStale(prefix)

  const existing = new Set(await listNetns())
  let id = ''
  do {
    id = prefix + randomRunId()
  } while (existing.has(`${id}-sw`))
  const subnets = opts.subnets ?? 1
  if (subnets !== 1 && subnets !== 2) throw new RangeError(`subnets: 1 or 2, got ${String(subnets)}`)
  const net = new SimNetImpl(id, subnets)
  try {
    await net.init()
    const added = await Promise.allSettled(Array.from({ length: opts.hosts }, async () => await net.addHost()))
    const failed = added.find((result) => result.status === 'rejected')
    if (failed !== undefined && failed.status === 'rejected') throw failed.reason
  } catch (err: unknown) {
    await net.destroy().catch(() => {})
    throw err
  }
  return net
}

/**
 * Removes what crashed runs with this prefix left behind: their processes, network namespaces,
 * stray links and temp dirs. Runs whose owning process is still alive are left alone, so this is
 * safe while other test files use the harness.
 */
export async function cleanupStale (prefix: string = DEFAULT_PREFIX): Promise<string[]> {
  if (!PREFIX_PATTERN.test(prefix)) throw new RangeError(`prefix: must match ${String(PREFIX_PATTERN)}, got ${JSON.stringify(prefix)}`)
  const nsPattern = new RegExp(`^(${prefix}[a-z0-9]{${RUN_ID_LENGTH}})-(sw|rt|\\d+)$`)
  const dirPattern = new RegExp(`^(${prefix}[a-z0-9]{${RUN_ID_LENGTH}})\\.simnet$`)
  const linkPattern = new RegExp(`^(${prefix}[a-z0-9]{${RUN_ID_LENGTH}})(br|v\\d+)$`)

  const namespaces = new Map<string, string[]>()
  for (const ns of await listNetns()) {
    const match = nsPattern.exec(ns)
    if (match?.[1] !== undefined) namespaces.set(match[1], [...(namespaces.get(match[1]) ?? []), ns])
  }
  const dirs = new Map<string, string>()
  for (const entry of await readdir(tmpdir()).catch(() => [])) {
    const match = dirPattern.exec(entry)
    if (match?.[1] !== undefined) dirs.set(match[1], join(tmpdir(), entry))
  }
  const links = new Map<string, string[]>()
  for (const link of await listLinks(undefined)) {
    const match = linkPattern.exec(link)
    if (match?.[1] !== undefined) links.set(match[1], [...(links.get(match[1]) ?? []), link])
  }

  const removed: string[] = []
  for (const id of new Set([...namespaces.keys(), ...dirs.keys(), ...links.keys()])) {
    const dir = dirs.get(id)
    // A run writes its owner file before creating anything, so no owner file means a dead run.
    if (dir !== undefined && await ownerAlive(join(dir, 'owner.json'))) continue
    const runNamespaces = namespaces.get(id) ?? []
    await killNetnsProcesses(runNamespaces)
    for (const ns of runNamespaces) await run('ip', ['netns', 'del', ns]).catch(() => {})
    for (const link of links.get(id) ?? []) await run('ip', ['link', 'del', link]).catch(() => {})
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
    removed.push(id)
  }
  return removed
}

class SimNetImpl implements SimNet {
  readonly id: string
  readonly hosts: SimHostImpl[] = []
  readonly switchNs: string
  readonly bridge: string
  readonly subnet: string
  readonly subnets: string[]
  readonly bridges: string[]
  readonly routerNs: string
  readonly runDir: string
  private nextIndex = 1
  private readonly names = new Set<string>()
  private readonly adding = new Set<Promise<SimHost>>()
  private destroying: Promise<void> | undefined

  constructor (id: string, subnets: 1 | 2 = 1) {
    this.id = id
    this.switchNs = `${id}-sw`
    this.bridge = `${id}br`
    this.routerNs = `${id}-rt`
    // A private /24 per run. The LAN is sealed off in its own namespaces, so even two runs that
    // drew the same subnet could not see each other; distinct subnets just keep logs unambiguous.
    const bytes = randomBytes(2)
    const second = `10.${200 + ((bytes[0] ?? 0) % 50)}`
    this.subnet = `${second}.${bytes[1] ?? 0}`
    this.subnets = [this.subnet]
    this.bridges = [this.bridge]
    if (subnets === 2) {
      this.subnets.push(`${second}.${((bytes[1] ?? 0) + 1) % 256}`)
      this.bridges.push(`${id}b1`)
    }
    this.runDir = join(tmpdir(), `${id}.simnet`)
  }

  async init (): Promise<void> {
    // Built under another name and renamed into place, so cleanupStale never sees the run's dir
    // without its owner file (which it would take for a dead run).
    const staging = `${this.runDir}-staging`
    await mkdir(join(staging, 'homes'), { recursive: true })
    await writeFile(join(staging, 'owner.json'), JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid) }))
    await rename(staging, this.runDir)
    const sw = this.switchNs
    await run('ip', ['netns', 'add', sw])
    await run('ip', ['-n', sw, 'link', 'set', 'lo', 'up'])
    // No snooping: the bridge floods multicast to every port, like a dumb switch, so mDNS works
    // without an IGMP querier. No address (addrgenmode none): the switch is not a host.
    for (const bridge of this.bridges) {
      await run('ip', ['-n', sw, 'link', 'add', bridge, 'type', 'bridge', 'mcast_snooping', '0', 'stp_state', '0', 'forward_delay', '0'])
      await run('ip', ['-n', sw, 'link', 'set', bridge, 'addrgenmode', 'none'])
      await run('ip', ['-n', sw, 'link', 'set', bridge, 'up'])
    }
    if (this.bridges.length > 1) await this.addRouter()
  }

  /** A namespace with a leg (`eth<i>`, `.254`) on every LAN that forwards unicast between them. */
  private async addRouter (): Promise<void> {
    const rt = this.routerNs
    const sw = this.switchNs
    await run('ip', ['netns', 'add', rt])
    await run('ip', ['-n', rt, 'link', 'set', 'lo', 'up'])
    for (const [i, bridge] of this.bridges.entries()) {
      const port = `${this.id}r${i}`
      await run('ip', ['-n', sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', `eth${i}`, 'netns', rt])
      await run('ip', ['-n', sw, 'link', 'set', port, 'master', bridge])
      await run('ip', ['-n', sw, 'link', 'set', port, 'up'])
      await run('ip', ['-n', rt, 'addr', 'add', `${this.subnets[i]}.${ROUTER_OCTET}/24`, 'dev', `eth${i}`])
      await run('ip', ['-n', rt, 'link', 'set', `eth${i}`, 'up'])
    }
    // a fresh namespace starts with forwarding off; no multicast routing is set up, so mDNS stays per LAN
    await run('ip', ['netns', 'exec', rt, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'])
  }

  async addHost (name?: string, opts: AddHostOptions = {}): Promise<SimHost> {
    if (this.destroying !== undefined) throw new Error('addHost: the SimNet is destroyed')
    const subnet = opts.subnet ?? 0
    if (!Number.isInteger(subnet) || subnet < 0 || subnet >= this.subnets.length) throw new RangeError(`subnet: 0..${this.subnets.length - 1} in this SimNet, got ${subnet}`)
    const adding = this.createHost(name, subnet)
    // destroy() waits for hosts still being created, or it would miss what they create next.
    this.adding.add(adding)
    try {
      return await adding
    } finally {
      this.adding.delete(adding)
    }
  }

  private async createHost (name: string | undefined, subnet: number): Promise<SimHost> {
    const index = this.nextIndex++
    if (index > MAX_HOSTS) throw new RangeError(`addHost: at most ${MAX_HOSTS} hosts per SimNet`)
    const hostname = name ?? `host-${index}`
    if (!HOSTNAME_PATTERN.test(hostname)) throw new RangeError(`name: not a valid hostname: ${JSON.stringify(hostname)}`)
    if (this.names.has(hostname)) throw new RangeError(`name: ${hostname} already exists in this SimNet`)
    this.names.add(hostname)

    const ns = `${this.id}-${index}`
    const port = `${this.id}v${index}`
    const ip = `${this.subnets[subnet]}.${index}`
    const home = join(this.runDir, 'homes', hostname)
    await mkdir(home, { recursive: true })
    await run('ip', ['netns', 'add', ns])
    const sw = this.switchNs
    // The pair is born with one end in the switch and the other, already named eth0, in the host.
    await run('ip', ['-n', sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
    await run('ip', ['-n', sw, 'link', 'set', port, 'master', this.bridges[subnet]])
    await run('ip', ['-n', sw, 'link', 'set', port, 'up'])
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
    await run('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0'])
    await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up'])
    // No default route (nothing is out there), but multicast needs a route to pick eth0.
    await run('ip', ['-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0'])
    // the other LANs through the router
    for (const [i, other] of this.subnets.entries()) {
      if (i !== subnet) await run('ip', ['-n', ns, 'route', 'add', `${other}.0/24`, 'via', `${this.subnets[subnet]}.${ROUTER_OCTET}`])
    }

    const holder = await startHolder(ns, hostname)
    const host = new SimHostImpl({ index, name: hostname, ns, ip, subnet, home, port, switchNs: sw, holder: holder.process, initPid: holder.initPid })
    this.hosts.push(host)
    // Hosts are created concurrently; keep hosts[i] = host-(i+1) all the same.
    this.hosts.sort((x, y) => x.index - y.index)
    await host.waitLinkReady()
    return host
  }

  async destroy (): Promise<void> {
    this.destroying ??= this.teardown()
    return await this.destroying
  }

  private async teardown (): Promise<void> {
    const errors: unknown[] = []
    const attempt = async (fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn()
      } catch (err: unknown) {
        errors.push(err)
      }
    }
    await Promise.allSettled(this.adding)
    // Also finds the namespace of a host whose creation failed half-way.
    const known = [...this.hosts.map((host) => host.ns), this.switchNs]
    const namespaces = (await listNetns().catch(() => known)).filter((ns) => ns.startsWith(`${this.id}-`))
    // Killing a PID namespace's init kills everything in it. The nsenter wrappers (in the root
    // PID namespace) then reap their children and exit by themselves; killing them first would
    // leave their children as zombies for the machine's init to reap, whenever it gets round to it.
    for (const host of this.hosts) killQuietly(host.initPid, 'SIGKILL')
    await attempt(async () => await waitFor(() => this.hosts.every((host) => pidsInPidNamespace(host.pidNs).length === 0), {
      timeoutMs: KILL_TIMEOUT_MS, intervalMs: POLL_INTERVAL_MS, what: 'the hosts\' PID namespaces to empty'
    }))
    // Anything else that entered the network namespaces without their PID namespace.
    await attempt(async () => await killNetnsProcesses(namespaces))
    await attempt(async () => await Promise.all(this.hosts.map(async (host) => await host.waitHolderExit())))
    for (const ns of namespaces) await attempt(async () => await run('ip', ['netns', 'del', ns]))
    await attempt(async () => await rm(this.runDir, { recursive: true, force: true }))
    if (errors.length > 0) throw new AggregateError(errors, `destroying SimNet ${this.id}: ${errors.map(errorMessage).join('; ')}`)
  }
}

interface SimHostInit {
  index: number
  name: string
  ns: string
  ip: string
  subnet: number
  home: string
  port: string
  switchNs: string
  holder: ChildProcess
  initPid: number
}

class SimHostImpl implements SimHost {
  readonly index: number
  readonly name: string
  readonly ns: string
  readonly ip: string
  readonly subnet: number
  readonly initPid: number
  readonly home: string
  readonly pidNs: string
  private readonly port: string
  private readonly switchNs: string
  private readonly holder: ChildProcess
  private readonly holderExit: Promise<void>

  constructor (init: SimHostInit) {
    this.index = init.index
    this.name = init.name
    this.ns = init.ns
    this.ip = init.ip
    this.subnet = init.subnet
    this.initPid = init.initPid
    this.pidNs = readlinkSync(`/proc/${init.initPid}/ns/pid`)
    this.home = init.home
    this.port = init.port
    this.switchNs = init.switchNs
    this.holder = init.holder
    this.holderExit = new Promise((resolve) => {
      if (init.holder.exitCode !== null || init.holder.signalCode !== null) resolve()
      else init.holder.once('exit', () => { resolve() })
    })
  }

  async exec (argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? EXEC_TIMEOUT_MS
    const child = spawnChild('nsenter', this.nsenterArgs(argv, opts.cwd), {
      env: this.env(opts.env),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true,
      shell: false
    })
    return await new Promise((resolve, reject) => {
      const stdout: Buffer[] = []
      const stderr: Buffer[] = []
      let size = 0
      let failure: Error | undefined
      const killed: number[] = []
      const fail = (err: Error): void => {
        failure ??= err
        killed.push(...killTree(child, 'SIGKILL'))
      }
      const collect = (into: Buffer[]) => (chunk: Buffer) => {
        size += chunk.length
        if (size > MAX_EXEC_OUTPUT_BYTES) fail(new HarnessCommandError(`${describeArgv(argv)} on ${this.name}: more than ${MAX_EXEC_OUTPUT_BYTES} bytes of output`))
        else into.push(chunk)
      }
      child.stdout?.on('data', collect(stdout))
      child.stderr?.on('data', collect(stderr))
      const timer = setTimeout(() => {
        fail(new HarnessTimeoutError(`${describeArgv(argv)} on ${this.name}: timed out after ${timeoutMs}ms`))
      }, timeoutMs)
      child.once('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
      child.once('close', (code, signal) => {
        clearTimeout(timer)
        const out = Buffer.concat(stdout).toString()
        const err = Buffer.concat(stderr).toString()
        if (failure !== undefined) {
          const error = failure
          error.message += `\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-2000)}`
          // Orphans of the killed command are reaped by the host's init a moment later; a caller
          // that looks at the host's /proc right after the rejection must not see them.
          waitGone(killed).then(() => { reject(error) }, (waitErr: unknown) => { reject(new AggregateError([error, waitErr], error.message)) })
        } else {
          resolve({ code, signal, stdout: out, stderr: err })
        }
      })
      if (opts.input !== undefined && child.stdin !== null) {
        // The command may exit without reading its input; that is its business, not an error.
        child.stdin.on('error', () => {})
        child.stdin.end(opts.input)
      }
    })
  }

  spawn (argv: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawnChild('nsenter', this.nsenterArgs(argv, opts.cwd), {
      env: this.env(opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      // Own process group, so a kill before nsenter has forked can take both.
      detached: true,
      shell: false
    })
    const killWrapper = child.kill.bind(child)
    child.kill = (signal?: NodeJS.Signals | number): boolean => {
      const wrapperPid = child.pid
      if (wrapperPid === undefined || child.exitCode !== null || child.signalCode !== null) return killWrapper(signal)
      const sig = signal ?? 'SIGTERM'
      const innerPid = childPids(wrapperPid)[0]
      try {
        // nsenter exits with the inner process's status, so 'exit' still fires on the ChildProcess.
        process.kill(innerPid ?? -wrapperPid, sig)
        return true
      } catch {
        return killWrapper(signal)
      }
    }
    return child
  }

  async linkDown (): Promise<void> {
    await run('ip', ['-n', this.switchNs, 'link', 'set', this.port, 'down'])
  }

  async linkUp (): Promise<void> {
    await run('ip', ['-n', this.switchNs, 'link', 'set', this.port, 'up'])
    await this.waitLinkReady()
  }

  async kill9All (): Promise<void> {
    await waitFor(() => {
      const victims = pidsInPidNamespace(this.pidNs).filter((pid) => pid !== this.initPid)
      // Repeat until none are left: a supervisor may fork between the scan and the kill.
      for (const pid of victims) killQuietly(pid, 'SIGKILL')
      return victims.length === 0
    }, { timeoutMs: KILL_TIMEOUT_MS, intervalMs: POLL_INTERVAL_MS, what: `every process in ${this.name} except init to die` })
  }

  async waitLinkReady (): Promise<void> {
    await waitFor(async () => {
      const port = await ipJson(['-n', this.switchNs, '-d', 'link', 'show', this.port])
      const eth0 = await ipJson(['-n', this.ns, 'link', 'show', 'eth0'])
      const forwarding = port.linkinfo?.info_slave_data?.state === 'forwarding'
      return forwarding && eth0.operstate === 'UP'
    }, { timeoutMs: LINK_UP_TIMEOUT_MS, intervalMs: POLL_INTERVAL_MS, what: `the link of ${this.name} to come up` })
  }

  async waitHolderExit (): Promise<void> {
    await withTimeout(this.holderExit, KILL_TIMEOUT_MS).catch((err: unknown) => {
      if (err instanceof AttemptTimeoutError) throw new HarnessTimeoutError(`the holder of ${this.name} (pid ${this.holder.pid ?? '?'}) did not exit within ${KILL_TIMEOUT_MS}ms`)
      throw err
    })
  }

  private nsenterArgs (argv: string[], cwd: string | undefined): string[] {
    if (argv.length === 0) throw new RangeError('argv: must name a program')
    return ['-t', String(this.initPid), '--pid', '--uts', '--mount', '--net', `--wd=${cwd ?? this.home}`, '--', ...argv]
  }

  private env (extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: this.home, HOSTNAME: this.name, ...extra }
    // A node inside the host is not a child of the test runner's protocol.
    delete env.NODE_TEST_CONTEXT
    return env
  }
}

async function startHolder (ns: string, hostname: string): Promise<{ process: ChildProcess, initPid: number }> {
  const holder = spawnChild('ip', [
    'netns', 'exec', ns,
    'unshare', '--pid', '--uts', '--mount', '--fork', '--mount-proc', '--propagation', 'private', '--kill-child',
    'sh', '-c', HOLDER_SCRIPT, 'sh', hostname, INIT_PERL
  ], { stdio: ['pipe', 'ignore', 'pipe'], detached: true, shell: false })
  let stderr = ''
  holder.stderr?.setEncoding('utf8')
  holder.stderr?.on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-4000) })
  // The pipe is the host's lifeline (see INIT_PERL); it must not keep the test runner alive.
  holder.unref()
  for (const stream of [holder.stdin, holder.stderr]) if (stream instanceof Socket) stream.unref()
  const holderPid = holder.pid
  if (holderPid === undefined) throw new HarnessCommandError(`cannot start the holder of ${hostname}`)
  const initPid = await waitFor(() => {
    if (holder.exitCode !== null || holder.signalCode !== null) {
      throw new HarnessCommandError(`holder exited (${holder.exitCode ?? holder.signalCode ?? '?'}): ${stderr.trim()}`)
    }
    // `ip netns exec` execs unshare, which forks the init; once the init is perl, hostname is set.
    for (const pid of descendants(holderPid)) {
      const nsPids = readNsPids(pid)
      if (nsPids !== undefined && nsPids.length >= 2 && nsPids[nsPids.length - 1] === 1 && readComm(pid) === 'perl') return pid
    }
    return undefined
  }, { timeoutMs: HOLDER_START_TIMEOUT_MS, intervalMs: 5, what: `the init of ${hostname} to start` }).catch((err: unknown) => {
    killTree(holder, 'SIGKILL')
    throw err
  })
  return { process: holder, initPid }
}

// ---- /proc helpers (synchronous: used from ChildProcess.kill, which is synchronous) ----

function childPids (pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
      try {
        return readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter((s) => s !== '').map(Number)
      } catch {
        return []
      }
    })
  } catch {
    return []
  }
}

function descendants (pid: number): number[] {
  const out: number[] = []
  const queue = childPids(pid)
  while (queue.length > 0) {
    const next = queue.shift()
    if (next === undefined) break
    out.push(next)
    queue.push(...childPids(next))
  }
  return out
}

function readNsPids (pid: number): number[] | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:'))
    return line?.slice('NSpid:'.length).trim().split(/\s+/).map(Number)
  } catch {
    return undefined
  }
}

function readComm (pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return undefined
  }
}

function pidsInPidNamespace (pidNs: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readlinkSync(`/proc/${entry}/ns/pid`) === pidNs) pids.push(Number(entry))
    } catch {
      // Exited while we looked, or a kernel thread.
    }
  }
  return pids
}

function processStartTime (pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after "(comm)"; starttime is field 22 of stat, the 20th after the comm.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

async function ownerAlive (ownerFile: string): Promise<boolean> {
  try {
    const owner: unknown = JSON.parse(await readFile(ownerFile, 'utf8'))
    if (typeof owner !== 'object' || owner === null || !('pid' in owner) || typeof owner.pid !== 'number') return false
    const startTime = 'startTime' in owner ? owner.startTime : undefined
    // The start time tells a live owner from an unrelated process that reused its pid.
    return processStartTime(owner.pid) !== undefined && processStartTime(owner.pid) === startTime
  } catch {
    return false
  }
}

/**
 * Signals a ChildProcess and everything below it, including processes inside a host, and returns
 * the pids it signalled.
 */
function killTree (child: ChildProcess, signal: NodeJS.Signals): number[] {
  const pid = child.pid
  if (pid === undefined) return []
  const below = descendants(pid)
  for (const p of below) killQuietly(p, signal)
  // The whole group too: before nsenter has forked there is nothing below it yet.
  killQuietly(-pid, signal)
  return [pid, ...below]
}

async function waitGone (pids: number[]): Promise<void> {
  await waitFor(() => pids.every((pid) => !canRead(`/proc/${pid}`)), {
    timeoutMs: KILL_TIMEOUT_MS, intervalMs: POLL_INTERVAL_MS, what: `pids ${pids.join(', ')} to be gone`
  })
}

function killQuietly (pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch {
    // Already gone.
  }
}

/** SIGKILLs every process in these network namespaces (the holders' inits take their PID namespaces along). */
async function killNetnsProcesses (namespaces: string[]): Promise<void> {
  if (namespaces.length === 0) return
  const pidsOf = async (): Promise<number[]> => {
    const lists = await Promise.all(namespaces.map(async (ns) => {
      const out = await run('ip', ['netns', 'pids', ns]).catch(() => '')
      return out.split('\n').filter((s) => /^\d+$/.test(s)).map(Number)
    }))
    return lists.flat()
  }
  await waitFor(async () => {
    const pids = await pidsOf()
    for (const pid of pids) killQuietly(pid, 'SIGKILL')
    return pids.length === 0
  }, { timeoutMs: KILL_TIMEOUT_MS, intervalMs: POLL_INTERVAL_MS, what: `the processes in ${namespaces.join(', ')} to die` })
}

// ---- ip ----

async function listNetns (): Promise<string[]> {
  const out = await run('ip', ['netns', 'list'])
  // Lines look like "name" or "name (id: 3)".
  return out.split('\n').map((line) => line.split(' ')[0] ?? '').filter((name) => name !== '')
}

async function listLinks (ns: string | undefined): Promise<string[]> {
  const out = await run('ip', [...(ns === undefined ? [] : ['-n', ns]), '-o', 'link', 'show'])
  // "4: eth0@if5: <...>" -> "eth0"
  return out.split('\n').map((line) => line.split(': ')[1]?.split('@')[0] ?? '').filter((name) => name !== '')
}

interface IpLink {
  operstate?: string
  linkinfo?: { info_slave_data?: { state?: string } }
}

async function ipJson (args: string[]): Promise<IpLink> {
  const parsed: unknown = JSON.parse(await run('ip', ['-j', ...args]))
  if (!Array.isArray(parsed) || parsed.length !== 1) throw new HarnessCommandError(`ip ${args.join(' ')}: expected one link`)
  const link: unknown = parsed[0]
  if (typeof link !== 'object' || link === null) throw new HarnessCommandError(`ip ${args.join(' ')}: not a link object`)
  return link
}

async function run (file: string, args: string[], timeoutMs = IP_TIMEOUT_MS): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', shell: false }, (err, stdout, stderr) => {
      if (err !== null) reject(new HarnessCommandError(`${file} ${args.join(' ')}: ${stderr.trim() || err.message}`))
      else resolve(stdout)
    })
  })
}

// ---- small things ----

class AttemptTimeoutError extends Error {
  override name = 'AttemptTimeoutError'
}

async function withTimeout<T> (promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new AttemptTimeoutError(`still running after ${ms}ms`)) }, ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

function randomRunId (): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  return Array.from(randomBytes(RUN_ID_LENGTH), (b) => alphabet[b % alphabet.length]).join('')
}

function effectiveCapabilities (): bigint | undefined {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'))
    return line === undefined ? undefined : BigInt(`0x${line.slice('CapEff:'.length).trim()}`)
  } catch {
    return undefined
  }
}

function canRead (path: string): boolean {
  try {
    accessSync(path, fsConstants.F_OK)
    return true
  } catch {
    return false
  }
}

// Looks where spawn() will look: a tool outside PATH is as good as missing.
function findExecutable (name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    try {
      accessSync(join(dir, name), fsConstants.X_OK)
      return join(dir, name)
    } catch {
      // Not here.
    }
  }
  return undefined
}

function describeArgv (argv: string[]): string {
  return JSON.stringify(argv).slice(0, 200)
}

function errorMessage (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

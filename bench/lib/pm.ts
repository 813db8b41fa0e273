/** procmesh nodes in simulated hosts (and on 127.0.0.1), driven the way a user runs them. */
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ControlClient } from '../../cli/control-client.js'
import { CONTROL_API, type ControlMethod } from '../../protocols/control-api.js'
import type { PeerEntry } from '../../protocols/types.js'
import type { SimHost } from '../../testkit/sim-hosts.js'
import { procmeshCommand, type Flavor } from './flavors.js'
import { LineLog, within } from './lines.js'
import { innerPid, stopChild } from './sim.js'
import { nowMs, sleep } from './stats.js'

export { BIN, REPO } from './paths.js'
import { DEFAULT_INTERVAL_MS } from '../../protocols/limits.js'
export { DEFAULT_INTERVAL_MS }

/** What the node prints on stderr once its control socket listens (cli/commands/node.ts). */
const READY_LINE = / running; peer id (\S+);/
/** What a node logs when a new peer's first summary enters its view (node/mesh/announcer.ts). */
export function joinedLine (name: string): (line: string) => boolean {
  return line => line.includes(`peer ${name} (`) && line.includes('joined the view')
}

export interface PmNode {
  host: SimHost
  name: string
  home: string
  child: ChildProcess
  lines: LineLog
  /** nowMs() just before the spawn */
  spawnedAt: number
}

/** Run the procmesh CLI inside a host (start to exit is what a user waits for). */
export async function cliIn (node: PmNode, flavor: Flavor, args: string[], timeoutMs = 30_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  // --home must come before a `--` (after it everything is the command's argv)
  const dashes = args.indexOf('--')
  const withHome = dashes < 0 ? [...args, '--home', node.home] : [...args.slice(0, dashes), '--home', node.home, ...args.slice(dashes)]
  const cmd = procmeshCommand(flavor, withHome)
  return await node.host.exec(cmd.argv, { env: cmd.env, timeoutMs })
}

/** A fresh mesh key, written into every home of the run before its node starts (standard libp2p format). */
export function newMeshKey (): string {
  return randomBytes(32).toString('hex')
}

async function prepareHome (home: string, meshKey: string): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 })
  await writeFile(join(home, 'swarm.key'), `/key/swarm/psk/1.0.0/\n/base16/\n${meshKey}`, { mode: 0o600 })
}

export interface PmNodeOptions {
  name: string
  /** default: <host home>/pm-<name> (a fresh identity per name) */
  home?: string
  meshKey: string
  intervalMs?: number
  extra?: string[]
  /** how procmesh is run (default: as the npm package runs it) */
  flavor?: Flavor
  /** flags for node itself, e.g. --cpu-prof (not for the executable) */
  nodeFlags?: string[]
}

/** Spawn `procmesh node` in a host (mDNS on: the hosts' LAN is private); does not wait. */
export async function spawnPmNode (host: SimHost, opts: PmNodeOptions): Promise<PmNode> {
  const home = opts.home ?? join(host.home, `pm-${opts.name}`)
  await prepareHome(home, opts.meshKey)
  const interval = `${opts.intervalMs ?? DEFAULT_INTERVAL_MS}ms`
  const spawnedAt = nowMs()
  const cmd = procmeshCommand(opts.flavor ?? 'package', ['node', '--home', home, '--name', opts.name, '--interval', interval, ...(opts.extra ?? [])], opts.nodeFlags)
  const child = host.spawn(cmd.argv, { env: cmd.env })
  return { host, name: opts.name, home, child, lines: new LineLog(child), spawnedAt }
}

/** nowMs() when the node said its control socket listens. */
export async function waitPmReady (node: PmNode, timeoutMs = 60_000): Promise<number> {
  const exited = new Promise<never>((_resolve, reject) => {
    node.child.once('exit', code => { reject(new Error(`procmesh node ${node.name} exited (${String(code)}):\n${node.lines.tail()}`)) })
  })
  exited.catch(() => {})
  const at = await within(Promise.race([node.lines.next(l => READY_LINE.test(l), 0), exited]), timeoutMs)
  if (at === undefined) throw new Error(`procmesh node ${node.name} not ready within ${timeoutMs} ms:\n${node.lines.tail()}`)
  return at
}

/**
 * Start a node on each host, one after the other. Nodes started together can miss each other for
 * good: libp2p emits peer:discovery only for a peer new to its peer store, and mDNS answers arrive
 * within milliseconds of libp2p.start(), before procmesh's dialer listens (node/mesh/dialer.ts). A node
 * started once the others run is found by their next periodic mDNS query instead.
 */
export async function startPmNodes (hosts: SimHost[], opts: Omit<PmNodeOptions, 'name'> & { name?: (host: SimHost) => string }): Promise<PmNode[]> {
  const nodes: PmNode[] = []
  try {
    for (const host of hosts) {
      const node = await spawnPmNode(host, { ...opts, name: opts.name?.(host) ?? host.name })
      nodes.push(node)
      await waitPmReady(node)
    }
  } catch (err: unknown) {
    await Promise.all(nodes.map(async n => { await stopChild(n.child) }))
    throw err
  }
  return nodes
}

export async function stopPmNodes (nodes: PmNode[]): Promise<void> {
  await Promise.all(nodes.map(async n => { await stopChild(n.child) }))
}

export async function pmPid (node: PmNode): Promise<number> {
  return await innerPid(node.child)
}

/** One control-API connection per node, opened once (a poll must not pay a connect each time). */
export class PmClients {
  private readonly clients = new Map<string, ControlClient>()

  async get (node: PmNode): Promise<ControlClient> {
    let client = this.clients.get(node.home)
    if (client === undefined) {
      client = await ControlClient.connect(node.home)
      this.clients.set(node.home, client)
    }
    return client
  }

  /** One call on the node's connection (typed by the method's descriptor); a failed call drops the connection. */
  async call<Params, Result, Note> (node: PmNode, method: ControlMethod<Params, Result, Note>, params: Params, timeoutMs = 20_000): Promise<Result> {
    const client = await this.get(node)
    try {
      return await client.invoke(method, params, { timeoutMs })
    } catch (err: unknown) {
      // a broken connection is reopened on the next call
      this.drop(node)
      throw err
    }
  }

  async peers (node: PmNode): Promise<PeerEntry[]> {
    return await this.call(node, CONTROL_API.peers, {})
  }

  drop (node: PmNode): void {
    this.clients.get(node.home)?.close()
    this.clients.delete(node.home)
  }

  closeAll (): void {
    for (const c of this.clients.values()) c.close()
    this.clients.clear()
  }
}

/** Wait until every node lists every other one online (by name); the time it took (ms). */
export async function waitMeshConverged (nodes: PmNode[], clients: PmClients, timeoutMs: number): Promise<number> {
  const start = nowMs()
  const names = nodes.map(n => n.name)
  for (;;) {
    const views = await Promise.all(nodes.map(async n => await clients.peers(n).catch(() => [])))
    const missing = views.map(peers => names.filter(name => !peers.some(p => p.name === name && p.status === 'online')).length)
    if (missing.every(m => m === 0)) return nowMs() - start
    if (nowMs() - start > timeoutMs) {
      const worst = missing.indexOf(Math.max(...missing))
      throw new Error(`procmesh mesh of ${nodes.length} did not converge within ${timeoutMs} ms: ${nodes[worst].name} misses ${missing[worst]} peers; its log:\n${nodes[worst].lines.tail(20)}`)
    }
    await sleep(250)
  }
}

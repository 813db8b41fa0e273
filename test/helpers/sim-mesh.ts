/** procmesh nodes inside simulated hosts (testkit/sim-hosts.ts): start them, talk to them through the CLI. */
import type { ChildProcess } from 'node:child_process'
import { copyFile, access } from 'node:fs/promises'
import { join } from 'node:path'
import type { SimHost } from '../../testkit/sim-hosts.js'
import { waitFor } from '../../testkit/sim-hosts.js'
import type { PeerEntry } from '../../protocols/types.js'
import { BIN } from './procmesh.js'

export interface MeshNode {
  host: SimHost
  home: string
  proc: ChildProcess
  log: () => string
}

export function nodeHome (host: SimHost): string {
  return join(host.home, 'pm')
}

/** Start `procmesh node` in a host (mDNS on: the hosts' LAN is private to the test). */
export async function startNodeIn (host: SimHost, extra: string[] = [], timeoutMs = 20_000): Promise<MeshNode> {
  const home = nodeHome(host)
  const proc = host.spawn([process.execPath, BIN, 'node', '--home', home, '--interval', '1s', ...extra])
  let log = ''
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => { log += d })
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => { log += d })
  let exited = false
  proc.once('exit', () => { exited = true })
  await waitFor(async () => {
    if (exited) throw new Error(`node in ${host.name} exited: ${log}`)
    return (await cliIn(host, ['id', '--json'])).code === 0 ? true : undefined
  }, { timeoutMs, what: `node in ${host.name} to start` })
  return { host, home, proc, log: () => log }
}

/** Copy the first node's mesh key (if it made one) into other hosts' homes, so they join its mesh. */
export async function shareMeshKey (from: SimHost, to: SimHost[]): Promise<void> {
  const key = join(nodeHome(from), 'swarm.key')
  try { await access(key) } catch { return }
  const { mkdir } = await import('node:fs/promises')
  for (const host of to) {
    await mkdir(nodeHome(host), { recursive: true, mode: 0o700 })
    await copyFile(key, join(nodeHome(host), 'swarm.key'))
  }
}

/** Start a mesh: the first node creates the mesh, the others get its key and join. */
export async function startMesh (hosts: SimHost[], extra: string[] = []): Promise<MeshNode[]> {
  const first = await startNodeIn(hosts[0], extra)
  await shareMeshKey(hosts[0], hosts.slice(1))
  const rest = await Promise.all(hosts.slice(1).map(async h => await startNodeIn(h, extra)))
  return [first, ...rest]
}

export async function cliIn (host: SimHost, args: string[], timeoutMs = 20_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  // --home right after the command name: anything after `--` belongs to the started command
  return await host.exec([process.execPath, BIN, args[0], '--home', nodeHome(host), ...args.slice(1)], { timeoutMs })
}

export async function jsonIn<T> (host: SimHost, args: string[], timeoutMs?: number): Promise<T> {
  const r = await cliIn(host, [args[0], '--json', ...args.slice(1)], timeoutMs)
  if (r.code !== 0) throw new Error(`procmesh ${args.join(' ')} in ${host.name} exited ${String(r.code)}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

export async function peersIn (host: SimHost): Promise<PeerEntry[]> {
  return await jsonIn<PeerEntry[]>(host, ['peers'])
}

/**
 * Pids the host really runs, from its own /proc, read from outside through its
 * init's root (spawning a counter inside would count the counter).
 */
export async function pidsIn (host: SimHost): Promise<number[]> {
  const { readdir } = await import('node:fs/promises')
  return (await readdir(`/proc/${host.initPid}/root/proc`)).filter(n => /^\d+$/.test(n)).map(Number)
}

export async function procCountIn (host: SimHost): Promise<number> {
  return (await pidsIn(host)).length
}

export async function stopNode (n: MeshNode | undefined): Promise<void> {
  if (n === undefined || n.proc.exitCode !== null || n.proc.signalCode !== null) return
  const done = new Promise<void>(resolve => n.proc.once('exit', () => { resolve() }))
  n.proc.kill('SIGTERM')
  const t = setTimeout(() => { n.proc.kill('SIGKILL') }, 5000)
  await done
  clearTimeout(t)
}

/** Grant `to`'s node roles on `on`'s node through the trust command. */
export async function grantRoles (on: SimHost, to: SimHost, roles: string[]): Promise<void> {
  const id = await jsonIn<{ peerId: string }>(to, ['id'])
  for (const role of roles) {
    const r = await cliIn(on, ['trust', 'add', id.peerId, '--role', role])
    if (r.code !== 0) throw new Error(`trust add on ${on.name} failed: ${r.stderr}`)
  }
}

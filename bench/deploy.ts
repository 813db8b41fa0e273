/**
 * Deployments (issue 13): a host lost (its cable pulled, then its node killed: nothing tells the
 * others) to its copy running on another host, at 10 simulated hosts with default settings,
 * in parts read from the replacement node's own log (one clock: the machine's):
 *
 * - detection: cable pulled -> the replacement node's deploy layer no longer counts the host live
 *   (the mesh view marked it offline: probes, gone notices);
 * - placement: -> the node decided the copy is now its own (`placed ... here`);
 * - start: -> the copy's process spawned (`started ...`).
 *
 * Beside the documented defaults of Nomad (node lost after the 10 s heartbeat TTL + grace) and
 * Kubernetes (node NotReady after ~40 s, pods evicted 300 s later).
 *
 *   node dist/bench/deploy.js [--hosts 10] [--runs 3] [--json]
 *   node dist/bench/deploy.js --every [--hosts 20] [--json]   # a spec applied on every host
 *   node dist/bench/deploy.js --idle [--hosts 20] [--deployments 10] [--window 60] [--json]
 *
 * --idle: the idle cost of deployments. One mesh of N hosts run as the scale bench runs it
 * (npm package flavor, default interval, mDNS on the private LAN); bytes each host sends and
 * CPU of each node over one window with no deployment, then over one window with D deployments
 * held and their copies running (A then B: the specs cannot be taken back out of a mesh).
 */
import { parseArgs } from 'node:util'
import { invokedDirectly, printResult } from './lib/entry.js'
import { summarize, type Stats } from './lib/stats.js'
import { createSimNet, waitFor, type SimHost } from '../testkit/sim-hosts.js'
import { jsonIn, shareMeshKey, startNodeIn, stopNode, type MeshNode } from '../test/helpers/sim-mesh.js'
import { PmClients, cliIn, newMeshKey, pmPid, startPmNodes, stopPmNodes, waitMeshConverged, type PmNode } from './lib/pm.js'
import { innerPid, openSimNet, procUsage } from './lib/sim.js'
import { availableParallelism } from 'node:os'
import { sleep } from './lib/stats.js'
import { measureWindow, type Window } from './rows/mesh.js'
import { CONTROL_API } from '../protocols/control-api.js'
import type { LsEntry } from '../protocols/control.js'
import { parseCopyName } from '../protocols/deploy.js'

export interface LostHostRun { detectionMs: number, placementMs: number, startMs: number, totalMs: number }
export interface DeployBenchResult { hosts: number, runs: LostHostRun[], total?: Stats, failures: string[] }

const SERVICE = ['sh', '-c', 'while :; do sleep 1; done']

/** The time of the first log line after `since` that matches. */
function logTime (log: string, since: number, re: RegExp): number | undefined {
  for (const line of log.split('\n')) {
    const m = /^(\S+Z) /.exec(line)
    if (m === null || !re.test(line)) continue
    const at = Date.parse(m[1])
    if (at >= since) return at
  }
  return undefined
}

async function copiesOn (from: SimHost): Promise<Array<{ host: string, name: string }>> {
  const out: Array<{ host: string, name: string }> = []
  for (const e of await jsonIn<LsEntry[]>(from, ['ls', 'all'], 30_000)) {
    if ('error' in e) continue
    for (const m of e.processes) if (parseCopyName(m.name)?.deployment === 'bench' && m.state === 'running') out.push({ host: e.name, name: m.name ?? '' })
  }
  return out
}

export async function runDeployBench (hosts: number, runs: number, log: (line: string) => void): Promise<DeployBenchResult> {
  const net = await createSimNet({ hosts, prefix: 'pmbd' })
  const nodes = new Map<string, MeshNode>()
  const failures: string[] = []
  const results: LostHostRun[] = []
  try {
    const [admin] = net.hosts
    nodes.set(admin.name, await startNodeIn(admin, [], 90_000))
    await shareMeshKey(admin, net.hosts.slice(1))
    for (const h of net.hosts.slice(1)) nodes.set(h.name, await startNodeIn(h, ['--tag', 'role=web'], 90_000))
    const adminId = await jsonIn<{ peerId: string }>(admin, ['id'])
    for (const h of net.hosts.slice(1)) {
      const r = await jsonIn<unknown>(h, ['trust', 'add', adminId.peerId, '--role', 'exec'])
      if (r === undefined) throw new Error('trust add failed')
    }
    await waitFor(async () => {
      const peers = await jsonIn<Array<{ status: string }>>(admin, ['peers'])
      return peers.length === hosts && peers.every(p => p.status === 'online') ? true : undefined
    }, { timeoutMs: 120_000, intervalMs: 1000, what: 'the mesh to converge' })
    log(`${hosts} hosts up`)
    await jsonIn<unknown>(admin, ['deploy', 'bench', '--on', 'tag:role=web', '--replicas', '3', '--', ...SERVICE])
    for (let run = 0; run < runs; run++) {
      const before = await waitFor(async () => { const c = await copiesOn(admin); return c.length === 3 ? c : undefined }, { timeoutMs: 60_000, intervalMs: 500, what: '3 copies' })
      const lostName = before[run % before.length].host
      const lost = net.hosts.find(h => h.name === lostName) as SimHost
      const t0 = Date.now()
      await lost.linkDown()
      const lostNode = nodes.get(lostName) as MeshNode
      lostNode.proc.kill('SIGKILL')
      const after = await waitFor(async () => {
        const c = await copiesOn(admin)
        const fresh = c.find(x => !before.some(b => b.host === x.host))
        return fresh !== undefined ? fresh : undefined
      }, { timeoutMs: 60_000, intervalMs: 200, what: 'a replacement copy' })
      const node = nodes.get(after.host) as MeshNode
      const text = node.log()
      const detected = logTime(text, t0, new RegExp(`deploy: live hosts \\d+, lost [^\\n]*${lostName}`))
      const placed = logTime(text, t0, /deploy: placed bench-v\d+-\d+ here/)
      const started = logTime(text, t0, /deploy: started bench-v\d+-\d+ \(pid/)
      if (detected === undefined || placed === undefined || started === undefined) {
        failures.push(`run ${run}: log lines missing on ${after.host}`)
      } else {
        const r = { detectionMs: detected - t0, placementMs: placed - detected, startMs: started - placed, totalMs: started - t0 }
        results.push(r)
        log(`run ${run}: lost ${lostName}, copy on ${after.host}: detection ${r.detectionMs} ms, placement ${r.placementMs} ms, start ${r.startMs} ms, total ${r.totalMs} ms`)
      }
      // bring the host back (its copy survived its node) and let the deployment settle at 3
      await lost.linkUp()
      nodes.set(lostName, await startNodeIn(lost, ['--tag', 'role=web'], 90_000))
      await waitFor(async () => { const c = await copiesOn(admin); return c.length === 3 ? c : undefined }, { timeoutMs: 90_000, intervalMs: 1000, what: '3 copies after the host returned' })
    }
  } finally {
    for (const n of nodes.values()) await stopNode(n)
    await net.destroy()
  }
  const total = summarize(results.map(r => r.totalMs))
  return { hosts, runs: results, ...(total !== undefined ? { total } : {}), failures }
}

export interface EveryResult { hosts: number, spreadMs?: Stats, lastMs?: number, missing: string[] }

/**
 * A spec applied on every host: `deploy --replicas every` on one node to the copy running on
 * each of `hosts` hosts (each node's `started` log line against the time the deploy was asked).
 */
export async function runEveryBench (hosts: number, log: (line: string) => void): Promise<EveryResult> {
  const net = await createSimNet({ hosts, prefix: 'pmbe' })
  const nodes: MeshNode[] = []
  try {
    const [admin] = net.hosts
    nodes.push(await startNodeIn(admin, [], 120_000))
    await shareMeshKey(admin, net.hosts.slice(1))
    for (const h of net.hosts.slice(1)) nodes.push(await startNodeIn(h, [], 120_000))
    const adminId = await jsonIn<{ peerId: string }>(admin, ['id'])
    for (const h of net.hosts.slice(1)) await jsonIn<unknown>(h, ['trust', 'add', adminId.peerId, '--role', 'exec'])
    await waitFor(async () => {
      const peers = await jsonIn<Array<{ status: string }>>(admin, ['peers'])
      return peers.length === hosts && peers.every(p => p.status === 'online') ? true : undefined
    }, { timeoutMs: 180_000, intervalMs: 1000, what: 'the mesh to converge' })
    log(`${hosts} hosts up`)
    const t0 = Date.now()
    await jsonIn<unknown>(admin, ['deploy', 'bench', '--on', 'all', '--replicas', 'every', '--', ...SERVICE])
    // the nodes' own log lines, not `ls all`: a poll fanning out to every node each second would
    // add its own load to the 2 CPUs that all 20 nodes share
    const pids = await Promise.all(nodes.map(async n => await innerPid(n.proc)))
    const cpu0 = pids.map(pid => procUsage(pid).cpuSeconds)
    await waitFor(() => nodes.every(n => logTime(n.log(), t0, /deploy: started bench-v1-1 \(pid/) !== undefined) ? true : undefined, { timeoutMs: 120_000, intervalMs: 100, what: `${hosts} copies started` })
    const busy = pids.reduce((sum, pid, i) => sum + procUsage(pid).cpuSeconds - cpu0[i], 0)
    const wall = (Date.now() - t0) / 1000
    log(`the ${hosts} nodes used ${busy.toFixed(1)} CPU-seconds in the ${wall.toFixed(1)} s from the deploy to the last start (${(busy / wall).toFixed(2)} of the machine's ${availableParallelism()} CPUs)`)
    await waitFor(async () => { const c = await copiesOn(admin); return c.length === hosts ? c : undefined }, { timeoutMs: 120_000, intervalMs: 1000, what: `${hosts} copies listed` })
    const times: number[] = []
    const missing: string[] = []
    const issued = logTime(nodes[0].log(), t0, /deploy: issued bench version 1/)
    for (const n of nodes) {
      const text = n.log()
      const at = logTime(text, t0, /deploy: started bench-v1-1 \(pid/)
      if (at === undefined) missing.push(n.host.name)
      else times.push(at - t0)
      // the parts: the spec here (issued, pushed or pulled), placed, started
      const got = n === nodes[0] ? issued : logTime(text, t0, /deploy: (bench version 1 from|\d+ spec\(s\) from)/)
      const placed = logTime(text, t0, /deploy: placed bench-v1-1 here/)
      const rel = (x: number | undefined): string => x === undefined ? '-' : String(x - t0)
      log(`${n.host.name}: spec ${rel(got)} ms, placed ${rel(placed)} ms, started ${rel(at)} ms`)
    }
    const spreadMs = summarize(times)
    return { hosts, ...(spreadMs !== undefined ? { spreadMs, lastMs: spreadMs.max } : {}), missing }
  } finally {
    for (const n of nodes) await stopNode(n)
    await net.destroy()
  }
}

export interface IdleResult {
  hosts: number
  deployments: number
  copies: number
  windowMs: number
  without: Pick<Window, 'tx' | 'rx' | 'cpu'>
  with: Pick<Window, 'tx' | 'rx' | 'cpu'>
}

/** The scale issue's idle budget per node at 20 hosts (README, "How the mesh stays cheap"). */
const IDLE_BUDGET = { txBytesPerSecond: 2048, cpuPercent: 0.5 }

async function pmJson<T> (node: PmNode, args: string[]): Promise<T> {
  // --json right after the command name: after a `--` every word is the command's
  const r = await cliIn(node, 'package', [args[0], '--json', ...args.slice(1)], 60_000)
  if (r.code !== 0) throw new Error(`procmesh ${args.join(' ')} in ${node.host.name} exited ${String(r.code)}: ${r.stderr.trim()}`)
  return JSON.parse(r.stdout) as T
}

/**
 * Idle cost of `deployments` deployments on a mesh of `hosts`: half with 3 replicas on all
 * hosts, half with one copy on every host (the most digest entries and copies a node can have
 * per deployment), each copy a `sleep` that costs nothing itself.
 */
export async function runIdleBench (hosts: number, deployments: number, windowMs: number, log: (line: string) => void): Promise<IdleResult> {
  const net = await openSimNet(hosts)
  let nodes: PmNode[] = []
  const clients = new PmClients()
  try {
    nodes = await startPmNodes(net.hosts, { meshKey: newMeshKey() })
    await waitMeshConverged(nodes, clients, 180_000)
    const [admin] = nodes
    const adminId = (await pmJson<{ peerId: string }>(admin, ['id'])).peerId
    for (const n of nodes.slice(1)) await pmJson<unknown>(n, ['trust', 'add', adminId, '--role', 'exec'])
    const pids = await Promise.all(nodes.map(async n => await pmPid(n)))
    log(`${hosts} hosts up; settling`)
    await sleep(15_000)
    const without = await measureWindow(net.hosts, pids, windowMs)
    log(`no deployment: ${fmtWindow(without)}`)
    let copies = 0
    for (let i = 0; i < deployments; i++) {
      const every = i % 2 === 1
      copies += every ? hosts : Math.min(3, hosts)
      await pmJson<unknown>(admin, ['deploy', `idle${i}`, '--on', 'all', '--replicas', every ? 'every' : '3', '--', 'sleep', '1000000'])
    }
    const t0 = Date.now()
    await waitFor(async () => {
      const status = await clients.call(admin, CONTROL_API.deployments, {}, 30_000)
      const running = status.reduce((sum, d) => sum + d.running, 0)
      return running === copies ? running : undefined
    }, { timeoutMs: 180_000, intervalMs: 1000, what: `${copies} copies running` })
    log(`${deployments} deployments, ${copies} copies running ${Date.now() - t0} ms after the last deploy; settling`)
    await sleep(15_000)
    const withDeployments = await measureWindow(net.hosts, pids, windowMs)
    log(`${deployments} deployments: ${fmtWindow(withDeployments)}`)
    const pick = (w: Window): Pick<Window, 'tx' | 'rx' | 'cpu'> => ({ tx: w.tx, rx: w.rx, cpu: w.cpu })
    return { hosts, deployments, copies, windowMs, without: pick(without), with: pick(withDeployments) }
  } finally {
    clients.closeAll()
    await stopPmNodes(nodes)
    await net.destroy()
  }
}

function fmtWindow (w: Pick<Window, 'tx' | 'cpu'>): string {
  const kb = (x: number | undefined): string => x === undefined ? '-' : (x / 1024).toFixed(2)
  const pc = (x: number | undefined): string => x === undefined ? '-' : x.toFixed(2)
  return `sent ${kb(w.tx?.median)} KB/s (max ${kb(w.tx?.max)}), CPU ${pc(w.cpu?.median)}% (max ${pc(w.cpu?.max)}%) per node`
}

function idleTable (r: IdleResult): string {
  const met = (w: Pick<Window, 'tx' | 'cpu'>): string =>
    `bytes ${(w.tx?.median ?? Infinity) <= IDLE_BUDGET.txBytesPerSecond ? 'met' : 'missed'}, CPU ${(w.cpu?.median ?? Infinity) <= IDLE_BUDGET.cpuPercent ? 'met' : 'missed'}`
  return [
    `idle cost of deployments, ${r.hosts} hosts, ${r.windowMs / 1000} s windows (median and max over the nodes)`,
    `  no deployment:                        ${fmtWindow(r.without)}`,
    `  ${r.deployments} deployments (${r.copies} copies):          ${fmtWindow(r.with)}`,
    `  budget per node at 20 hosts (scale issue): <= ${IDLE_BUDGET.txBytesPerSecond / 1024} KB/s, <= ${IDLE_BUDGET.cpuPercent}% of a core: with deployments ${met(r.with)}; without ${met(r.without)}`
  ].join('\n')
}

function table (r: DeployBenchResult): string {
  const lines = [`host lost (link cut) -> replacement copy running, ${r.hosts} hosts, default settings`]
  for (const [i, x] of r.runs.entries()) lines.push(`  run ${i + 1}: detection ${x.detectionMs} ms + placement ${x.placementMs} ms + start ${x.startMs} ms = ${x.totalMs} ms`)
  if (r.total !== undefined) lines.push(`  total median ${r.total.median} ms, max ${r.total.max} ms (target < 5000 ms)`)
  lines.push('  Nomad (documented defaults): node lost after heartbeat TTL 10 s + grace 10 s: ~20 s before rescheduling')
  lines.push('  Kubernetes (documented defaults): NotReady after ~40 s, pod eviction 300 s later: ~340 s')
  for (const f of r.failures) lines.push(`  ! ${f}`)
  return lines.join('\n')
}

if (invokedDirectly(import.meta.url)) {
  const { values } = parseArgs({
    options: { hosts: { type: 'string' }, runs: { type: 'string' }, every: { type: 'boolean' }, idle: { type: 'boolean' }, deployments: { type: 'string' }, window: { type: 'string' }, json: { type: 'boolean' } }
  })
  if (values.idle === true) {
    const r = await runIdleBench(Number(values.hosts ?? 20), Number(values.deployments ?? 10), Number(values.window ?? 60) * 1000, line => { process.stderr.write(`${line}\n`) })
    printResult(values.json === true, idleTable(r), r)
  } else if (values.every === true) {
    const r = await runEveryBench(Number(values.hosts ?? 20), line => { process.stderr.write(`${line}\n`) })
    printResult(values.json === true, `deploy --replicas every on ${r.hosts} hosts -> copy running on each: median ${r.spreadMs?.median ?? '-'} ms, last ${r.lastMs ?? '-'} ms (target < 2000 ms)${r.missing.length > 0 ? `; no start logged on ${r.missing.join(' ')}` : ''}`, r)
  } else {
    const result = await runDeployBench(Number(values.hosts ?? 10), Number(values.runs ?? 3), line => { process.stderr.write(`${line}\n`) })
    printResult(values.json === true, table(result), result)
  }
}

/**
 * Rows 2, 3, 4 (fan-out) and 6 at one mesh size: N simulated hosts each running a procmesh node
 * and a Serf agent, both discovering each other by mDNS on the hosts' private LAN.
 *
 * Order, so that each measurement sees the state it needs and no more:
 *  1. procmesh on all N hosts; gossip bytes of procmesh alone (row 6)
 *  2. Serf on all N hosts; propagation (row 3) and fan-out (row 4), both running, alternating
 *  3. host N leaves both; join of a fresh node on host N, alternating procmesh / Serf (row 2)
 *  4. procmesh stopped, a fresh Serf cluster on all N; gossip bytes of Serf alone (row 6)
 */
import type { SimHost, SimNet } from '../../testkit/sim-hosts.js'
import type { ChildProcess } from 'node:child_process'
import { keepAliveMs, PID_WATCH_MS } from '../../protocols/limits.js'
import { CONTROL_API } from '../../protocols/control-api.js'
import type { PsEntry } from '../../protocols/control.js'
import { encodeSummary } from '../../protocols/summary.js'
import type { PeerEntry, Summary } from '../../protocols/types.js'
import { FLAVOR_LABEL, type Flavor } from '../lib/flavors.js'
import { LineLog, within } from '../lib/lines.js'
import {
  DEFAULT_INTERVAL_MS, PmClients, cliIn, joinedLine, newMeshKey, pmPid, spawnPmNode, startPmNodes, stopPmNodes, waitMeshConverged,
  waitPmReady, type PmNode
} from '../lib/pm.js'
import type { BenchRow, Side } from '../lib/report.js'
import {
  SERF_QUERY, serfEventLine, serfJoinedLine, serfPid, spawnSerf, startSerfAgents, stopSerfAgents,
  waitSerfConverged, type SerfAgent
} from '../lib/serf.js'
import { addReadyHost, hostProcCount, netBytes, openSimNet, procUsage, stopChild } from '../lib/sim.js'
import { alternate, nowMs, ratio, sleep, summarize, type Stats } from '../lib/stats.js'

export interface MeshPhases { join: boolean, propagation: boolean, query: boolean, bytes: boolean }

export interface MeshOptions {
  size: number
  phases: MeshPhases
  joinRounds: number
  propagationRounds: number
  /** summaries of one node timed from publish to arrival everywhere */
  disseminationSamples: number
  queryRounds: number
  bytesWindowMs: number
  intervalMs: number
  /** how the mesh's nodes and CLI run */
  flavor: Flavor
  /** the flavors whose join is timed (start-up differs), the first one is the headline */
  joinFlavors: Flavor[]
  log: (line: string) => void
}

/** A join that takes longer counts as failed: mDNS re-queries every 5 s, so this allows two misses. */
const JOIN_TIMEOUT_MS = 15_000
const EVENT_TIMEOUT_MS = 5000
const CONVERGE_TIMEOUT_MS = 120_000
/**
 * After daemons start or stop, let connections settle before counting bytes: a node started last
 * is dialled by the others at their next mDNS query (every 5 s), see startPmNodes.
 */
const SETTLE_MS = 6000
const BETWEEN_RUNS_MS = 300
/** a join's network part (node ready to last view) above this means its first summary was lost */
const LATE_JOIN_MS = 1000
/** joiner names: j<size><tag><run>, Serf's are j<size>s<run> */
const JOINER_TAG: Record<Flavor, string> = { package: 'p', executable: 'x', source: 'c' }

export interface MeshResult {
  rows: BenchRow[]
  /** phases that failed (the others' rows are still there) */
  failures: string[]
}

export async function runMeshSize (opts: MeshOptions): Promise<MeshResult> {
  const { size: n, log } = opts
  const rows: BenchRow[] = []
  const failures: string[] = []
  const phase = async (name: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn()
    } catch (err: unknown) {
      const message = err instanceof Error ? err.message : String(err)
      log(`mesh of ${n}: ${name} FAILED: ${message}`)
      failures.push(`${name} at ${n} hosts: ${message.split('\n')[0]}`)
    }
  }
  log(`mesh of ${n}: creating hosts`)
  const net = await openSimNet(n)
  // the join adds hosts to the LAN; everything else runs on these
  const hosts = net.hosts.slice(0, n)
  const clients = new PmClients()
  let pm: PmNode[] = []
  let serf: SerfAgent[] = []
  try {
    const meshKey = newMeshKey()
    const startedAt = nowMs()
    pm = await startPmNodes(hosts, { meshKey, intervalMs: opts.intervalMs, flavor: opts.flavor })
    const startMs = nowMs() - startedAt
    const convergeMs = await waitMeshConverged(pm, clients, CONVERGE_TIMEOUT_MS)
    log(`mesh of ${n}: procmesh nodes up in ${(startMs / 1000).toFixed(1)} s, converged ${(convergeMs / 1000).toFixed(1)} s later`)

    let pmWindow: Window | undefined
    if (opts.phases.bytes) {
      await phase('procmesh gossip bytes', async () => {
        await sleep(SETTLE_MS)
        pmWindow = await measureWindow(hosts, await Promise.all(pm.map(async node => await pmPid(node))), opts.bytesWindowMs)
        pmWindow.summaryBytes = await summarySize(pm[0], clients)
        log(`mesh of ${n}: procmesh sends ${fmtRate(pmWindow.tx)} per node, uses ${fmtCpu(pmWindow.cpu)} of a core per node`)
      })
    }

    serf = await startSerfAgents(hosts)
    await waitSerfConverged(serf, CONVERGE_TIMEOUT_MS)

    if (opts.phases.propagation) await phase('propagation', async () => { rows.push(...await propagation(opts, pm, serf, clients)) })
    if (opts.phases.query) await phase('fan-out', async () => { rows.push(...await fanOut(opts, pm, serf, clients)) })
    if (opts.phases.join) await phase('join', async () => { rows.push(...await join(opts, net, meshKey, pm, serf)) })

    if (opts.phases.bytes) {
      await phase('serf gossip bytes', async () => {
        clients.closeAll()
        await stopPmNodes(pm)
        pm = []
        await stopSerfAgents(serf)
        serf = await startSerfAgents(hosts)
        await waitSerfConverged(serf, CONVERGE_TIMEOUT_MS)
        await sleep(SETTLE_MS)
        const serfWindow = await measureWindow(hosts, await Promise.all(serf.map(async agent => await serfPid(agent))), opts.bytesWindowMs)
        log(`mesh of ${n}: serf sends ${fmtRate(serfWindow.tx)} per node, uses ${fmtCpu(serfWindow.cpu)} of a core per agent`)
        rows.push(...bytesRows(opts, pmWindow, serfWindow))
      })
    }
  } finally {
    clients.closeAll()
    await stopPmNodes(pm).catch(() => {})
    await stopSerfAgents(serf).catch(() => {})
    await net.destroy()
  }
  return { rows, failures }
}

// ---- row 2: join ----

async function join (opts: MeshOptions, net: SimNet, meshKey: string, pm: PmNode[], serf: SerfAgent[]): Promise<BenchRow[]> {
  const n = opts.size
  const pmBase = pm.slice(0, n - 1)
  const serfBase = serf.slice(0, n - 1)
  // host N leaves both meshes; every run then brings a fresh node on a fresh host (new identity, new
  // name, new address). A fresh address matters: gossipsub scores peers by IP (colocation penalty
  // above 10 peer ids per IP, remembered for an hour), so a dozen fresh identities from one address
  // get graylisted and their summaries dropped; and the others re-dial stopped joiners for a while.
  await stopChild(pm[n - 1].child)
  await stopChild(serf[n - 1].child, 'SIGINT')
  const joinerHosts = new Map<string, SimHost>()
  const names = [...opts.joinFlavors.map(f => JOINER_TAG[f]), 's'].flatMap(tag => Array.from({ length: opts.joinRounds }, (_v, i) => `j${n}${tag}${i}`))
  await Promise.all(names.map(async name => { joinerHosts.set(name, await addReadyHost(net, name)) }))
  const hostFor = (name: string): SimHost => {
    const host = joinerHosts.get(name)
    if (host === undefined) throw new Error(`no joiner host ${name}`)
    return host
  }
  await sleep(1000)
  const startup: Record<string, number[]> = {}
  /** joins whose network part (ready to last view) took over a second: the first summary was lost */
  const late: Record<string, number> = {}
  const counters: Record<string, number> = { serf: 0 }
  const pmJoin = async (flavor: Flavor): Promise<number | undefined> => {
    const name = `j${n}${JOINER_TAG[flavor]}${counters[flavor]++}`
    const node = await spawnPmNode(hostFor(name), { name, meshKey, intervalMs: opts.intervalMs, flavor })
    const readyAt = waitPmReady(node, JOIN_TIMEOUT_MS).catch(() => undefined)
    const arrived: Array<number | undefined> = pmBase.map(() => undefined)
    const seen = await within(Promise.all(pmBase.map(async (b, i) => { arrived[i] = await b.lines.next(joinedLine(name), node.spawnedAt); return arrived[i] ?? 0 })), JOIN_TIMEOUT_MS)
    const ready = await readyAt
    if (ready !== undefined) startup[flavor].push(ready - node.spawnedAt)
    if (ready !== undefined && seen !== undefined && Math.max(...seen) - ready > LATE_JOIN_MS) late[flavor]++
    await stopChild(node.child)
    if (seen === undefined) {
      for (const b of pmBase) b.lines.cancelWaiters()
      const missing = pmBase.filter((_b, i) => arrived[i] === undefined).map(b => b.name)
      const first = pmBase.find(b => b.name === missing[0])
      opts.log(`join ${name}: not in the views of ${missing.join(', ')} within ${JOIN_TIMEOUT_MS} ms (ready after ${ready === undefined ? '?' : Math.round(ready - node.spawnedAt)} ms); its log:\n${node.lines.tail(15)}\n${first?.name ?? ''}'s log:\n${first?.lines.tail(15) ?? ''}`)
      return undefined
    }
    return Math.max(...seen) - node.spawnedAt
  }
  const sides: Record<string, () => Promise<number | undefined>> = {}
  for (const flavor of opts.joinFlavors) {
    startup[flavor] = []
    late[flavor] = 0
    counters[flavor] = 0
    sides[flavor] = async () => await pmJoin(flavor)
  }
  sides.serf = async () => {
    const name = `j${n}s${counters.serf++}`
    const agent = spawnSerf(hostFor(name), name)
    const seen = await within(Promise.all(serfBase.map(async b => await b.lines.next(serfJoinedLine(name), agent.spawnedAt))), JOIN_TIMEOUT_MS)
    await stopChild(agent.child, 'SIGINT')
    if (seen === undefined) {
      for (const b of serfBase) b.lines.cancelWaiters()
      opts.log(`join ${name}: not alive everywhere within ${JOIN_TIMEOUT_MS} ms`)
      return undefined
    }
    return Math.max(...seen) - agent.spawnedAt
  }
  const runs = await alternate(opts.joinRounds, sides, { between: async () => { await sleep(BETWEEN_RUNS_MS) } })
  const serfSide: Side = { tool: 'serf agent -discover: alive in every member list', unit: 'ms', stats: summarize(runs.serf.values), failures: runs.serf.failures }
  opts.log(`join at ${n}: ${opts.joinFlavors.map(f => `procmesh ${f} ${fmt(summarize(runs[f].values))} (start-up ${fmt(summarize(startup[f]))})`).join(', ')}, serf ${fmt(serfSide.stats)}`)
  return opts.joinFlavors.map((flavor, i): BenchRow => {
    const pmSide: Side = { tool: `procmesh node, ${FLAVOR_LABEL[flavor]}: online with its first summary in every view`, unit: 'ms', stats: summarize(runs[flavor].values), failures: runs[flavor].failures }
    const start = summarize(startup[flavor])
    const r = ratio(pmSide.stats, serfSide.stats)
    return {
      row: 2,
      key: i === 0 ? `join@${n}` : `join-${flavor}@${n}`,
      title: i === 0 ? 'join: a new host visible on every other host (from process start)' : `join, procmesh run as the ${FLAVOR_LABEL[flavor]}`,
      hosts: n,
      procmesh: pmSide,
      peer: serfSide,
      ratio: r,
      target: n === 5
        ? { text: '< 1 s at 5 hosts and faster than Serf', met: pmSide.stats === undefined || serfSide.stats === undefined ? undefined : pmSide.stats.median < 1000 && pmSide.stats.median < serfSide.stats.median }
        : { text: 'faster than Serf', met: r === undefined ? undefined : r < 1 },
      notes: start === undefined
        ? []
        : [`start-up (spawn to control socket listening) median ${start.median.toFixed(0)} ms; the rest is mDNS, dial, pnet + Noise, gossipsub subscription and the first summary. In ${late[flavor]} of ${runs[flavor].values.length} runs that rest took over ${LATE_JOIN_MS / 1000} s: the first summary arrived a sampling interval later (traced: the greeting published on the peer's subscription found no outbound gossipsub stream yet and was dropped)${i === 0 ? '. Every run is a fresh host (address, hostname, identity); flavors and Serf alternate. A Serf agent is one Go binary that starts in a few ms.' : ''}`]
    }
  })
}

// ---- row 3: propagation ----

async function propagation (opts: MeshOptions, pm: PmNode[], serf: SerfAgent[], clients: PmClients): Promise<BenchRow[]> {
  const n = opts.size
  const origin = pm[0]
  const others = pm.slice(1)
  const serfOrigin = serf[0]
  const serfOthers = serf.slice(1)

  // (a) publish -> arrival on every other node, for consecutive summaries of one node
  const dissemination = await summaryDissemination(opts, origin, others, clients)

  // (b) a change (a new process) -> visible on every other node; vs a Serf user event, alternating
  let eventNo = 0
  const serfDissemination: number[] = []
  const runs = await alternate(opts.propagationRounds, {
    procmesh: async () => await processChangeVisible(opts, origin, others, clients),
    serf: async () => {
      const event = `pmbev${n}x${eventNo++}`
      const t0 = nowMs()
      const sent = await serfOrigin.host.exec(['serf', 'event', '-coalesce=false', event, 'x'], { timeoutMs: EVENT_TIMEOUT_MS })
      if (sent.code !== 0) return undefined
      const atOrigin = await within(serfOrigin.lines.next(serfEventLine(event), t0), EVENT_TIMEOUT_MS)
      const seen = await within(Promise.all(serfOthers.map(async a => await a.lines.next(serfEventLine(event), t0))), EVENT_TIMEOUT_MS)
      if (seen === undefined || atOrigin === undefined) {
        for (const a of serf) a.lines.cancelWaiters()
        return undefined
      }
      serfDissemination.push(Math.max(...seen) - atOrigin)
      return Math.max(...seen) - t0
    }
  }, { between: async () => { await sleep(BETWEEN_RUNS_MS) } })

  const serfDis = summarize(serfDissemination)
  const pmDis: Side = { tool: 'summary publish -> arrival on all', unit: 'ms', stats: dissemination.stats, failures: dissemination.incomplete }
  const pmChange: Side = { tool: 'new process -> in every view (delta)', unit: 'ms', stats: summarize(runs.procmesh.values), failures: runs.procmesh.failures }
  opts.log(`propagation at ${n}: summary ${fmt(pmDis.stats)}, change ${fmt(pmChange.stats)}, serf event ${fmt(summarize(runs.serf.values))} (dissemination ${fmt(serfDis)})`)
  const under1s = (s: Stats | undefined): boolean | undefined => s === undefined ? undefined : s.p99 < 1000
  return [
    {
      row: 3,
      key: `propagation-transport@${n}`,
      title: 'propagation: one message to all other hosts (transport)',
      hosts: n,
      procmesh: pmDis,
      peer: { tool: 'serf user event: origin agent -> all agents', unit: 'ms', stats: serfDis, failures: runs.serf.failures },
      ratio: ratio(pmDis.stats, serfDis),
      target: n === 20 ? { text: 'p99 < 1 s at 20 hosts', met: under1s(pmDis.stats) } : undefined,
      notes: [
        'procmesh: the publishing node\'s own view entry is stamped at publish (the `at` of the summary) and each receiver stamps arrival (`lastSeen`), both on the one machine clock; polled at a quarter interval so every summary is caught.',
        'Serf: from the origin agent logging the event to the last other agent logging it (`-coalesce=false`). Serf queues broadcasts for its 200 ms gossip tick; procmesh sends a delta to its gossipsub mesh peers at once.'
      ]
    },
    {
      row: 3,
      key: `propagation-change@${n}`,
      title: 'propagation: a change on one host visible on all others',
      hosts: n,
      procmesh: pmChange,
      peer: { tool: '`serf event` run -> handled by all agents', unit: 'ms', stats: summarize(runs.serf.values), failures: runs.serf.failures },
      ratio: ratio(pmChange.stats, summarize(runs.serf.values)),
      target: n === 20 ? { text: 'p99 < 1 s at 20 hosts', met: under1s(pmChange.stats) } : undefined,
      notes: [
        `procmesh: \`sleep\` started on the origin host -> every other node lists the origin with the new process count; includes the pid watcher noticing it (every ${PID_WATCH_MS} ms), a /proc scan and the delta's gossip. Serf: a user event sent by the \`serf event\` CLI, which carries no host state at all; the like-for-like transport figure is the row above.`
      ]
    }
  ]
}

/**
 * One message from the origin to every other node. Gossip is change-driven, so each sample makes
 * a change: a process started on the origin host. The origin's own entry is stamped when it
 * publishes (its `lastSeen`), each receiver stamps arrival (`lastSeen` of the origin), both on
 * the one machine clock.
 */
async function summaryDissemination (opts: MeshOptions, origin: PmNode, others: PmNode[], clients: PmClients): Promise<{ stats: Stats | undefined, incomplete: number }> {
  const latencies: number[] = []
  let incomplete = 0
  const markers: ChildProcess[] = []
  try {
    for (let k = 0; k < opts.disseminationSamples; k++) {
      const before = (await clients.peers(origin).catch((): PeerEntry[] => [])).find(p => p.self)?.lastSeen ?? 0
      markers.push(origin.host.spawn(['sleep', '3600']))
      const deadline = nowMs() + 3 * opts.intervalMs + 2000
      let published: number | undefined
      const arrivals = new Map<number, number>()
      while (nowMs() < deadline && (published === undefined || arrivals.size < others.length)) {
        const views = await Promise.all([origin, ...others].map(async node => await clients.peers(node).catch((): PeerEntry[] => [])))
        const self = views[0].find(p => p.self)
        if (published === undefined && self !== undefined && self.lastSeen > before) published = self.lastSeen
        if (published !== undefined) {
          views.slice(1).forEach((view, i) => {
            const entry = view.find(p => p.name === origin.name)
            if (entry !== undefined && entry.lastSeen >= (published ?? Infinity) && !arrivals.has(i)) arrivals.set(i, entry.lastSeen)
          })
        }
        await sleep(opts.intervalMs / 16)
      }
      if (published === undefined || arrivals.size < others.length) incomplete++
      else latencies.push(Math.max(...arrivals.values()) - published)
      await sleep(BETWEEN_RUNS_MS)
    }
  } finally {
    await Promise.all(markers.map(async m => { await stopChild(m, 'SIGKILL') }))
  }
  return { stats: summarize(latencies), incomplete }
}

async function processChangeVisible (opts: MeshOptions, origin: PmNode, others: PmNode[], clients: PmClients): Promise<number | undefined> {
  const expected = await hostProcCount(origin.host) + 1
  const t0 = Date.now()
  const marker = origin.host.spawn(['sleep', '3600'])
  const seen = new Map<number, number>()
  const deadline = nowMs() + 3 * opts.intervalMs + 2000
  try {
    while (seen.size < others.length && nowMs() < deadline) {
      await Promise.all(others.map(async (node, i) => {
        if (seen.has(i)) return
        const entry = (await clients.peers(node).catch((): PeerEntry[] => [])).find(p => p.name === origin.name)
        if (entry !== undefined && entry.lastSeen >= t0 && entry.procCount >= expected) seen.set(i, entry.lastSeen)
      }))
      // lastSeen is the arrival time the node stamped itself: polling only has to be well inside an interval
      await sleep(opts.intervalMs / 8)
    }
  } finally {
    await stopChild(marker, 'SIGKILL')
  }
  if (seen.size < others.length) {
    opts.log(`change on ${origin.name}: seen by ${seen.size} of ${others.length} nodes`)
    return undefined
  }
  return Math.max(...seen.values()) - t0
}

// ---- row 4: fan-out query ----

async function fanOut (opts: MeshOptions, pm: PmNode[], serf: SerfAgent[], clients: PmClients): Promise<BenchRow[]> {
  const n = opts.size
  const origin = pm[0]
  const okEntries = (entries: PsEntry[]): number => entries.filter(e => 'processes' in e).length
  const runs = await alternate(opts.queryRounds, {
    procmeshCli: async () => {
      const t0 = nowMs()
      const r = await cliIn(origin, opts.flavor, ['ps', 'all', '--json'])
      const wall = nowMs() - t0
      if (r.code !== 0) return undefined
      return okEntries(JSON.parse(r.stdout) as PsEntry[]) === n ? wall : undefined
    },
    procmeshApi: async () => {
      const t0 = nowMs()
      const entries = await clients.call(origin, CONTROL_API.ps, { target: 'all' }, 30_000).catch(() => [])
      const ms = nowMs() - t0
      return okEntries(entries) === n ? ms : undefined
    },
    serf: async () => {
      const t0 = nowMs()
      const query = serf[0].host.spawn(['serf', 'query', '-timeout', '5s', SERF_QUERY])
      const lines = new LineLog(query)
      const all = lines.nth(l => l.startsWith('Response from'), t0, n)
      const done = await within(all, EVENT_TIMEOUT_MS + 1000)
      lines.cancelWaiters()
      await stopChild(query, 'SIGKILL')
      return done === undefined ? undefined : done - t0
    }
  }, { between: async () => { await sleep(BETWEEN_RUNS_MS) } })
  const cli: Side = { tool: `\`procmesh ps all --json\`, ${FLAVOR_LABEL[opts.flavor]} (CLI start to exit)`, unit: 'ms', stats: summarize(runs.procmeshCli.values), failures: runs.procmeshCli.failures }
  const api: Side = { tool: 'control API `ps all` (warm client)', unit: 'ms', stats: summarize(runs.procmeshApi.values), failures: runs.procmeshApi.failures }
  const serfSide: Side = { tool: '`serf query` (CLI start to last answer)', unit: 'ms', stats: summarize(runs.serf.values), failures: runs.serf.failures }
  opts.log(`fan-out at ${n}: procmesh CLI ${fmt(cli.stats)}, API ${fmt(api.stats)}, serf query ${fmt(serfSide.stats)}`)
  const fasterThanSerf = (s: Stats | undefined): boolean | undefined => s === undefined || serfSide.stats === undefined ? undefined : s.median < serfSide.stats.median
  return [
    {
      row: 4,
      key: `fanout-cli@${n}`,
      title: 'query all hosts: time to the last answer (CLI)',
      hosts: n,
      procmesh: cli,
      peer: serfSide,
      ratio: ratio(cli.stats, serfSide.stats),
      target: n === 5
        ? { text: 'faster than Serf; < 400 ms wall at 5 hosts', met: cli.stats === undefined ? undefined : (fasterThanSerf(cli.stats) ?? false) && cli.stats.median < 400 }
        : { text: 'faster than Serf', met: fasterThanSerf(cli.stats) },
      notes: ['procmesh returns every process of every host; a Serf query answer is capped at 1 KiB, so its handler returns one line (/proc/loadavg). The CLI figure includes Node.js start-up of the procmesh client; the Serf CLI is a Go binary.']
    },
    {
      row: 4,
      key: `fanout-api@${n}`,
      title: 'query all hosts: time to the last answer (procmesh without CLI start)',
      hosts: n,
      procmesh: api,
      peer: serfSide,
      ratio: ratio(api.stats, serfSide.stats),
      target: { text: 'faster than Serf', met: fasterThanSerf(api.stats) }
    }
  ]
}

// ---- row 6: gossip bytes ----

/** The JSON size of another node's current summary, rebuilt from a view entry (protocols/summary.ts). */
async function summarySize (node: PmNode, clients: PmClients): Promise<number | undefined> {
  const entry = (await clients.peers(node).catch((): PeerEntry[] => [])).find(p => !p.self)
  if (entry === undefined) return undefined
  const summary: Summary = {
    v: 1,
    peerId: entry.peerId,
    name: entry.name,
    tags: entry.tags,
    seq: entry.lastSeen,
    at: entry.lastSeen,
    intervalMs: DEFAULT_INTERVAL_MS,
    host: entry.host,
    procCount: entry.procCount,
    topCpu: entry.topCpu,
    topMem: entry.topMem,
    addrs: entry.addrs,
    version: entry.version
  }
  return encodeSummary(summary).byteLength
}

export interface Window {
  tx: Stats | undefined
  rx: Stats | undefined
  cpu: Stats | undefined
  /** bytes sent per second by each host, in host order */
  txByHost: number[]
  /** JSON size of one summary as gossiped (procmesh only) */
  summaryBytes?: number
}

/** Bytes each host sent and received, and the CPU% of one core each daemon used, over one window. */
export async function measureWindow (hosts: SimHost[], pids: number[], windowMs: number): Promise<Window> {
  const before = await Promise.all(hosts.map(async h => await netBytes(h)))
  const cpuBefore = pids.map(pid => procUsage(pid).cpuSeconds)
  const t0 = nowMs()
  await sleep(windowMs)
  const after = await Promise.all(hosts.map(async h => await netBytes(h)))
  const cpuAfter = pids.map(pid => procUsage(pid).cpuSeconds)
  const seconds = (nowMs() - t0) / 1000
  return {
    txByHost: after.map((a, i) => (a.tx - before[i].tx) / seconds),
    tx: summarize(after.map((a, i) => (a.tx - before[i].tx) / seconds)),
    rx: summarize(after.map((a, i) => (a.rx - before[i].rx) / seconds)),
    cpu: summarize(cpuAfter.map((c, i) => (c - cpuBefore[i]) / seconds * 100))
  }
}

function bytesRows (opts: MeshOptions, pm: Window | undefined, serf: Window | undefined): BenchRow[] {
  const n = opts.size
  const notes = [`bytes sent on each host's eth0 over ${opts.bytesWindowMs / 1000} s with only that system running (stats over the ${n} hosts: median and max)`]
  if (pm?.tx !== undefined && pm.rx !== undefined && n > 1) {
    // idle, every node hears each other node's keep-alive once per period (and little else)
    const messagesPerSecond = (n - 1) * 1000 / keepAliveMs(n)
    const rxPerMessage = pm.rx.mean / messagesPerSecond
    const size = pm.summaryBytes
    notes.push(`procmesh: each node receives ${(pm.rx.mean / 1024).toFixed(2)} KB/s on average, ${rxPerMessage.toFixed(0)} bytes on the wire per keep-alive of another node (everything included: probes, gossipsub control, TCP/IP)${size === undefined ? '' : `; a full summary is ${size} bytes of JSON`}`)
    const top = pm.txByHost.map((b, i) => ({ b, i })).sort((x, y) => y.b - x.b).slice(0, 3)
    notes.push(`procmesh, busiest senders: ${top.map(t => `host-${t.i + 1} ${(t.b / 1024).toFixed(1)} KB/s`).join(', ')}`)
  }
  return [
    {
      row: 6,
      key: `gossip-bytes@${n}`,
      title: 'gossip bytes sent per node per second (idle mesh)',
      hosts: n,
      procmesh: { tool: 'procmesh summaries (gossipsub)', unit: 'B/s', stats: pm?.tx },
      peer: { tool: 'serf (memberlist gossip)', unit: 'B/s', stats: serf?.tx },
      ratio: ratio(pm?.tx, serf?.tx),
      notes
    },
    {
      row: 6,
      key: `mesh-idle-cpu@${n}`,
      title: 'idle CPU per daemon in the mesh (same window)',
      hosts: n,
      procmesh: { tool: `procmesh node (--interval ${opts.intervalMs / 1000}s, near-empty host)`, unit: '% of a core', stats: pm?.cpu },
      peer: { tool: 'serf agent', unit: '% of a core', stats: serf?.cpu },
      ratio: ratio(pm?.cpu, serf?.cpu),
      notes: ['median and max over the hosts; each host runs only its daemon and init, so this is the cost of the mesh itself (gossip, heartbeats, connections), not of scanning many processes']
    }
  ]
}

function fmt (s: Stats | undefined): string {
  return s === undefined ? 'n/a' : `${s.median.toFixed(0)} ms (p99 ${s.p99.toFixed(0)})`
}

function fmtCpu (s: Stats | undefined): string {
  return s === undefined ? 'n/a' : `${s.median.toFixed(2)}% (max ${s.max.toFixed(2)}%)`
}

function fmtRate (s: Stats | undefined): string {
  return s === undefined ? 'n/a' : `${(s.median / 1024).toFixed(1)} KB/s (max ${(s.max / 1024).toFixed(1)})`
}

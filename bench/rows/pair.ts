/**
 * Two simulated hosts, A with ~500 processes and B next to it: a remote full process list from B
 * (row 4: procmesh vs Glances' REST processlist), the idle cost of the daemons on A over a window
 * (row 5: procmesh node vs serf agent vs glances server polled every interval from B), and the
 * start + stop round trip of a managed `sleep` through B's own node (issue 3, "row 8").
 */
import { CONTROL_API } from '../../protocols/control-api.js'
import type { PsEntry } from '../../protocols/control.js'
import { FLAVOR_LABEL, type Flavor } from '../lib/flavors.js'
import { Probe, glancesApiVersion, spawnGlances, waitGlancesReady, type GlancesServer } from '../lib/glances.js'
import {
  PmClients, cliIn, newMeshKey, pmPid, startPmNodes, stopPmNodes, waitMeshConverged, type PmNode
} from '../lib/pm.js'
import type { BenchRow, Side } from '../lib/report.js'
import { serfPid, startSerfAgents, stopSerfAgents, waitSerfConverged, type SerfAgent } from '../lib/serf.js'
import { SleepFiller, hostProcCount, innerPid, openSimNet, procUsage, stopChild, type ProcUsage } from '../lib/sim.js'
import { alternate, nowMs, ratio, single, sleep, summarize, type Stats } from '../lib/stats.js'

export interface PairOptions {
  phases: { remoteList: boolean, idle: boolean, control: boolean }
  /** processes on host A */
  procs: number
  listRounds: number
  cliRounds: number
  idleWindowMs: number
  controlRounds: number
  intervalMs: number
  /** how the nodes and the CLI run */
  flavor: Flavor
  /** `glances --version` first line, or undefined when Glances is not installed */
  glances?: string
  serf: boolean
  log: (line: string) => void
}

const RSS_EVERY_MS = 5000
const BETWEEN_RUNS_MS = 250

export async function runPair (opts: PairOptions): Promise<{ rows: BenchRow[], notes: string[] }> {
  const rows: BenchRow[] = []
  const notes: string[] = []
  const net = await openSimNet(2)
  const [a, b] = net.hosts
  const clients = new PmClients()
  let filler: SleepFiller | undefined
  let pm: PmNode[] = []
  let serf: SerfAgent[] = []
  let glances: GlancesServer | undefined
  let probe: Probe | undefined
  try {
    filler = await SleepFiller.start(a, Math.max(0, opts.procs - 6))
    pm = await startPmNodes([a, b], { meshKey: newMeshKey(), intervalMs: opts.intervalMs, flavor: opts.flavor })
    await waitMeshConverged(pm, clients, 60_000)
    if (opts.serf) {
      serf = await startSerfAgents([a, b])
      await waitSerfConverged(serf, 60_000)
    }
    if (opts.glances !== undefined) {
      probe = new Probe(b)
      glances = spawnGlances(a, opts.intervalMs / 1000, glancesApiVersion(opts.glances))
      await waitGlancesReady(glances, probe)
    }
    const procs = await hostProcCount(a)
    opts.log(`pair: host A runs ${procs} processes`)

    if (opts.phases.remoteList) rows.push(...await remoteList(opts, pm, clients, procs, glances, probe))
    if (opts.phases.idle) {
      const idle = await idleCost(opts, pm[0], serf[0], glances, probe, procs)
      rows.push(...idle.rows)
      notes.push(...idle.notes)
    }
    if (opts.phases.control) rows.push(await controlRoundTrip(opts, pm[1], clients))
  } finally {
    clients.closeAll()
    await probe?.stop().catch(() => {})
    if (glances !== undefined) await stopChild(glances.child).catch(() => {})
    await stopSerfAgents(serf).catch(() => {})
    await stopPmNodes(pm).catch(() => {})
    await filler?.stop().catch(() => {})
    await net.destroy()
  }
  return { rows, notes }
}

async function remoteList (opts: PairOptions, pm: PmNode[], clients: PmClients, procs: number, glances: GlancesServer | undefined, probe: Probe | undefined): Promise<BenchRow[]> {
  const [target, viewer] = pm
  const enough = Math.floor(procs * 0.9)
  const pmListed = (entries: PsEntry[]): number => entries.reduce((sum, e) => sum + ('processes' in e ? e.processes.length : 0), 0)
  const warm = await alternate(opts.listRounds, {
    procmesh: async () => {
      const t0 = nowMs()
      const entries = await clients.call(viewer, CONTROL_API.ps, { target: target.name }, 30_000).catch(() => [])
      const ms = nowMs() - t0
      return pmListed(entries) >= enough ? ms : undefined
    },
    glances: async () => {
      if (glances === undefined || probe === undefined) return undefined
      const answer = await probe.get(glances.processListUrl)
      return answer.status === 200 && (answer.items ?? 0) >= enough ? answer.ms : undefined
    },
    // the same list served by the target's own node, no network: what the /proc scan and encoding cost
    local: async () => {
      const t0 = nowMs()
      const entries = await clients.call(target, CONTROL_API.ps, { target: 'self' }, 30_000).catch(() => [])
      const ms = nowMs() - t0
      return pmListed(entries) >= enough ? ms : undefined
    }
  }, { between: async () => { await sleep(BETWEEN_RUNS_MS) } })
  const local = summarize(warm.local.values)
  const cold = await alternate(opts.cliRounds, {
    procmesh: async () => {
      const t0 = nowMs()
      const r = await cliIn(viewer, opts.flavor, ['ps', target.name, '--json'])
      const ms = nowMs() - t0
      return r.code === 0 && pmListed(JSON.parse(r.stdout) as PsEntry[]) >= enough ? ms : undefined
    },
    glances: async () => {
      if (glances === undefined) return undefined
      const t0 = nowMs()
      const r = await viewer.host.exec(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', glances.processListUrl], { timeoutMs: 30_000 })
      const ms = nowMs() - t0
      return r.code === 0 && r.stdout.trim() === '200' ? ms : undefined
    }
  }, { between: async () => { await sleep(BETWEEN_RUNS_MS) } })
  const unavailable = glances === undefined ? 'Glances not installed' : undefined
  const warmPm: Side = { tool: 'control API `ps HOST` (node -> LIST protocol -> peer)', unit: 'ms', stats: summarize(warm.procmesh.values), failures: warm.procmesh.failures }
  const warmGl: Side = { tool: 'Glances REST processlist (kept-alive HTTP)', unit: 'ms', stats: summarize(warm.glances.values), failures: glances === undefined ? undefined : warm.glances.failures, unavailable }
  const coldPm: Side = { tool: `\`procmesh ps HOST --json\`, ${FLAVOR_LABEL[opts.flavor]} (start to exit)`, unit: 'ms', stats: summarize(cold.procmesh.values), failures: cold.procmesh.failures }
  const coldGl: Side = { tool: '`curl` Glances processlist (start to exit)', unit: 'ms', stats: summarize(cold.glances.values), failures: glances === undefined ? undefined : cold.glances.failures, unavailable }
  opts.log(`remote list of ${procs}: procmesh ${warmPm.stats?.median.toFixed(1) ?? 'n/a'} ms, glances ${warmGl.stats?.median.toFixed(1) ?? 'n/a'} ms; CLI ${coldPm.stats?.median.toFixed(0) ?? 'n/a'} ms, curl ${coldGl.stats?.median.toFixed(0) ?? 'n/a'} ms`)
  const cacheNote = `Both serve recent data: procmesh rescans /proc when its latest snapshot is older than 250 ms; Glances answers from its cache for ${opts.intervalMs / 1000} s (-t) / 1 s (--cached-time). Requests ${BETWEEN_RUNS_MS} ms apart, alternating.`
  return [
    {
      row: 4,
      key: `remote-list@${procs}`,
      title: `one remote host's full process list (${procs} processes), warm client`,
      hosts: 2,
      procmesh: warmPm,
      peer: warmGl,
      ratio: ratio(warmPm.stats, warmGl.stats),
      target: { text: 'p50 < 10 ms', met: warmPm.stats === undefined ? undefined : warmPm.stats.median < 10 },
      notes: [cacheNote, `the same list from the target's own node (\`ps self\`, no network): median ${local?.median.toFixed(1) ?? 'n/a'} ms (p99 ${local?.p99.toFixed(1) ?? 'n/a'}); the remote figure adds the LIST protocol round trip and the forwarding node's validation of ${procs} entries`]
    },
    {
      row: 4,
      key: `remote-list-cli@${procs}`,
      title: `one remote host's full process list (${procs} processes), command line`,
      hosts: 2,
      procmesh: coldPm,
      peer: coldGl,
      ratio: ratio(coldPm.stats, coldGl.stats),
      target: { text: '< 250 ms wall', met: coldPm.stats === undefined ? undefined : coldPm.stats.median < 250 },
      notes: ['the procmesh CLI is a Node.js process (start-up included); curl is C, and its figure excludes turning the JSON into a table']
    }
  ]
}

interface IdleSample { cpuPercent: number, rss: Stats | undefined }

async function idleCost (opts: PairOptions, node: PmNode, agent: SerfAgent | undefined, glances: GlancesServer | undefined, probe: Probe | undefined, procs: number): Promise<{ rows: BenchRow[], notes: string[] }> {
  const pids: Record<string, number | undefined> = {
    procmesh: await pmPid(node),
    serf: agent === undefined ? undefined : await serfPid(agent),
    glances: glances === undefined ? undefined : await innerPid(glances.child)
  }
  const names = Object.keys(pids).filter(k => pids[k] !== undefined)
  const start: Record<string, ProcUsage> = {}
  const rss: Record<string, number[]> = {}
  for (const name of names) {
    start[name] = procUsage(pids[name] ?? 0)
    rss[name] = [start[name].rssBytes]
  }
  const t0 = nowMs()
  let polls = 0
  let nextRss = t0 + RSS_EVERY_MS
  opts.log(`idle: measuring ${names.join(', ')} on a ${procs}-process host for ${opts.idleWindowMs / 1000} s`)
  while (nowMs() - t0 < opts.idleWindowMs) {
    const tick = nowMs()
    if (glances !== undefined && probe !== undefined) {
      // a dashboard polling the REST API every interval, as in the issue's figure for Glances
      await probe.get(glances.processListUrl)
      polls++
    }
    if (nowMs() >= nextRss) {
      for (const name of names) rss[name].push(procUsage(pids[name] ?? 0).rssBytes)
      nextRss += RSS_EVERY_MS
    }
    await sleep(Math.max(0, opts.intervalMs - (nowMs() - tick)))
  }
  const seconds = (nowMs() - t0) / 1000
  const result: Record<string, IdleSample> = {}
  for (const name of names) {
    const end = procUsage(pids[name] ?? 0)
    rss[name].push(end.rssBytes)
    result[name] = { cpuPercent: (end.cpuSeconds - start[name].cpuSeconds) / seconds * 100, rss: summarize(rss[name].map(b => b / 2 ** 20)) }
  }
  const cpuSide = (name: string, tool: string): Side => result[name] === undefined
    ? { tool, unit: '% of a core', unavailable: `${name} not installed` }
    : { tool, unit: '% of a core', stats: single(result[name].cpuPercent) }
  const rssSide = (name: string, tool: string): Side => result[name] === undefined
    ? { tool, unit: 'MB', unavailable: `${name} not installed` }
    : { tool, unit: 'MB', stats: result[name].rss === undefined ? undefined : single(result[name].rss?.max ?? 0) }
  const pmCpu = cpuSide('procmesh', `procmesh node, ${FLAVOR_LABEL[opts.flavor]} (--interval ${opts.intervalMs / 1000}s)`)
  const pmRss = rssSide('procmesh', 'procmesh node (max RSS)')
  const window = `${Math.round(seconds)} s`
  const summary = names.map(n => `${n} ${result[n].cpuPercent.toFixed(2)}% / ${(result[n].rss?.max ?? 0).toFixed(0)} MB`).join(', ')
  opts.log(`idle over ${window}: ${summary}`)
  const rows: BenchRow[] = [
    {
      row: 5,
      key: `idle-cpu-vs-glances@${procs}`,
      title: `idle CPU over ${window} on a ${procs}-process host`,
      hosts: 2,
      procmesh: pmCpu,
      peer: cpuSide('glances', `glances -w, REST processlist polled every ${opts.intervalMs / 1000} s (${polls} polls)`),
      ratio: ratio(pmCpu.stats, result.glances === undefined ? undefined : single(result.glances.cpuPercent)),
      target: { text: '< 2% of a core and at or below Glances', met: pmCpu.stats === undefined ? undefined : pmCpu.stats.median < 2 && (result.glances === undefined || pmCpu.stats.median <= result.glances.cpuPercent) }
    },
    {
      row: 5,
      key: `idle-cpu-vs-serf@${procs}`,
      title: `idle CPU over ${window} on a ${procs}-process host`,
      hosts: 2,
      procmesh: pmCpu,
      peer: cpuSide('serf', 'serf agent (membership only, no host data)'),
      ratio: ratio(pmCpu.stats, result.serf === undefined ? undefined : single(result.serf.cpuPercent))
    },
    {
      row: 5,
      key: `idle-rss@${procs}`,
      title: `idle RSS (max over ${window})`,
      hosts: 2,
      procmesh: pmRss,
      peer: rssSide('glances', 'glances -w (max RSS)'),
      ratio: ratio(pmRss.stats, result.glances?.rss === undefined ? undefined : single(result.glances.rss.max)),
      target: { text: '< 100 MB', met: pmRss.stats === undefined ? undefined : pmRss.stats.median < 100 },
      notes: result.serf === undefined ? [] : [`serf agent: ${(result.serf.rss?.max ?? 0).toFixed(0)} MB`]
    }
  ]
  return { rows, notes: [`idle window: ${summary} (CPU from utime+stime of all threads in /proc/PID/stat, RSS sampled every ${RSS_EVERY_MS / 1000} s)`] }
}

async function controlRoundTrip (opts: PairOptions, node: PmNode, clients: PmClients): Promise<BenchRow> {
  const values: number[] = []
  let failure: string | undefined
  for (let i = 0; i < opts.controlRounds && failure === undefined; i++) {
    const t0 = nowMs()
    try {
      const answer = await clients.call(node, CONTROL_API.run, { target: 'self', argv: ['sleep', '600'] })
      if (Array.isArray(answer)) throw new Error('run self answered a group result')
      const run = answer
      const killed = await clients.call(node, CONTROL_API.kill, { target: 'self', pid: run.pid, startTime: run.startTime, signal: 'TERM' })
      if (killed.result === 'gone') throw new Error(`kill of ${run.pid} reported gone`)
      values.push(nowMs() - t0)
    } catch (err: unknown) {
      failure = err instanceof Error ? err.message : String(err)
    }
    await sleep(50)
  }
  const stats = summarize(values)
  opts.log(`start+stop in-node: ${stats === undefined ? `failed: ${failure ?? ''}` : `${stats.median.toFixed(1)} ms (p99 ${stats.p99.toFixed(1)})`}`)
  return {
    row: 8,
    key: 'start-stop-in-node',
    title: 'start + stop of a managed `sleep` through the local node (run, then kill TERM)',
    procmesh: { tool: 'control API run + kill', unit: 'ms', stats, unavailable: stats === undefined ? failure : undefined },
    target: { text: 'p50 < 20 ms', met: stats === undefined ? undefined : stats.median < 20 },
    notes: failure !== undefined && stats !== undefined ? [`stopped early: ${failure}`] : []
  }
}

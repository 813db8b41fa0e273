/**
 * Where an idle node's CPU goes in a mesh of N hosts: every node runs as usual, one of them under
 * V8's sampling profiler (`node --cpu-prof`). Only the samples of the idle window count (not
 * start-up, not shutdown); their self time is grouped by package (node_modules/<pkg>), by
 * procmesh's own module (dist/<dir>/<file>), or by V8's pseudo-frames (GC, program).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Flavor } from '../lib/flavors.js'
import type { ProfileResult, ProfileShare } from '../lib/report.js'
import { PmClients, newMeshKey, pmPid, spawnPmNode, startPmNodes, stopPmNodes, waitMeshConverged, waitPmReady, type PmNode } from '../lib/pm.js'
import { openSimNet, procUsage, stopChild } from '../lib/sim.js'
import { nowMs, sleep, summarize } from '../lib/stats.js'

export interface ProfileOptions {
  hosts: number
  /** how the other nodes run (the profiled one runs from source) */
  flavor: Flavor
  windowMs: number
  intervalMs: number
  log: (line: string) => void
}

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }

const SETTLE_MS = 5000

/** Group a frame: a package under node_modules, a procmesh module, a Node.js internal, or V8's own. */
export function categoryOf (frame: CallFrame): string {
  const url = frame.url
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)'
  const nm = url.lastIndexOf('/node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/')
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
  }
  const dist = url.indexOf('/dist/')
  if (dist >= 0) return `procmesh ${url.slice(dist + '/dist/'.length).replace(/\.js$/, '')}`
  if (url.startsWith('node:')) return url.startsWith('node:internal/') ? `node:${url.split('/')[1]}` : url
  return url
}

export function summarizeProfile (profile: CpuProfile, fromUs: number, toUs: number): { byCategory: ProfileShare[], byFunction: ProfileShare[], inclusive: ProfileShare[] } {
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const categories = new Map<string, number>()
  const functions = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let t = profile.startTime
  let counted = 0
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0
    if (t < fromUs || t > toUs) continue
    const frame = byId.get(profile.samples[i])?.callFrame
    if (frame === undefined || frame.functionName === '(idle)') continue
    counted++
    const category = categoryOf(frame)
    categories.set(category, (categories.get(category) ?? 0) + 1)
    const fn = `${frame.functionName === '' ? '(anonymous)' : frame.functionName} ${category}`
    functions.set(fn, (functions.get(fn) ?? 0) + 1)
    const onStack = new Set<string>()
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)?.callFrame
      if (f !== undefined && f.url !== '') onStack.add(categoryOf(f))
    }
    for (const c of onStack) inclusive.set(c, (inclusive.get(c) ?? 0) + 1)
  }
  const top = (m: Map<string, number>, n: number): ProfileShare[] => [...m.entries()]
    .sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, c]) => ({ name, percent: counted === 0 ? 0 : c / counted * 100 }))
  return { byCategory: top(categories, 12), byFunction: top(functions, 12), inclusive: top(inclusive, 20) }
}

export async function runProfile (opts: ProfileOptions): Promise<ProfileResult> {
  const net = await openSimNet(opts.hosts)
  const dir = await mkdtemp(join(tmpdir(), 'pmbench-prof-'))
  const clients = new PmClients()
  let nodes: PmNode[] = []
  let profiled: PmNode | undefined
  try {
    const meshKey = newMeshKey()
    // from source: the profile then names every package by its node_modules path
    profiled = await spawnPmNode(net.hosts[0], { name: net.hosts[0].name, meshKey, intervalMs: opts.intervalMs, flavor: 'source', nodeFlags: ['--cpu-prof', '--cpu-prof-dir', dir] })
    await waitPmReady(profiled)
    nodes = await startPmNodes(net.hosts.slice(1), { meshKey, intervalMs: opts.intervalMs, flavor: opts.flavor })
    await waitMeshConverged([profiled, ...nodes], clients, 180_000)
    clients.closeAll()
    await sleep(SETTLE_MS)
    const pid = await pmPid(profiled)
    const cpu0 = procUsage(pid).cpuSeconds
    const otherPids = await Promise.all(nodes.map(async n => await pmPid(n)))
    const others0 = otherPids.map(p => procUsage(p).cpuSeconds)
    const from = nowMs()
    opts.log(`profile: ${opts.hosts} hosts, profiling ${profiled.name} for ${opts.windowMs / 1000} s`)
    await sleep(opts.windowMs)
    const to = nowMs()
    const seconds = (to - from) / 1000
    const cpuPercent = (procUsage(pid).cpuSeconds - cpu0) / seconds * 100
    const othersCpuPercent = summarize(otherPids.map((p, i) => (procUsage(p).cpuSeconds - others0[i]) / seconds * 100))?.median ?? 0
    // the profile is written when the node exits cleanly
    await stopChild(profiled.child)
    const file = (await readdir(dir)).find(f => f.endsWith('.cpuprofile'))
    if (file === undefined) throw new Error('the profiled node wrote no .cpuprofile')
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile
    // profile clock: µs, starting about when the process started (spawnedAt)
    const fromUs = profile.startTime + (from - profiled.spawnedAt) * 1000
    const toUs = profile.startTime + (to - profiled.spawnedAt) * 1000
    const shares = summarizeProfile(profile, fromUs, toUs)
    opts.log(`profile: ${profiled.name} used ${cpuPercent.toFixed(2)}% of a core under the profiler (the others ${othersCpuPercent.toFixed(2)}%); top: ${shares.byCategory.slice(0, 6).map(c => `${c.name} ${c.percent.toFixed(0)}%`).join(', ')}`)
    return { hosts: opts.hosts, windowSeconds: seconds, cpuPercent, othersCpuPercent, ...shares }
  } finally {
    clients.closeAll()
    if (profiled !== undefined) await stopChild(profiled.child).catch(() => {})
    await stopPmNodes(nodes).catch(() => {})
    await net.destroy()
    await rm(dir, { recursive: true, force: true })
  }
}

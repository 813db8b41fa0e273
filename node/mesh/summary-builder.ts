/** Build the gossiped summary from a snapshot (pure), keeping it under MAX_SUMMARY_BYTES. */
import { PROCMESH_VERSION } from '../../protocols/ids.js'
import { MAX_ADDR_BYTES, MAX_SUMMARY_ADDRS, MAX_SUMMARY_BYTES, SUMMARY_TOP_N } from '../../protocols/limits.js'
import type { ProcessInfo, Snapshot, Summary, TopProcess } from '../../protocols/types.js'

export interface SummaryIdentity {
  peerId: string
  name: string
  tags: Record<string, string>
  intervalMs: number
  addrs: string[]
}

/** Short process names keep the summary small; the full command line is pulled on request. */
const TOP_NAME_CHARS = 32

function top (processes: ProcessInfo[], by: (p: ProcessInfo) => number): TopProcess[] {
  // a partial selection: O(n * N) beats sorting thousands of processes every interval
  const best: ProcessInfo[] = []
  for (const p of processes) {
    const v = by(p)
    if (best.length === SUMMARY_TOP_N && v <= by(best[best.length - 1])) continue
    let i = best.length
    while (i > 0 && by(best[i - 1]) < v) i--
    best.splice(i, 0, p)
    if (best.length > SUMMARY_TOP_N) best.pop()
  }
  return best.map(p => ({ pid: p.pid, name: p.name.slice(0, TOP_NAME_CHARS), cpuPercent: round1(p.cpuPercent), rss: p.rss }))
}

function round1 (n: number): number {
  return Math.round(n * 10) / 10
}

export function buildSummary (snap: Snapshot, id: SummaryIdentity, seq: number): Summary {
  const summary: Summary = {
    v: 1,
    peerId: id.peerId,
    name: id.name,
    tags: id.tags,
    seq,
    at: snap.collectedAt,
    intervalMs: id.intervalMs,
    host: {
      ...snap.host,
      cpuPercent: round1(Math.min(100, Math.max(0, snap.host.cpuPercent))),
      load: [round2(snap.host.load[0]), round2(snap.host.load[1]), round2(snap.host.load[2])]
    },
    procCount: snap.processes.length,
    topCpu: top(snap.processes, p => p.cpuPercent),
    topMem: top(snap.processes, p => p.rss),
    addrs: id.addrs.filter(a => Buffer.byteLength(a) <= MAX_ADDR_BYTES).slice(0, MAX_SUMMARY_ADDRS),
    version: PROCMESH_VERSION
  }
  // stay under the cap whatever the names and addresses: drop addresses, then top lists
  while (Buffer.byteLength(JSON.stringify(summary)) > MAX_SUMMARY_BYTES) {
    if (summary.addrs.length > 1) summary.addrs.pop()
    else if (summary.topMem.length > 0) summary.topMem.pop()
    else if (summary.topCpu.length > 0) summary.topCpu.pop()
    else break
  }
  return summary
}

function round2 (n: number): number {
  return Math.round(n * 100) / 100
}

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { buildSummary } from '../../../node/mesh/summary-builder.js'
import { encodeSummary, validateSummary } from '../../../protocols/summary.js'
import { MAX_SUMMARY_BYTES } from '../../../protocols/limits.js'
import type { ProcessInfo, Snapshot } from '../../../protocols/types.js'

function proc (pid: number, cpu: number, rss: number, name = `p${pid}`): ProcessInfo {
  return { pid, ppid: 1, uid: 0, user: 'root', name, cmd: name, state: 'S', cpuPercent: cpu, rss, startTime: 0 }
}

function snap (processes: ProcessInfo[]): Snapshot {
  return {
    collectedAt: 1000,
    host: { hostname: 'h', platform: 'linux', arch: 'x64', cpus: 2, cpuPercent: 3.125, load: [0.123, 0.456, 0.789], memTotal: 100, memUsed: 50, uptime: 10 },
    processes
  }
}

const ID = { peerId: '12D3KooWX', name: 'h', tags: {}, intervalMs: 2000, addrs: ['/ip4/10.0.0.1/tcp/4001'] }

describe('buildSummary', () => {
  it('carries the top 5 by CPU and by memory, in order', () => {
    const processes = Array.from({ length: 50 }, (_, i) => proc(i + 1, i % 17, (i * 7919) % 1000))
    const s = buildSummary(snap(processes), ID, 1)
    assert.equal(s.procCount, 50)
    assert.deepEqual(s.topCpu.map(p => p.cpuPercent), [...processes].map(p => p.cpuPercent).sort((a, b) => b - a).slice(0, 5))
    assert.deepEqual(s.topMem.map(p => p.rss), [...processes].map(p => p.rss).sort((a, b) => b - a).slice(0, 5))
    validateSummary(JSON.parse(JSON.stringify(s)))
  })

  it('stays under the cap with huge names, tags and many addresses', () => {
    const processes = Array.from({ length: 10 }, (_, i) => proc(i, i, i, 'n'.repeat(500)))
    const tags = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`key${i}`.padEnd(60, 'k'), 'v'.repeat(64)]))
    const addrs = Array.from({ length: 30 }, (_, i) => `/ip6/fe80::${i}:1234:5678:9abc/tcp/4001/p2p/12D3KooWLongPeerIdLongPeerIdLongPeerIdLongPeerId`)
    const s = buildSummary(snap(processes), { ...ID, tags, addrs }, 1)
    assert.ok(encodeSummary(s).byteLength <= MAX_SUMMARY_BYTES)
  })

  it('rounds figures to keep gossip compact', () => {
    const s = buildSummary(snap([]), ID, 1)
    assert.equal(s.host.cpuPercent, 3.1)
    assert.deepEqual(s.host.load, [0.12, 0.46, 0.79])
  })
})

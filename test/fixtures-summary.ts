/** A valid summary for tests, with overrides. */
import type { Summary } from '../protocols/types.js'

export function sampleSummary (over: Partial<Summary> = {}): Summary {
  return {
    v: 1,
    peerId: '12D3KooWTestPeerAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    name: 'alpha',
    tags: { role: 'web' },
    seq: 1000,
    at: 1_700_000_000_000,
    intervalMs: 2000,
    host: { hostname: 'alpha', platform: 'linux', arch: 'x64', cpus: 2, cpuPercent: 12.5, load: [0.1, 0.2, 0.3], memTotal: 8e9, memUsed: 2e9, uptime: 1234 },
    procCount: 42,
    topCpu: [{ pid: 10, name: 'node', cpuPercent: 5, rss: 1000 }],
    topMem: [{ pid: 10, name: 'node', cpuPercent: 5, rss: 1000 }],
    addrs: ['/ip4/10.0.0.1/tcp/4001'],
    version: '0.1.0',
    ...over
  }
}

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_THRESHOLDS, hostAlerts, levelOf, parseThresholds, processAlert } from '../../protocols/thresholds.js'
import type { HostInfo } from '../../protocols/types.js'

const GiB = 1024 ** 3

function host (over: Partial<HostInfo> = {}): HostInfo {
  return { hostname: 'h', platform: 'linux', arch: 'x64', cpus: 4, cpuPercent: 10, load: [0.5, 0.5, 0.5], memTotal: 16 * GiB, memUsed: 2 * GiB, uptime: 100, ...over }
}

describe('thresholds', () => {
  it('levels start at each limit', () => {
    assert.equal(levelOf(49.9, [50, 70, 90]), undefined)
    assert.equal(levelOf(50, [50, 70, 90]), 'careful')
    assert.equal(levelOf(70, [50, 70, 90]), 'warning')
    assert.equal(levelOf(99, [50, 70, 90]), 'critical')
    assert.equal(levelOf(Number.NaN, [50, 70, 90]), undefined)
  })

  it('a quiet host has no alerts', () => {
    assert.deepEqual(hostAlerts(host()), [])
  })

  it('marks CPU, memory, swap, load per core and each disk as df reads it, most severe first', () => {
    const alerts = hostAlerts(host({
      cpuPercent: 75,
      memUsed: 15 * GiB,
      swapTotal: 4 * GiB,
      swapUsed: 2.2 * GiB,
      load: [4.4, 1, 1],
      disks: [
        // df's Use%: used / (used + avail) = 93%, although used / total is 84%
        { mount: '/', fstype: 'ext4', total: 100 * GiB, used: 84 * GiB, avail: 6 * GiB },
        { mount: '/srv', fstype: 'xfs', total: 100 * GiB, used: 10 * GiB, avail: 90 * GiB }
      ]
    }))
    assert.deepEqual(alerts, [
      { metric: 'mem', level: 'critical', value: 93.8 },
      { metric: 'disk', mount: '/', level: 'critical', value: 93.3 },
      { metric: 'cpu', level: 'warning', value: 75 },
      { metric: 'load', level: 'warning', value: 1.1 },
      { metric: 'swap', level: 'careful', value: 55 }
    ])
  })

  it('a process: the worse of CPU (of one core) and its share of memory', () => {
    assert.equal(processAlert({ cpuPercent: 10, rss: GiB }, 16 * GiB), undefined)
    assert.equal(processAlert({ cpuPercent: 95, rss: GiB }, 16 * GiB), 'critical')
    assert.equal(processAlert({ cpuPercent: 55, rss: 12 * GiB }, 16 * GiB), 'warning')
  })

  it('--alert overrides one metric and keeps the others', () => {
    const t = parseThresholds(['disk=80,90,95', 'load=1,2,4'])
    assert.deepEqual(t.disk, [80, 90, 95])
    assert.deepEqual(t.load, [1, 2, 4])
    assert.deepEqual(t.cpu, DEFAULT_THRESHOLDS.cpu)
    assert.equal(levelOf(85, t.disk), 'careful')
  })

  it('--alert refuses what it cannot mean, naming the problem', () => {
    assert.throws(() => parseThresholds(['gpu=1,2,3']), /unknown metric "gpu" \(one of cpu, mem, swap, load, disk, proc-cpu, proc-mem\)/)
    assert.throws(() => parseThresholds(['cpu=50,70']), /cpu: expected three numbers CAREFUL,WARNING,CRITICAL, got "50,70"/)
    assert.throws(() => parseThresholds(['cpu']), /expected three numbers/)
    assert.throws(() => parseThresholds(['cpu=90,70,50']), /must not decrease/)
    assert.throws(() => parseThresholds(['cpu=a,b,c']), /expected three numbers/)
  })
})

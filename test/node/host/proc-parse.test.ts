import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import {
  DEFAULT_CLOCK_TICKS,
  DEFAULT_PAGE_SIZE,
  hostCpuPercent,
  pageSizeFromStatm,
  parseCmdline,
  parseLoadavg,
  parseDiskstats,
  parseFileNr,
  parseMeminfo,
  parseMounts,
  parseNetDev,
  parseSockstat,
  parsePasswd,
  parseProcStat,
  parseProcStatus,
  parseSystemStat,
  parseUptime,
  processCpuPercent,
  ProcParseError,
  rssBytes,
  startTimeMs,
  type PidStat
} from '../../../node/host/proc-parse.js'

/** Recorded and hand-made /proc text; tests run from dist/test/node, the fixtures stay in test/. */
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/proc/', import.meta.url))

function fixture (path: string): string {
  return readFileSync(FIXTURES + path, 'utf8')
}

describe('parseProcStat', () => {
  const valid: Array<{ file: string, why: string, want: PidStat }> = [
    {
      file: '5899/stat',
      why: 'recorded: sleep 1234 run as uid 1000',
      want: { pid: 5899, comm: 'sleep', state: 'S', ppid: 5888, cpuTicks: 0, startTicks: 34301, rssPages: 411, priority: 20, nice: 0, threads: 1 }
    },
    {
      file: '2/stat',
      why: 'recorded: kernel thread kthreadd, no RSS',
      want: { pid: 2, comm: 'kthreadd', state: 'S', ppid: 0, cpuTicks: 0, startTicks: 23, rssPages: 0, priority: 20, nice: 0, threads: 1 }
    },
    {
      file: '5927/stat',
      why: 'recorded: a zombie',
      want: { pid: 5927, comm: 'sleep', state: 'Z', ppid: 5925, cpuTicks: 0, startTicks: 34332, rssPages: 0, priority: 20, nice: 0, threads: 1 }
    },
    {
      file: '5944/stat',
      why: 'recorded: comm with spaces and nested parentheses',
      want: { pid: 5944, comm: 'my (weird) proc', state: 'S', ppid: 5888, cpuTicks: 3, startTicks: 34384, rssPages: 3324, priority: 20, nice: 0, threads: 1 }
    },
    {
      file: '1/stat',
      why: 'recorded init with utime and stime',
      want: { pid: 1, comm: 'systemd', state: 'S', ppid: 0, cpuTicks: 43 + 142, startTicks: 23, rssPages: 3383, priority: 20, nice: 0, threads: 12 }
    },
    {
      file: 'hand/stat-tricky-comm',
      why: 'comm containing ") R 99 (" that would fool a split at the first ")"',
      want: { pid: 4242, comm: 'x) R 99 (y', state: 'S', ppid: 1, cpuTicks: 300, startTicks: 5000, rssPages: 300, priority: 20, nice: 0, threads: 1 }
    },
    {
      file: 'hand/stat-negative-priority',
      why: 'comm ending in ")", state D, a real-time priority and nice -20, 4 threads',
      want: { pid: 4243, comm: 'a b) c)', state: 'D', ppid: 1, cpuTicks: 10, startTicks: 123456, rssPages: 12, priority: -2, nice: -20, threads: 4 }
    }
  ]
  for (const { file, why, want } of valid) {
    it(`${file}: ${why}`, () => {
      assert.deepEqual(parseProcStat(fixture(file)), want)
    })
  }

  const invalid: Array<{ file: string, message: RegExp }> = [
    { file: 'hand/stat-empty', message: /no "\(comm\)"/ },
    { file: 'hand/stat-no-parens', message: /no "\(comm\)"/ },
    { file: 'hand/stat-no-pid', message: /no "\(comm\)"/ },
    { file: 'hand/stat-truncated', message: /field 14 missing/ },
    { file: 'hand/stat-bad-rss', message: /field 24 is not a number/ }
  ]
  for (const { file, message } of invalid) {
    it(`${file}: throws ProcParseError`, () => {
      assert.throws(() => parseProcStat(fixture(file)), (err: unknown) => {
        assert.ok(err instanceof ProcParseError)
        assert.equal(err.name, 'ProcParseError')
        assert.match(err.message, message)
        return true
      })
    })
  }

  it('rejects a pid that is not a number', () => {
    assert.throws(() => parseProcStat('12a (x) S 1 ' + '0 '.repeat(30)), ProcParseError)
  })
})

describe('parseProcStatus', () => {
  const cases: Array<{ file: string, want: { uid: number, vmRss?: number } }> = [
    { file: '5899/status', want: { uid: 1000, vmRss: 1752 * 1024 } },
    { file: '2/status', want: { uid: 0 } },
    { file: '5927/status', want: { uid: 0 } },
    { file: '5944/status', want: { uid: 0, vmRss: 13636 * 1024 } }
  ]
  for (const { file, want } of cases) {
    it(file, () => {
      assert.deepEqual(parseProcStatus(fixture(file)), want)
    })
  }

  it('takes the effective uid, as ps does', () => {
    assert.equal(parseProcStatus('Name:\tx\nUid:\t1000\t0\t0\t0\n').uid, 0)
  })

  it('throws without a Uid line', () => {
    assert.throws(() => parseProcStatus(fixture('hand/status-no-uid')), /no Uid line/)
  })

  it('throws on a malformed Uid line', () => {
    assert.throws(() => parseProcStatus('Uid:\tabc\n'), /bad Uid line/)
  })
})

describe('parseCmdline', () => {
  const cases: Array<{ why: string, text: string, comm: string, want: string }> = [
    { why: 'recorded argv', text: fixture('5899/cmdline'), comm: 'sleep', want: 'sleep 1234' },
    { why: 'kernel thread: empty', text: fixture('2/cmdline'), comm: 'kthreadd', want: '[kthreadd]' },
    { why: 'zombie: empty', text: fixture('5927/cmdline'), comm: 'sleep', want: '[sleep]' },
    { why: 'init', text: fixture('1/cmdline'), comm: 'systemd', want: '/sbin/init splash' },
    {
      why: 'setproctitle: no NUL at all',
      text: fixture('hand/cmdline-setproctitle'),
      comm: 'postgres',
      want: 'postgres: checkpointer   '
    },
    { why: 'empty argument kept', text: 'a\0\0b\0', comm: 'a', want: 'a  b' },
    { why: 'only NULs', text: '\0\0', comm: 'x y', want: '[x y]' }
  ]
  for (const { why, text, comm, want } of cases) {
    it(why, () => {
      assert.equal(parseCmdline(text, comm), want)
    })
  }

  it('recorded python argv keeps arguments with spaces', () => {
    const cmd = parseCmdline(fixture('5944/cmdline'), 'my (weird) proc')
    assert.match(cmd, /python3 -c /)
    assert.match(cmd, / --flag two words$/)
  })
})

describe('parseSystemStat', () => {
  it('recorded /proc/stat', () => {
    const stat = parseSystemStat(fixture('stat'))
    // cpu  3841 0 1450 63133 80 0 30 8 0 0
    assert.deepEqual(stat.cpu, { total: 3841 + 1450 + 63133 + 80 + 30 + 8, idle: 63133 + 80 })
    assert.equal(stat.cpus, 2)
    assert.equal(stat.btime, 1795312456)
  })

  it('does not count guest time twice', () => {
    const stat = parseSystemStat('cpu  10 0 10 80 0 0 0 0 5 5\ncpu0 10 0 10 80 0 0 0 0 5 5\nbtime 1\n')
    assert.equal(stat.cpu.total, 100)
  })

  const invalid: Array<{ text: string, message: RegExp }> = [
    { text: 'cpu0 1 2 3 4\nbtime 5\n', message: /no aggregate "cpu" line/ },
    { text: 'cpu  1 2 3 4\n', message: /no valid btime/ },
    { text: 'cpu  1 2 x 4\nbtime 5\n', message: /bad cpu line/ }
  ]
  for (const { text, message } of invalid) {
    it(`throws: ${message.source}`, () => {
      assert.throws(() => parseSystemStat(text), message)
    })
  }
})

describe('parseMeminfo', () => {
  it('recorded: used = total - available, in bytes', () => {
    const mem = parseMeminfo(fixture('meminfo'))
    assert.equal(mem.memTotal, 24682416 * 1024)
    assert.equal(mem.memAvailable, 24223240 * 1024)
    assert.equal(mem.memUsed, (24682416 - 24223240) * 1024)
  })

  it('kernels without MemAvailable: free + buffers + cached', () => {
    const mem = parseMeminfo(fixture('hand/meminfo-no-available'))
    assert.equal(mem.memTotal, 2048000 * 1024)
    assert.equal(mem.memUsed, (2048000 - 512000 - 128000 - 256000) * 1024)
  })

  it('throws without MemTotal', () => {
    assert.throws(() => parseMeminfo('MemFree: 1 kB\n'), /no MemTotal/)
  })
})

describe('parseLoadavg and parseUptime', () => {
  it('recorded loadavg', () => {
    assert.deepEqual(parseLoadavg(fixture('loadavg')), [0.08, 0.07, 0.03])
  })

  it('recorded uptime', () => {
    assert.equal(parseUptime(fixture('uptime')), 344.36)
  })

  it('throw on garbage', () => {
    assert.throws(() => parseLoadavg('x y z'), ProcParseError)
    assert.throws(() => parseLoadavg(''), ProcParseError)
    assert.throws(() => parseUptime(''), ProcParseError)
    assert.throws(() => parseUptime('-1 2'), ProcParseError)
  })
})

describe('parsePasswd', () => {
  it('hand-made: skips comments, blanks, NIS and malformed lines; first uid wins', () => {
    assert.deepEqual(parsePasswd(fixture('hand/passwd')), new Map([
      [0, 'root'],
      [1, 'daemon'],
      [1000, 'alice'],
      [65534, 'nobody']
    ]))
  })

  it('recorded /etc/passwd', () => {
    const names = parsePasswd(fixture('etc/passwd'))
    assert.equal(names.get(0), 'root')
    assert.equal(names.get(1000), 'cloudsdk')
  })
})

describe('pageSizeFromStatm', () => {
  const cases: Array<{ statm: string, status: string, want: number | undefined }> = [
    { statm: '1000 411 300 5 0 100 0\n', status: 'VmRSS:\t    1644 kB\n', want: 4096 },
    // read a moment apart: a page more or less must not change the answer
    { statm: '1000 412 300 5 0 100 0\n', status: 'VmRSS:\t    1644 kB\n', want: 4096 },
    { statm: '1000 100 300 5 0 100 0\n', status: 'VmRSS:\t    6400 kB\n', want: 65536 },
    { statm: '1000 0 0 0 0 0 0\n', status: 'VmRSS:\t0 kB\n', want: undefined },
    { statm: '', status: '', want: undefined }
  ]
  for (const { statm, status, want } of cases) {
    it(`${statm.trim() || 'empty'} / ${status.trim() || 'empty'} -> ${String(want)}`, () => {
      assert.equal(pageSizeFromStatm(statm, status), want)
    })
  }
})

describe('start time and RSS', () => {
  it('start = btime + starttime / clock ticks, in ms', () => {
    assert.equal(startTimeMs(34301, 1795312456), 1795312456000 + 343010)
    assert.equal(startTimeMs(34301, 1795312456, 1000), 1795312456000 + 34301)
    assert.equal(startTimeMs(1, 0, 3), 333)
  })

  it('rss = pages * page size', () => {
    assert.equal(rssBytes(411), 411 * DEFAULT_PAGE_SIZE)
    assert.equal(rssBytes(411, 65536), 411 * 65536)
  })
})

describe('CPU percent', () => {
  const perProcess: Array<{ why: string, prev: number, next: number, ms: number, hz?: number, want: number }> = [
    { why: 'one full core', prev: 0, next: 200, ms: 2000, want: 100 },
    { why: 'half a core', prev: 100, next: 150, ms: 1000, want: 50 },
    { why: 'two busy threads', prev: 0, next: 400, ms: 2000, want: 200 },
    { why: 'idle', prev: 5, next: 5, ms: 2000, want: 0 },
    { why: 'counter went backwards (pid reuse)', prev: 500, next: 100, ms: 2000, want: 0 },
    { why: 'no elapsed time', prev: 0, next: 100, ms: 0, want: 0 },
    { why: 'negative elapsed time', prev: 0, next: 100, ms: -5, want: 0 },
    { why: 'other clock tick rate', prev: 0, next: 250, ms: 1000, hz: 250, want: 100 }
  ]
  for (const { why, prev, next, ms, hz, want } of perProcess) {
    it(`process: ${why}`, () => {
      assert.equal(processCpuPercent(prev, next, ms, hz ?? DEFAULT_CLOCK_TICKS), want)
    })
  }

  const host: Array<{ why: string, prev: { total: number, idle: number }, next: { total: number, idle: number }, want: number }> = [
    { why: 'all busy', prev: { total: 100, idle: 50 }, next: { total: 300, idle: 50 }, want: 100 },
    { why: 'a quarter busy', prev: { total: 0, idle: 0 }, next: { total: 400, idle: 300 }, want: 25 },
    { why: 'idle', prev: { total: 100, idle: 50 }, next: { total: 200, idle: 150 }, want: 0 },
    { why: 'no time passed', prev: { total: 100, idle: 50 }, next: { total: 100, idle: 50 }, want: 0 },
    { why: 'idle counter ahead of total (hotplug) is clamped', prev: { total: 100, idle: 0 }, next: { total: 200, idle: 300 }, want: 0 }
  ]
  for (const { why, prev, next, want } of host) {
    it(`host: ${why}`, () => {
      assert.equal(hostCpuPercent(prev, next), want)
    })
  }

  it('host: recorded /proc/stat since boot lies in 0..100', () => {
    const percent = hostCpuPercent({ total: 0, idle: 0 }, parseSystemStat(fixture('stat')).cpu)
    assert.ok(percent > 0 && percent < 100)
  })
})

describe('host figures beyond CPU and memory', () => {
  it('meminfo: swap, and cached as free counts buff/cache', () => {
    const mem = parseMeminfo('MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 600 kB\nBuffers: 10 kB\nCached: 300 kB\nSReclaimable: 40 kB\nSwapTotal: 2000 kB\nSwapFree: 1500 kB\n')
    assert.deepEqual(mem, { memTotal: 1000 * 1024, memAvailable: 600 * 1024, memUsed: 400 * 1024, cached: 350 * 1024, swapTotal: 2000 * 1024, swapUsed: 500 * 1024 })
  })

  it('stat: one entry per cpuN line, a garbled one counted as idle', () => {
    const stat = parseSystemStat('cpu  10 0 10 80 0 0 0 0 0 0\ncpu0 10 0 0 40 0 0 0 0 0 0\ncpu1 bad\nbtime 1\n')
    assert.equal(stat.cpus, 2)
    assert.deepEqual(stat.cores, [{ total: 50, idle: 40 }, { total: 0, idle: 0 }])
  })

  it('diskstats: sectors of whole disks only, in bytes', () => {
    const text = [
      '   8       0 sda 100 0 2048 0 50 0 4096 0 0 0 0',
      '   8       1 sda1 90 0 1024 0 40 0 2048 0 0 0 0',
      '   7       0 loop0 5 0 8 0 0 0 0 0 0 0 0',
      ' 253       0 dm-0 10 0 512 0 5 0 512 0 0 0 0',
      ' 259       0 nvme0n1 1 0 10 0 1 0 20 0 0 0 0',
      'garbage'
    ].join('\n')
    const disks = new Set(['sda', 'nvme0n1'])
    assert.deepEqual(parseDiskstats(text, n => disks.has(n)), { read: (2048 + 10) * 512, written: (4096 + 20) * 512 })
  })

  it('net/dev: every interface but loopback', () => {
    const text = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo: 5000 50 0 0 0 0 0 0 5000 50 0 0 0 0 0 0',
      '  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0',
      'veth1:300 3 0 0 0 0 0 0 400 4 0 0 0 0 0 0'
    ].join('\n')
    assert.deepEqual(parseNetDev(text), { read: 1300, written: 2400 })
  })

  it('file-nr and sockstat', () => {
    assert.equal(parseFileNr('1824\t0\t9223372036854775807\n'), 1824)
    assert.equal(parseFileNr('x'), undefined)
    assert.equal(parseSockstat('sockets: used 231\nTCP: inuse 5 orphan 0 tw 0 alloc 7 mem 1\n'), 231)
    assert.equal(parseSockstat('TCP: inuse 5\n'), undefined)
  })

  it('mounts: data filesystems once per device, bind mounts and pseudo filesystems left out, escapes decoded', () => {
    const text = [
      'proc /proc proc rw 0 0',
      '/dev/vda / ext4 rw 0 0',
      '/dev/vda /run/netns ext4 rw 0 0',
      '/dev/vdb1 /srv/my\\040data xfs rw 0 0',
      'tmpfs /dev/shm tmpfs rw 0 0',
      '/dev/loop0 /snap/core/1 squashfs ro 0 0',
      'server:/x /mnt/nfs nfs4 rw 0 0',
      'overlay / overlay rw 0 0'
    ].join('\n')
    assert.deepEqual(parseMounts(text), [
      { device: '/dev/vda', mount: '/', fstype: 'ext4' },
      { device: 'overlay', mount: '/', fstype: 'overlay' },
      { device: '/dev/vdb1', mount: '/srv/my data', fstype: 'xfs' }
    ])
  })
})

import assert from 'node:assert/strict'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { performance } from 'node:perf_hooks'
import { basename, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ProcessCollector, UserNameCache } from '../../../node/host/collector.js'
import type { ProcessInfo, Snapshot } from '../../../protocols/types.js'

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/proc/', import.meta.url))
const PASSWD = join(FIXTURES, 'etc/passwd')
const BTIME_MS = 1795312456 * 1000
const RECORDED_PIDS = ['1', '2', '5899', '5927', '5944']

/** A fake procfs: the recorded pids and host files, copied so a test may change them. */
function makeProcRoot (): string {
  const root = mkdtempSync(join(os.tmpdir(), 'procmesh-collector-'))
  for (const name of [...RECORDED_PIDS, 'stat', 'meminfo', 'loadavg', 'uptime']) {
    cpSync(join(FIXTURES, name), join(root, name), { recursive: true })
  }
  return root
}

/** Write a process directory from a template stat line with the given fields replaced. */
function writePid (root: string, pid: number, init: { comm: string, utime?: number, start?: number, uid?: number, cmdline?: string }): void {
  const dir = join(root, String(pid))
  mkdirSync(dir, { recursive: true })
  // fields 3..24: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
  const stat = `${pid} (${init.comm}) S 1 ${pid} ${pid} 0 -1 4194304 10 0 0 0 ${init.utime ?? 0} 0 0 0 20 0 1 0 ` +
    `${init.start ?? 1000} 1000000 25 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n`
  writeFileSync(join(dir, 'stat'), stat)
  writeFileSync(join(dir, 'status'), `Name:\t${init.comm}\nUid:\t${init.uid ?? 0}\t${init.uid ?? 0}\t0\t0\n`)
  writeFileSync(join(dir, 'cmdline'), init.cmdline ?? `${init.comm}\0`)
}

function byPid (snapshot: Snapshot): Map<number, ProcessInfo> {
  return new Map(snapshot.processes.map(p => [p.pid, p]))
}

function get (snapshot: Snapshot, pid: number): ProcessInfo {
  const info = byPid(snapshot).get(pid)
  assert.ok(info !== undefined, `pid ${pid} missing`)
  return info
}

describe('ProcessCollector on a fake procfs', () => {
  let root = ''
  before(() => { root = makeProcRoot() })
  after(() => { rmSync(root, { recursive: true, force: true }) })

  it('reads processes and host figures, skips what vanishes, measures CPU deltas', async () => {
    // listed but emptied: the directory's files are gone when the collector reads them
    writePid(root, 7001, { comm: 'gone' })
    // its stat reads fine but status and cmdline are gone by the time they are read
    writePid(root, 7002, { comm: 'half gone' })
    writePid(root, 7003, { comm: 'busy', utime: 1000, uid: 4321 })
    mkdirSync(join(root, '7004'))
    writeFileSync(join(root, '7004', 'stat'), '7004 (broken S 1\n')

    let clock = 10_000
    let listed = false
    const collector = new ProcessCollector({
      procRoot: root,
      platform: 'linux',
      passwdPath: PASSWD,
      factsRefreshSamples: 0,
      now: () => {
        // first call: after the directory listing, before any process file is read
        if (!listed) {
          listed = true
          rmSync(join(root, '7001'), { recursive: true })
          rmSync(join(root, '7002', 'status'))
          rmSync(join(root, '7002', 'cmdline'))
        }
        return clock
      }
    })

    const first = await collector.sample()
    assert.deepEqual([...byPid(first).keys()].sort((a, b) => a - b), [1, 2, 5899, 5927, 5944, 7003])
    assert.deepEqual(collector.stats, {
      listed: 9,
      collected: 6,
      vanished: 2,
      skipped: 1,
      // 9 stats (one of them ENOENT), status for the 7 new ones that had a stat, and cmdline for
      // the 6 of those whose status could still be read
      filesRead: 9 + 7 + 6,
      lastError: collector.stats.lastError
    })
    assert.match(collector.stats.lastError ?? '', /^pid 7004: stat: /)

    assert.deepEqual(get(first, 5899), {
      pid: 5899,
      ppid: 5888,
      uid: 1000,
      user: 'cloudsdk',
      name: 'sleep',
      cmd: 'sleep 1234',
      state: 'S',
      cpuPercent: 0,
      rss: 411 * 4096,
      startTime: BTIME_MS + 343010,
      threads: 1,
      nice: 0,
      priority: 20,
      cpuTime: 0
    })
    assert.equal(get(first, 2).cmd, '[kthreadd]')
    assert.equal(get(first, 2).rss, 0)
    assert.equal(get(first, 5927).state, 'Z')
    assert.equal(get(first, 5927).cmd, '[sleep]')
    assert.equal(get(first, 5944).name, 'my (weird) proc')
    assert.equal(get(first, 1).cmd, '/sbin/init splash')
    assert.equal(get(first, 7003).user, '4321', 'unknown uid shows as the number')
    assert.ok(first.processes.every(p => p.cpuPercent === 0), 'no CPU% without a previous sample')

    assert.deepEqual(first.host, {
      hostname: os.hostname(),
      platform: 'linux',
      arch: process.arch,
      cpus: 2,
      // since boot: busy / total of "cpu  3841 0 1450 63133 80 0 30 8 0 0"
      cpuPercent: first.host.cpuPercent,
      load: [0.08, 0.07, 0.03],
      memTotal: 24682416 * 1024,
      memUsed: (24682416 - 24223240) * 1024,
      uptime: 344.36,
      // since boot, per core: "cpu0 1823 0 680 31753 5 0 10 3 0 0" is 7.3% busy
      cores: [Math.round(100 * (1823 + 680 + 10 + 3) / (1823 + 680 + 31753 + 5 + 10 + 3)), Math.round(100 * (2017 + 770 + 20 + 5) / (2017 + 770 + 31379 + 75 + 20 + 5))],
      memAvailable: 24223240 * 1024,
      // Buffers + Cached + SReclaimable: free's buff/cache
      memCached: (3540 + 150524 + 26368) * 1024,
      swapTotal: 0,
      swapUsed: 0,
      // the fake tree has no self/mounts, diskstats, net/dev, file-nr or sockstat
      disks: []
    })
    assert.ok(Math.abs(first.host.cpuPercent - (100 * (3841 + 1450 + 30 + 8)) / (3841 + 1450 + 63133 + 80 + 30 + 8)) < 1e-9)

    // one second later: 7003 used 50 more ticks (half a core), 5944 exec'd, 5899's pid was reused,
    // 5927 was reaped, 8001 is new, and the host was half busy
    clock += 1000
    writePid(root, 7003, { comm: 'busy', utime: 1050, uid: 4321 })
    writePid(root, 5944, { comm: 'python3', utime: 203, start: 34384, cmdline: 'python3\0-m\0http.server\0' })
    writePid(root, 5899, { comm: 'sleep', utime: 900, start: 40000, cmdline: 'sleep\x00999\x00' })
    rmSync(join(root, '5927'), { recursive: true })
    rmSync(join(root, '7002'), { recursive: true })
    rmSync(join(root, '7004'), { recursive: true })
    writePid(root, 8001, { comm: 'new', utime: 500 })
    writeFileSync(join(root, 'stat'), 'cpu  3941 0 1450 63233 80 0 30 8 0 0\ncpu0 1\ncpu1 1\nbtime 1795312456\n')

    const second = await collector.sample()
    assert.deepEqual([...byPid(second).keys()].sort((a, b) => a - b), [1, 2, 5899, 5944, 7003, 8001])
    assert.equal(get(second, 7003).cpuPercent, 50)
    assert.equal(get(second, 5944).cpuPercent, 200, 'exec keeps the pid and start time, so the delta counts')
    assert.equal(get(second, 5944).cmd, 'python3 -m http.server', 'a new comm means exec: facts re-read')
    assert.equal(get(second, 5899).cpuPercent, 0, 'a reused pid is a new process')
    assert.equal(get(second, 5899).cmd, 'sleep 999')
    assert.equal(get(second, 5899).startTime, BTIME_MS + 400000)
    assert.equal(get(second, 8001).cpuPercent, 0)
    assert.equal(second.host.cpuPercent, 50)
    // steady state: a stat per process, status + cmdline only for the three with new facts
    assert.equal(collector.stats.filesRead, 6 + 2 * 3)
    assert.equal(collector.cachedCount, 6, 'reaped and vanished pids are pruned')

    clock += 1000
    const third = await collector.sample()
    assert.equal(collector.stats.filesRead, 6, 'nothing new: only stat files')
    assert.equal(get(third, 7003).cpuPercent, 0)
  })

  it('re-reads cached facts of a rotating share of processes', async () => {
    const collector = new ProcessCollector({ procRoot: root, platform: 'linux', passwdPath: PASSWD, factsRefreshSamples: 1 })
    await collector.sample()
    const count = collector.stats.collected
    writeFileSync(join(root, '8001', 'cmdline'), 'retitled\0')
    const snapshot = await collector.sample()
    assert.equal(collector.stats.filesRead, 3 * count)
    assert.equal(get(snapshot, 8001).cmd, 'retitled')
  })

  it('overlapping calls share one scan', async () => {
    const collector = new ProcessCollector({ procRoot: root, platform: 'linux', passwdPath: PASSWD })
    const [a, b] = await Promise.all([collector.sample(), collector.sample()])
    assert.equal(a, b)
  })

  it('fails loudly when procRoot is missing', async () => {
    const collector = new ProcessCollector({ procRoot: join(root, 'nope'), platform: 'linux' })
    await assert.rejects(collector.sample(), /ENOENT/)
  })

  it('batches of one still see every process', async () => {
    const collector = new ProcessCollector({ procRoot: root, platform: 'linux', passwdPath: PASSWD, batchSize: 1 })
    const snapshot = await collector.sample()
    assert.equal(snapshot.processes.length, readdirSync(root).filter(n => /^\d+$/.test(n)).length)
  })
})

describe('UserNameCache', () => {
  let dir = ''
  before(() => { dir = mkdtempSync(join(os.tmpdir(), 'procmesh-passwd-')) })
  after(() => { rmSync(dir, { recursive: true, force: true }) })

  it('reads once, re-reads when the file changes, survives its absence', async () => {
    const path = join(dir, 'passwd')
    writeFileSync(path, 'root:x:0:0::/root:/bin/sh\n')
    const users = new UserNameCache(path)
    assert.equal(users.name(0), '0', 'nothing before the first refresh')
    await users.refresh()
    assert.equal(users.name(0), 'root')
    assert.equal(users.name(1000), '1000')
    writeFileSync(path, 'root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n')
    await users.refresh()
    assert.equal(users.name(1000), 'bob')
    rmSync(path)
    await users.refresh()
    assert.equal(users.name(0), '0')
  })
})

describe('ProcessCollector on the real /proc', { skip: process.platform !== 'linux' }, () => {
  it('finds this process with a plausible RSS and its own command line', async () => {
    const collector = new ProcessCollector()
    const snapshot = await collector.sample()
    const pids = readdirSync('/proc').filter(n => /^\d+$/.test(n)).length
    assert.ok(Math.abs(snapshot.processes.length - pids) <= 5, `${snapshot.processes.length} vs ${pids}`)

    const self = get(snapshot, process.pid)
    assert.equal(self.ppid, process.ppid)
    assert.equal(self.uid, process.getuid?.())
    assert.equal(self.user, os.userInfo().username)
    const rss = process.memoryUsage().rss
    assert.ok(self.rss > rss / 2 && self.rss < rss * 2, `rss ${self.rss} vs ${rss}`)
    const ownCmdline = readFileSync('/proc/self/cmdline', 'utf8').replace(/\0$/, '').split('\0').join(' ')
    assert.equal(self.cmd, ownCmdline)
    assert.ok(self.cmd.includes(basename(process.argv[1])), self.cmd)
    const started = Date.now() - process.uptime() * 1000
    assert.ok(Math.abs(self.startTime - started) < 5000, `start ${self.startTime} vs ${started}`)
    assert.ok(get(snapshot, 1).ppid === 0)

    assert.equal(snapshot.host.hostname, os.hostname())
    assert.equal(snapshot.host.cpus, os.cpus().length)
    assert.equal(snapshot.host.memTotal, os.totalmem())
    assert.ok(snapshot.host.memUsed > 0 && snapshot.host.memUsed < snapshot.host.memTotal)
    assert.ok(snapshot.host.cpuPercent >= 0 && snapshot.host.cpuPercent <= 100)

    // burn CPU for a while: the second sample must show about what the kernel charged us, which
    // on a loaded host can be well below one core, hence the comparison with process.cpuUsage
    const usageBefore = process.cpuUsage()
    const wallBefore = performance.now()
    const until = Date.now() + 400
    while (Date.now() < until) { /* busy */ }
    const second = await collector.sample()
    const usage = process.cpuUsage(usageBefore)
    const expected = ((usage.user + usage.system) / 1000) / (performance.now() - wallBefore) * 100
    const busy = get(second, process.pid).cpuPercent
    assert.ok(busy > 0 && Math.abs(busy - expected) < 25, `cpu ${busy}, expected about ${expected}`)
    assert.equal(collector.stats.skipped, 0, collector.stats.lastError)
  })

  it('ps-list path (as on other platforms) finds this process too', async () => {
    const collector = new ProcessCollector({ platform: 'darwin' })
    const snapshot = await collector.sample()
    const self = get(snapshot, process.pid)
    assert.equal(self.state, '?')
    assert.equal(self.uid, process.getuid?.())
    // %mem has one decimal: on a host with a lot of RAM a small process rounds to 0 bytes
    assert.ok(self.rss >= 0)
    assert.ok(self.cmd.includes(basename(process.argv[1])), self.cmd)
    assert.ok(Math.abs(self.startTime - (Date.now() - process.uptime() * 1000)) < 5000)
    assert.equal(snapshot.host.platform, 'darwin')
    assert.equal(snapshot.host.cpus, os.cpus().length)
  })
})

describe('ProcessCollector host rates', () => {
  it('disk and network bytes per second between two samples, none on the first', async () => {
    const root = makeProcRoot()
    try {
      mkdirSync(join(root, 'net'))
      mkdirSync(join(root, 'sys', 'fs'), { recursive: true })
      const disk = (r: number, w: number): string => `   8       0 sda 1 0 ${r} 0 1 0 ${w} 0 0 0 0\n   8       1 sda1 1 0 ${r} 0 1 0 ${w} 0 0 0 0\n`
      const net = (rx: number, tx: number): string => `h1\nh2\n    lo: 999 1 0 0 0 0 0 0 999 1 0 0 0 0 0 0\n  eth0: ${rx} 1 0 0 0 0 0 0 ${tx} 1 0 0 0 0 0 0\n`
      writeFileSync(join(root, 'diskstats'), disk(1000, 2000))
      writeFileSync(join(root, 'net', 'dev'), net(10_000, 20_000))
      writeFileSync(join(root, 'sys', 'fs', 'file-nr'), '512\t0\t100000\n')
      writeFileSync(join(root, 'net', 'sockstat'), 'sockets: used 42\n')
      // no /sys/block in this fake tree's sysRoot: partitions are told by their names
      let clock = 0
      const collector = new ProcessCollector({ procRoot: root, sysRoot: join(root, 'no-sys'), platform: 'linux', passwdPath: PASSWD, now: () => clock })
      const first = await collector.sample()
      assert.equal(first.host.io, undefined, 'no rate without a previous sample')
      assert.equal(first.host.openFiles, 512)
      assert.equal(first.host.sockets, 42)
      clock += 2000
      writeFileSync(join(root, 'diskstats'), disk(1000 + 4000, 2000 + 8000))
      writeFileSync(join(root, 'net', 'dev'), net(10_000 + 6000, 20_000 + 2000))
      const second = await collector.sample()
      // sda only (sda1 is inside it): 4,000 sectors of 512 bytes in 2 s; loopback left out
      assert.deepEqual(second.host.io, { diskRead: 4000 * 512 / 2, diskWrite: 8000 * 512 / 2, netRx: 3000, netTx: 1000 })
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})

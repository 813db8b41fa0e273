/**
 * The process collector: one Snapshot of the host and its processes per `sample()`.
 *
 * On Linux it reads /proc itself. Per process and sample it reads only /proc/[pid]/stat; the facts
 * that do not change while a process lives (uid, command line) are read once per pid+starttime
 * and cached. Elsewhere it asks ps-list, which is slower and less precise (see sampleWithPsList).
 */
import { close as fsClose, open as fsOpen, read as fsRead, readFileSync, type Stats } from 'node:fs'
import { readdir, readFile, stat, statfs } from 'node:fs/promises'
import os from 'node:os'
import { performance } from 'node:perf_hooks'
import { DEFAULT_THRESHOLDS, hostAlerts, processAlert, type Thresholds } from '../../protocols/thresholds.js'
import type { DiskUsage, HostInfo, HostIo, ProcessInfo, Snapshot } from '../../protocols/types.js'
import { SUMMARY_TOP_N } from '../../protocols/limits.js'
import {
  DEFAULT_CLOCK_TICKS,
  DEFAULT_PAGE_SIZE,
  hostCpuPercent,
  pageSizeFromStatm,
  parseCmdline,
  parseDiskstats,
  parseFileNr,
  parseLoadavg,
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
  startTimeMs,
  type CpuTimes,
  type IoCounters,
  type Mount,
  type PidStat
} from './proc-parse.js'
import { errnoCode } from '../../protocols/errors.js'

export const DEFAULT_PROC_ROOT = '/proc'
export const DEFAULT_SYS_ROOT = '/sys'
/** disks a host reports at most (df on a busy server lists a dozen) */
export const MAX_HOST_DISKS = 16
/** Block devices whose I/O is already counted in the disks beneath them, or that are memory. */
const VIRTUAL_BLOCK_DEVICE = /^(loop|ram|zram|dm-|md|nbd|sr|fd)/
export const DEFAULT_PASSWD_PATH = '/etc/passwd'
/**
 * Processes read between two yields to the event loop. A stat read takes ~10 us, so a slice of
 * 64 blocks for under 1 ms; larger slices would save little (a yield costs a few us) and eat
 * into the 10 ms block budget.
 */
export const SCAN_BATCH_SIZE = 64
/**
 * ... or fewer, when reading them has taken this long: the event loop must not wait more than a
 * few ms for the collector even where a stat read is slow (small ARM boards, loaded hosts).
 */
export const SCAN_SLICE_MS = 2
/**
 * cmdline reads of new processes in flight at once. They go through libuv's thread pool (4
 * threads, shared with dns.lookup and every fs write of the node); 2 read a first sample of 1,000
 * processes as fast as 64 did here and leave half the pool to everyone else.
 */
export const CMDLINE_READ_CONCURRENCY = 2
/**
 * Command lines are cut here: argv can reach megabytes (ARG_MAX), and every list response
 * carries every process's cmd. 4 KiB keeps any real command readable.
 */
export const MAX_CMDLINE_BYTES = 4096
/**
 * Each sample re-reads the cached facts of about 1 in this many processes (chosen by pid), so a
 * process that changes its title (setproctitle) or drops privileges (setuid) without exec shows
 * it within this many samples. An exec is caught at once: it changes comm in stat.
 */
export const FACTS_REFRESH_SAMPLES = 32

export interface ProcessCollectorInit {
  /** where procfs is mounted; tests point it at a fake tree (default /proc) */
  procRoot?: string
  /** linux reads procRoot; anything else uses ps-list (default process.platform) */
  platform?: NodeJS.Platform
  /** uid -> user name source (default /etc/passwd) */
  passwdPath?: string
  /** USER_HZ (default 100, which it is on every mainstream Linux architecture) */
  clockTicks?: number
  /** bytes per page (default: detected from procRoot/self, else 4096) */
  pageSize?: number
  /** processes per slice between yields to the event loop (default SCAN_BATCH_SIZE) */
  batchSize?: number
  /** 1 in N processes get their cached facts re-read each sample; 0 never (default FACTS_REFRESH_SAMPLES) */
  factsRefreshSamples?: number
  /** monotonic clock in ms for CPU% intervals (default performance.now) */
  now?: () => number
  /** where sysfs is mounted: /sys/block names the whole disks (default /sys) */
  sysRoot?: string
  /** the limits this host marks itself and its processes with (default Glances') */
  thresholds?: Thresholds
}

/** What the last sample did, for logs and tests. */
export interface ScanStats {
  /** pid directories listed */
  listed: number
  /** processes in the snapshot */
  collected: number
  /** processes that ended between listing and reading: normal, not an error */
  vanished: number
  /** processes left out for any other reason; lastError says why */
  skipped: number
  /** files read under procRoot for processes: one stat each, plus status and cmdline when new */
  filesRead: number
  lastError?: string
}

/** Facts of one process (pid + starttime) that are read once and reused. */
interface CachedProcess {
  startTicks: number
  /** comm when the facts were read: a different comm later means the process exec'd */
  comm: string
  cmd: string
  uid: number
  cpuTicks: number
  /** monotonic ms when cpuTicks was read */
  readAt: number
  /** generation of the last sample that saw it; older entries are pruned */
  seen: number
}

/**
 * uid -> user name from a passwd file, read once and again only when its mtime or size changes.
 * A missing file (minimal containers) gives no names; unknown uids show as the number, like ps.
 */
export class UserNameCache {
  private readonly path: string
  private names = new Map<number, string>()
  private signature = ''
  private refreshing?: Promise<void>

  constructor (path: string = DEFAULT_PASSWD_PATH) {
    this.path = path
  }

  /** Re-read the file if it changed since the last call. Never throws. */
  async refresh (): Promise<void> {
    this.refreshing ??= this.reload().finally(() => { this.refreshing = undefined })
    await this.refreshing
  }

  /** The name of uid, or the uid as text when unknown. */
  name (uid: number): string {
    return this.names.get(uid) ?? String(uid)
  }

  /** All known names (a copy). */
  entries (): Map<number, string> {
    return new Map(this.names)
  }

  private async reload (): Promise<void> {
    let info: Stats
    try {
      info = await stat(this.path)
    } catch (err: unknown) {
      if (errnoCode(err) === 'ENOENT') {
        this.names = new Map()
        this.signature = 'missing'
        return
      }
      return // keep what we had: a transient error is no reason to forget every name
    }
    const signature = `${info.mtimeMs}:${info.size}:${info.ino}`
    if (signature === this.signature) return
    try {
      this.names = parsePasswd(await readFile(this.path, 'utf8'))
      this.signature = signature
    } catch {
      // unreadable now; the next refresh tries again because the signature was not stored
    }
  }
}

/** The shape of ps-list's module, so Linux never has to load it to type-check. */
type PsList = typeof import('ps-list').default

export class ProcessCollector {
  private readonly procRoot: string
  private readonly platform: NodeJS.Platform
  private readonly clockTicks: number
  private readonly batchSize: number
  private readonly factsRefreshSamples: number
  private readonly now: () => number
  private readonly users: UserNameCache
  private pageSize: number | undefined
  private readonly cache = new Map<number, CachedProcess>()
  /**
   * Reused read buffers, one per concurrent cmdline read: a fresh 4 KiB buffer per new
   * process left 4 MB of garbage behind a first sample of 1,000 processes.
   */
  private readonly readBuffers: Buffer[] = []
  private generation = 0
  private prevCpu: CpuTimes | undefined
  private prevCores: CpuTimes[] = []
  private prevIo: { at: number, disk?: IoCounters, net?: IoCounters } | undefined
  private mounts: Mount[] = []
  private wholeDisks: ReadonlySet<string> | undefined
  private hostSamples = 0
  private readonly sysRoot: string
  private readonly thresholds: Thresholds
  private inFlight: Promise<Snapshot> | undefined
  private psList: Promise<PsList> | undefined
  private lastStats: ScanStats = { listed: 0, collected: 0, vanished: 0, skipped: 0, filesRead: 0 }

  constructor (init: ProcessCollectorInit = {}) {
    this.procRoot = init.procRoot ?? DEFAULT_PROC_ROOT
    this.platform = init.platform ?? process.platform
    this.clockTicks = init.clockTicks ?? DEFAULT_CLOCK_TICKS
    this.pageSize = init.pageSize
    this.batchSize = Math.max(1, init.batchSize ?? SCAN_BATCH_SIZE)
    this.factsRefreshSamples = Math.max(0, init.factsRefreshSamples ?? FACTS_REFRESH_SAMPLES)
    this.now = init.now ?? (() => performance.now())
    this.users = new UserNameCache(init.passwdPath ?? DEFAULT_PASSWD_PATH)
    this.sysRoot = init.sysRoot ?? DEFAULT_SYS_ROOT
    this.thresholds = init.thresholds ?? DEFAULT_THRESHOLDS
  }

  /** Counters of the last completed sample. */
  get stats (): ScanStats {
    return { ...this.lastStats }
  }

  /** Processes whose facts are cached (for tests: pruning). */
  get cachedCount (): number {
    return this.cache.size
  }

  /**
   * One snapshot. CPU% of a process is measured since the previous sample that saw the same
   * pid + start time, so it is 0 the first time. Calls that overlap share one scan.
   */
  async sample (): Promise<Snapshot> {
    this.inFlight ??= (this.platform === 'linux' ? this.sampleProc() : this.sampleWithPsList())
      .finally(() => { this.inFlight = undefined })
    return await this.inFlight
  }

  private async sampleProc (): Promise<Snapshot> {
    const generation = ++this.generation
    const root = this.procRoot
    const stats: ScanStats = { listed: 0, collected: 0, vanished: 0, skipped: 0, filesRead: 0 }
    const [names, { host, btime }] = await Promise.all([
      readdir(root),
      this.readHostProc(),
      this.users.refresh()
    ])
    this.pageSize ??= this.detectPageSize()
    const pageSize = this.pageSize
    const clockTicks = this.clockTicks
    const collectedAt = Date.now()

    const pids: string[] = []
    for (const name of names) {
      const c = name.charCodeAt(0)
      if (c >= 0x31 && c <= 0x39) pids.push(name)
    }
    stats.listed = pids.length

    const toInfo = (stat: PidStat, facts: CachedProcess, cpuPercent: number): ProcessInfo => ({
      pid: stat.pid,
      ppid: stat.ppid,
      uid: facts.uid,
      user: this.users.name(facts.uid),
      name: stat.comm,
      cmd: facts.cmd,
      state: stat.state,
      cpuPercent,
      rss: stat.rssPages * pageSize,
      startTime: startTimeMs(stat.startTicks, btime, clockTicks),
      threads: stat.threads,
      nice: stat.nice,
      priority: stat.priority,
      cpuTime: Math.round(stat.cpuTicks * 100 / clockTicks) / 100
    })

    // one slot per listed pid keeps /proc's (pid) order while new processes complete out of order
    const slots: Array<ProcessInfo | undefined> = new Array(pids.length)
    const limit = limiter(CMDLINE_READ_CONCURRENCY)
    const pending: Array<Promise<void>> = []
    /** A process seen for the first time, or due a re-read: its cmdline comes in asynchronously. */
    const completeFresh = async (slot: number, stat: PidStat, uid: number, prev: CachedProcess | undefined, readAt: number): Promise<void> => {
      let text: string
      try {
        stats.filesRead++
        text = await readCapped(`${root}/${stat.pid}/cmdline`, this.readBuffers)
      } catch (err: unknown) {
        noteFailure(err, stats, String(stat.pid))
        return
      }
      const cpuPercent = prev === undefined
        ? 0
        : processCpuPercent(prev.cpuTicks, stat.cpuTicks, readAt - prev.readAt, clockTicks)
      const entry: CachedProcess = {
        startTicks: stat.startTicks,
        comm: stat.comm,
        cmd: parseCmdline(text, stat.comm),
        uid,
        cpuTicks: stat.cpuTicks,
        readAt,
        seen: generation
      }
      this.cache.set(stat.pid, entry)
      slots[slot] = toInfo(stat, entry, cpuPercent)
    }

    let next = 0
    while (next < pids.length) {
      if (next > 0) await yieldToEventLoop()
      const sliceStart = performance.now()
      const sliceEnd = Math.min(next + this.batchSize, pids.length)
      // Synchronous on purpose: an async read costs 4-5 thread-pool round trips per file and made
      // the scan 5x slower than ps. A stat read never waits on the process's memory lock, so a
      // slice of them (and of status, read here for new processes) is bounded; cmdline can wait
      // on the process's mmap lock, so completeFresh reads it asynchronously, overlapping with
      // the slices that follow.
      const readAt = this.now()
      const first = next
      for (; next < sliceEnd; next++) {
        // a slow machine (or a slow procfs) ends the slice early rather than blocking longer
        if (next > first && ((next - first) & 7) === 0 && performance.now() - sliceStart > SCAN_SLICE_MS) break
        const i = next
        const stat = this.readStat(pids[i], stats)
        if (stat === undefined) continue
        const cached = this.cache.get(stat.pid)
        const prev = cached !== undefined && cached.startTicks === stat.startTicks ? cached : undefined
        const refreshDue = this.factsRefreshSamples > 0 && (stat.pid + generation) % this.factsRefreshSamples === 0
        if (prev === undefined || prev.comm !== stat.comm || refreshDue) {
          const uid = this.readUid(stat.pid, stats)
          if (uid === undefined) continue
          pending.push(limit(async () => { await completeFresh(i, stat, uid, prev, readAt) }))
          continue
        }
        const cpuPercent = processCpuPercent(prev.cpuTicks, stat.cpuTicks, readAt - prev.readAt, clockTicks)
        prev.cpuTicks = stat.cpuTicks
        prev.readAt = readAt
        prev.seen = generation
        slots[i] = toInfo(stat, prev, cpuPercent)
      }
    }
    await Promise.all(pending)

    const processes: ProcessInfo[] = []
    for (const info of slots) if (info !== undefined) processes.push(info)
    for (const [pid, entry] of this.cache) {
      if (entry.seen !== generation) this.cache.delete(pid)
    }
    stats.collected = processes.length
    this.lastStats = stats
    this.refineTop(processes)
    for (const p of processes) {
      const alert = processAlert(p, host.memTotal, this.thresholds)
      if (alert !== undefined) p.alert = alert
    }
    return { collectedAt, host, processes }
  }

  /**
   * Field 24 of stat (read for every process) trails ps, top and psutil, which read statm or
   * status: the kernel sums its per-CPU RSS counters there and only approximates them in stat
   * (seen: 3,768 vs 4,136 KiB for a shell). The processes a summary names, the busiest by
   * memory and CPU, get the exact figure every sample; a list answer gets it on demand
   * (exactRss), which costs one more small read per listed process.
   */
  private refineTop (processes: ProcessInfo[]): void {
    const pick = (by: (p: ProcessInfo) => number): ProcessInfo[] => [...processes].sort((a, b) => by(b) - by(a)).slice(0, SUMMARY_TOP_N * 2)
    const chosen = new Set([...pick(p => p.rss), ...pick(p => p.cpuPercent)])
    for (const p of chosen) {
      const rss = this.statmRss(p.pid)
      if (rss !== undefined) p.rss = rss
    }
  }

  /** These processes with RSS as ps reads it (statm); a process gone since keeps its sampled figure. */
  exactRss (processes: readonly ProcessInfo[]): ProcessInfo[] {
    if (this.platform !== 'linux') return [...processes]
    return processes.map(p => {
      const rss = this.statmRss(p.pid)
      return rss === undefined || rss === p.rss ? p : { ...p, rss }
    })
  }

  private statmRss (pid: number): number | undefined {
    try {
      // size resident shared text lib data dt, in pages
      const text = readFileSync(`${this.procRoot}/${pid}/statm`, 'latin1')
      const space = text.indexOf(' ')
      const pages = Number(text.slice(space + 1, text.indexOf(' ', space + 1)))
      return Number.isSafeInteger(pages) && pages >= 0 ? pages * (this.pageSize ?? DEFAULT_PAGE_SIZE) : undefined
    } catch {
      return undefined
    }
  }

  /** /proc/[pid]/stat, or undefined when the process is gone or unreadable (counted in stats). */
  private readStat (pid: string, stats: ScanStats): PidStat | undefined {
    let text: string
    try {
      stats.filesRead++
      text = readFileSync(`${this.procRoot}/${pid}/stat`, 'utf8')
    } catch (err: unknown) {
      noteFailure(err, stats, pid)
      return undefined
    }
    try {
      return parseProcStat(text)
    } catch (err: unknown) {
      noteFailure(err, stats, pid)
      return undefined
    }
  }

  /** Effective uid from /proc/[pid]/status (never blocks on the process), or undefined. */
  private readUid (pid: number, stats: ScanStats): number | undefined {
    try {
      stats.filesRead++
      return parseProcStatus(readFileSync(`${this.procRoot}/${pid}/status`, 'utf8')).uid
    } catch (err: unknown) {
      noteFailure(err, stats, String(pid))
      return undefined
    }
  }

  private async readHostProc (): Promise<{ host: HostInfo, btime: number }> {
    const root = this.procRoot
    const optional = async (path: string): Promise<string | undefined> => await readFile(path, 'utf8').catch(() => undefined)
    if (this.hostSamples++ % this.factsRefreshSamplesOr(FACTS_REFRESH_SAMPLES) === 0) await this.refreshDevices()
    const [statText, memText, loadText, uptimeText, diskText, netText, fileNrText, sockText, disks] = await Promise.all([
      readFile(`${root}/stat`, 'utf8'),
      readFile(`${root}/meminfo`, 'utf8'),
      readFile(`${root}/loadavg`, 'utf8'),
      readFile(`${root}/uptime`, 'utf8'),
      optional(`${root}/diskstats`),
      optional(`${root}/net/dev`),
      optional(`${root}/sys/fs/file-nr`),
      optional(`${root}/net/sockstat`),
      this.diskUsage()
    ])
    const system = parseSystemStat(statText)
    const mem = parseMeminfo(memText)
    // the first sample has no previous one: the average since boot is the honest figure
    const cpuPercent = hostCpuPercent(this.prevCpu ?? { total: 0, idle: 0 }, system.cpu)
    this.prevCpu = system.cpu
    const cores = system.cores.map((c, i) => Math.round(hostCpuPercent(this.prevCores[i] ?? { total: 0, idle: 0 }, c)))
    this.prevCores = system.cores
    const host: HostInfo = {
      hostname: os.hostname(),
      platform: this.platform,
      arch: process.arch,
      cpus: system.cpus > 0 ? system.cpus : os.cpus().length,
      cpuPercent,
      load: parseLoadavg(loadText),
      memTotal: mem.memTotal,
      memUsed: mem.memUsed,
      uptime: parseUptime(uptimeText),
      cores,
      memAvailable: mem.memAvailable,
      memCached: mem.cached,
      swapTotal: mem.swapTotal,
      swapUsed: mem.swapUsed,
      disks
    }
    const io = this.ioRates(diskText, netText)
    if (io !== undefined) host.io = io
    const openFiles = fileNrText === undefined ? undefined : parseFileNr(fileNrText)
    if (openFiles !== undefined) host.openFiles = openFiles
    const sockets = sockText === undefined ? undefined : parseSockstat(sockText)
    if (sockets !== undefined) host.sockets = sockets
    const alerts = hostAlerts(host, this.thresholds)
    if (alerts.length > 0) host.alerts = alerts
    return { host, btime: system.btime }
  }

  private factsRefreshSamplesOr (fallback: number): number {
    return this.factsRefreshSamples > 0 ? this.factsRefreshSamples : fallback
  }

  /** Mounts and whole disks change rarely: re-read them every FACTS_REFRESH_SAMPLES samples. */
  private async refreshDevices (): Promise<void> {
    const [mountsText, blocks] = await Promise.all([
      readFile(`${this.procRoot}/self/mounts`, 'utf8').catch(() => ''),
      readdir(`${this.sysRoot}/block`).catch(() => undefined)
    ])
    this.mounts = parseMounts(mountsText).slice(0, MAX_HOST_DISKS)
    this.wholeDisks = blocks === undefined ? undefined : new Set(blocks.filter(b => !VIRTUAL_BLOCK_DEVICE.test(b)))
  }

  /** df's figures for each data filesystem (network filesystems are left out: statfs could hang on them). */
  private async diskUsage (): Promise<DiskUsage[]> {
    const out = await Promise.all(this.mounts.map(async (m): Promise<DiskUsage | undefined> => {
      try {
        const s = await statfs(m.mount)
        return { mount: m.mount, fstype: m.fstype, total: s.blocks * s.bsize, used: (s.blocks - s.bfree) * s.bsize, avail: s.bavail * s.bsize }
      } catch {
        return undefined
      }
    }))
    return out.filter((d): d is DiskUsage => d !== undefined && d.total > 0)
  }

  /** Bytes per second since the previous sample; undefined on the first one. */
  private ioRates (diskText: string | undefined, netText: string | undefined): HostIo | undefined {
    const whole = this.wholeDisks
    const isDisk = whole !== undefined ? (name: string) => whole.has(name) : (name: string) => !VIRTUAL_BLOCK_DEVICE.test(name) && !/\d+$|p\d+$/.test(name.replace(/^nvme\d+n\d+$/, 'nvme'))
    const now = this.now()
    const disk = diskText === undefined ? undefined : parseDiskstats(diskText, isDisk)
    const net = netText === undefined ? undefined : parseNetDev(netText)
    const prev = this.prevIo
    this.prevIo = { at: now, disk, net }
    if (prev === undefined || !(now > prev.at)) return undefined
    const seconds = (now - prev.at) / 1000
    const rate = (a: number | undefined, b: number | undefined): number => a === undefined || b === undefined ? 0 : Math.max(0, Math.round((b - a) / seconds))
    return {
      diskRead: rate(prev.disk?.read, disk?.read),
      diskWrite: rate(prev.disk?.written, disk?.written),
      netRx: rate(prev.net?.read, net?.read),
      netTx: rate(prev.net?.written, net?.written)
    }
  }

  /** Page size from our own statm/status; the default when procRoot has no `self` (a fake tree). */
  private detectPageSize (): number {
    try {
      const statm = readFileSync(`${this.procRoot}/self/statm`, 'utf8')
      const status = readFileSync(`${this.procRoot}/self/status`, 'utf8')
      return pageSizeFromStatm(statm, status) ?? DEFAULT_PAGE_SIZE
    } catch {
      return DEFAULT_PAGE_SIZE
    }
  }

  /**
   * Platforms without /proc. Approximate by nature:
   * - cpuPercent is what `ps %cpu` says: on macOS a decaying recent average, on the BSDs and on
   *   Linux (when forced) the average over the process's whole life, not the last interval;
   * - rss is `%mem` (one decimal) times total memory, so it is off by up to 0.05% of RAM;
   * - state is unknown ('?'); on Windows so are uid (-1), cmd (the name), rss and start time (0).
   */
  private async sampleWithPsList (): Promise<Snapshot> {
    this.psList ??= import('ps-list').then(module => module.default)
    const psList = await this.psList
    const [list] = await Promise.all([psList(), this.users.refresh()])
    const collectedAt = Date.now()
    const totalMem = os.totalmem()
    const self = safeUserInfo()
    const processes: ProcessInfo[] = list.map(p => {
      const uid = p.uid ?? -1
      let user = ''
      if (uid >= 0) user = self !== undefined && self.uid === uid ? self.username : this.users.name(uid)
      return {
        pid: p.pid,
        ppid: p.ppid,
        uid,
        user,
        name: p.name,
        cmd: p.cmd !== undefined && p.cmd !== '' ? p.cmd : p.name,
        state: '?',
        cpuPercent: p.cpu ?? 0,
        rss: Math.round(((p.memory ?? 0) / 100) * totalMem),
        startTime: p.startTime?.getTime() ?? 0
      }
    })
    this.lastStats = { listed: list.length, collected: processes.length, vanished: 0, skipped: 0, filesRead: 0 }
    return { collectedAt, host: this.readHostOs(), processes }
  }

  private readHostOs (): HostInfo {
    const cpus = os.cpus()
    const cpu: CpuTimes = { total: 0, idle: 0 }
    for (const { times } of cpus) {
      cpu.total += times.user + times.nice + times.sys + times.idle + times.irq
      cpu.idle += times.idle
    }
    const cpuPercent = hostCpuPercent(this.prevCpu ?? { total: 0, idle: 0 }, cpu)
    this.prevCpu = cpu
    const [l1, l5, l15] = os.loadavg()
    const memTotal = os.totalmem()
    return {
      hostname: os.hostname(),
      platform: this.platform,
      arch: process.arch,
      cpus: cpus.length,
      cpuPercent,
      load: [l1, l5, l15],
      memTotal,
      // freemem excludes reclaimable cache on some platforms (macOS), so this leans high there
      memUsed: memTotal - os.freemem(),
      uptime: os.uptime()
    }
  }
}

/** ENOENT: the pid directory is gone; ESRCH: the task died while we read its file. */
function isVanished (err: unknown): boolean {
  const code = errnoCode(err)
  return code === 'ENOENT' || code === 'ESRCH'
}

function noteFailure (err: unknown, stats: ScanStats, pid: string): void {
  if (isVanished(err)) {
    stats.vanished++
    return
  }
  stats.skipped++
  stats.lastError = `pid ${pid}: ${err instanceof Error ? err.message : String(err)}`
}

/**
 * At most MAX_CMDLINE_BYTES of a file, decoded as UTF-8 (a character cut there becomes U+FFFD),
 * read into a buffer taken from and returned to `buffers`.
 * One read: procfs hands over as much as asked (cmdline at least a page) in one go. Plain
 * callbacks rather than a FileHandle: one promise per file instead of one per step, which
 * matters when a first sample reads a thousand of them.
 */
function readCapped (path: string, buffers: Buffer[]): Promise<string> {
  return new Promise((resolve, reject) => {
    fsOpen(path, 'r', (openErr, fd) => {
      if (openErr !== null) {
        reject(openErr)
        return
      }
      const buffer = buffers.pop() ?? Buffer.allocUnsafeSlow(MAX_CMDLINE_BYTES)
      fsRead(fd, buffer, 0, buffer.length, null, (readErr, bytesRead) => {
        fsClose(fd, () => {
          const text = readErr === null ? buffer.toString('utf8', 0, bytesRead) : ''
          buffers.push(buffer)
          if (readErr !== null) reject(readErr)
          else resolve(text)
        })
      })
    })
  })
}

/** Runs at most `max` tasks at a time, in the order they were handed in. */
function limiter (max: number): (task: () => Promise<void>) => Promise<void> {
  let active = 0
  const waiting: Array<() => void> = []
  // a finishing task hands its slot straight to the next waiter, so `active` never exceeds max
  const release = (): void => {
    const wake = waiting.shift()
    if (wake !== undefined) wake()
    else active--
  }
  return async (task) => {
    if (active >= max) await new Promise<void>(resolve => { waiting.push(resolve) })
    else active++
    try {
      await task()
    } finally {
      release()
    }
  }
}

function yieldToEventLoop (): Promise<void> {
  return new Promise(resolve => setImmediate(resolve))
}

function safeUserInfo (): { uid: number, username: string } | undefined {
  try {
    const info = os.userInfo()
    return { uid: info.uid, username: info.username }
  } catch {
    return undefined
  }
}

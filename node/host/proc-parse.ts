/**
 * Pure parsers for the Linux /proc text the collector reads, and the CPU arithmetic on top of it.
 * No I/O here: every function takes the text of one file, so the tests can feed recorded files.
 *
 * Field numbers follow proc(5), counting from 1.
 */

/** USER_HZ: fixed at 100 on every mainstream Linux architecture (the kernel hides its real HZ). */
export const DEFAULT_CLOCK_TICKS = 100
/** Pages are 4 KiB on x86 and most arm64 kernels; the collector detects other sizes at run time. */
export const DEFAULT_PAGE_SIZE = 4096

/** A /proc file whose text does not have the shape proc(5) describes. */
export class ProcParseError extends Error {
  override name = 'ProcParseError'
}

/** What the collector needs from /proc/[pid]/stat. */
export interface PidStat {
  /** field 1 */
  pid: number
  /** field 2 without its parentheses; at most 15 bytes, may contain spaces and parentheses */
  comm: string
  /** field 3: R S D Z T t X I ... */
  state: string
  /** field 4 */
  ppid: number
  /** fields 14 + 15: user and system time, clock ticks */
  cpuTicks: number
  /** field 22: clock ticks after boot; with pid it names one process across pid reuse */
  startTicks: number
  /**
   * field 24: resident pages. Kernels with per-CPU RSS counters (6.2 on) print a cheap
   * approximation here while statm and status VmRSS sum exactly, so this can trail ps by a few
   * dozen pages per CPU (seen: 4232 vs 4400 KiB for an idle bash on a 2-CPU 6.18 kernel).
   */
  rssPages: number
  /** field 18: the kernel's priority as top's PR shows it (20 + nice for normal tasks; negative for real-time) */
  priority: number
  /** field 19: -20 (most favoured) .. 19 */
  nice: number
  /** field 20 */
  threads: number
}

/** Fields of /proc/[pid]/stat counted after the `)` that closes comm: field 3 is index 0. */
const STAT_INDEX_PPID = 4 - 3
const STAT_INDEX_UTIME = 14 - 3
const STAT_INDEX_STIME = 15 - 3
const STAT_INDEX_PRIORITY = 18 - 3
const STAT_INDEX_NICE = 19 - 3
const STAT_INDEX_THREADS = 20 - 3
const STAT_INDEX_STARTTIME = 22 - 3
const STAT_INDEX_RSS = 24 - 3

const CHAR_SPACE = 0x20
const CHAR_NEWLINE = 0x0a
const CHAR_MINUS = 0x2d
const CHAR_0 = 0x30
const CHAR_9 = 0x39

/**
 * Parse /proc/[pid]/stat. comm may hold any byte, `)` and spaces included, so the split is at the
 * LAST `)`. Hand-rolled rather than split/regex: this runs once per process per sample and is the
 * collector's hot path. Throws ProcParseError naming the problem when the line is malformed.
 */
export function parseProcStat (text: string): PidStat {
  const open = text.indexOf(' (')
  const close = text.lastIndexOf(')')
  if (open < 1 || close < open) throw new ProcParseError(`stat: no "(comm)" in ${preview(text)}`)
  const pid = parseDecimal(text, 0, open)
  if (pid === undefined || pid <= 0) throw new ProcParseError(`stat: bad pid in ${preview(text)}`)
  const comm = text.slice(open + 2, close)

  // after ")" comes " S 1 ..." : the state letter, then numeric fields separated by single spaces
  let pos = close + 1
  if (text.charCodeAt(pos) !== CHAR_SPACE || pos + 1 >= text.length) {
    throw new ProcParseError(`stat: nothing after comm in ${preview(text)}`)
  }
  const state = text[pos + 1]
  pos += 2
  let ppid = -1
  let utime = -1
  let stime = -1
  let startTicks = -1
  let rssPages = -1
  let priority = 0
  let nice = 0
  let threads = 1
  for (let index = 1; index <= STAT_INDEX_RSS; index++) {
    if (text.charCodeAt(pos) !== CHAR_SPACE) {
      throw new ProcParseError(`stat: field ${index + 3} missing in ${preview(text)}`)
    }
    const start = pos + 1
    let end = start
    while (end < text.length) {
      const c = text.charCodeAt(end)
      if (c === CHAR_SPACE || c === CHAR_NEWLINE) break
      end++
    }
    if (index === STAT_INDEX_PPID || index === STAT_INDEX_UTIME || index === STAT_INDEX_STIME ||
        (index >= STAT_INDEX_PRIORITY && index <= STAT_INDEX_THREADS) ||
        index === STAT_INDEX_STARTTIME || index === STAT_INDEX_RSS) {
      const value = parseDecimal(text, start, end)
      if (value === undefined) {
        throw new ProcParseError(`stat: field ${index + 3} is not a number in ${preview(text)}`)
      }
      if (index === STAT_INDEX_PPID) ppid = value
      else if (index === STAT_INDEX_UTIME) utime = value
      else if (index === STAT_INDEX_STIME) stime = value
      else if (index === STAT_INDEX_STARTTIME) startTicks = value
      else if (index === STAT_INDEX_PRIORITY) priority = value
      else if (index === STAT_INDEX_NICE) nice = value
      else if (index === STAT_INDEX_THREADS) threads = value
      else rssPages = value
    }
    pos = end
  }
  return { pid, comm, state, ppid, cpuTicks: utime + stime, startTicks, rssPages: Math.max(0, rssPages), priority, nice, threads }
}

/** A signed decimal integer filling text[start, end) exactly, or undefined. */
function parseDecimal (text: string, start: number, end: number): number | undefined {
  let i = start
  let sign = 1
  if (text.charCodeAt(i) === CHAR_MINUS) {
    sign = -1
    i++
  }
  if (i >= end) return undefined
  let value = 0
  for (; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c < CHAR_0 || c > CHAR_9) return undefined
    value = value * 10 + (c - CHAR_0)
  }
  return sign * value
}

function preview (text: string): string {
  const oneLine = text.replace(/\n/g, '\\n')
  return JSON.stringify(oneLine.length > 80 ? `${oneLine.slice(0, 80)}...` : oneLine)
}

/** What the collector needs from /proc/[pid]/status. */
export interface PidStatus {
  /** effective uid: the one `ps -o user` shows and permission checks use */
  uid: number
  /** VmRSS in bytes; absent for kernel threads and zombies */
  vmRss?: number
}

/** Parse /proc/[pid]/status. Throws ProcParseError when the Uid line is missing or malformed. */
export function parseProcStatus (text: string): PidStatus {
  const uidLine = lineValue(text, 'Uid')
  if (uidLine === undefined) throw new ProcParseError('status: no Uid line')
  // "Uid:\treal\teffective\tsaved\tfs"
  const ids = uidLine.split('\t')
  const uid = ids.length >= 2 ? Number(ids[1]) : NaN
  if (!Number.isSafeInteger(uid) || uid < 0) throw new ProcParseError(`status: bad Uid line "${uidLine}"`)
  const result: PidStatus = { uid }
  const rss = lineValue(text, 'VmRSS')
  if (rss !== undefined) {
    const kb = kilobytes(rss)
    if (kb !== undefined) result.vmRss = kb * 1024
  }
  return result
}

/** The text after "Key:" (tabs and spaces trimmed) in a "Key: value" file, or undefined. */
function lineValue (text: string, key: string): string | undefined {
  const needle = `${key}:`
  let at = 0
  if (!text.startsWith(needle)) {
    const newline = text.indexOf(`\n${needle}`)
    if (newline < 0) return undefined
    at = newline + 1
  }
  let end = text.indexOf('\n', at)
  if (end < 0) end = text.length
  return text.slice(at + needle.length, end).trim()
}

/** "24682416 kB" -> 24682416 */
function kilobytes (value: string): number | undefined {
  const space = value.indexOf(' ')
  const n = Number(space < 0 ? value : value.slice(0, space))
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}

/**
 * /proc/[pid]/cmdline is the argv strings, each ending in NUL. It is empty for kernel threads and
 * zombies, which ps shows as `[name]`; so do we. Programs that rewrite their argv (setproctitle)
 * may leave one space-separated string with or without NULs: joining on NUL handles both.
 */
export function parseCmdline (text: string, comm: string): string {
  let end = text.length
  while (end > 0 && text.charCodeAt(end - 1) === 0) end--
  if (end === 0) return `[${comm}]`
  const body = end === text.length ? text : text.slice(0, end)
  return body.indexOf('\0') < 0 ? body : body.split('\0').join(' ')
}

/** CPU time counters of the aggregate `cpu` line of /proc/stat, in clock ticks. */
export interface CpuTimes {
  /** every state except guest/guest_nice, which the kernel already counts in user/nice */
  total: number
  /** idle + iowait: time the CPUs had nothing to run */
  idle: number
}

export interface SystemStat {
  cpu: CpuTimes
  /** number of cpuN lines: the online CPUs */
  cpus: number
  /** the cpuN lines, in the kernel's order (per-core CPU%, as htop's meters) */
  cores: CpuTimes[]
  /** boot time, seconds since the epoch */
  btime: number
}

/** Parse /proc/stat. Throws ProcParseError when the cpu line or btime is missing. */
export function parseSystemStat (text: string): SystemStat {
  let cpu: CpuTimes | undefined
  const cores: CpuTimes[] = []
  let btime: number | undefined
  for (const line of text.split('\n')) {
    if (line.startsWith('cpu ')) {
      cpu = parseCpuLine(line)
    } else if (line.startsWith('cpu')) {
      const c = line.charCodeAt(3)
      // a core line the kernel garbled still counts as a CPU; its own figure reads 0
      if (c >= CHAR_0 && c <= CHAR_9) cores.push(tryCpuLine(line.slice(line.indexOf(' '))) ?? { total: 0, idle: 0 })
    } else if (line.startsWith('btime ')) {
      const value = Number(line.slice(6).trim())
      if (Number.isSafeInteger(value) && value > 0) btime = value
    }
  }
  if (cpu === undefined) throw new ProcParseError('stat: no aggregate "cpu" line')
  if (btime === undefined) throw new ProcParseError('stat: no valid btime line')
  return { cpu, cpus: cores.length, cores, btime }
}

function tryCpuLine (line: string): CpuTimes | undefined {
  try {
    return parseCpuLine(line)
  } catch {
    return undefined
  }
}

/** `cpu  user nice system idle iowait irq softirq steal guest guest_nice`, or the same after `cpuN`. */
function parseCpuLine (line: string): CpuTimes {
  const fields = line.replace(/^cpu\s/, '').trim().split(/\s+/).map(Number)
  if (fields.length < 4 || fields.some(n => !Number.isFinite(n) || n < 0)) {
    throw new ProcParseError(`stat: bad cpu line "${line}"`)
  }
  let total = 0
  for (let i = 0; i < Math.min(fields.length, 8); i++) total += fields[i]
  const idle = fields[3] + (fields[4] ?? 0)
  return { total, idle }
}

export interface MemInfo {
  /** bytes */
  memTotal: number
  /** bytes */
  memAvailable: number
  /**
   * memTotal - memAvailable: memory the kernel could not hand to a new program without
   * swapping. procps-ng's `free` (before 4.0.3) says total - free - buff/cache, which leaves
   * out unreclaimable caches and shared memory, so it reads lower (~300 MB on a desktop).
   */
  memUsed: number
  /** Buffers + Cached + SReclaimable: `free`'s buff/cache, bytes */
  cached: number
  /** bytes; 0 without swap */
  swapTotal: number
  /** SwapTotal - SwapFree, bytes */
  swapUsed: number
}

/**
 * Parse /proc/meminfo. Kernels before 3.14 have no MemAvailable; there free + buffers + cached
 * is the usual estimate of the same thing.
 */
export function parseMeminfo (text: string): MemInfo {
  const total = kbField(text, 'MemTotal')
  if (total === undefined) throw new ProcParseError('meminfo: no MemTotal line')
  let available = kbField(text, 'MemAvailable')
  if (available === undefined) {
    const free = kbField(text, 'MemFree')
    if (free === undefined) throw new ProcParseError('meminfo: neither MemAvailable nor MemFree')
    available = free + (kbField(text, 'Buffers') ?? 0) + (kbField(text, 'Cached') ?? 0)
  }
  available = Math.min(available, total)
  const cached = (kbField(text, 'Buffers') ?? 0) + (kbField(text, 'Cached') ?? 0) + (kbField(text, 'SReclaimable') ?? 0)
  const swapTotal = kbField(text, 'SwapTotal') ?? 0
  const swapUsed = Math.max(0, swapTotal - (kbField(text, 'SwapFree') ?? swapTotal))
  return {
    memTotal: total * 1024,
    memAvailable: available * 1024,
    memUsed: (total - available) * 1024,
    cached: Math.min(cached, total) * 1024,
    swapTotal: swapTotal * 1024,
    swapUsed: swapUsed * 1024
  }
}

/** Bytes moved by the disks or the network interfaces since boot. */
export interface IoCounters { read: number, written: number }

/** diskstats counts 512-byte sectors whatever the device's sector size (Documentation/admin-guide/iostats.rst). */
const DISKSTATS_SECTOR_BYTES = 512

/**
 * Parse /proc/diskstats into bytes read and written, summed over the devices `isDisk` accepts
 * (whole disks: a partition's I/O is already counted in its disk, a device-mapper or md device's
 * in the disks beneath it). Malformed lines are skipped.
 */
export function parseDiskstats (text: string, isDisk: (name: string) => boolean): IoCounters {
  let read = 0
  let written = 0
  for (const line of text.split('\n')) {
    // major minor name reads merged sectors-read ms writes merged sectors-written ...
    const f = line.trim().split(/\s+/)
    if (f.length < 10 || !isDisk(f[2])) continue
    const r = Number(f[5])
    const w = Number(f[9])
    if (Number.isFinite(r) && Number.isFinite(w)) {
      read += r * DISKSTATS_SECTOR_BYTES
      written += w * DISKSTATS_SECTOR_BYTES
    }
  }
  return { read, written }
}

/** Parse /proc/net/dev into bytes received (`read`) and sent (`written`) by every interface but loopback. */
export function parseNetDev (text: string): IoCounters {
  let read = 0
  let written = 0
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const name = line.slice(0, colon).trim()
    if (name === 'lo' || name === '') continue
    // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes ...
    const f = line.slice(colon + 1).trim().split(/\s+/)
    if (f.length < 9) continue
    const rx = Number(f[0])
    const tx = Number(f[8])
    if (Number.isFinite(rx) && Number.isFinite(tx)) {
      read += rx
      written += tx
    }
  }
  return { read, written }
}

/** /proc/sys/fs/file-nr: "allocated unused max" -> the file handles open on the host. */
export function parseFileNr (text: string): number | undefined {
  const n = Number(text.trim().split(/\s+/)[0])
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}

/** /proc/net/sockstat's "sockets: used N" -> N. */
export function parseSockstat (text: string): number | undefined {
  const m = /^sockets: used (\d+)/m.exec(text)
  return m === null ? undefined : Number(m[1])
}

/** A mounted filesystem worth a disk-usage figure. */
export interface Mount { device: string, mount: string, fstype: string }

/**
 * Filesystems that hold data on a local device (or pool), as opposed to pseudo and image
 * filesystems. Network filesystems are left out on purpose: statfs on a hung NFS or CIFS server
 * blocks a libuv thread for good, and the host that serves them reports them itself.
 */
const DATA_FSTYPES = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'zfs', 'f2fs', 'jfs', 'reiserfs', 'vfat', 'exfat', 'ntfs', 'ntfs3', 'fuseblk', 'bcachefs'])

/**
 * The data filesystems of /proc/self/mounts, as df lists them without -a: one mount per device
 * (the shortest mount point, so a bind mount does not count a disk twice), and a container's
 * overlay root. Mount points are unescaped (`\040` is a space).
 */
export function parseMounts (text: string): Mount[] {
  const byDevice = new Map<string, Mount>()
  for (const line of text.split('\n')) {
    const [device, rawMount, fstype] = line.split(' ')
    if (device === undefined || rawMount === undefined || fstype === undefined) continue
    const mount = rawMount.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)))
    if (!DATA_FSTYPES.has(fstype) && !(fstype === 'overlay' && mount === '/')) continue
    const seen = byDevice.get(device)
    if (seen === undefined || mount.length < seen.mount.length) byDevice.set(device, { device, mount, fstype })
  }
  return [...byDevice.values()].sort((a, b) => a.mount.localeCompare(b.mount))
}

function kbField (text: string, key: string): number | undefined {
  const value = lineValue(text, key)
  return value === undefined ? undefined : kilobytes(value)
}

/** Parse /proc/loadavg: "0.13 0.09 0.03 1/83 3089". */
export function parseLoadavg (text: string): [number, number, number] {
  const [a, b, c] = text.trim().split(' ').map(Number)
  if (![a, b, c].every(n => Number.isFinite(n) && n >= 0)) {
    throw new ProcParseError(`loadavg: bad line ${preview(text)}`)
  }
  return [a, b, c]
}

/** Parse /proc/uptime: "169.90 298.71" -> seconds since boot. */
export function parseUptime (text: string): number {
  const first = text.trim().split(' ')[0]
  const seconds = Number(first)
  if (first === '' || !Number.isFinite(seconds) || seconds < 0) {
    throw new ProcParseError(`uptime: bad line ${preview(text)}`)
  }
  return seconds
}

/**
 * Parse /etc/passwd into uid -> name. Malformed lines and NIS `+`/`-` entries are skipped; when a
 * uid appears twice the first line wins, as with getpwuid(3).
 */
export function parsePasswd (text: string): Map<number, string> {
  const names = new Map<number, string>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith('+') || line.startsWith('-')) continue
    const fields = line.split(':')
    if (fields.length < 4 || fields[0] === '' || fields[2] === '') continue
    const uid = Number(fields[2])
    if (!Number.isSafeInteger(uid) || uid < 0) continue
    if (!names.has(uid)) names.set(uid, fields[0])
  }
  return names
}

/**
 * Page size from the same process's /proc/[pid]/statm (resident pages, field 2) and status
 * (VmRSS in kB): both come from the same counters, so their ratio is the page size. Rounded to a
 * power of two because the two files are read a moment apart. Undefined when it can't be told.
 */
export function pageSizeFromStatm (statmText: string, statusText: string): number | undefined {
  const residentPages = Number(statmText.trim().split(' ')[1])
  const rss = lineValue(statusText, 'VmRSS')
  const kb = rss === undefined ? undefined : kilobytes(rss)
  if (!Number.isFinite(residentPages) || residentPages <= 0 || kb === undefined || kb <= 0) return undefined
  const ratio = (kb * 1024) / residentPages
  const pageSize = 2 ** Math.round(Math.log2(ratio))
  return pageSize >= 4096 && pageSize <= 65536 ? pageSize : undefined
}

/** Start of a process in ms since the epoch, from its starttime ticks and the boot time. */
export function startTimeMs (startTicks: number, btime: number, clockTicks: number = DEFAULT_CLOCK_TICKS): number {
  return btime * 1000 + Math.round(startTicks * 1000 / clockTicks)
}

/** Resident set size in bytes. */
export function rssBytes (rssPages: number, pageSize: number = DEFAULT_PAGE_SIZE): number {
  return rssPages * pageSize
}

/**
 * CPU use of one process as percent of one core (a process with 4 busy threads shows 400),
 * from its utime+stime ticks at two samples `elapsedMs` apart. 0 when there is no usable
 * interval or the counter went backwards (a different process under a reused pid).
 */
export function processCpuPercent (
  prevTicks: number,
  ticks: number,
  elapsedMs: number,
  clockTicks: number = DEFAULT_CLOCK_TICKS
): number {
  const delta = ticks - prevTicks
  if (!(elapsedMs > 0) || !(delta > 0)) return 0
  return (delta * 1000 * 100) / (clockTicks * elapsedMs)
}

/** CPU use of the whole host as percent of all cores together (0..100), between two /proc/stat samples. */
export function hostCpuPercent (prev: CpuTimes, next: CpuTimes): number {
  const total = next.total - prev.total
  const idle = next.idle - prev.idle
  if (!(total > 0)) return 0
  const busy = Math.min(Math.max((total - idle) / total, 0), 1)
  return busy * 100
}

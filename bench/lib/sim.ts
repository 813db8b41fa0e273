/**
 * Simulated hosts for the benchmarks (test/harness): a LAN that is ready for multicast, and what
 * the rows read from outside the hosts — a process's CPU time and RSS, an interface's byte
 * counters, a host's process count — straight from /proc in the root namespace, so measuring
 * starts no process inside the host it measures.
 */
import { execFileSync, type ChildProcess } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'
import { createSimNet, waitFor, type SimHost, type SimNet } from '../../testkit/sim-hosts.js'
import { LineLog, within } from './lines.js'
import { sleep } from './stats.js'

/** Every namespace, link and temp dir of a bench run starts with this (tests use `pmt`). */
export const BENCH_PREFIX = 'pmb'
/** IPv6 duplicate address detection takes ~1-2 s after a link comes up. */
const LINK_READY_TIMEOUT_MS = 10_000
/** A daemon gets this long to exit after SIGTERM/SIGINT before SIGKILL. */
const STOP_GRACE_MS = 5000

/**
 * A LAN of `hosts` hosts, each with its IPv6 link-local address usable. Until duplicate address
 * detection ends, sends to ff02::fb fail; Serf's mDNS client then gives up until its next poll a
 * minute later, and a benchmark would time Serf's retry rather than its discovery.
 */
export async function openSimNet (hosts: number): Promise<SimNet> {
  const net = await createSimNet({ hosts, prefix: BENCH_PREFIX })
  openNets.add(net)
  const destroy = net.destroy.bind(net)
  net.destroy = async () => {
    openNets.delete(net)
    await destroy()
  }
  try {
    await Promise.all(net.hosts.map(async h => { await waitLinkReady(h) }))
  } catch (err: unknown) {
    await net.destroy()
    throw err
  }
  return net
}

const openNets = new Set<SimNet>()

/** For an interrupted run (signal, watchdog): destroy every LAN still open, with its hosts' processes. */
export async function destroyOpenNets (): Promise<void> {
  await Promise.all([...openNets].map(async net => { await net.destroy().catch(() => {}) }))
}

export async function addReadyHost (net: SimNet, name?: string): Promise<SimHost> {
  const host = await net.addHost(name)
  await waitLinkReady(host)
  return host
}

async function waitLinkReady (host: SimHost): Promise<void> {
  await waitFor(async () => {
    // address ifindex plen scope flags name; IFA_F_TENTATIVE = 0x40
    const text = await readFile(`/proc/${host.initPid}/net/if_inet6`, 'utf8')
    return text.split('\n').some(line => {
      const f = line.trim().split(/\s+/)
      return f[5] === 'eth0' && f[0].startsWith('fe80') && (parseInt(f[4], 16) & 0x40) === 0
    })
  }, { timeoutMs: LINK_READY_TIMEOUT_MS, intervalMs: 50, what: `an IPv6 link-local address on ${host.name}` })
}

/** Root-namespace pid of the process that `host.spawn` started (the child of its nsenter). */
export async function innerPid (child: ChildProcess): Promise<number> {
  const wrapper = child.pid
  if (wrapper === undefined) throw new Error('the process did not start')
  return await waitFor(() => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited with ${String(child.exitCode ?? child.signalCode)}`)
    return childPids(wrapper)[0]
  }, { timeoutMs: 5000, intervalMs: 5, what: `nsenter ${wrapper} to start its child` })
}

function childPids (pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap(tid => {
      try {
        return readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(s => s !== '').map(Number)
      } catch {
        return []
      }
    })
  } catch {
    return []
  }
}

let clockTicks: number | undefined
function ticksPerSecond (): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

export interface ProcUsage {
  /** user + system CPU seconds of all its threads so far */
  cpuSeconds: number
  rssBytes: number
}

/** CPU time and RSS of a root-namespace pid, from /proc/<pid>/stat and status. */
export function procUsage (pid: number): ProcUsage {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // after "(comm) ": state is field 3; utime and stime are fields 14 and 15
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(f[11]) + Number(f[12])
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const rss = /VmRSS:\s+(\d+) kB/.exec(status)
  return { cpuSeconds: ticks / ticksPerSecond(), rssBytes: rss === null ? 0 : Number(rss[1]) * 1024 }
}

export interface NetBytes { rx: number, tx: number }

/** Bytes through a host's eth0 so far (its network namespace's /proc/net/dev). */
export async function netBytes (host: SimHost): Promise<NetBytes> {
  const text = await readFile(`/proc/${host.initPid}/net/dev`, 'utf8')
  const line = text.split('\n').find(l => l.trim().startsWith('eth0:'))
  if (line === undefined) throw new Error(`no eth0 in ${host.name}`)
  const f = line.slice(line.indexOf(':') + 1).trim().split(/\s+/).map(Number)
  return { rx: f[0], tx: f[8] }
}

/** Processes in a host's PID namespace right now. */
export async function hostProcCount (host: SimHost): Promise<number> {
  return (await readdir(`/proc/${host.initPid}/root/proc`)).filter(n => /^\d+$/.test(n)).length
}

/** SIGTERM (or `signal`), then SIGKILL after a grace period; resolves when the child has exited. */
export async function stopChild (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
  child.kill(signal)
  if (await within(exited.then(() => true), STOP_GRACE_MS) === undefined) {
    child.kill('SIGKILL')
    await exited
  }
}

/**
 * `count` idle `sleep` processes in a host, under one shell that kills exactly its own children
 * when it is stopped, so a row can bring a host to ~500 or ~2,000 processes.
 */
export class SleepFiller {
  private readonly child: ChildProcess

  private constructor (child: ChildProcess) {
    this.child = child
  }

  static async start (host: SimHost, count: number): Promise<SleepFiller> {
    const script = 'trap \'kill $(jobs -p) 2>/dev/null; exit 0\' TERM INT; i=0; while [ "$i" -lt "$1" ]; do sleep 3600 & i=$((i+1)); done; echo ready; wait'
    const child = host.spawn(['sh', '-c', script, 'filler', String(count)])
    const lines = new LineLog(child)
    const ready = await within(lines.next(l => l === 'ready', 0), 60_000)
    if (ready === undefined) {
      await stopChild(child, 'SIGKILL')
      throw new Error(`${count} sleep processes did not start in ${host.name} within 60 s`)
    }
    return new SleepFiller(child)
  }

  async stop (): Promise<void> {
    await stopChild(this.child)
    // the shell kills its children on TERM; give the host's init a moment to reap them
    await sleep(200)
  }
}

/**
 * Issue 18: the figures htop, btop and Glances users read every day, checked in a simulated host
 * against independent readers: procps (`ps`, `free`, `df`), psutil where installed (Debian's
 * python3-psutil), and /proc files read by the test itself.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { getPriority } from 'node:os'
import type { ChildProcess } from 'node:child_process'
import type { PeerEntry, ProcessInfo } from '../../protocols/types.js'
import { createSimNet, harnessSkipReason, requireHarness, waitFor, type SimNet, type SimHost } from '../../testkit/sim-hosts.js'
import { cliIn, jsonIn, startMesh, stopNode, type MeshNode } from '../helpers/sim-mesh.js'

/** Debian's python3, where python3-psutil installs (a pyenv python3 on the PATH may lack it). */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'

/** Five extra threads, 1.5 s of CPU, then asleep: threads, nice and TIME+ are known and then stable. */
const WORKER = [
  'import threading, time',
  'for _ in range(5): threading.Thread(target=time.sleep, args=(600,), daemon=True).start()',
  'end = time.time() + 1.5',
  'while time.time() < end: pass',
  'time.sleep(600)'
].join('\n')

type PsEntry = { name: string, processes: ProcessInfo[] }

async function psutilSees (host: SimHost, pid: number): Promise<{ rss: number, threads: number, nice: number, cpu: number } | undefined> {
  const script = `import json, psutil; p = psutil.Process(${pid}); t = p.cpu_times(); print(json.dumps({"rss": p.memory_info().rss, "threads": p.num_threads(), "nice": p.nice(), "cpu": t.user + t.system}))`
  const r = await host.exec([PYTHON, '-c', script])
  if (r.code !== 0) return undefined
  return JSON.parse(r.stdout) as { rss: number, threads: number, nice: number, cpu: number }
}

describe('host and process figures beside procps and psutil', { timeout: 180_000 }, () => {
  let net: SimNet | undefined
  let nodes: MeshNode[] = []
  let a: SimHost
  let b: SimHost
  let worker: ChildProcess | undefined
  let workerPid = 0

  before(async () => {
    if (harnessSkipReason() !== undefined) return
    net = await createSimNet({ hosts: 2 })
    ;[a, b] = net.hosts
    // memory is always critical on these hosts, and every process is at least careful
    nodes = await startMesh(net.hosts, ['--alert', 'mem=0,0,0', '--alert', 'proc-mem=0,90,95'])
    await waitFor(async () => {
      const peers = await jsonIn<PeerEntry[]>(a, ['peers'])
      return peers.length === 2 && peers.every(p => p.status === 'online') ? true : undefined
    }, { timeoutMs: 30_000, what: 'the 2-host mesh' })
    worker = b.spawn(['nice', '-n', '7', PYTHON, '-c', WORKER])
    // the worker's own pid inside b: the python whose parent chain is our nsenter
    workerPid = await waitFor(async () => {
      const r = await b.exec(['pgrep', '-f', 'threading.Thread'])
      const pid = Number(r.stdout.trim().split('\n')[0])
      return r.code === 0 && pid > 0 ? pid : undefined
    }, { timeoutMs: 10_000, what: 'the worker to start' })
    // past its busy 1.5 s (less CPU than that on a loaded machine): its CPU time stops moving
    await new Promise(resolve => setTimeout(resolve, 2500))
  })
  after(async () => {
    worker?.kill('SIGKILL')
    for (const n of nodes) await stopNode(n)
    await net?.destroy()
  })

  it('a process: threads, nice, priority, TIME+ and RSS read as ps and psutil read them', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    // asked from the other host: the figures travel in the list answer
    const [entry] = await jsonIn<PsEntry[]>(a, ['ps', b.name])
    const p = entry.processes.find(x => x.pid === workerPid)
    assert.ok(p !== undefined, `pid ${workerPid} in ${b.name}'s list`)
    const ps = await b.exec(['ps', '-o', 'nlwp=,ni=,rss=,cputimes=', '-p', String(workerPid)])
    assert.equal(ps.code, 0, ps.stderr)
    const [nlwp, ni, rssKiB, cpuSeconds] = ps.stdout.trim().split(/\s+/).map(Number)
    assert.equal(p.threads, 6)
    assert.equal(p.threads, nlwp)
    // `nice -n 7` adds to the niceness the test runs with
    const expectedNice = Math.min(19, getPriority() + 7)
    assert.equal(p.nice, expectedNice)
    assert.equal(p.nice, ni)
    assert.equal(p.priority, 20 + expectedNice, "top's PR: 20 + nice")
    assert.equal(p.rss, rssKiB * 1024, 'RSS as ps reads it (VmRSS), not stat field 24')
    assert.ok(p.cpuTime !== undefined && p.cpuTime > 0.05 && Math.floor(p.cpuTime) === cpuSeconds, `TIME+ ${String(p.cpuTime)} s vs ps ${cpuSeconds} s`)
    assert.equal(p.alert, 'careful', 'the host marks it with its own limits')

    const ps2 = await psutilSees(b, workerPid)
    if (ps2 === undefined) {
      t.diagnostic('psutil is not installed here (Debian: python3-psutil): compared with procps only')
    } else {
      assert.equal(p.rss, ps2.rss)
      assert.equal(p.threads, ps2.threads)
      assert.equal(p.nice, ps2.nice)
      assert.ok(Math.abs((p.cpuTime ?? 0) - ps2.cpu) < 0.05, `TIME+ ${String(p.cpuTime)} vs psutil ${ps2.cpu}`)
    }

    const table = await cliIn(a, ['ps', b.name, '--filter', 'threading'])
    assert.equal(table.code, 0, table.stderr)
    assert.match(table.stdout.split('\n')[0], /PID\s+USER\s+NI\s+THR\s+CPU%\s+RSS\s+TIME\+\s+STATE\s+START\s+ALERT\s+COMMAND/)
    assert.match(table.stdout, new RegExp(`${workerPid}\\s+\\S+\\s+${expectedNice}\\s+6\\s+`))
  })

  it('the host: memory, swap, cores, filesystems, open files and sockets as free, df and /proc say', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const self = (await jsonIn<PeerEntry[]>(b, ['peers'])).find(p => p.self)
    assert.ok(self !== undefined)
    const h = self.host
    const free = await b.exec(['free', '-b'])
    const mem = free.stdout.split('\n').find(l => l.startsWith('Mem:'))?.trim().split(/\s+/).map(Number) ?? []
    const swap = free.stdout.split('\n').find(l => l.startsWith('Swap:'))?.trim().split(/\s+/).map(Number) ?? []
    // free -b: total used free shared buff/cache available
    assert.equal(h.memTotal, mem[1])
    assert.ok(h.memAvailable !== undefined && Math.abs(h.memAvailable - mem[6]) < 0.1 * mem[1], `available ${String(h.memAvailable)} vs free ${mem[6]}`)
    assert.ok(h.memCached !== undefined && Math.abs(h.memCached - mem[5]) < 0.1 * mem[1], `buff/cache ${String(h.memCached)} vs free ${mem[5]}`)
    assert.equal(h.swapTotal, swap[1])
    assert.equal(h.cores?.length, h.cpus)
    assert.ok(h.cores.every(c => c >= 0 && c <= 100))

    assert.ok(h.disks !== undefined && h.disks.length > 0, 'at least the root filesystem')
    for (const d of h.disks) {
      const df = await b.exec(['df', '-B1', '--output=size,used,avail', d.mount])
      const [size, used] = df.stdout.trim().split('\n')[1].trim().split(/\s+/).map(Number)
      assert.equal(d.total, size, `size of ${d.mount}`)
      assert.ok(Math.abs(d.used - used) <= Math.max(0.02 * size, 64 * 1024 * 1024), `used on ${d.mount}: ${d.used} vs df ${used}`)
    }

    const fileNr = Number(readFileSync('/proc/sys/fs/file-nr', 'utf8').split(/\s+/)[0])
    assert.ok(h.openFiles !== undefined && Math.abs(h.openFiles - fileNr) < 0.5 * fileNr + 1000, `open files ${String(h.openFiles)} vs ${fileNr}`)
    assert.ok(h.sockets !== undefined && h.sockets > 0)
    assert.ok(h.io !== undefined && [h.io.diskRead, h.io.diskWrite, h.io.netRx, h.io.netTx].every(n => n >= 0))
    // the libp2p connection to a moves bytes over b's veth: the network rate cannot stay 0 for long
    await waitFor(async () => {
      const s = (await jsonIn<PeerEntry[]>(b, ['peers'])).find(p => p.self)
      return (s?.host.io?.netRx ?? 0) + (s?.host.io?.netTx ?? 0) > 0 ? true : undefined
    }, { timeoutMs: 20_000, what: 'network bytes on b' })
  })

  it('the other host sees the same figures and the alert, in JSON and in the peers table', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const remote = await waitFor(async () => {
      const p = (await jsonIn<PeerEntry[]>(a, ['peers'])).find(x => x.name === b.name)
      return p?.host.alerts?.some(x => x.metric === 'mem' && x.level === 'critical') === true ? p : undefined
    }, { timeoutMs: 20_000, what: `${a.name} to hear of ${b.name}'s memory alert` })
    assert.equal(remote.host.cores?.length, remote.host.cpus)
    assert.ok((remote.host.disks ?? []).length > 0)
    const table = await cliIn(a, ['peers'])
    assert.equal(table.code, 0, table.stderr)
    const row = table.stdout.split('\n').find(l => l.startsWith(b.name))
    assert.match(row ?? '', /mem \d+% CRITICAL/)
    assert.match(table.stdout.split('\n')[0], /SWAP\s+DISK/)
  })
})

import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readlinkSync } from 'node:fs'
import { after, before, describe, it, type TestContext } from 'node:test'
import {
  cleanupStale, createSimNet, harnessSkipReason, hostPid, HarnessTimeoutError, requireHarness, waitFor,
  type SimHost, type SimNet
} from '../../testkit/sim-hosts.js'

const NODE = process.execPath
const SIM_HOSTS_URL = new URL('../../testkit/sim-hosts.js', import.meta.url).href

// Small programs run inside the hosts. Parameters travel as argv, never spliced into the code.
const PROC_LIST = `
const fs = require('node:fs')
const procs = fs.readdirSync('/proc').filter((e) => /^\\d+$/.test(e)).flatMap((pid) => {
  try { return [{ pid: Number(pid), cmd: fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\\0').join(' ').trim() }] } catch { return [] }
})
console.log(JSON.stringify(procs))`
const TCP_SERVER = `
const port = Number(process.argv[1])
require('node:net').createServer((socket) => { socket.end(require('node:os').hostname() + '\\n') })
  .listen(port, '0.0.0.0', () => { console.log('listening') })`
const TCP_CLIENT = `
const [host, port, timeoutMs] = process.argv.slice(1)
const socket = require('node:net').connect({ host, port: Number(port) })
let data = ''
socket.setTimeout(Number(timeoutMs), () => { console.error('ETIMEDOUT'); process.exit(1) })
socket.on('data', (chunk) => { data += chunk })
socket.on('end', () => { process.stdout.write(data); process.exit(0) })
socket.on('error', (err) => { console.error(err.code); process.exit(1) })`
const MCAST_RECEIVER = `
const dgram = require('node:dgram')
const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true })
socket.on('message', (msg, rinfo) => { console.log(msg.toString() + ' from ' + rinfo.address); process.exit(0) })
socket.bind(5353, () => { socket.addMembership('224.0.0.251', process.argv[1]); console.log('ready') })`
const MCAST_SENDER = `
const dgram = require('node:dgram')
const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true })
let sent = 0
socket.bind(() => {
  socket.setMulticastInterface(process.argv[1])
  // Until the test has seen it arrive and kills us, or for 10 s.
  const timer = setInterval(() => {
    socket.send(process.argv[2], 5353, '224.0.0.251')
    if (++sent === 100) { clearInterval(timer); socket.close() }
  }, 100)
})`

interface ProcEntry {
  pid: number
  cmd: string
}

async function procList (host: SimHost): Promise<ProcEntry[]> {
  const result = await host.exec([NODE, '-e', PROC_LIST])
  assert.equal(result.code, 0, result.stderr)
  const parsed: unknown = JSON.parse(result.stdout)
  assert.ok(Array.isArray(parsed))
  return parsed.map((entry: unknown) => {
    assert.ok(typeof entry === 'object' && entry !== null && 'pid' in entry && 'cmd' in entry)
    assert.ok(typeof entry.pid === 'number' && typeof entry.cmd === 'string')
    return { pid: entry.pid, cmd: entry.cmd }
  })
}

async function tcpRequest (from: SimHost, toIp: string, port: number, timeoutMs = 2_000): Promise<{ ok: boolean, output: string }> {
  const result = await from.exec([NODE, '-e', TCP_CLIENT, toIp, String(port), String(timeoutMs)], { timeoutMs: timeoutMs + 5_000 })
  return { ok: result.code === 0, output: result.code === 0 ? result.stdout.trim() : result.stderr.trim() }
}

/** Resolves with the first stdout line of child matching pattern. */
async function waitForLine (child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 10_000): Promise<string> {
  let buffered = ''
  let exited = false
  child.stdout?.setEncoding('utf8')
  child.stdout?.on('data', (chunk: string) => { buffered += chunk })
  child.once('exit', () => { exited = true })
  return await waitFor(() => {
    const line = buffered.split('\n').find((l) => pattern.test(l))
    if (line === undefined && exited) throw new Error(`exited; stdout so far: ${JSON.stringify(buffered)}`)
    return line
  }, { timeoutMs, intervalMs: 10, what })
}

async function waitExit (child: ChildProcess, timeoutMs = 10_000): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
  return await waitFor(() => {
    if (child.exitCode === null && child.signalCode === null) return undefined
    return { code: child.exitCode, signal: child.signalCode }
  }, { timeoutMs, intervalMs: 10, what: `pid ${child.pid ?? '?'} to exit` })
}

async function startTcpServer (host: SimHost, port: number, children: ChildProcess[]): Promise<ChildProcess> {
  const server = host.spawn([NODE, '-e', TCP_SERVER, String(port)])
  children.push(server)
  await waitForLine(server, /^listening$/, `the TCP server on ${host.name}`)
  return server
}

async function rootCommand (file: string, args: string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 10_000, encoding: 'utf8' }, (err, stdout) => {
      if (err !== null) reject(err)
      else resolve(stdout)
    })
  })
}

/** Root-namespace pids of every process in the PID namespace of `initPid`, read before it died. */
function pidsInPidNamespace (pidNs: string): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/ns/pid`) === pidNs
    } catch {
      return false
    }
  })
}

function processAlive (pid: number): boolean {
  return existsSync(`/proc/${pid}`)
}

function netOf (t: TestContext, net: SimNet | undefined): SimNet | undefined {
  if (!requireHarness(t)) return undefined
  assert.ok(net !== undefined, 'the SimNet was not created (see the before hook)')
  return net
}

function threeHosts (net: SimNet): [SimHost, SimHost, SimHost] {
  const [a, b, c] = net.hosts
  assert.ok(a !== undefined && b !== undefined && c !== undefined)
  return [a, b, c]
}

describe('sim-hosts: three simulated hosts', { timeout: 120_000 }, () => {
  let net: SimNet | undefined
  const children: ChildProcess[] = []

  before(async () => {
    if (harnessSkipReason() !== undefined) return
    const started = Date.now()
    net = await createSimNet({ hosts: 3 })
    console.log(`created 3 simulated hosts in ${Date.now() - started}ms`)
  }, { timeout: 30_000 })

  after(async () => {
    for (const child of children) child.kill('SIGKILL')
    await net?.destroy()
  }, { timeout: 30_000 })

  it('gives each host its own hostname and address', { timeout: 20_000 }, async (t) => {
    const n = netOf(t, net)
    if (n === undefined) return
    const names = await Promise.all(n.hosts.map(async (host) => (await host.exec(['hostname'])).stdout.trim()))
    assert.deepEqual(names, ['host-1', 'host-2', 'host-3'])
    assert.equal(new Set(names).size, 3)
    assert.equal(new Set(n.hosts.map((host) => host.ip)).size, 3)
    for (const host of n.hosts) {
      const addr = await host.exec(['ip', '-4', '-o', 'addr', 'show', 'eth0'])
      assert.match(addr.stdout, new RegExp(`inet ${host.ip.replaceAll('.', '\\.')}/24`))
      const cwd = await host.exec(['pwd'])
      assert.equal(cwd.stdout.trim(), host.home)
    }
  })

  it('exec passes input and env, and kills a command that times out', { timeout: 20_000 }, async (t) => {
    const n = netOf(t, net)
    if (n === undefined) return
    const [a] = threeHosts(n)
    assert.deepEqual(await a.exec(['cat'], { input: 'over stdin' }), { code: 0, signal: null, stdout: 'over stdin', stderr: '' })
    const env = await a.exec(['sh', '-c', 'echo "$HOME $HOSTNAME $EXTRA"'], { env: { EXTRA: 'extra' } })
    assert.equal(env.stdout.trim(), `${a.home} ${a.name} extra`)
    assert.equal((await a.exec(['sh', '-c', 'exit 3'])).code, 3)
    await assert.rejects(a.exec(['sleep', '1001'], { timeoutMs: 300 }), (err: unknown) => {
      assert.ok(err instanceof HarnessTimeoutError)
      assert.match(err.message, new RegExp(`^\\["sleep","1001"\\] on ${a.name}: timed out after 300ms`))
      return true
    })
    assert.deepEqual((await procList(a)).filter((p) => p.cmd === 'sleep 1001'), [])
  })

  it('gives each host its own process table with the holder as pid 1', { timeout: 20_000 }, async (t) => {
    const n = netOf(t, net)
    if (n === undefined) return
    const [a, b] = threeHosts(n)
    const sleeper = a.spawn(['sleep', '1000'])
    children.push(sleeper)
    const pidInA = await hostPid(sleeper)
    const inA = await procList(a)
    const inB = await procList(b)
    assert.ok(inA.some((p) => p.pid === pidInA && p.cmd === 'sleep 1000'), JSON.stringify(inA))
    assert.ok(!inB.some((p) => p.cmd === 'sleep 1000'), JSON.stringify(inB))
    for (const procs of [inA, inB]) {
      assert.match(procs.find((p) => p.pid === 1)?.cmd ?? '', /^perl /)
      // init, the lister itself, and in A the sleeper: nothing from the machine or other hosts.
      assert.ok(procs.length <= 3, JSON.stringify(procs))
    }
    sleeper.kill('SIGTERM')
    assert.deepEqual(await waitExit(sleeper), { code: null, signal: 'SIGTERM' })
    assert.ok(!(await procList(a)).some((p) => p.cmd === 'sleep 1000'))
  })

  it('connects hosts over TCP, each with its own loopback', { timeout: 30_000 }, async (t) => {
    const n = netOf(t, net)
    if (n === undefined) return
    const [a, b, c] = threeHosts(n)
    await startTcpServer(a, 7000, children)
    assert.deepEqual(await tcpRequest(b, a.ip, 7000), { ok: true, output: a.name })
    assert.deepEqual(await tcpRequest(c, a.ip, 7000), { ok: true, output: a.name })
    assert.deepEqual(await tcpRequest(a, '127.0.0.1', 7000), { ok: true, output: a.name })
    assert.deepEqual(await tcpRequest(b, '127.0.0.1', 7000), { ok: false, output: 'ECONNREFUSED' })
  })

  it('carries multicast (224.0.0.251:5353) from one host to the others', { timeout: 30_000 }, async (t) => {
    const n = netOf(t, net)
    if (n === undefined) return
    const [a, b, c] = threeHosts(n)
    const receivers = [b, c].map((host) => {
      const receiver = host.spawn([NODE, '-e', MCAST_RECEIVER, host.ip])
      children.push(receiver)
      return receiver
    })
    await Promise.all(receivers.map(async (r, i) => await waitForLine(r, /^ready$/, `multicast receiver ${i}`)))
    const lines = receivers.map(async (r, i) => await waitForLine(r, / from /, `multicast to receiver ${i}`))
    const sender = a.spawn([NODE, '-e', MCAST_SENDER, a.ip, 'hello-from-a'])
    children.push(sender)
    assert.deepEqual(await Promise.all(lines), [`hello-from-a from ${a.ip}`, `hello-from-a from ${a.ip}`])
    sender.kill('SIGKILL')
  })

  it('makes a host unreachable with linkDown and reachable again with linkUp', { timeout: 40_000 }, async (t) => {
    const n = netOf(t, net)
    if (n === undefined) return
    const [a, b, c] = threeHosts(n)
    await startTcpServer(b, 7001, children)
    assert.deepEqual(await tcpRequest(a, b.ip, 7001), { ok: true, output: b.name })
    await b.linkDown()
    const down = await tcpRequest(a, b.ip, 7001, 1_500)
    assert.equal(down.ok, false, 'B answered while its link was down')
    assert.match(down.output, /ETIMEDOUT|EHOSTUNREACH/)
    // A and C still see each other: only B's cable is out.
    await startTcpServer(c, 7002, children)
    assert.deepEqual(await tcpRequest(a, c.ip, 7002), { ok: true, output: c.name })
    await b.linkUp()
    await waitFor(async () => (await tcpRequest(a, b.ip, 7001)).ok, { timeoutMs: 10_000, intervalMs: 100, what: 'B to be reachable after linkUp' })
    assert.deepEqual(await tcpRequest(b, a.ip, 7000), { ok: true, output: a.name })
  })

  it('kill9All kills every process of a host except its init', { timeout: 20_000 }, async (t) => {
    const n = netOf(t, net)
    if (n === undefined) return
    const [, , c] = threeHosts(n)
    const victims = [c.spawn(['sleep', '1000']), c.spawn(['sh', '-c', 'sleep 1000 & sleep 1000 & wait'])]
    children.push(...victims)
    await Promise.all(victims.map(async (v) => await hostPid(v)))
    await waitFor(async () => (await procList(c)).filter((p) => p.cmd === 'sleep 1000').length === 3, { timeoutMs: 5_000, what: 'three sleepers in C' })
    await c.kill9All()
    for (const victim of victims) assert.equal((await waitExit(victim)).signal, 'SIGKILL')
    const left = await procList(c)
    // Only init and the lister that produced this list.
    assert.deepEqual(left.filter((p) => p.pid !== 1 && !p.cmd.startsWith(`${NODE} -e`)), [])
    assert.ok(processAlive(c.initPid))
    assert.equal((await c.exec(['hostname'])).stdout.trim(), c.name)
  })

  it('adds a fourth host that reaches the others', { timeout: 30_000 }, async (t) => {
    const n = netOf(t, net)
    if (n === undefined) return
    const [a, b, c] = threeHosts(n)
    const d = await n.addHost('extra')
    assert.equal(n.hosts.length, 4)
    assert.equal((await d.exec(['hostname'])).stdout.trim(), 'extra')
    assert.deepEqual(await tcpRequest(d, a.ip, 7000), { ok: true, output: a.name })
    assert.deepEqual(await tcpRequest(d, b.ip, 7001), { ok: true, output: b.name })
    // kill9All took C's server down; C gets a new one.
    await startTcpServer(c, 7004, children)
    assert.deepEqual(await tcpRequest(d, c.ip, 7004), { ok: true, output: c.name })
    await startTcpServer(d, 7003, children)
    assert.deepEqual(await tcpRequest(a, d.ip, 7003), { ok: true, output: 'extra' })
    await assert.rejects(n.addHost('extra'), /already exists/)
  })

  it('destroy removes namespaces, links, homes and every process, and is idempotent', { timeout: 30_000 }, async (t) => {
    const n = netOf(t, net)
    if (n === undefined) return
    const sleepers = n.hosts.map((host) => host.spawn(['sleep', '1000']))
    children.push(...sleepers)
    await Promise.all(sleepers.map(async (s) => await hostPid(s)))
    const pidNamespaces = n.hosts.map((host) => readlinkSync(`/proc/${host.initPid}/ns/pid`))
    const hostPids = pidNamespaces.flatMap(pidsInPidNamespace)
    assert.ok(hostPids.length >= n.hosts.length * 2)

    const started = Date.now()
    await n.destroy()
    console.log(`destroyed ${n.hosts.length} simulated hosts in ${Date.now() - started}ms`)
    await n.destroy()

    assert.deepEqual(hostPids.filter(processAlive), [])
    assert.deepEqual(pidNamespaces.flatMap(pidsInPidNamespace), [])
    for (const sleeper of sleepers) assert.equal((await waitExit(sleeper)).signal, 'SIGKILL')
    const namespaces = await rootCommand('ip', ['netns', 'list'])
    assert.ok(!namespaces.includes(n.id), namespaces)
    const links = await rootCommand('ip', ['-o', 'link', 'show'])
    assert.ok(!links.includes(n.id), links)
    for (const host of n.hosts) assert.equal(existsSync(host.home), false)
    await assert.rejects(n.addHost(), /destroyed/)
  })
})

describe('sim-hosts: two subnets behind a router', { timeout: 90_000 }, () => {
  let net: SimNet | undefined
  const children: ChildProcess[] = []
  before(async () => {
    if (harnessSkipReason() !== undefined) return
    net = await createSimNet({ hosts: 1, subnets: 2 })
    await net.addHost('b-1', { subnet: 1 })
    await net.addHost('b-2', { subnet: 1 })
  })
  after(async () => {
    for (const child of children) child.kill('SIGKILL')
    await net?.destroy()
  })

  it('puts hosts on two /24s and routes TCP between them', { timeout: 30_000 }, async (t) => {
    const n = netOf(t, net)
    if (n === undefined) return
    const [a, b1, b2] = threeHosts(n)
    assert.equal(n.subnets.length, 2)
    assert.deepEqual([a.subnet, b1.subnet, b2.subnet], [0, 1, 1])
    assert.ok(a.ip.startsWith(`${n.subnets[0]}.`) && b1.ip.startsWith(`${n.subnets[1]}.`), `${a.ip} ${b1.ip}`)
    await startTcpServer(a, 7001, children)
    assert.deepEqual(await tcpRequest(b1, a.ip, 7001), { ok: true, output: a.name })
    await startTcpServer(b2, 7002, children)
    assert.deepEqual(await tcpRequest(a, b2.ip, 7002), { ok: true, output: b2.name })
  })

  it('keeps multicast on its own LAN', { timeout: 30_000 }, async (t) => {
    const n = netOf(t, net)
    if (n === undefined) return
    const [a, b1, b2] = threeHosts(n)
    const local = b2.spawn([NODE, '-e', MCAST_RECEIVER, b2.ip])
    const remote = a.spawn([NODE, '-e', MCAST_RECEIVER, a.ip])
    children.push(local, remote)
    await waitForLine(local, /^ready$/, 'multicast receiver on b-2')
    await waitForLine(remote, /^ready$/, 'multicast receiver on the other subnet')
    let remoteGot = ''
    remote.stdout?.on('data', (chunk: string) => { remoteGot += chunk })
    const sender = b1.spawn([NODE, '-e', MCAST_SENDER, b1.ip, 'hello-from-b1'])
    children.push(sender)
    assert.equal(await waitForLine(local, / from /, 'multicast on the same LAN'), `hello-from-b1 from ${b1.ip}`)
    // the sender repeats every 100 ms: a second of them never reaches the other subnet
    await new Promise(resolve => setTimeout(resolve, 1000))
    assert.equal(remoteGot.includes('hello-from-b1'), false)
    sender.kill('SIGKILL')
  })

  it('refuses a subnet the SimNet does not have', async (t) => {
    const n = netOf(t, net)
    if (n === undefined) return
    await assert.rejects(n.addHost('c-1', { subnet: 2 }), /subnet: 0\.\.1/)
  })
})

describe('sim-hosts: cleanupStale', { timeout: 60_000 }, () => {
  it('cleans up after a crashed run but leaves live runs alone', { timeout: 60_000 }, async (t) => {
    if (!requireHarness(t)) return
    const prefix = 'pmtc'
    // A test runner that dies mid-run: it creates two hosts, starts a process and is SIGKILLed.
    const crashing = spawn(NODE, ['--input-type=module', '-e', `
      const { createSimNet } = await import(process.argv[1])
      const net = await createSimNet({ hosts: 2, prefix: ${JSON.stringify(prefix)} })
      net.hosts[0].spawn(['sleep', '1000'])
      await new Promise((resolve) => setTimeout(resolve, 300))
      console.log(JSON.stringify({ id: net.id, inits: net.hosts.map((h) => h.initPid), homes: net.hosts.map((h) => h.home) }))
      setInterval(() => {}, 1000)
    `, SIM_HOSTS_URL], { stdio: ['ignore', 'pipe', 'inherit'] })
    const line = await waitForLine(crashing, /^\{/, 'the crashing run to create its hosts', 30_000)
    const dead: unknown = JSON.parse(line)
    assert.ok(typeof dead === 'object' && dead !== null && 'id' in dead && 'inits' in dead && 'homes' in dead)
    assert.ok(typeof dead.id === 'string' && Array.isArray(dead.inits) && Array.isArray(dead.homes))
    const deadId = dead.id
    const inits = dead.inits.filter((p: unknown) => typeof p === 'number')
    assert.equal(inits.length, 2)
    const pidNamespaces = inits.map((pid: number) => readlinkSync(`/proc/${pid}/ns/pid`))
    const live = await createSimNet({ hosts: 1, prefix })
    try {
      crashing.kill('SIGKILL')
      await waitExit(crashing)
      // The inits notice their owner is gone and take their hosts' processes with them...
      await waitFor(() => pidNamespaces.flatMap(pidsInPidNamespace).length === 0, { timeoutMs: 10_000, what: 'the crashed run\'s processes to die' })
      // ...but the namespaces stay until someone cleans up.
      assert.ok((await rootCommand('ip', ['netns', 'list'])).includes(deadId))

      const removed = await cleanupStale(prefix)
      assert.ok(removed.includes(deadId), `removed ${JSON.stringify(removed)}`)
      assert.ok(!removed.includes(live.id), 'cleanupStale removed a live run')
      const namespaces = await rootCommand('ip', ['netns', 'list'])
      assert.ok(!namespaces.includes(deadId), namespaces)
      assert.ok(namespaces.includes(live.id), 'cleanupStale removed a live run')
      for (const home of dead.homes) assert.equal(typeof home === 'string' && existsSync(home), false)
      const [liveHost] = live.hosts
      assert.ok(liveHost !== undefined)
      assert.equal((await liveHost.exec(['hostname'])).stdout.trim(), liveHost.name)
    } finally {
      crashing.kill('SIGKILL')
      await live.destroy()
    }
  })
})

describe('sim-hosts: waitFor', () => {
  it('returns the first truthy value', async () => {
    let calls = 0
    const value = await waitFor(() => ++calls >= 3 ? { calls } : undefined, { timeoutMs: 2_000, intervalMs: 1, what: 'three calls' })
    assert.deepEqual(value, { calls: 3 })
  })

  it('keeps polling through errors', async () => {
    let calls = 0
    const value = await waitFor(async () => {
      if (++calls < 3) throw new Error('not yet')
      return 'done'
    }, { timeoutMs: 2_000, intervalMs: 1, what: 'success' })
    assert.equal(value, 'done')
  })

  const timeouts: Array<{ name: string, fn: () => Promise<unknown> | unknown, message: RegExp }> = [
    { name: 'a falsy value', fn: () => 0, message: /^timed out after 100ms waiting for the thing \(last value: 0\)$/ },
    { name: 'an error', fn: () => { throw new Error('boom') }, message: /^timed out after 100ms waiting for the thing \(last error: boom\)$/ },
    { name: 'a hung attempt', fn: async () => await new Promise(() => {}), message: /^timed out after 100ms waiting for the thing \(last attempt still running\)$/ }
  ]
  for (const { name, fn, message } of timeouts) {
    it(`times out on ${name}, saying what it waited for`, { timeout: 5_000 }, async () => {
      const started = Date.now()
      await assert.rejects(waitFor(fn, { timeoutMs: 100, intervalMs: 10, what: 'the thing' }), (err: unknown) => {
        assert.ok(err instanceof HarnessTimeoutError)
        assert.match(err.message, message)
        return true
      })
      assert.ok(Date.now() - started < 1_000)
    })
  }
})

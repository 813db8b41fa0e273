/** Issue 3 across simulated hosts: list, start, logs, stop from one host on another. */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { access } from 'node:fs/promises'
import type { PsEntry, RunResult, KillResult } from '../../protocols/control.js'
import { createSimNet, harnessSkipReason, requireHarness, waitFor, type SimNet, type SimHost } from '../../testkit/sim-hosts.js'
import { cliIn, grantRoles, jsonIn, pidsIn, startMesh, stopNode, type MeshNode } from '../helpers/sim-mesh.js'

function processesOf (entries: PsEntry[], name: string): Array<{ pid: number, cmd: string, startTime: number, managedId?: string }> {
  const e = entries.find(x => x.name === name)
  if (e === undefined || 'error' in e) throw new Error(`no processes for ${name}: ${JSON.stringify(e)}`)
  return e.processes
}

describe('process control across simulated hosts', { timeout: 300_000 }, () => {
  let net: SimNet | undefined
  let nodes: MeshNode[] = []
  let a: SimHost
  let b: SimHost

  before(async () => {
    if (harnessSkipReason() !== undefined) return
    net = await createSimNet({ hosts: 3 })
    ;[a, b] = net.hosts
    nodes = await startMesh(net.hosts)
    for (const host of net.hosts) {
      await waitFor(async () => {
        const peers = await jsonIn<Array<{ status: string }>>(host, ['peers'])
        return peers.length === 3 && peers.every(p => p.status === 'online') ? true : undefined
      }, { timeoutMs: 20_000, what: `${host.name} to see the mesh` })
    }
    // host-1 may start and stop processes on host-2 (roles are levels: exec includes control and read)
    await grantRoles(b, a, ['exec'])
  })
  after(async () => {
    for (const n of nodes) await stopNode(n)
    await net?.destroy()
  })

  it('ps of another host lists exactly that host\'s processes', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    // a CLI process that just ended in B may still be in a scan a few ms old: compare until stable
    let last = ''
    const listed = await waitFor(async () => {
      const entries = await jsonIn<PsEntry[]>(a, ['ps', b.name])
      assert.equal(entries.length, 1)
      const pids = processesOf(entries, b.name).map(p => p.pid).sort((x, y) => x - y)
      const real = (await pidsIn(b)).sort((x, y) => x - y)
      last = `listed ${pids.join(',')} vs /proc ${real.join(',')}`
      return pids.join(',') === real.join(',') ? pids : undefined
    }, { timeoutMs: 5000, what: 'ps of B to match B\'s /proc' }).catch((err: unknown) => { throw new Error(`${String(err)}; ${last}`) })
    assert.ok(listed.includes(1))
  })

  it('run starts a process in the other host\'s PID namespace; it shows in ps; kill stops it; a second kill reports gone', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const run = await jsonIn<RunResult>(a, ['run', b.name, '--', 'sleep', '300'])
    assert.equal(run.name, b.name)
    assert.ok((await pidsIn(b)).includes(run.pid), 'the pid exists in B')
    assert.ok(!(await pidsIn(a)).includes(run.pid) || run.pid < 10, 'and belongs to B\'s namespace')
    const listed = processesOf(await jsonIn<PsEntry[]>(a, ['ps', b.name]), b.name).find(p => p.pid === run.pid)
    assert.ok(listed !== undefined)
    assert.equal(listed.managedId, run.managedId)
    assert.equal(listed.startTime, run.startTime)
    const killed = await jsonIn<KillResult>(a, ['kill', b.name, String(run.pid)])
    assert.ok(killed.result === 'signalled' || killed.result === 'exited')
    await waitFor(async () => !(await pidsIn(b)).includes(run.pid) ? true : undefined, { timeoutMs: 5000, what: 'the process to end' })
    const again = await cliIn(a, ['kill', b.name, String(run.pid)])
    assert.equal(again.code, 1)
    assert.match(again.stdout + again.stderr, /gone|not found/)
  })

  it('logs --follow shows the output until the process exits', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const run = await jsonIn<RunResult>(a, ['run', b.name, '--', 'sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.3; done; echo oops >&2'])
    const logs = await cliIn(a, ['logs', b.name, run.managedId, '--follow'], 20_000)
    assert.equal(logs.code, 0, logs.stderr)
    assert.match(logs.stdout, /line1\nline2\nline3/)
    assert.match(logs.stderr, /oops/)
    assert.match(logs.stderr, /exited with code 0/)
  })

  it('kill --tree stops a process and its children', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const run = await jsonIn<RunResult>(a, ['run', b.name, '--', 'sh', '-c', 'sleep 301 & sleep 302 & wait'])
    const children = await waitFor(async () => {
      const ps = processesOf(await jsonIn<PsEntry[]>(a, ['ps', b.name]), b.name) as Array<{ pid: number, ppid?: number, cmd: string }>
      const kids = ps.filter(p => p.ppid === run.pid)
      return kids.length === 2 ? kids : undefined
    }, { timeoutMs: 5000, what: 'two children' })
    const killed = await jsonIn<KillResult & { signalled: number[] }>(a, ['kill', b.name, String(run.pid), '--tree'])
    assert.equal(killed.signalled.length, 3)
    await waitFor(async () => {
      const pids = await pidsIn(b)
      return [run.pid, ...children.map(c => c.pid)].every(p => !pids.includes(p)) ? true : undefined
    }, { timeoutMs: 5000, what: 'the whole tree to end' })
  })

  it('shell metacharacters in arguments are passed literally', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const marker = `/tmp/pwned-${Date.now()}`
    const args = ['echo', `$(touch ${marker})`, ';', 'touch', marker, '|', '`id`', '&&', '>', marker]
    const run = await jsonIn<RunResult>(a, ['run', b.name, '--', ...args])
    const logs = await cliIn(a, ['logs', b.name, run.managedId, '--follow'], 20_000)
    assert.equal(logs.stdout.trim(), args.slice(1).join(' '))
    await assert.rejects(access(`/proc/${b.initPid}/root${marker}`))
  })

  it('ps all returns every host', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const entries = await jsonIn<PsEntry[]>(a, ['ps', 'all'])
    assert.deepEqual(entries.map(e => e.name).sort(), net.hosts.map(h => h.name).sort())
    assert.ok(entries.every(e => !('error' in e) && e.processes.length > 0))
  })

  it('a partitioned host during fan-out gives that peer\'s timely error, the others still answer', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const c = net.hosts[2]
    await c.linkDown()
    try {
      const t0 = Date.now()
      const r = await cliIn(a, ['ps', 'all', '--json'], 40_000)
      const ms = Date.now() - t0
      const entries = JSON.parse(r.stdout) as PsEntry[]
      const failed = entries.find(e => e.name === c.name)
      assert.ok(failed !== undefined && 'error' in failed, JSON.stringify(failed))
      assert.ok(['TIMEOUT', 'UNAVAILABLE', 'PEER_OFFLINE'].includes(failed.error.code), failed.error.code)
      // a host that was asked and did not answer fails the call (issue 19.1); one the view already marks offline is skipped
      if (failed.error.code === 'PEER_OFFLINE') {
        assert.equal(r.code, 0, r.stderr)
      } else {
        assert.equal(r.code, 1)
        assert.match(r.stderr, new RegExp(`did not answer: ${c.name}: `))
      }
      assert.ok(entries.filter(e => !('error' in e)).length === 2)
      assert.ok(ms < 20_000, `fan-out took ${ms} ms`)
    } finally {
      await c.linkUp()
    }
  })
})

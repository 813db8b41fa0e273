/**
 * Issue 12 across simulated hosts: managed processes outlive their node (TERM and KILL), are
 * re-adopted with id and name, keep writing and serving, and are stopped through the mesh.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { KillResult, LsEntry, RunResult } from '../../protocols/control.js'
import type { ManagedProcess } from '../../protocols/managed.js'
import { createSimNet, harnessSkipReason, requireHarness, waitFor, type SimHost, type SimNet } from '../../testkit/sim-hosts.js'
import { cliIn, grantRoles, jsonIn, pidsIn, startMesh, startNodeIn, stopNode, type MeshNode } from '../helpers/sim-mesh.js'

const HTTP_PORT = 8080
const TICKER = ['sh', '-c', 'i=0; while :; do echo "tick $i"; i=$((i+1)); sleep 0.01; done']

function managedOn (entries: LsEntry[], host: string): ManagedProcess[] {
  const e = entries.find(x => x.name === host)
  if (e === undefined || 'error' in e) throw new Error(`ls: no answer for ${host}: ${JSON.stringify(e)}`)
  return e.processes
}

/** An HTTP GET inside the host; the status code, or the error python reports (e.g. an empty reply). */
async function httpStatus (host: SimHost): Promise<string> {
  const r = await host.exec(['python3', '-c',
    `import urllib.request\ntry:\n  print(urllib.request.urlopen("http://127.0.0.1:${HTTP_PORT}/", timeout=5).status)\nexcept Exception as e:\n  print(type(e).__name__, e)`], { timeoutMs: 15_000 })
  return r.stdout.trim()
}

function lastTick (text: string): number {
  const all = [...text.matchAll(/tick (\d+)\n/g)]
  return all.length === 0 ? -1 : Number(all[all.length - 1][1])
}

describe('managed processes survive their node (simulated hosts)', { timeout: 300_000 }, () => {
  let net: SimNet | undefined
  let nodes: MeshNode[] = []
  let a: SimHost
  let b: SimHost

  before(async () => {
    if (harnessSkipReason() !== undefined) return
    net = await createSimNet({ hosts: 2, prefix: 'pms' })
    ;[a, b] = net.hosts
    nodes = await startMesh(net.hosts)
    for (const host of net.hosts) {
      await waitFor(async () => {
        const peers = await jsonIn<Array<{ status: string }>>(host, ['peers'])
        return peers.length === 2 && peers.every(p => p.status === 'online') ? true : undefined
      }, { timeoutMs: 20_000, what: `${host.name} to see the mesh` })
    }
    await grantRoles(b, a, ['exec'])
  })
  after(async () => {
    for (const n of nodes) await stopNode(n)
    await net?.destroy()
  })

  it('node killed with TERM, then KILL: every process runs, answers, is listed with id and name, old and new output readable, stoppable through the mesh', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const writer = await jsonIn<RunResult>(a, ['run', b.name, '--name', 'writer', '--restart', 'always', '--', ...TICKER])
    const web = await jsonIn<RunResult>(a, ['run', b.name, '--name', 'web', '--restart', 'on-failure', '--cwd', '/',
      '--', 'python3', '-m', 'http.server', String(HTTP_PORT), '--bind', '127.0.0.1'])
    await waitFor(async () => await httpStatus(b) === '200' ? true : undefined, { timeoutMs: 15_000, what: 'the HTTP server to answer' })

    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      const before = await cliIn(a, ['logs', b.name, 'writer'])
      const tickBefore = lastTick(before.stdout)
      assert.ok(tickBefore >= 0, `writer output before the ${signal}: ${before.stdout.slice(-200)} ${before.stderr}`)

      const old = nodes[1]
      const exited = new Promise<void>(resolve => { old.proc.once('exit', () => { resolve() }) })
      old.proc.kill(signal)
      await exited
      // no node on B: both still run, the server still answers (its access log goes to its file)
      const pids = await pidsIn(b)
      assert.ok(pids.includes(writer.pid) && pids.includes(web.pid), `after ${signal} of the node, pids ${writer.pid} and ${web.pid} run`)
      assert.equal(await httpStatus(b), '200', `the server answers while no node runs (after ${signal})`)

      nodes[1] = await startNodeIn(b)
      const listed = await waitFor(async () => {
        const entries = await jsonIn<LsEntry[]>(a, ['ls', b.name]).catch(() => undefined)
        if (entries === undefined) return undefined
        const processes = managedOn(entries, b.name)
        return processes.length === 2 ? processes : undefined
      }, { timeoutMs: 30_000, what: `A to list B's managed processes after the ${signal}` })
      const byName = new Map(listed.map(p => [p.name, p]))
      assert.equal(byName.get('writer')?.managedId, writer.managedId)
      assert.equal(byName.get('writer')?.pid, writer.pid)
      assert.equal(byName.get('writer')?.state, 'running')
      assert.equal(byName.get('writer')?.restarts, 0)
      assert.equal(byName.get('web')?.managedId, web.managedId)
      assert.equal(byName.get('web')?.pid, web.pid)
      assert.equal(byName.get('web')?.state, 'running')
      assert.equal(await httpStatus(b), '200')

      // old output (from before the kill) and new output, by name and by id
      await waitFor(async () => {
        const now = await cliIn(a, ['logs', b.name, writer.managedId])
        return now.code === 0 && lastTick(now.stdout) > tickBefore + 20 ? true : undefined
      }, { timeoutMs: 10_000, what: 'new writer output after the restart' })
      const text = (await cliIn(a, ['logs', b.name, 'writer'])).stdout
      assert.match(text, /^tick 0\n/, 'the oldest output is still there')
      const webLog = await cliIn(a, ['logs', b.name, 'web'])
      assert.match(webLog.stderr, /"GET \/ HTTP\/1\.1" 200/, 'the server\'s access log, including requests served while no node ran')
    }

    // stopped through the mesh, by name: gone, and not restarted despite --restart always
    const killed = await jsonIn<KillResult>(a, ['kill', b.name, 'writer', '--grace', '3s'])
    assert.equal(killed.pid, writer.pid)
    assert.equal(killed.result, 'exited')
    assert.equal(killed.escalated, false)
    const stubborn = await jsonIn<KillResult>(a, ['kill', b.name, 'web', '--signal', 'TERM', '--grace', '3s'])
    assert.ok(stubborn.result === 'exited' || stubborn.result === 'signalled')
    await waitFor(async () => {
      const pids = await pidsIn(b)
      return !pids.includes(writer.pid) && !pids.includes(web.pid) ? true : undefined
    }, { timeoutMs: 10_000, what: 'both to end' })
    await new Promise(resolve => setTimeout(resolve, 1000))
    const final = managedOn(await jsonIn<LsEntry[]>(a, ['ls', b.name]), b.name)
    assert.deepEqual(final.map(p => [p.name, p.state, p.restarts]).sort(), [['web', 'stopped', 0], ['writer', 'stopped', 0]])
    const human = await cliIn(a, ['ls', b.name])
    assert.equal(human.code, 0)
    assert.match(human.stdout, /^NAME +ID +HOST +PID +STATE/)
    assert.match(human.stdout, /writer +m[0-9a-z]+ +\S+ +- +stopped/)
    // the audit log of B has the exits (seen, not asked for) and the stop that caused them
    const audit = await cliIn(b, ['audit', '--json', '--limit', '200'])
    assert.equal(audit.code, 0, audit.stderr)
    const entries = (JSON.parse(audit.stdout) as Array<{ entries: Array<{ event: string, managedId?: string, reason: string, result?: string }> }>).flatMap(r => r.entries)
    const exit = entries.find(e => e.event === 'exit' && e.managedId === writer.managedId)
    assert.ok(exit !== undefined, `an exit of the writer in the audit: ${audit.stdout.slice(-2000)}`)
    assert.equal(exit.reason, 'state stopped')
    // re-adopted, it is no longer the node's child: the node saw it go but not its status
    assert.equal(exit.result, 'exited (status unknown: not a child of this node)')
    for (const name of ['writer', 'web']) {
      const rm = await cliIn(a, ['rm', b.name, name])
      assert.equal(rm.code, 0, rm.stderr)
    }
    assert.deepEqual(managedOn(await jsonIn<LsEntry[]>(a, ['ls', b.name]), b.name), [])
  })

  it('a duplicate name is refused with a clear error across the mesh', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const first = await jsonIn<RunResult>(a, ['run', b.name, '--name', 'dup', '--', 'sleep', '300'])
    // ps across the mesh names it: @dup in the table, managedName in --json, and --managed lists only managed ones
    const listed = await jsonIn<Array<{ processes: Array<{ pid: number, managedId?: string, managedName?: string }> }>>(a, ['ps', b.name, '--managed', '--json'])
    assert.ok(listed[0].processes.every(p => p.managedId !== undefined))
    assert.deepEqual(listed[0].processes.find(p => p.pid === first.pid), { ...listed[0].processes.find(p => p.pid === first.pid), managedId: first.managedId, managedName: 'dup' })
    const table = await cliIn(a, ['ps', b.name, '--managed'])
    assert.match(table.stdout, new RegExp(`\\b${first.pid} .*@dup sleep 300`))
    const second = await cliIn(a, ['run', b.name, '--name', 'dup', '--', 'sleep', '300'])
    assert.equal(second.code, 1)
    // the message names the host that refused, not "this node" (read on another host)
    assert.match(second.stderr, new RegExp(`name dup is taken on ${b.name} by ${first.managedId} \\(running\\)`))
    const missing = await cliIn(a, ['logs', b.name, 'nosuch'])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, new RegExp(`no managed process nosuch on ${b.name} \\(not a managed id, name or pid of one\\)`))
    const restarted = await jsonIn<{ managedId: string, pid: number }>(a, ['restart', b.name, 'dup'])
    assert.equal(restarted.managedId, first.managedId)
    assert.notEqual(restarted.pid, first.pid)
    const rm = await jsonIn<{ stopped: boolean }>(a, ['rm', b.name, 'dup'])
    assert.equal(rm.stopped, true)
  })
})

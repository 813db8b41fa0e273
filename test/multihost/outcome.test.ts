/**
 * Issue 19.2 across simulated hosts: the target's node dies after it recorded a start and
 * before its answer left. The process runs once; the CLI says the outcome is unknown (not that
 * it failed) and how to ask again; asking again with the same request id reports that process
 * and starts nothing.
 *
 * The crash is placed exactly with strace: the target's rename of its records file (the last
 * durable step before the answer) is held for seconds after it completed, and the node is
 * killed with SIGKILL while it waits there.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { RunResult } from '../../protocols/control.js'
import { createSimNet, harnessSkipReason, requireHarness, waitFor, type SimNet, type SimHost } from '../../testkit/sim-hosts.js'
import { cliIn, grantRoles, jsonIn, pidsIn, shareMeshKey, startNodeIn, stopNode, type MeshNode } from '../helpers/sim-mesh.js'

const MARK = '4242'

/** The node process inside its host (the nsenter wrapper's child), as a root-namespace pid. */
function innerPid (n: MeshNode): number {
  const pid = Number(readFileSync(`/proc/${n.proc.pid}/task/${n.proc.pid}/children`, 'utf8').trim().split(/\s+/)[0])
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error('no node process')
  return pid
}

/** Pids (in the host) of `sleep 4242` processes. */
async function sleepers (host: SimHost): Promise<number[]> {
  const out: number[] = []
  for (const pid of await pidsIn(host)) {
    try {
      const argv = readFileSync(`/proc/${host.initPid}/root/proc/${pid}/cmdline`, 'utf8').split('\0')
      if (argv[0] === 'sleep' && argv[1] === MARK) out.push(pid)
    } catch {}
  }
  return out
}

const haveStrace = spawnSync('strace', ['-V']).status === 0

describe('a node killed between a recorded start and its answer (issue 19.2)', { timeout: 240_000 }, () => {
  let net: SimNet | undefined
  let nodes: MeshNode[] = []
  let a: SimHost
  let b: SimHost
  let tracer: ChildProcess | undefined

  before(async () => {
    if (harnessSkipReason() !== undefined || !haveStrace) return
    net = await createSimNet({ hosts: 2 })
    ;[a, b] = net.hosts
    nodes = [await startNodeIn(a)]
    await shareMeshKey(a, [b])
    nodes.push(await startNodeIn(b))
    await waitFor(async () => {
      const peers = await jsonIn<Array<{ status: string }>>(a, ['peers'])
      return peers.length === 2 && peers.every(p => p.status === 'online') ? true : undefined
    }, { timeoutMs: 30_000, what: 'the two hosts to see each other' })
    await grantRoles(b, a, ['exec'])
  })
  after(async () => {
    tracer?.kill('SIGKILL')
    for (const n of nodes) await stopNode(n)
    await net?.destroy()
  })

  it('one process; the CLI says the outcome is unknown; the same request id reports that process', async (t) => {
    if (!haveStrace) { t.skip('strace is not installed'); return }
    if (!requireHarness(t) || net === undefined) return
    const target = nodes[1]
    const nodePid = innerPid(target)
    let trace = ''
    tracer = spawn('strace', ['-f', '-p', String(nodePid), '-e', 'trace=rename,renameat,renameat2', '-e', 'inject=rename,renameat,renameat2:delay_exit=8000000'], { stdio: ['ignore', 'ignore', 'pipe'] })
    tracer.stderr?.setEncoding('utf8').on('data', (d: string) => { trace += d })
    await waitFor(() => /attached/.test(trace) ? true : undefined, { timeoutMs: 10_000, what: 'strace to attach' })

    const run = cliIn(a, ['run', b.name, '--', 'sleep', MARK], 90_000)
    await waitFor(() => /managed\.json/.test(trace) ? true : undefined, { timeoutMs: 30_000, what: 'the target to save its records' })
    process.kill(nodePid, 'SIGKILL')
    tracer.kill('SIGKILL')
    const result = await run
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, /outcome is unknown/)
    assert.doesNotMatch(result.stderr, /ECONNREFUSED|12D3Koo|\/procmesh\//, 'no errno, peer id or protocol id')
    const id = /--request-id (\S+)/.exec(result.stderr)?.[1]
    assert.ok(id !== undefined, `the message says how to ask again: ${result.stderr}`)
    const running = await sleepers(b)
    assert.equal(running.length, 1, 'the start happened once')

    nodes[1] = await startNodeIn(b)
    await waitFor(async () => {
      const peers = await jsonIn<Array<{ name: string, status: string }>>(a, ['peers'])
      return peers.find(p => p.name === b.name)?.status === 'online' ? true : undefined
    }, { timeoutMs: 30_000, what: 'the restarted node to be online again' })
    const again = await jsonIn<RunResult>(a, ['run', b.name, '--request-id', id, '--', 'sleep', MARK], 60_000)
    assert.equal(again.pid, running[0], 'the same request id reports the process that runs')
    assert.deepEqual(await sleepers(b), running, 'nothing started twice')
    const killed = await cliIn(a, ['kill', b.name, again.managedId])
    assert.equal(killed.code, 0, killed.stderr)
  })
})

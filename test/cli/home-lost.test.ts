/**
 * Issue 19.4: the home deleted while the node runs. The node notices and stops, loudly; while
 * it still runs without its home, the CLI and doctor name it instead of suggesting a new node
 * (which would be a second node with a new identity in a new mesh); a managed process keeps running.
 * A real node on 127.0.0.1 without mDNS.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { LocalNode, removeHome, runCli, tempHome } from '../helpers/procmesh.js'
import type { RunResult } from '../../protocols/control.js'

describe('the home deleted under a running node (issue 19.4)', { timeout: 90_000 }, () => {
  let node: LocalNode | undefined
  let home = ''
  let managedPid = 0

  after(async () => {
    if (node?.proc?.pid !== undefined) try { process.kill(node.proc.pid, 'SIGCONT') } catch {}
    await node?.stop('SIGKILL')
    if (managedPid > 0) try { process.kill(managedPid, 'SIGKILL') } catch {}
    await removeHome(home)
  })

  it('the CLI and doctor name the orphaned node; the node stops with a clear message; its process keeps running', async () => {
    home = await tempHome('pmtest-lost-')
    node = new LocalNode(home, 'lost')
    await node.start()
    const run = await node.json<RunResult>(['run', 'self', '--', 'sleep', '300'])
    managedPid = run.pid
    const pid = node.proc?.pid ?? 0
    // frozen first, so it cannot notice yet: this is the moment a user runs the CLI
    process.kill(pid, 'SIGSTOP')
    await rm(home, { recursive: true, force: true })

    const peers = await runCli(['peers', '--home', home])
    assert.equal(peers.code, 1)
    assert.match(peers.stderr, new RegExp(`a procmesh node \\(pid ${pid}\\) still runs for ${home}, but its home was deleted`))
    assert.match(peers.stderr, /starting a node now would create a second node/)
    assert.doesNotMatch(peers.stderr, /start one with/)
    const doctor = await runCli(['doctor', '--home', home, '--no-network'])
    assert.match(doctor.stdout + doctor.stderr, new RegExp(`orphaned node.*pid ${pid} still runs`))

    const exited = new Promise<number | null>(resolve => node?.proc?.once('exit', code => { resolve(code) }))
    process.kill(pid, 'SIGCONT')
    const code = await Promise.race([exited, new Promise<string>(resolve => setTimeout(() => { resolve('still running') }, 20_000))])
    assert.equal(code, 1, 'the node stopped with exit code 1')
    assert.match(node.log, new RegExp(`the home ${home} was lost while this node ran \\(its (home|control socket|identity key) .* was deleted\\)`))
    assert.match(node.log, /Managed processes keep running/)
    process.kill(managedPid, 0) // still there: throws ESRCH if not

    // no node, no identity: the CLI says what starting one would mean
    const after = await runCli(['peers', '--home', home])
    assert.match(after.stderr, /holds no identity: procmesh node --home .* creates a new mesh; to join an existing one, run procmesh join TOKEN/)
  })
})

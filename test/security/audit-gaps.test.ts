/**
 * Issue 17 finding 15, audit gaps: requests refused at validation were not audited, and a
 * refused stop (pid 1, the node itself) was recorded as `allowed` with a failed result. An
 * independent hostile peer (built from the public libp2p packages) sends the requests.
 */
import '../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createLogger } from '../../node/logger.js'
import { createProcmeshNode, defaultNodeConfig, type ProcmeshNode } from '../../node/procmesh-node.js'
import { START_PROTOCOL, STOP_PROTOCOL } from '../../protocols/ids.js'
import { HostilePeer } from '../helpers/hostile-peer.js'
import { BIN, removeHome, runCli, tempHome } from '../helpers/procmesh.js'
import { spawn, spawnSync } from 'node:child_process'
import { userInfo } from 'node:os'
import type { PeerId } from '@libp2p/interface'

describe('audit gaps (finding 15)', { timeout: 60_000 }, () => {
  let home: string
  let node: ProcmeshNode
  let mallory: HostilePeer
  let target: PeerId
  let malloryId: string

  before(async () => {
    home = await tempHome('pm-auditgap-')
    node = await createProcmeshNode({ ...defaultNodeConfig(home), name: 'target', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, intervalMs: 500 }, createLogger({ level: 'error', write: () => {} }))
    await node.start()
    mallory = await HostilePeer.create({ psk: await readFile(join(home, 'swarm.key')) })
    target = await mallory.connect(node.addrs()[0])
    malloryId = mallory.node.peerId.toString()
  })

  after(async () => {
    await mallory?.stop()
    await node?.stop()
    await removeHome(home)
  })

  it('a start refused at validation is answered INVALID_REQUEST and audited with the peer and the reason', async () => {
    const reply = await mallory.ask(target, START_PROTOCOL, { type: 'start', requestId: 'gap-1', argv: [] })
    assert.equal(reply.code, 'INVALID_REQUEST', JSON.stringify(reply))
    const entry = node.security.audit.read(50).find(e => e.event === 'request' && e.peerId === malloryId && e.decision === 'denied')
    assert.ok(entry !== undefined, 'the refusal is in the audit log')
    assert.match(entry.reason, new RegExp(`^${START_PROTOCOL.replaceAll('/', '\\/').replaceAll('.', '\\.')}: invalid request: .*argv`))
  })

  it('a start through the control socket records the local user and process behind it (the socket peer, from the kernel)', async (t) => {
    if (process.platform !== 'linux' || spawnSync('ss', ['-V']).status !== 0) { t.skip('needs Linux and ss (iproute2)'); return }
    const cli = spawn(process.execPath, [BIN, 'run', 'self', '--home', home, '--', 'true'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    cli.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const code = await new Promise<number | null>(resolve => { cli.once('close', c => { resolve(c) }) })
    assert.equal(code, 0, err)
    const start = node.security.audit.read(50).find(e => e.event === 'start' && e.via === 'local' && e.argv?.[0] === 'true')
    assert.ok(start !== undefined, 'the start is audited')
    assert.equal(start.localPid, cli.pid, JSON.stringify(start))
    assert.equal(start.localUid, process.getuid?.())
    assert.equal(start.localUser, userInfo().username)
    // and `procmesh audit` shows it
    const shown = await runCli(['audit', '--home', home])
    assert.match(shown.stdout, new RegExp(`\\(local uid ${process.getuid?.() ?? 0} ${userInfo().username} pid ${cli.pid ?? 0}\\)`))
  })

  it('a stop of pid 1 by a peer holding control is audited as denied (refused), not allowed', async () => {
    node.security.trust.update(tf => { tf.peers[malloryId] = { role: 'control', source: 'trust', addedAt: Date.now() } })
    const reply = await mallory.ask(target, STOP_PROTOCOL, { type: 'stop', pid: 1, startTime: 0, signal: 'TERM', tree: false })
    assert.equal(reply.code, 'REFUSED', JSON.stringify(reply))
    const stops = node.security.audit.read(50).filter(e => e.event === 'stop' && e.pid === 1)
    assert.deepEqual(stops.map(e => e.decision), ['denied'], JSON.stringify(stops))
    assert.match(stops[0].reason, /pid 1 is init/)
    assert.equal(stops[0].result, 'not signalled')
  })
})

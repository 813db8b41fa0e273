/**
 * The receiving end of rotate-key (issue 17 finding 16) against an independent hostile member: a
 * member holding only read cannot move a node to another mesh (FORBIDDEN, audited, key file
 * unchanged); malformed keys are refused at validation. The control method refuses to switch when
 * no named member took the key.
 */
import '../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PeerId } from '@libp2p/interface'
import { createLogger } from '../../node/logger.js'
import { createProcmeshNode, defaultNodeConfig, type ProcmeshNode } from '../../node/procmesh-node.js'
import { ROTATE_KEY_PROTOCOL } from '../../protocols/ids.js'
import { HostilePeer } from '../helpers/hostile-peer.js'
import { removeHome, runCli, tempHome } from '../helpers/procmesh.js'

describe('rotate-key: who may hand a node a new mesh key', { timeout: 60_000 }, () => {
  let home: string
  let node: ProcmeshNode
  let mallory: HostilePeer
  let target: PeerId
  let keyBefore: string

  before(async () => {
    home = await tempHome('pm-rotate-')
    node = await createProcmeshNode({ ...defaultNodeConfig(home), name: 'target', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, intervalMs: 500 }, createLogger({ level: 'error', write: () => {} }))
    await node.start()
    keyBefore = await readFile(join(home, 'swarm.key'), 'utf8')
    mallory = await HostilePeer.create({ psk: await readFile(join(home, 'swarm.key')) })
    target = await mallory.connect(node.addrs()[0])
  })

  after(async () => {
    await mallory?.stop()
    await node?.stop()
    await removeHome(home)
  })

  it('a member with read is FORBIDDEN, naming the exec role; the key stays; the refusal is audited', async () => {
    const reply = await mallory.ask(target, ROTATE_KEY_PROTOCOL, { type: 'rotate-key', key: 'ab'.repeat(32) })
    assert.equal(reply.code, 'FORBIDDEN', JSON.stringify(reply))
    assert.match(reply.message ?? '', /lacks the exec role/)
    assert.equal(await readFile(join(home, 'swarm.key'), 'utf8'), keyBefore)
    assert.ok(node.security.audit.read(20).some(e => e.event === 'request' && e.decision === 'denied' && e.reason.startsWith(ROTATE_KEY_PROTOCOL)))
  })

  it('a malformed key is refused at validation, naming the field', async () => {
    node.security.trust.update(tf => { tf.peers[mallory.node.peerId.toString()] = { role: 'exec', source: 'trust', addedAt: Date.now() } })
    const reply = await mallory.ask(target, ROTATE_KEY_PROTOCOL, { type: 'rotate-key', key: 'not-a-key' })
    assert.equal(reply.code, 'INVALID_REQUEST', JSON.stringify(reply))
    assert.match(reply.message ?? '', /^key: /)
    assert.equal(await readFile(join(home, 'swarm.key'), 'utf8'), keyBefore)
  })

  it('rotate-key naming a member that does not exist changes nothing here', async () => {
    const r = await runCli(['rotate-key', 'nobody-here', '--yes', '--home', home])
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stderr, /no named member took the new key, so this node keeps mesh [0-9a-f]{8}/)
    assert.equal(await readFile(join(home, 'swarm.key'), 'utf8'), keyBefore)
    const usage = await runCli(['rotate-key', '--home', home])
    assert.equal(usage.code, 2)
    assert.match(usage.stderr, /needs the MEMBERs/)
  })
})

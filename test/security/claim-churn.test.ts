/**
 * Issue 17 finding 14: failed claims rewrote trust.json each time (3,000 rewrites in
 * 7 s). An independent member sends bogus claims; the file is not rewritten.
 */
import '../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createLogger } from '../../node/logger.js'
import { createProcmeshNode, defaultNodeConfig, type ProcmeshNode } from '../../node/procmesh-node.js'
import { CLAIM_PROTOCOL } from '../../protocols/messages.js'
import { HostilePeer } from '../helpers/hostile-peer.js'
import { removeHome, tempHome } from '../helpers/procmesh.js'

describe('failed claims do not rewrite the trust file (finding 14)', { timeout: 60_000 }, () => {
  let home: string
  let node: ProcmeshNode
  let mallory: HostilePeer

  before(async () => {
    home = await tempHome('pm-claims-')
    node = await createProcmeshNode({ ...defaultNodeConfig(home), name: 'target', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, intervalMs: 1000 }, createLogger({ level: 'error', write: () => {} }))
    await node.start()
    await writeFile(join(home, 'trust.json'), '{"version":1,"peers":{},"invites":[],"claims":[]}\n', { mode: 0o600 })
    mallory = await HostilePeer.create({ psk: await readFile(join(home, 'swarm.key')) })
    await mallory.node.start()
  })
  after(async () => {
    await mallory?.stop()
    await node?.stop()
    await removeHome(home)
  })

  it('100 bogus claims leave trust.json as it was', async () => {
    const peer = await mallory.connect(node.addrs()[0])
    node.security.trust.refresh()
    const before = await stat(join(home, 'trust.json'))
    for (let i = 0; i < 100; i++) {
      const r = await mallory.ask(peer, CLAIM_PROTOCOL, { type: 'claim', secret: `${'A'.repeat(20)}${String(i).padStart(2, '0')}` })
      assert.equal(r.code, 'NOT_FOUND', JSON.stringify(r))
    }
    const after = await stat(join(home, 'trust.json'))
    assert.equal(after.ino, before.ino, 'the file was replaced')
    assert.equal(after.mtimeMs, before.mtimeMs)
  })
})

/**
 * Issue 17: a LIST answer over 4 MiB failed with `Read buffer overflow` although the
 * response cap is 32 MiB. An independent peer answers LIST with ~6 MiB (20,000
 * processes with long command lines); the node's client reads it whole.
 */
import '../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { lpStream } from '@libp2p/utils'
import { createLogger } from '../../node/logger.js'
import { createProcmeshNode, defaultNodeConfig, type ProcmeshNode } from '../../node/procmesh-node.js'
import { request } from '../../node/mesh/reqresp.js'
import { LIST_PROTOCOL } from '../../protocols/ids.js'
import { LIST } from '../../protocols/messages.js'
import { HostilePeer } from '../helpers/hostile-peer.js'
import { removeHome, tempHome } from '../helpers/procmesh.js'

describe('LIST answers over 4 MiB (read buffer)', { timeout: 60_000 }, () => {
  let home: string
  let node: ProcmeshNode
  let big: HostilePeer

  before(async () => {
    home = await tempHome('pm-list-')
    node = await createProcmeshNode({ ...defaultNodeConfig(home), name: 'reader', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, intervalMs: 1000 }, createLogger({ level: 'error', write: () => {} }))
    await node.start()
    big = await HostilePeer.create({ psk: await readFile(join(home, 'swarm.key')) })
    const processes = Array.from({ length: 20_000 }, (_, i) => ({ pid: i + 2, ppid: 1, uid: 0, user: 'root', name: 'worker', cmd: `worker --id ${i} ${'x'.repeat(200)}`, state: 'S', cpuPercent: 0, rss: 1024, startTime: 1 }))
    const answer = new TextEncoder().encode(JSON.stringify({ status: 'ok', result: { collectedAt: Date.now(), processes } }))
    assert.ok(answer.byteLength > 5 * 1024 * 1024, `${answer.byteLength} bytes`)
    await big.node.handle(LIST_PROTOCOL, async (stream) => {
      const lp = lpStream(stream, { maxDataLength: 8192 })
      await lp.read()
      await lp.write(answer)
      await stream.close()
    })
    await big.node.start()
  })

  after(async () => {
    await big?.stop()
    await node?.stop()
    await removeHome(home)
  })

  it('the whole answer is read and validated', async () => {
    await node.libp2p.dial(big.node.getMultiaddrs()[0])
    const r = await request(node.libp2p, big.node.peerId, LIST, { type: 'list' }, { timeoutMs: 30_000 })
    assert.equal(r.processes.length, 20_000)
  })
})

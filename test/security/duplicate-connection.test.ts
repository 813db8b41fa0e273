/**
 * Issue 17 finding 17 (and issue 19 item 6): a second connection under the same peer id
 * closing must not leave gossip one-way dead. An independent member (test/helpers/hostile-peer.ts)
 * connects, opens a second connection to the node under the same peer id, and closes the first
 * (cleanly, then by an abort, as libp2p does with a "Duplicate multiaddr connection"); the node's
 * gossip must keep reaching it over the connection that remains.
 */
import '../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { SUMMARY_TOPIC } from '../../protocols/ids.js'
import { createLogger } from '../../node/logger.js'
import { createProcmeshNode, defaultNodeConfig, type ProcmeshNode } from '../../node/procmesh-node.js'
import { HostilePeer } from '../helpers/hostile-peer.js'
import { removeHome, tempHome, waitFor } from '../helpers/procmesh.js'

/** Gossip after a change reaches a connected member within milliseconds; this bounds a loaded machine. */
const GOSSIP_WITHIN_MS = 10_000

describe('a duplicate connection closing (finding 17)', { timeout: 120_000 }, () => {
  let home: string
  let node: ProcmeshNode
  let member: HostilePeer | undefined
  const lines: string[] = []

  before(async () => {
    home = await tempHome('pm-dupconn-')
    node = await createProcmeshNode({ ...defaultNodeConfig(home), name: 'target', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, intervalMs: 1000 }, createLogger({ level: 'info', write: l => { lines.push(l) } }))
    await node.start()
  })

  after(async () => {
    await member?.stop()
    await node?.stop()
    await removeHome(home)
  })

  /** A new pid on this host: the node announces a process start at once. */
  const poke = (): void => { spawn('sleep', ['0.3'], { stdio: 'ignore' }).on('error', () => {}) }

  it('the node\'s gossip keeps reaching a member after the connection carrying it closes', async () => {
    const psk = await readFile(join(home, 'swarm.key'))
    const m = await HostilePeer.create({ psk })
    member = m
    const target = node.peerId
    let heard = 0
    m.node.services.pubsub.addEventListener('message', evt => {
      if (evt.detail.topic === SUMMARY_TOPIC && evt.detail.type === 'signed' && evt.detail.from.toString() === target) heard++
    })
    m.node.services.pubsub.subscribe(SUMMARY_TOPIC)
    const addr = multiaddr(node.addrs()[0])
    await m.node.dial(addr, { signal: AbortSignal.timeout(10_000) })
    const hears = async (what: string): Promise<void> => {
      const before = heard
      await waitFor(() => { poke(); return heard > before }, { timeoutMs: GOSSIP_WITHIN_MS, intervalMs: 500, what })
    }
    await hears('the first gossip from the node')

    for (const how of ['close', 'abort'] as const) {
      const first = m.node.getConnections().find(c => c.remotePeer.toString() === target)
      assert.ok(first !== undefined)
      const second = await m.node.dial(addr, { force: true, signal: AbortSignal.timeout(10_000) })
      assert.notEqual(second.id, first.id, 'a second connection under the same peer id')
      // let both sides identify the second connection (gossipsub hears of it, keeps its streams on the first)
      await new Promise(resolve => setTimeout(resolve, 1000))
      if (how === 'close') await first.close()
      else first.abort(new Error('duplicate connection dropped'))
      await waitFor(() => node.libp2p.getConnections().filter(c => c.remotePeer.equals(m.node.peerId)).length === 1,
        { timeoutMs: 10_000, what: 'the node to see one connection left' })
      await hears(`gossip over the remaining connection after the first was ${how === 'close' ? 'closed' : 'aborted'}`).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${lines.slice(-30).join('\n')}`)
      })
    }
  })
})

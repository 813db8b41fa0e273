/**
 * Issue 17 finding 3 (THREATS case 25): a member that names itself with another
 * node's peer-id prefix (the form `ps all` shows) or with another node's name must
 * never receive that node's grants or targets. Two real nodes (operator and victim)
 * and an independent gossiping attacker (test/helpers/hostile-peer.ts).
 */
import '../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createLogger } from '../../node/logger.js'
import { createProcmeshNode, defaultNodeConfig, type ProcmeshNode } from '../../node/procmesh-node.js'
import { resolveTargets } from '../../node/mesh/targets.js'
import { withClient } from '../../cli/control-client.js'
import { SUMMARY_TOPIC } from '../../protocols/ids.js'
import { decodeSummary } from '../../protocols/summary.js'
import type { PeerEntry } from '../../protocols/types.js'
import { HostilePeer } from '../helpers/hostile-peer.js'
import { removeHome, runCli, tempHome, waitFor } from '../helpers/procmesh.js'

function summaryOf (peerId: string, name: string, seq: number): Record<string, unknown> {
  return {
    v: 1, peerId, name, tags: {}, seq, at: Date.now(), intervalMs: 500,
    host: { hostname: 'h', platform: 'linux', arch: 'x64', cpus: 1, cpuPercent: 1, load: [0, 0, 0], memTotal: 1000, memUsed: 10, uptime: 5 },
    procCount: 1, topCpu: [], topMem: [], addrs: [], version: '0.1.0'
  }
}

describe('name and prefix squatting (finding 3)', { timeout: 90_000 }, () => {
  let homeA: string
  let homeV: string
  let a: ProcmeshNode
  let v: ProcmeshNode
  let mallory: HostilePeer
  let victimId: string
  let seq = Date.now()
  let timer: NodeJS.Timeout | undefined
  let currentName = 'mallory'

  const peersOfA = async (): Promise<PeerEntry[]> => await withClient(homeA, async c => await c.peers())

  before(async () => {
    homeA = await tempHome('pm-squat-a-')
    homeV = await tempHome('pm-squat-v-')
    const quiet = createLogger({ level: 'error', write: () => {} })
    a = await createProcmeshNode({ ...defaultNodeConfig(homeA), name: 'operator', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, intervalMs: 500 }, quiet)
    await a.start()
    await copyFile(join(homeA, 'swarm.key'), join(homeV, 'swarm.key'))
    v = await createProcmeshNode({ ...defaultNodeConfig(homeV), name: 'victim', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [a.addrs()[0]], mdns: false, intervalMs: 500 }, quiet)
    await v.start()
    victimId = v.peerId
    mallory = await HostilePeer.create({ psk: await readFile(join(homeA, 'swarm.key')) })
    await mallory.node.start()
    mallory.node.services.pubsub.subscribe(SUMMARY_TOPIC)
    await mallory.connect(a.addrs()[0])
    timer = setInterval(() => {
      const data = new TextEncoder().encode(JSON.stringify(summaryOf(mallory.id, currentName, ++seq)))
      mallory.node.services.pubsub.publish(SUMMARY_TOPIC, data).catch(() => {})
    }, 250)
    await waitFor(async () => {
      const p = await peersOfA()
      return p.some(e => e.peerId === victimId) && p.some(e => e.peerId === mallory.id && e.name === 'mallory')
    }, { timeoutMs: 30_000, what: 'the operator to see the victim and the attacker' })
  })

  after(async () => {
    clearInterval(timer)
    await mallory?.stop()
    await v?.stop()
    await a?.stop()
    await removeHome(homeA)
    await removeHome(homeV)
  })

  it('a member named with the victim\'s 16-character prefix never gets its grant', async () => {
    const prefix = victimId.slice(0, 16)
    currentName = prefix
    // give the squatting summaries time to arrive (they are sent every 250 ms)
    await new Promise(resolve => setTimeout(resolve, 2000))
    const mine = (await peersOfA()).find(e => e.peerId === mallory.id)
    assert.notEqual(mine?.name, prefix, 'a summary named like a peer id entered the view')
    const r = await runCli(['trust', 'add', prefix, '--role', 'exec', '--yes', '--home', homeA])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`victim \\(${victimId}\\) now holds exec`))
    assert.equal(a.security.trust.entry(mallory.id), undefined, 'the squatter received the grant')
    assert.equal(a.security.trust.entry(victimId)?.role, 'exec')
  })

  it('a member named like the victim does not capture or block its name target once the victim is trusted under it', async () => {
    currentName = 'victim'
    await waitFor(async () => (await peersOfA()).filter(e => e.name === 'victim').length === 2, { timeoutMs: 10_000, what: 'the duplicate name in the view' })
    const ps = await withClient(homeA, async c => await c.ps({ target: 'victim' }))
    assert.deepEqual(ps.map(e => e.peerId), [victimId])
    const human = await runCli(['peers', '--home', homeA])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /warning: name "victim" is claimed by 2 peers.*name also used by 1 other peer/)
  })

  it('without a trust entry a duplicate name is ambiguous, listing both peer ids', async () => {
    await runCli(['trust', 'remove', victimId, '--home', homeA])
    const r = await runCli(['run', 'victim', '--home', homeA, '--', 'true'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, new RegExp(`matches 2 nodes.*${mallory.id}`))
    assert.match(r.stderr, new RegExp(victimId))
  })
})

describe('targets that read as peer ids (pure)', () => {
  const entry = (peerId: string, name: string, self = false): PeerEntry => ({ peerId, name, self, status: 'online', lastSeen: 0, tags: {}, addrs: [], host: null, procCount: 0 } as unknown as PeerEntry)
  const V = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
  const M = '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf'
  const peers = [entry(V, 'victim'), entry(M, V.slice(0, 16))]

  it('a prefix matches the peer id, never a name', () => {
    assert.deepEqual(resolveTargets(V.slice(0, 16), peers).peers.map(p => p.peerId), [V])
  })
  it('a name that is also another peer\'s id prefix is ambiguous', () => {
    assert.throws(() => resolveTargets('12D3', [entry(V, 'v'), entry(M, '12D3')]), /is the name of .* and a prefix of/)
  })
  it('a duplicate name picks this node, or the peer the trust file knows by it', () => {
    const dup = [entry(V, 'victim'), entry(M, 'victim')]
    assert.throws(() => resolveTargets('victim', dup), /matches 2 nodes/)
    assert.deepEqual(resolveTargets('victim', dup, { trustedName: id => id === V ? 'victim' : undefined }).peers.map(p => p.peerId), [V])
    assert.deepEqual(resolveTargets('victim', [entry(V, 'victim', true), entry(M, 'victim')]).peers.map(p => p.peerId), [V])
  })
  it('summaries named like a peer id, or with control characters, are refused', () => {
    const enc = (s: Record<string, unknown>): Uint8Array => new TextEncoder().encode(JSON.stringify(s))
    assert.throws(() => decodeSummary(enc(summaryOf(M, V.slice(0, 16), 1))), /summary\.name: .*looks like a peer id/)
    assert.throws(() => decodeSummary(enc(summaryOf(M, 'a\u001b]0;pwned\u0007', 1))), /summary\.name: contains the control character U\+001B/)
    assert.equal(decodeSummary(enc(summaryOf(M, 'web1', 1))).name, 'web1')
  })
})

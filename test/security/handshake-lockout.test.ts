/**
 * Issue 17 finding 4 (THREATS case 26): a keyless host making silent TCP connects at
 * the per-host rate must not lock new members out. The attacker is plain TCP from
 * another loopback address (127.0.0.2); the members are independent libp2p peers
 * holding the mesh key (test/helpers/hostile-peer.ts).
 */
import '../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createLogger } from '../../node/logger.js'
import { createProcmeshNode, defaultNodeConfig, type ProcmeshNode } from '../../node/procmesh-node.js'
import { InboundAdmission, MAX_PENDING_PER_HOST, MAX_PENDING_UNKNOWN } from '../../node/security/admission.js'
import { HostilePeer } from '../helpers/hostile-peer.js'
import { removeHome, tempHome } from '../helpers/procmesh.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('silent connects from a keyless host (finding 4)', { timeout: 90_000 }, () => {
  let home: string
  let node: ProcmeshNode
  const sockets: Socket[] = []
  const members: HostilePeer[] = []
  let attack: NodeJS.Timeout | undefined
  const lines: string[] = []

  before(async () => {
    home = await tempHome('pm-lockout-')
    node = await createProcmeshNode({ ...defaultNodeConfig(home), name: 'target', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, intervalMs: 1000 }, createLogger({ level: 'info', write: l => { lines.push(l) } }))
    await node.start()
  })

  after(async () => {
    clearInterval(attack)
    for (const s of sockets) s.destroy()
    for (const m of members) await m.stop()
    await node?.stop()
    await removeHome(home)
  })

  it('8 fresh members connect while 5 silent connects a second arrive from one address', async () => {
    const port = Number(/\/tcp\/(\d+)/.exec(node.addrs()[0])?.[1])
    let closedByNode = 0
    const open = (): void => {
      const s = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' })
      s.on('error', () => {})
      s.on('close', () => { closedByNode++ })
      sockets.push(s)
    }
    // 5 a second, the per-host rate libp2p admits; a second in first so the pool is full today
    attack = setInterval(open, 200)
    await sleep(2500)
    const psk = await readFile(join(home, 'swarm.key'))
    let connected = 0
    const failures: string[] = []
    for (let i = 0; i < 8; i++) {
      const m = await HostilePeer.create({ psk })
      members.push(m)
      await m.node.start()
      try {
        await m.connect(node.addrs()[0], 6000)
        connected++
      } catch (err: unknown) {
        failures.push(String(err))
      }
      await sleep(300)
    }
    clearInterval(attack)
    assert.equal(connected, 8, `only ${connected} of 8 members connected during the attack: ${failures.join('; ')}`)
    assert.ok(sockets.length >= 20, `${sockets.length} attacking connects`)
    assert.ok(closedByNode > 0, 'the node cut the silent connections')
    // one line per host per minute, naming why
    assert.ok(lines.some(l => /connection from \/ip4\/127\.0\.0\.2\/tcp\/\d+ (refused before its handshake|failed the mesh key check)/.test(l)), lines.join(''))
  })
})

describe('inbound admission (pure)', () => {
  it('caps one host, keeps slots for known hosts, and frees slots', () => {
    const a = new InboundAdmission(() => ['/ip4/10.0.0.9/tcp/4001'])
    for (let i = 0; i < MAX_PENDING_PER_HOST; i++) assert.equal(a.admit('/ip4/10.0.0.1').admitted, true)
    const refused = a.admit('/ip4/10.0.0.1')
    assert.equal(refused.admitted, false)
    if (!refused.admitted) assert.match(refused.reason, /unfinished handshakes from \/ip4\/10\.0\.0\.1/)
    // many hosts: the unknown pool fills, a known (bootstrap) host still gets in
    for (let h = 2; a.counts().unknown < MAX_PENDING_UNKNOWN; h++) a.admit(`/ip4/10.0.1.${h}`)
    assert.equal(a.admit('/ip4/10.0.2.1').admitted, false)
    assert.deepEqual(a.admit('/ip4/10.0.0.9'), { admitted: true, known: true })
    // a host that proved the key is known from then on
    a.proved('/ip4/10.0.3.3')
    assert.deepEqual(a.admit('/ip4/10.0.3.3'), { admitted: true, known: true })
    a.release('/ip4/10.0.0.1', false)
    assert.equal(a.counts().unknown, MAX_PENDING_UNKNOWN - 1)
    assert.equal(a.admit('/ip4/10.0.0.1').admitted, true)
  })
})

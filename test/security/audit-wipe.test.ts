/**
 * Issue 17 findings 2 and 7 (THREATS case 24): a fresh read-only identity sending
 * denied starts with huge argv must not rotate an allowed decision out of the audit
 * log, and a start with over-long fields must stay visible to `procmesh audit`. The
 * attackers are independent libp2p peers (test/helpers/hostile-peer.ts).
 */
import '../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PeerId } from '@libp2p/interface'
import { createLogger } from '../../node/logger.js'
import { createProcmeshNode, defaultNodeConfig, type ProcmeshNode } from '../../node/procmesh-node.js'
import { AUDIT_DENIALS_PER_WINDOW, AUDIT_MAX_BYTES, AuditLog, auditId, readAuditLog } from '../../node/security/audit-log.js'
import { emptyTrustFile, serializeTrustFile } from '../../node/security/trust-store.js'
import type { AuditEntry } from '../../protocols/audit.js'
import { AUDIT_PROTOCOL, START_PROTOCOL } from '../../protocols/ids.js'
import { HostilePeer } from '../helpers/hostile-peer.js'
import { removeHome, tempHome } from '../helpers/procmesh.js'

const size = async (file: string): Promise<number> => await stat(file).then(s => s.size, () => 0)

describe('audit wipe by denied requests (finding 2)', { timeout: 120_000 }, () => {
  let home: string
  let node: ProcmeshNode
  let operator: HostilePeer
  let mallory: HostilePeer
  let target: PeerId

  before(async () => {
    home = await tempHome('pm-wipe-')
    node = await createProcmeshNode({ ...defaultNodeConfig(home), name: 'target', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, intervalMs: 500 }, createLogger({ level: 'error', write: () => {} }))
    await node.start()
    const psk = await readFile(join(home, 'swarm.key'))
    operator = await HostilePeer.create({ psk })
    mallory = await HostilePeer.create({ psk })
    await operator.node.start()
    await mallory.node.start()
    const tf = emptyTrustFile()
    tf.peers[operator.id] = { role: 'exec', source: 'trust', addedAt: Date.now() }
    await writeFile(join(home, 'trust.json'), serializeTrustFile(tf), { mode: 0o600 })
    target = await operator.connect(node.addrs()[0])
    await mallory.connect(node.addrs()[0])
  })

  after(async () => {
    await operator?.stop()
    await mallory?.stop()
    await node?.stop()
    await removeHome(home)
  })

  it('600 denied starts with ~66 KB argv leave the allowed start in the log, rate-limited and clipped', async () => {
    const ok = await operator.ask(target, START_PROTOCOL, { type: 'start', requestId: 'the-allowed-one', argv: ['true', 'allowed-marker'] })
    assert.equal(ok.status, 'ok', JSON.stringify(ok))
    const argv = ['sleep', ...Array.from({ length: 62 }, (_, i) => `${i}`.padEnd(1060, 'x'))]
    const batch = 4
    for (let i = 0; i < 600; i += batch) {
      const replies = await Promise.all(Array.from({ length: batch }, async (_, j) =>
        await mallory.ask(target, START_PROTOCOL, { type: 'start', requestId: `wipe-${i + j}`, argv }).catch((err: unknown) => ({ status: 'error', code: 'DIAL', message: String(err) }))))
      for (const r of replies) assert.equal(r.status, 'error')
    }
    const entries = node.security.audit.read(1000)
    assert.ok(entries.some(e => e.argv?.[1] === 'allowed-marker' && e.decision === 'allowed'), 'the allowed start was rotated away')
    const fromMallory = entries.filter(e => e.peerId === mallory.id)
    assert.ok(fromMallory.length <= AUDIT_DENIALS_PER_WINDOW + 1, `${fromMallory.length} denial lines from one peer`)
    const total = await size(join(home, 'audit.log')) + await size(join(home, 'audit.log.1')) + await size(join(home, 'audit-denied.log')) + await size(join(home, 'audit-denied.log.1'))
    assert.ok(total < 256 * 1024, `${total} bytes of audit for 600 denials`)
    for (const e of fromMallory) assert.ok((e.argv?.length ?? 0) <= 9 && (e.argv ?? []).every(a => a.length <= 131), 'denied argv clipped hard')
  })

  it('the suppressed denials are counted in one line once the window is over', () => {
    let now = 1_000_000
    const dir = home
    const log = new AuditLog(join(dir, 'window.log'), { now: () => now })
    const denial = (peerId: string): AuditEntry => ({ id: auditId(now), time: now, event: 'start', peerId, name: null, via: 'mesh', argv: ['x'], decision: 'denied', reason: 'forbidden' })
    for (let i = 0; i < 100; i++) log.append(denial('peerA'))
    log.append(denial('peerB'))
    now += 61_000
    const read = log.read(1000)
    assert.equal(read.filter(e => e.peerId === 'peerA').length, AUDIT_DENIALS_PER_WINDOW + 1)
    assert.match(read.at(-1)?.reason ?? '', new RegExp(`^${100 - AUDIT_DENIALS_PER_WINDOW} more denied start decisions for this peer suppressed`))
    assert.equal(read.filter(e => e.peerId === 'peerB').length, 1)
  })

  it('denials can never rotate an allowed decision away, whatever their number', () => {
    const log = new AuditLog(join(home, 'budget.log'), { maxBytes: 4000 })
    log.append({ id: auditId(), time: Date.now(), event: 'start', peerId: 'op', name: null, via: 'mesh', argv: ['true'], decision: 'allowed', reason: 'holds exec', result: 'pending' })
    for (let i = 0; i < 2000; i++) log.append({ id: auditId(), time: Date.now(), event: 'request', peerId: `fresh-${i}`, name: null, via: 'mesh', decision: 'denied', reason: 'x'.repeat(500) })
    assert.ok(readAuditLog(join(home, 'budget.log'), 1000).some(e => e.decision === 'allowed'))
    assert.ok(AUDIT_MAX_BYTES >= 4000)
  })
})

describe('audit evasion by length (finding 7)', { timeout: 30_000 }, () => {
  let home: string
  before(async () => { home = await tempHome('pm-len-') })
  after(async () => { await removeHome(home) })

  it('a start with a 4 KiB cwd and a reason quoting a 64 KiB argv[0] is written clipped and read back', () => {
    const file = join(home, 'len.log')
    const log = new AuditLog(file)
    const long = 'a'.repeat(64 * 1024)
    log.append({ id: auditId(), time: Date.now(), event: 'start', peerId: 'p', name: null, via: 'mesh', argv: [long], cwd: `/${'d'.repeat(4095)}`, decision: 'allowed', reason: `refused: ${long}`, result: 'pending' })
    const read = readAuditLog(file, 10)
    assert.equal(read.length, 1, 'the start is visible')
    assert.ok((read[0].cwd ?? '').endsWith('...') && (read[0].cwd ?? '').length <= 2048)
    assert.ok(read[0].reason.length <= 2048)
  })

  it('a line written by an older node with over-long fields is shown truncated, never dropped', async () => {
    const file = join(home, 'old.log')
    const raw = { id: auditId(), time: Date.now(), event: 'start', peerId: 'p', name: null, via: 'mesh', argv: ['sleep', '1'], cwd: `/${'d'.repeat(2200)}`, decision: 'allowed', reason: 'holds exec', result: 'x'.repeat(5000) }
    await appendFile(file, JSON.stringify(raw) + '\n')
    const read = readAuditLog(file, 10)
    assert.equal(read.length, 1)
    assert.ok(read[0].cwd?.endsWith('...'))
  })

  it('the AUDIT protocol serves such an entry to a reader', async () => {
    const h = await tempHome('pm-len-node-')
    const node = await createProcmeshNode({ ...defaultNodeConfig(h), name: 'target', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, intervalMs: 500 }, createLogger({ level: 'error', write: () => {} }))
    await node.start()
    const reader = await HostilePeer.create({ psk: await readFile(join(h, 'swarm.key')) })
    try {
      await reader.node.start()
      const peer = await reader.connect(node.addrs()[0])
      node.security.audit.append({ id: auditId(), time: Date.now(), event: 'start', peerId: reader.id, name: null, via: 'mesh', argv: ['sleep', '1'], cwd: `/${'d'.repeat(2200)}`, decision: 'allowed', reason: 'holds exec', result: 'pending' })
      const r = await reader.ask(peer, AUDIT_PROTOCOL, { type: 'audit', limit: 10 })
      assert.equal(r.status, 'ok', JSON.stringify(r).slice(0, 300))
      const entries = (r.result as { entries: AuditEntry[] }).entries
      assert.ok(entries.some(e => e.cwd?.startsWith('/ddd') === true))
    } finally {
      await reader.stop()
      await node.stop()
      await removeHome(h)
    }
  })
})

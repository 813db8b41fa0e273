/** Audit log (append, rotation, merge, torn lines), gater hooks and invite/join/claim bookkeeping. */
import { describe, it, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { writeFile } from 'node:fs/promises'
import { AuditLog, auditId, readAuditLog } from '../../node/security/audit-log.js'
import { classifyHandshakeFailure, createGater, describeHandshakeFailure } from '../../node/security/gater.js'
import { createInvite, joinMesh, redeemInvite, tokenAddrs, INVITE_TTL_MS } from '../../node/security/invite.js'
import { generateSwarmKeyHex, readSwarmKey, writeSwarmKey } from '../../node/security/swarm-key.js'
import { TrustStore } from '../../node/security/trust-store.js'
import { clip, clipArgv, AUDIT_MAX_ARGS, type AuditEntry } from '../../protocols/audit.js'
import { ProcmeshError } from '../../protocols/errors.js'
import { decodeJoinToken } from '../../protocols/token.js'
import { hostOf } from '../../node/security/security.js'

const A = '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf'
const B = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'

let dir: string
before(async () => { dir = await mkdtemp(join(tmpdir(), 'pm-audit-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

function entry (fields: Partial<AuditEntry> = {}): AuditEntry {
  return { id: auditId(), time: Date.now(), event: 'start', peerId: A, name: 'alpha', via: 'mesh', argv: ['sleep', '1'], decision: 'allowed', reason: 'holds exec', result: 'pending', ...fields }
}

describe('audit log', () => {
  it('appends JSON lines with mode 0600; a result line replaces its decision when read', async () => {
    const file = join(dir, 'a.log')
    const log = new AuditLog(file)
    const e = entry()
    log.append(e)
    log.append({ ...e, result: 'started pid 42' })
    log.append(entry({ event: 'stop', argv: undefined, pid: 42, signal: 'TERM', decision: 'denied', reason: 'forbidden', result: 'not signalled' }))
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    const lines = (await readFile(file, 'utf8')).trim().split('\n')
    assert.equal(lines.length, 2, 'the decision and its result; the denial is in the denial log')
    assert.equal((await readFile(join(dir, 'a-denied.log'), 'utf8')).trim().split('\n').length, 1)
    const read = log.read(10)
    assert.equal(read.length, 2)
    assert.equal(read[0].result, 'started pid 42')
    assert.equal(read[1].pid, 42)
  })

  it('skips a torn last line (crash mid-write) and foreign lines', async () => {
    const file = join(dir, 'torn.log')
    const log = new AuditLog(file)
    log.append(entry())
    await appendFile(file, 'not json\n{"id":"x"}\n{"id":"abc","ti')
    assert.equal(readAuditLog(file, 10).length, 1)
  })

  it('rotates once to .1 at the size cap and still reads the newest entries across both', async () => {
    const file = join(dir, 'rot.log')
    const log = new AuditLog(file, { maxBytes: 2000 })
    for (let i = 0; i < 40; i++) log.append(entry({ id: `e${i}` }))
    const size = (await stat(file)).size
    assert.ok(size <= 2000, `current file ${size} bytes`)
    assert.ok((await stat(`${file}.1`)).size <= 2000)
    const newest = log.read(5).map(e => e.id)
    assert.deepEqual(newest, ['e35', 'e36', 'e37', 'e38', 'e39'])
    assert.ok(log.read(1000).length < 40, 'older entries rotated away')
  })

  it('clips huge argv and long texts', () => {
    const argv = Array.from({ length: 10_000 }, () => 'x'.repeat(5000))
    const clipped = clipArgv(argv)
    assert.equal(clipped.length, AUDIT_MAX_ARGS + 1)
    assert.match(clipped[AUDIT_MAX_ARGS], /9936 more arguments/)
    assert.ok(Buffer.byteLength(clipped[0]) <= 1024)
    assert.equal(clip('héllo', 100), 'héllo')
    assert.ok(Buffer.byteLength(clip('é'.repeat(100), 11)) <= 11)
  })
})

describe('gater', () => {
  it('hooks are own enumerable properties (libp2p drops prototype methods)', () => {
    const g = createGater({ isBlocked: () => false, onRefused: () => {}, onHandshakeFailed: () => {} })
    for (const hook of ['denyDialPeer', 'denyInboundConnection', 'denyOutboundConnection', 'denyInboundEncryptedConnection', 'denyOutboundEncryptedConnection']) {
      assert.ok(Object.keys(g).includes(hook), hook)
    }
  })

  it('refuses blocked peers on both sides and on dial, and reports it', async () => {
    const refused: string[] = []
    const g = createGater({ isBlocked: id => id === B, onRefused: e => { refused.push(`${e.direction}:${e.peerId}`) }, onHandshakeFailed: () => {} })
    const maConn = { remoteAddr: { toString: () => '/ip4/127.0.0.1/tcp/1' }, addEventListener: () => {} }
    const b = peerIdFromString(B)
    const a = peerIdFromString(A)
    assert.equal(await g.denyDialPeer?.(b), true)
    assert.equal(await g.denyDialPeer?.(a), false)
    // a partial MultiaddrConnection is enough for these hooks
    const conn = maConn as unknown as Parameters<NonNullable<typeof g.denyInboundEncryptedConnection>>[1]
    assert.equal(await g.denyInboundEncryptedConnection?.(b, conn), true)
    assert.equal(await g.denyOutboundEncryptedConnection?.(b, conn), true)
    assert.equal(await g.denyInboundEncryptedConnection?.(a, conn), false)
    assert.deepEqual(refused, [`inbound:${B}`, `outbound:${B}`])
  })

  const cases: Array<[string, Error, string]> = [
    ['pnet garbage', Object.assign(new Error('Message length too long - 1612 > 1024'), { name: 'EncryptionFailedError' }), 'mesh-key'],
    ['no key on the other side', Object.assign(new Error('Message length length too long - 3 > 2'), { name: 'EncryptionFailedError' }), 'mesh-key'],
    ['reset by the other side', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'mesh-key'],
    ['timeout', Object.assign(new Error('aborted'), { name: 'TimeoutError' }), 'timeout'],
    ['anything else before the peer is known', Object.assign(new Error('Missing newline'), { name: 'EncryptionFailedError' }), 'mesh-key']
  ]
  for (const [name, err, kind] of cases) {
    it(`classifies ${name} as ${kind}`, () => { assert.equal(classifyHandshakeFailure(err), kind) })
  }

  it('says it in one line, and rate-limits per host', () => {
    assert.equal(describeHandshakeFailure({ addr: '/ip4/10.0.0.9/tcp/5555', direction: 'inbound', failure: 'mesh-key', error: 'x' }),
      'connection from /ip4/10.0.0.9/tcp/5555 failed the mesh key check (different or no swarm key; or it expected another peer id at this address)')
    assert.equal(hostOf('/ip4/10.0.0.9/tcp/5555'), '/ip4/10.0.0.9')
    assert.equal(hostOf('/ip6/::1/tcp/1'), '/ip6/::1')
  })
})

describe('invite, join and claim', () => {
  it('tokens carry /p2p/ addresses, non-loopback first', () => {
    assert.deepEqual(tokenAddrs(['/ip4/127.0.0.1/tcp/1', '/ip4/10.0.0.1/tcp/1'], A), [`/ip4/10.0.0.1/tcp/1/p2p/${A}`])
    assert.deepEqual(tokenAddrs([`/ip4/127.0.0.1/tcp/1/p2p/${A}`], A), [`/ip4/127.0.0.1/tcp/1/p2p/${A}`])
  })

  it('an invite with a role records only the secret\'s hash; the grant is single use and bound to the claiming peer', () => {
    const store = new TrustStore(join(dir, 'inviter.json'))
    store.load()
    const key = generateSwarmKeyHex()
    const inv = createInvite(store, { swarmKeyHex: key, selfId: A, selfName: 'alpha', addrs: [], role: 'exec', now: 1000 })
    const token = decodeJoinToken(inv.token)
    assert.equal(token.grant?.role, 'exec')
    assert.equal(token.grant?.expiresAt, 1000 + INVITE_TTL_MS)
    const secret = token.grant?.secret ?? ''
    assert.equal(store.data.invites.length, 1)
    assert.ok(!JSON.stringify(store.data).includes(secret), 'the trust file never holds the secret')
    assert.ok(!JSON.stringify(store.data).includes(key), 'nor the key')
    assert.equal(redeemInvite(store, secret, B, 'beta', 2000), 'exec')
    assert.equal(store.entry(B)?.role, 'exec')
    assert.equal(store.entry(B)?.source, 'invite')
    assert.throws(() => redeemInvite(store, secret, B, 'beta', 2000), (err: unknown) => err instanceof ProcmeshError && err.code === 'NOT_FOUND')
  })

  it('an expired grant is refused (and gone); a claim never lowers a role nor lifts a block', () => {
    const store = new TrustStore(join(dir, 'inviter2.json'))
    store.load()
    const key = generateSwarmKeyHex()
    const secretOf = (role: 'read' | 'exec'): string => decodeJoinToken(createInvite(store, { swarmKeyHex: key, selfId: A, selfName: 'alpha', addrs: [], role, now: 0 }).token).grant?.secret ?? ''
    const old = secretOf('exec')
    assert.throws(() => redeemInvite(store, old, B, undefined, INVITE_TTL_MS + 1), (err: unknown) => err instanceof ProcmeshError && err.code === 'GONE')
    assert.equal(store.data.invites.length, 0)
    store.update(tf => { tf.peers[B] = { role: 'control', source: 'trust', addedAt: 1 } })
    assert.equal(redeemInvite(store, secretOf('read'), B, undefined, 10), 'control')
    store.update(tf => { tf.peers[B] = { role: 'none', source: 'trust', addedAt: 1 } })
    assert.throws(() => redeemInvite(store, secretOf('exec'), B, undefined, 10), (err: unknown) => err instanceof ProcmeshError && err.code === 'FORBIDDEN')
    assert.equal(store.entry(B)?.role, 'none')
  })

  it('join stores the key (0600) and the inviter as exec admin with its addresses, and the claim', async () => {
    const inviterStore = new TrustStore(join(dir, 'inviter3.json'))
    inviterStore.load()
    const key = generateSwarmKeyHex()
    const inv = createInvite(inviterStore, { swarmKeyHex: key, selfId: A, selfName: 'alpha', addrs: ['/ip4/10.1.1.1/tcp/4001'], role: 'control' })
    const home = join(dir, 'joiner')
    const r = await joinMesh(home, inv.token)
    assert.equal(r.grant, 'control')
    assert.equal(r.keyCreated, true)
    assert.equal(await readSwarmKey(join(home, 'swarm.key')), key)
    assert.equal((await stat(join(home, 'swarm.key'))).mode & 0o777, 0o600)
    const store = new TrustStore(join(home, 'trust.json'))
    store.load()
    assert.deepEqual(store.entry(A), { role: 'exec', name: 'alpha', source: 'join', addedAt: store.entry(A)?.addedAt, addrs: [`/ip4/10.1.1.1/tcp/4001/p2p/${A}`] })
    assert.equal(store.data.claims.length, 1)
    assert.equal(store.data.claims[0].role, 'control')
    // the same token again is harmless; another mesh's token needs --force
    await joinMesh(home, inv.token)
    assert.equal(new TrustStore(join(home, 'trust.json')).data.claims.length, 1)
    const other = createInvite(inviterStore, { swarmKeyHex: generateSwarmKeyHex(), selfId: A, selfName: 'alpha', addrs: [] })
    await assert.rejects(joinMesh(home, other.token), (err: unknown) => err instanceof ProcmeshError && err.code === 'REFUSED' && /--force/.test(err.message))
    assert.equal(await readSwarmKey(join(home, 'swarm.key')), key)
    const forced = await joinMesh(home, other.token, { force: true })
    assert.equal(forced.keyChanged, true)
  })

  it('join refuses a token made by the same node, and garbage without echoing it', async () => {
    const home = join(dir, 'self-join')
    const { mkdir } = await import('node:fs/promises')
    await mkdir(home, { mode: 0o700 })
    const pk = await generateKeyPair('Ed25519')
    await writeFile(join(home, 'identity.key'), privateKeyToProtobuf(pk), { mode: 0o600 })
    await writeSwarmKey(join(home, 'swarm.key'), generateSwarmKeyHex())
    const selfId = peerIdFromPrivateKey(pk).toString()
    const store = new TrustStore(join(home, 'trust.json'))
    const inv = createInvite(store, { swarmKeyHex: generateSwarmKeyHex(), selfId, selfName: 'me', addrs: [] })
    await assert.rejects(joinMesh(home, inv.token), /made by this very node/)
    await assert.rejects(joinMesh(home, 'pmj1.secretstuff.00000000'), (err: Error) => /invalid join token/.test(err.message) && !err.message.includes('secretstuff'))
  })
})

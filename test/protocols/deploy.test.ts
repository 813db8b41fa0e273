import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import {
  DEPLOY_SYNC, compareSpecs, copyName, decodeDigest, encodeDigest, matchesSelector, parseCopyName, parseSelector, placement,
  signSpec, specHash, specsToKeep, validateSignedSpec, validateSpec, verifySignedSpec, winningSpec, type DeploySpec, type SignedSpec
} from '../../protocols/deploy.js'
import { InvalidFieldError } from '../../protocols/errors.js'
import { MAX_STORED_SPECS, MAX_SUMMARY_BYTES, SPECS_KEPT_PER_NAME } from '../../protocols/limits.js'

async function author (): Promise<{ key: PrivateKey, id: string }> {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

function spec (authorId: string, over: Partial<DeploySpec> = {}): DeploySpec {
  return {
    v: 1, name: 'web', version: 1, deleted: false, argv: ['sleep', '100'], cwd: null, env: {}, selector: 'tag:role=web',
    replicas: 2, spread: 1, restart: 'always', author: authorId, issuedAt: Date.now(), ...over
  }
}

async function signed (a: { key: PrivateKey, id: string }, over: Partial<DeploySpec> = {}): Promise<SignedSpec> {
  return await signSpec(spec(a.id, over), async b => await a.key.sign(b))
}

/** Peer-id-like host ids: the placement only hashes them. */
const hosts = (n: number): string[] => Array.from({ length: n }, (_, i) => `host-${i}`)

describe('deployment specs: validation', () => {
  it('accepts a valid spec and an undeploy', async () => {
    const a = await author()
    const s = spec(a.id, { env: { MODE: 'prod' }, cwd: '/srv' })
    assert.deepEqual(validateSpec(JSON.parse(JSON.stringify(s))), s)
    const tomb = validateSpec(spec(a.id, { deleted: true, argv: [], replicas: 0 }))
    assert.equal(tomb.deleted, true)
  })
  it('refuses each bad field naming it', async () => {
    const a = await author()
    const cases: Array<[Partial<DeploySpec> | Record<string, unknown>, RegExp]> = [
      [{ name: '1web' }, /spec\.name: .*starts with a letter/],
      [{ name: 'w'.repeat(41) }, /spec\.name: longer than 40 bytes/],
      [{ version: 0 }, /spec\.version: must be >= 1/],
      [{ argv: [] }, /spec\.argv: must not be empty/],
      [{ argv: ['a\0b'] }, /spec\.argv\[0\]: contains a NUL byte/],
      [{ env: { LD_PRELOAD: '/x.so' } }, /spec\.env\.LD_PRELOAD: may not be set remotely/],
      [{ replicas: 0 }, /spec\.replicas: must be >= 1/],
      [{ replicas: 'some' }, /spec\.replicas: expected a finite number/],
      [{ spread: 99 }, /spec\.spread: must be <= 16/],
      [{ restart: 'sometimes' }, /spec\.restart: expected one of no, on-failure, always/],
      [{ selector: 'tag:=x' }, /spec\.selector: "tag:=x": expected tag:KEY=VALUE/],
      [{ author: 'not-a-peer' }, /spec\.author: not a peer id/],
      [{ issuedAt: Date.now() + 3_600_000 }, /spec\.issuedAt: .* is in the future/],
      [{ deleted: true, argv: ['x'] }, /spec\.argv: an undeploy carries no command/],
      [{ v: 2 }, /spec\.v: unsupported spec version 2/]
    ]
    for (const [over, re] of cases) {
      assert.throws(() => validateSpec({ ...spec(a.id), ...over }), (err: unknown) => err instanceof Error && re.test(err.message), JSON.stringify(over))
    }
  })
  it('refuses a spec over the size cap', async () => {
    const a = await author()
    const s = await signed(a, { argv: ['echo', 'x'.repeat(20_000)] })
    assert.throws(() => validateSignedSpec(s), /bytes, over the 16384-byte cap of a spec/)
  })
})

describe('deployment specs: signatures', () => {
  it('verifies the author signature and rejects forgeries', async () => {
    const a = await author()
    const m = await author()
    const good = await signed(a)
    await verifySignedSpec(validateSignedSpec(JSON.parse(JSON.stringify(good))))
    // another key signing a spec that names a as author
    const forged = await signSpec(spec(a.id, { argv: ['rm', '-rf', '/tmp/x'] }), async b => await m.key.sign(b))
    await assert.rejects(verifySignedSpec(forged), /spec\.sig: not a signature of this spec by its author/)
    // a signed spec with one field changed after signing
    const tampered: SignedSpec = { spec: { ...good.spec, replicas: 5 }, sig: good.sig }
    await assert.rejects(verifySignedSpec(tampered), InvalidFieldError)
    // the signature of one spec moved onto another name
    const moved: SignedSpec = { spec: { ...good.spec, name: 'api' }, sig: good.sig }
    await assert.rejects(verifySignedSpec(moved), /not a signature/)
  })
  it('a replayed older spec loses to the newer one it was superseded by', async () => {
    const a = await author()
    const v1 = await signed(a, { version: 1 })
    const v2 = await signed(a, { version: 2, argv: ['sleep', '200'] })
    const tomb = await signed(a, { version: 3, deleted: true, argv: [], replicas: 0 })
    assert.equal(winningSpec([v2, v1])?.spec.version, 2)
    // the old spec sent again after an undeploy does not bring the deployment back
    assert.equal(winningSpec([tomb, v2, v1])?.spec.deleted, true)
    assert.equal(winningSpec([v1, tomb])?.spec.deleted, true)
  })
})

describe('deployment specs: conflict rule', () => {
  it('higher version wins; same version: the greater hash, alike in any order', async () => {
    const a = await author()
    const b = await author()
    const x = await signed(a, { version: 4, argv: ['x'] })
    const y = await signed(b, { version: 4, argv: ['y'] })
    const expected = specHash(x.spec) > specHash(y.spec) ? x : y
    assert.equal(winningSpec([x, y]), expected)
    assert.equal(winningSpec([y, x]), expected)
    assert.ok(compareSpecs(expected.spec, expected === x ? y.spec : x.spec) > 0)
    const z = await signed(b, { version: 5 })
    assert.equal(winningSpec([x, y, z]), z)
  })
  it('only authors the host trusts count', async () => {
    const a = await author()
    const m = await author()
    const good = await signed(a, { version: 2 })
    const hostile = await signed(m, { version: 9, deleted: true, argv: [], replicas: 0 })
    assert.equal(winningSpec([good, hostile], id => id === a.id), good)
    assert.equal(winningSpec([hostile], id => id === a.id), undefined)
  })
  it('keeps the newest few per name, the same set on every node', async () => {
    const a = await author()
    const all = await Promise.all([1, 2, 3, 4, 5].map(async v => await signed(a, { version: v })))
    const kept = specsToKeep([...all].reverse()).map(s => s.spec.version)
    assert.deepEqual(kept, [5, 4, 3].slice(0, SPECS_KEPT_PER_NAME))
    assert.deepEqual(specsToKeep(all).map(s => s.spec.version), kept)
  })
  it('an untrusted author\'s specs never push out the trusted ones: not by higher versions of a name, not by a flood over the cap', async () => {
    const a = await author()
    const m = await author()
    const trusted = (id: string): boolean => id === a.id
    const undeploy = await signed(a, { version: 2, deleted: true, argv: [], replicas: 0 })
    const own = [await signed(a, { version: 1 }), undeploy]
    const higher = await Promise.all([10, 11, 12].map(async v => await signed(m, { version: v })))
    const keep = (specs: SignedSpec[]): string[] => specsToKeep(specs, trusted).filter(s => s.spec.author === a.id).map(s => specHash(s.spec)).sort()
    assert.deepEqual(keep([...own, ...higher]), own.map(s => specHash(s.spec)).sort())
    const flood = await Promise.all(Array.from({ length: MAX_STORED_SPECS }, async (_, i) => await signed(m, { name: `flood${i}` })))
    const kept = specsToKeep([...own, ...flood], trusted)
    assert.equal(kept.length, MAX_STORED_SPECS)
    assert.ok(kept.includes(undeploy), 'the trusted undeploy stays (a replayed version 1 cannot win again)')
    // without trust (every author counts) the old rule: the tombstone goes first
    assert.ok(!specsToKeep([...own, ...flood]).includes(undeploy))
  })
})

describe('deployment selectors', () => {
  const host = { peerId: '12D3KooWabc', name: 'web1', tags: { role: 'web' } }
  it('parses and matches all, tag and names', () => {
    assert.ok(matchesSelector(parseSelector('all'), host))
    assert.ok(matchesSelector(parseSelector('tag:role=web'), host))
    assert.ok(!matchesSelector(parseSelector('tag:role=db'), host))
    assert.ok(matchesSelector(parseSelector('db1,web1'), host))
    assert.ok(matchesSelector(parseSelector('12D3KooWabc'), host))
    assert.ok(!matchesSelector(parseSelector('db1'), host))
  })
  it('refuses bad selectors', () => {
    assert.throws(() => parseSelector(''), /selector: must not be empty/)
    assert.throws(() => parseSelector('tag:role'), /expected tag:KEY=VALUE/)
    assert.throws(() => parseSelector('a,,b'), /not a host name or peer id/)
  })
})

describe('placement (rendezvous hashing)', () => {
  const s = { name: 'web', replicas: 3 as number | 'every', spread: 1, deleted: false }
  it('is the same whatever the order of the candidates', () => {
    const h = hosts(10)
    const p1 = placement(s, h)
    const p2 = placement(s, [...h].reverse())
    assert.deepEqual(p1, p2)
    assert.equal(p1.length, 3)
    assert.equal(new Set(p1.map(p => p.peerId)).size, 3, 'at most one copy per host by default')
  })
  it('moves only the copy of a host that leaves', () => {
    for (let trial = 0; trial < 20; trial++) {
      const h = hosts(12).map(x => `${x}-${trial}`)
      const before = placement(s, h)
      const gone = before[1].peerId
      const after = placement(s, h.filter(x => x !== gone))
      const kept = before.filter(p => p.peerId !== gone).map(p => p.peerId)
      for (const k of kept) assert.ok(after.some(p => p.peerId === k), 'a copy on a host that stayed does not move')
      assert.equal(after.length, 3)
    }
  })
  it('a joining host takes at most one copy, and leaving again restores the old placement', () => {
    for (let trial = 0; trial < 20; trial++) {
      const h = hosts(8).map(x => `${x}-${trial}`)
      const before = placement(s, h).map(p => p.peerId)
      const after = placement(s, [...h, `new-${trial}`]).map(p => p.peerId)
      const moved = before.filter(x => !after.includes(x))
      assert.ok(moved.length <= 1)
      if (moved.length === 1) assert.ok(after.includes(`new-${trial}`))
      assert.deepEqual(placement(s, h).map(p => p.peerId), before)
    }
  })
  it('spreads over many names roughly evenly', () => {
    const h = hosts(5)
    const counts = new Map<string, number>()
    for (let i = 0; i < 500; i++) for (const p of placement({ ...s, name: `d${i}`, replicas: 1 }, h)) counts.set(p.peerId, (counts.get(p.peerId) ?? 0) + 1)
    for (const c of counts.values()) assert.ok(c > 60 && c < 140, `each host gets about 100 of 500: ${[...counts.values()].join(',')}`)
  })
  it('every: one copy on each candidate; spread allows several per host', () => {
    assert.equal(placement({ ...s, replicas: 'every', spread: 3 }, hosts(7)).length, 7)
    const spread = placement({ ...s, replicas: 5, spread: 2 }, hosts(3))
    assert.equal(spread.length, 5)
    for (const id of hosts(3)) assert.ok(spread.filter(p => p.peerId === id).length <= 2)
    assert.equal(placement({ ...s, replicas: 5 }, hosts(2)).length, 2, 'too few hosts: as many as fit')
    assert.deepEqual(placement({ ...s, deleted: true }, hosts(3)), [])
  })
})

describe('copy names, digest and sync messages', () => {
  it('copy names round-trip, parsed from the right', () => {
    assert.equal(copyName('web', 3, 1), 'web-v3-1')
    assert.deepEqual(parseCopyName('web-v3-1'), { deployment: 'web', version: 3, slot: 1 })
    assert.deepEqual(parseCopyName('web-v3-v1-2'), { deployment: 'web-v3', version: 1, slot: 2 })
    assert.equal(parseCopyName('web'), undefined)
    assert.equal(parseCopyName(null), undefined)
  })
  it('a full digest of 32 deployments fits the gossip cap', () => {
    const entries = Array.from({ length: 32 }, (_, i) => ({ n: `deployment-with-a-long-name-${String(i).padStart(4, '0')}`, h: 'a'.repeat(12), a: 'no-exec' as const, r: 16, o: 16 }))
    const d = { v: 1 as const, peerId: '12D3KooW' + 'x'.repeat(44), seq: Date.now(), index: 'b'.repeat(16), entries }
    const bytes = encodeDigest(d)
    assert.ok(bytes.byteLength < MAX_SUMMARY_BYTES)
    assert.deepEqual(decodeDigest(bytes), d)
    assert.throws(() => decodeDigest(new TextEncoder().encode('{"v":1,"peerId":"p","seq":1,"index":"zz","entries":[]}')), /digest\.index: does not match/)
  })
  it('a digest may carry a spec its own node signed, of any size a spec may have; nobody else\'s', async () => {
    const a = await author()
    const m = await author()
    const base = { v: 1 as const, peerId: a.id, seq: Date.now(), index: 'b'.repeat(16), entries: [] }
    const own = await signed(a)
    assert.deepEqual(decodeDigest(encodeDigest({ ...base, spec: own })), { ...base, spec: own })
    // a spec near the spec cap pushes past the plain digest cap, within the larger one
    const big = await signed(a, { env: { BIG: 'x'.repeat(12_000) } })
    const bytes = encodeDigest({ ...base, spec: big })
    assert.ok(bytes.byteLength > MAX_SUMMARY_BYTES)
    assert.equal(decodeDigest(bytes).spec?.spec.env.BIG.length, 12_000)
    // the larger cap is not a way to send a bloated digest without a spec
    const padded = new TextEncoder().encode(JSON.stringify({ ...base, pad: 'x'.repeat(MAX_SUMMARY_BYTES) }))
    assert.throws(() => decodeDigest(padded), /over the 4096-byte cap of a digest without a spec/)
    // another author's spec (a replay or a relay) in m's digest is refused, naming the field
    assert.throws(() => decodeDigest(new TextEncoder().encode(JSON.stringify({ ...base, peerId: m.id, spec: own }))), /digest\.spec\.spec\.author: .* is not the digest's node/)
    // a malformed spec is refused by its field
    assert.throws(() => decodeDigest(new TextEncoder().encode(JSON.stringify({ ...base, spec: { spec: { ...own.spec, replicas: -1 }, sig: own.sig } }))), /digest\.spec\.spec\.replicas: must be >= 1/)
  })
  it('the sync request and answer are validated', async () => {
    const a = await author()
    assert.deepEqual(DEPLOY_SYNC.validateRequest({ type: 'deploy-sync', have: ['a'.repeat(64)] }), { type: 'deploy-sync', have: ['a'.repeat(64)] })
    assert.throws(() => DEPLOY_SYNC.validateRequest({ type: 'deploy-sync', have: ['nothex'] }), /have\[0\]: does not match/)
    assert.throws(() => DEPLOY_SYNC.validateRequest({ type: 'list', have: [] }), /unknown message type/)
    const s = await signed(a)
    assert.deepEqual(DEPLOY_SYNC.validateResult(JSON.parse(JSON.stringify({ specs: [s], digest: null }))), { specs: [s], digest: null })
    assert.throws(() => DEPLOY_SYNC.validateResult({ specs: [{ spec: { ...s.spec, replicas: -1 }, sig: s.sig }], digest: null }), /result\.specs\[0\]\.spec\.replicas: must be >= 1/)
  })
})

import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { signSpec, type DeploySpec, type SignedSpec } from '../../../protocols/deploy.js'
import { createLogger } from '../../../node/logger.js'
import { SpecStore } from '../../../node/deploy/spec-store.js'

describe('spec store', () => {
  let dir: string
  let key: PrivateKey
  let author: string
  const warnings: string[] = []
  const log = createLogger({ level: 'warn', write: line => { warnings.push(line) } })

  const spec = (over: Partial<DeploySpec> = {}): DeploySpec => ({
    v: 1, name: 'web', version: 1, deleted: false, argv: ['sleep', '100'], cwd: null, env: {}, selector: 'all',
    replicas: 2, spread: 1, restart: 'always', author, issuedAt: Date.now(), ...over
  })
  const signed = async (over: Partial<DeploySpec> = {}, k: PrivateKey = key): Promise<SignedSpec> => await signSpec(spec(over), async b => await k.sign(b))

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pm-specs-'))
    key = await generateKeyPair('Ed25519')
    author = peerIdFromPrivateKey(key).toString()
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('keeps valid specs across a restart, in a 0600 file', async () => {
    const file = join(dir, 'a.json')
    const store = new SpecStore(file, log)
    assert.equal(await store.offer(await signed()), 'added')
    assert.equal(await store.offer(await signed({ version: 2, argv: ['sleep', '200'] })), 'added')
    await store.flushed()
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    const again = new SpecStore(file, log)
    await again.load()
    assert.deepEqual(again.hashes().sort(), store.hashes().sort())
    assert.equal(again.winner('web')?.spec.version, 2)
    assert.equal(again.index(), store.index())
    assert.equal(again.maxVersion('web'), 2)
  })

  it('refuses a forged spec and a tampered one, naming the problem; a replayed old one changes nothing', async () => {
    const store = new SpecStore(join(dir, 'b.json'), log)
    const other = await generateKeyPair('Ed25519')
    await assert.rejects(store.offer(await signed({}, other)), /spec\.sig: not a signature of this spec by its author/)
    const good = await signed({ version: 5 })
    await assert.rejects(store.offer({ spec: { ...good.spec, argv: ['rm', '-rf', '/'] }, sig: good.sig }), /spec\.sig: not a signature/)
    assert.deepEqual(store.hashes(), [])
    for (let v = 1; v <= 5; v++) await store.offer(await signed({ version: v }))
    assert.equal(store.all().length, 3)
    // version 1 was dropped as superseded; offered again (a replay), it stays out
    assert.equal(await store.offer(await signed({ version: 1 })), 'superseded')
    assert.equal(store.winner('web')?.spec.version, 5)
  })

  it('drops a stored spec whose signature no longer verifies (edited file) and keeps the rest', async () => {
    const file = join(dir, 'c.json')
    const store = new SpecStore(file, log)
    await store.offer(await signed({ name: 'a' }))
    await store.offer(await signed({ name: 'b' }))
    await store.flushed()
    const body = JSON.parse(await readFile(file, 'utf8')) as { specs: SignedSpec[] }
    body.specs[0].spec.argv = ['evil']
    await writeFile(file, JSON.stringify(body))
    warnings.length = 0
    const again = new SpecStore(file, log)
    await again.load()
    assert.equal(again.all().length, 1)
    assert.ok(warnings.some(w => /dropped a spec: specs\[0\]\.sig: not a signature/.test(w)), warnings.join('\n'))
  })

  it('a broken file is a warning, not a crash', async () => {
    const file = join(dir, 'd.json')
    await writeFile(file, '{not json')
    warnings.length = 0
    const store = new SpecStore(file, log)
    await store.load()
    assert.equal(store.all().length, 0)
    assert.ok(warnings.some(w => w.includes('is not a deployments file')), warnings.join('\n'))
  })
})

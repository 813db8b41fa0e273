/** Swarm key files and join tokens: formats, validation, and that errors never echo secrets. */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKey, preSharedKey } from '@libp2p/pnet'
import {
  formatSwarmKey, generateSwarmKeyHex, loadOrCreateSwarmKey, meshFingerprint, parseSwarmKey, readSwarmKey
} from '../../node/security/swarm-key.js'
import { claimSecretHash, decodeJoinToken, encodeJoinToken, MAX_TOKEN_ADDRS, type JoinToken } from '../../protocols/token.js'

const enc = new TextEncoder()
const PEER = '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf'

describe('swarm key', () => {
  const dirs: string[] = []
  after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

  it('reads what @libp2p/pnet generateKey writes, and writes what preSharedKey accepts', () => {
    const bytes = new Uint8Array(95)
    generateKey(bytes)
    const hex = parseSwarmKey(bytes)
    assert.match(hex, /^[0-9a-f]{64}$/)
    assert.deepEqual(formatSwarmKey(hex), bytes)
    assert.doesNotThrow(() => preSharedKey({ psk: formatSwarmKey(generateSwarmKeyHex()) })())
  })

  const bad: Array<[string, string, RegExp]> = [
    ['wrong header', `/key/swarm/psk/2.0.0/\n/base16/\n${'a'.repeat(64)}`, /first line/],
    ['base64 codec', `/key/swarm/psk/1.0.0/\n/base64/\n${'a'.repeat(64)}`, /encoding/],
    ['short key', `/key/swarm/psk/1.0.0/\n/base16/\n${'a'.repeat(62)}`, /64 hex/],
    ['not hex', `/key/swarm/psk/1.0.0/\n/base16/\n${'g'.repeat(64)}`, /64 hex/],
    ['trailing junk', `/key/swarm/psk/1.0.0/\n/base16/\n${'a'.repeat(64)}\nmore`, /unexpected lines/],
    ['empty', '', /first line/]
  ]
  for (const [name, text, re] of bad) {
    it(`refuses a file with ${name}, without echoing it`, () => {
      assert.throws(() => parseSwarmKey(enc.encode(text)), (err: Error) => re.test(err.message) && !err.message.includes('aaaa'))
    })
  }

  it('accepts a trailing newline and CRLF', () => {
    const hex = generateSwarmKeyHex()
    assert.equal(parseSwarmKey(enc.encode(`/key/swarm/psk/1.0.0/\r\n/base16/\r\n${hex}\r\n`)), hex)
  })

  it('is created once with mode 0600, then loaded unchanged; a loose mode is tightened', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pm-key-'))
    dirs.push(dir)
    const file = join(dir, 'swarm.key')
    const first = await loadOrCreateSwarmKey(file)
    assert.equal(first.created, true)
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    const second = await loadOrCreateSwarmKey(file)
    assert.equal(second.created, false)
    assert.equal(second.hex, first.hex)
    await chmod(file, 0o644)
    const third = await loadOrCreateSwarmKey(file)
    assert.equal(third.tightened, true)
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    assert.equal((await readFile(file, 'utf8')).split('\n')[2], first.hex)
  })

  it('a broken file is an error naming the file, not a new mesh', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pm-key-'))
    dirs.push(dir)
    const file = join(dir, 'swarm.key')
    await writeFile(file, 'garbage')
    await assert.rejects(loadOrCreateSwarmKey(file), (err: Error) => err.message.includes(file))
    assert.equal(await readSwarmKey(join(dir, 'missing')), undefined)
  })

  it('fingerprints are short, stable and differ per key', () => {
    const a = generateSwarmKeyHex()
    const b = generateSwarmKeyHex()
    assert.match(meshFingerprint(a), /^[0-9a-f]{8}$/)
    assert.equal(meshFingerprint(a), meshFingerprint(a))
    assert.notEqual(meshFingerprint(a), meshFingerprint(b))
    assert.ok(!a.includes(meshFingerprint(a)))
  })
})

describe('join token', () => {
  const base: JoinToken = { swarmKey: generateSwarmKeyHex(), admin: PEER, adminName: 'alpha', addrs: [`/ip4/10.0.0.1/tcp/4001/p2p/${PEER}`] }

  it('round-trips without and with a grant', () => {
    assert.deepEqual(decodeJoinToken(encodeJoinToken(base)), base)
    const withGrant: JoinToken = { ...base, grant: { role: 'exec', secret: 'A'.repeat(22), expiresAt: 1_700_000_000_000 } }
    const text = encodeJoinToken(withGrant)
    assert.match(text, /^pmj1\.[A-Za-z0-9_-]+\.[0-9a-f]{8}$/)
    assert.deepEqual(decodeJoinToken(`  ${text}\n`), withGrant)
  })

  it('carries at most MAX_TOKEN_ADDRS addresses', () => {
    const many = { ...base, addrs: Array.from({ length: 10 }, (_, i) => `/ip4/10.0.0.${i}/tcp/1/p2p/${PEER}`) }
    assert.equal(decodeJoinToken(encodeJoinToken(many)).addrs.length, MAX_TOKEN_ADDRS)
  })

  const good = encodeJoinToken(base)
  const [, payload, sum] = good.split('.')
  // a well-formed token around a chosen payload, so field validation is what fails
  const forge = (p: Record<string, unknown>): string => {
    const json = JSON.stringify(p)
    return `pmj1.${Buffer.from(json).toString('base64url')}.${claimSecretHash(json).slice(0, 8)}`
  }
  const cases: Array<[string, string, RegExp]> = [
    ['another prefix', `pmj2.${payload}.${sum}`, /not a procmesh join token/],
    ['a cut-off token', `pmj1.${payload.slice(0, -5)}.${sum}`, /checksum mismatch|base64url/],
    ['a wrong checksum', `pmj1.${payload}.00000000`, /checksum mismatch/],
    ['two parts', `pmj1.${payload}`, /not a procmesh join token/],
    ['a huge blob', `pmj1.${'A'.repeat(5000)}.00000000`, /longer than/],
    ['version 2', forge({ v: 2, k: base.swarmKey, a: PEER, n: 'x', m: [] }), /unsupported token version/],
    ['a short key', forge({ v: 1, k: 'abcd', a: PEER, n: 'x', m: [] }), /token\.k/],
    ['a bad admin', forge({ v: 1, k: base.swarmKey, a: 'not-a-peer', n: 'x', m: [] }), /token\.a/],
    ['a role without a secret', forge({ v: 1, k: base.swarmKey, a: PEER, n: 'x', m: [], r: 'exec' }), /token\.s/],
    ['an unknown role', forge({ v: 1, k: base.swarmKey, a: PEER, n: 'x', m: [], r: 'root', s: 'A'.repeat(22), e: 1 }), /token\.r/]
  ]
  for (const [name, text, re] of cases) {
    it(`refuses ${name}, never echoing the key`, () => {
      assert.throws(() => decodeJoinToken(text), (err: Error) => re.test(err.message) && !err.message.includes(base.swarmKey))
    })
  }
})


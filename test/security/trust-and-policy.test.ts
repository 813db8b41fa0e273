/** Trust file (roles, hot reload, fail closed), authoriser decisions and the start policy. */
import { describe, it, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  emptyTrustFile, parseTrustFile, roleCovers, serializeTrustFile, TrustStore, type TrustFile, type TrustRole
} from '../../node/security/trust-store.js'
import { checkRole, createAuthorizer, effectiveRole } from '../../node/security/authorizer.js'
import { checkStartPolicy, parseStartPolicy, StartPolicyFile, type StartPolicy } from '../../node/security/start-policy.js'
import { LIST_PROTOCOL, START_PROTOCOL, STOP_PROTOCOL } from '../../protocols/ids.js'
import type { Role } from '../../protocols/wire.js'

const A = '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf'
const B = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
const SELF = '12D3KooWLnch43EhF9GcJBnKchYDQfFstQcgaYnzUnd3cVb8aiAF'

let dir: string
before(async () => { dir = await mkdtemp(join(tmpdir(), 'pm-trust-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

describe('roles', () => {
  const table: Array<[TrustRole, Role, boolean]> = [
    ['exec', 'exec', true], ['exec', 'control', true], ['exec', 'read', true],
    ['control', 'exec', false], ['control', 'control', true], ['control', 'read', true],
    ['read', 'exec', false], ['read', 'control', false], ['read', 'read', true],
    ['none', 'read', false]
  ]
  for (const [granted, needed, ok] of table) {
    it(`${granted} ${ok ? 'covers' : 'does not cover'} ${needed}`, () => { assert.equal(roleCovers(granted, needed), ok) })
  }

  it('this node holds exec on itself; members without an entry hold read', () => {
    assert.equal(effectiveRole(SELF, SELF, undefined), 'exec')
    assert.equal(effectiveRole(SELF, SELF, 'none'), 'exec')
    assert.equal(effectiveRole(A, SELF, undefined), 'read')
    assert.equal(effectiveRole(A, SELF, 'control'), 'control')
  })

  it('a refusal names the peer, the missing role and the node', () => {
    const msg = checkRole({ peerId: A, name: 'gamma', granted: 'read', needed: 'exec', nodeName: 'hostB' })
    assert.equal(msg?.startsWith(`forbidden: peer ${A} (gamma) lacks the exec role on hostB`), true)
    assert.match(checkRole({ peerId: A, name: undefined, granted: 'none', needed: 'read', nodeName: 'hostB' }) ?? '', /is blocked on hostB/)
    assert.equal(checkRole({ peerId: A, name: 'g', granted: 'control', needed: 'control', nodeName: 'h' }), undefined)
  })

  it('the authoriser asks only read of start/stop (decided in the guard with the request) and the full role of others', () => {
    const roles = new Map<string, TrustRole>([[B, 'none']])
    const authorize = createAuthorizer({ selfId: () => SELF, nodeName: 'h', entryRole: id => roles.get(id), nameOf: () => undefined, checkedInHandler: new Set([START_PROTOCOL, STOP_PROTOCOL]) })
    const a = peerIdFromString(A)
    assert.equal(authorize(a, 'exec', START_PROTOCOL), undefined)
    assert.equal(authorize(a, 'read', LIST_PROTOCOL), undefined)
    assert.match(authorize(a, 'exec', '/procmesh/future/1.0.0') ?? '', /lacks the exec role/)
    assert.match(authorize(peerIdFromString(B), 'exec', START_PROTOCOL) ?? '', /blocked/)
    assert.match(authorize(peerIdFromString(B), 'read', LIST_PROTOCOL) ?? '', /blocked/)
  })
})

describe('trust file', () => {
  const valid: TrustFile = { version: 1, peers: { [A]: { role: 'exec', source: 'join', addedAt: 1, name: 'alpha', addrs: ['/ip4/1.2.3.4/tcp/1'] } }, invites: [], claims: [] }

  it('round-trips', () => {
    assert.deepEqual(parseTrustFile(serializeTrustFile(valid)), valid)
    assert.deepEqual(parseTrustFile('{"version":1}'), emptyTrustFile())
  })

  const bad: Array<[string, string, RegExp]> = [
    ['not JSON', '{', /not valid JSON/],
    ['another version', '{"version":2}', /trust\.version/],
    ['a bad peer id', '{"version":1,"peers":{"bob":{"role":"exec"}}}', /not a peer id/],
    ['an unknown role', `{"version":1,"peers":{"${A}":{"role":"root"}}}`, /role: expected one of none, read, control, exec/],
    ['a bad invite', '{"version":1,"invites":[{"id":"x"}]}', /trust\.invites\[0\]/],
    ['a bad claim secret', `{"version":1,"claims":[{"admin":"${A}","secret":"short","role":"exec","expiresAt":1}]}`, /trust\.claims\[0\]\.secret/]
  ]
  for (const [name, text, re] of bad) {
    it(`refuses ${name}, naming the field`, () => { assert.throws(() => parseTrustFile(text), re) })
  }

  it('is written 0600 and read back; a change by hand decides the very next check', async () => {
    const file = join(dir, 'hot.json')
    const store = new TrustStore(file)
    store.load()
    assert.equal(store.entry(A), undefined)
    store.update(tf => { tf.peers[A] = { role: 'exec', source: 'trust', addedAt: 1 } })
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    assert.equal(store.entry(A)?.role, 'exec')
    // an edit by another process (procmesh trust without a node, or an editor)
    const other = new TrustStore(file)
    other.load()
    other.update(tf => { delete tf.peers[A]; tf.peers[B] = { role: 'control', source: 'trust', addedAt: 2 } })
    assert.equal(store.entry(A), undefined)
    assert.equal(store.entry(B)?.role, 'control')
  })

  it('a file broken while running fails closed (no grants) but keeps blocks, and refuses updates until fixed', async () => {
    const file = join(dir, 'broken.json')
    const store = new TrustStore(file)
    store.load()
    store.update(tf => { tf.peers[A] = { role: 'exec', source: 'trust', addedAt: 1 }; tf.peers[B] = { role: 'none', source: 'trust', addedAt: 1 } })
    await writeFile(file, '{ half a file')
    assert.equal(store.entry(A), undefined)
    assert.equal(store.entry(B)?.role, 'none')
    assert.match(store.broken ?? '', /not valid JSON/)
    assert.throws(() => store.update(() => {}), /broken/)
    await writeFile(file, serializeTrustFile(valid))
    assert.equal(store.broken, undefined)
    assert.equal(store.entry(A)?.role, 'exec')
  })

  it('a broken file at start is an error naming it', async () => {
    const file = join(dir, 'bad-at-start.json')
    await writeFile(file, '[]')
    assert.throws(() => { new TrustStore(file).load() }, (err: Error) => err.message.includes(file))
  })
})

describe('start policy', () => {
  const allowlist: StartPolicy = parseStartPolicy(JSON.stringify({
    start: 'allowlist',
    allow: [{ name: 'uptime', executable: '/usr/bin/uptime' }, { name: 'short sleeps', argvPrefix: ['sleep', '1'] }, { executable: 'true' }],
    deny: [{ name: 'no shells', executable: 'sh' }]
  }))
  const any: StartPolicy = parseStartPolicy('{"start":"any","deny":[{"name":"no rm","argvPrefix":["rm","-rf"]}]}')
  const cases: Array<[string, StartPolicy, string[], string | RegExp]> = [
    ['allowlisted executable', allowlist, ['/usr/bin/uptime'], 'allow:uptime'],
    ['allowlisted argv prefix', allowlist, ['sleep', '1', 'extra'], 'allow:short sleeps'],
    ['unnamed rule gets its index as name', allowlist, ['true'], 'allow:allow[2]'],
    ['prefix not matching', allowlist, ['sleep', '100'], /matches none of its allow rules \("uptime", "short sleeps", "allow\[2\]"\)/],
    ['allow rules match argv[0] literally', allowlist, ['/tmp/x/uptime'], /matches none/],
    ['a bare name matches its file on the node\'s PATH, by any path to it', allowlist, ['/bin/true'], 'allow:allow[2]'],
    ['a planted copy elsewhere does not', allowlist, ['/tmp/no-such-dir/true'], /not an executable file/],
    ['deny by basename', allowlist, ['/bin/sh', '-c', 'id'], /rule "no shells"/],
    ['any allows', any, ['anything'], 'allow:'],
    ['deny works in any mode', any, ['rm', '-rf', '/'], /rule "no rm"/],
    ['deny prefix needs the whole prefix', any, ['rm', 'file'], 'allow:']
  ]
  for (const [name, policy, argv, expected] of cases) {
    it(name, () => {
      const d = checkStartPolicy(policy, argv, 'policy.json')
      if (typeof expected === 'string') {
        assert.equal(d.allowed, true, d.allowed ? '' : d.reason)
        if (d.allowed) assert.equal(`allow:${d.rule ?? ''}`, expected)
      } else {
        assert.equal(d.allowed, false)
        if (!d.allowed) { assert.match(d.reason, expected); assert.match(d.reason, /policy\.json/) }
      }
    })
  }

  const badPolicies: Array<[string, string, RegExp]> = [
    ['no start', '{}', /policy\.start/],
    ['an unknown field', '{"start":"any","alow":[]}', /policy\.alow: unknown field/],
    ['an empty rule', '{"start":"allowlist","allow":[{}]}', /allow\[0\]: needs/],
    ['allow rules in any mode', '{"start":"any","allow":[{"executable":"x"}]}', /only meaningful/],
    ['a NUL in a rule', '{"start":"allowlist","allow":[{"executable":"a\\u0000b"}]}', /NUL/]
  ]
  for (const [name, text, re] of badPolicies) {
    it(`refuses a policy with ${name}`, () => { assert.throws(() => parseStartPolicy(text), re) })
  }

  it('the file reloads on change, and a file broken while running refuses every start', async () => {
    const file = join(dir, 'policy.json')
    const p = new StartPolicyFile(file)
    p.load()
    assert.equal(p.check(['anything']).allowed, true)
    await writeFile(file, '{"start":"allowlist","allow":[{"name":"only-true","executable":"true"}]}')
    assert.equal(p.check(['true']).allowed, true)
    assert.equal(p.check(['false']).allowed, false)
    await writeFile(file, '{"start":')
    const d = p.check(['true'])
    assert.equal(d.allowed, false)
    if (!d.allowed) assert.match(d.reason, /broken/)
  })

  it('an explicit --policy file must exist', () => {
    assert.throws(() => new StartPolicyFile(join(dir, 'nope.json'), { required: true }).load(), /does not exist/)
  })
})

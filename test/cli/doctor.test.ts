/**
 * `procmesh doctor`: the pure checks from facts (tables of cases), then the command against temp
 * homes (a key file with mode 0644, a missing mesh key) and against real nodes on 127.0.0.1.
 * Network probes stay off here (--no-network) except the pure mDNS/port checks fed with facts.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  DEFAULT_LISTEN_PORT, checkClock, checkControlSocket, checkHome, checkIdentityKey, checkListenPort, checkMdns, checkNodeVersion,
  checkSwarmKey, formatFindings, type Finding, type NodeFacts
} from '../../node/setup/doctor.js'
import { loadOrCreateIdentity } from '../../node/security/identity.js'
import { DEFAULT_LISTEN } from '../../node/procmesh-node.js'
import { formatSwarmKey, generateSwarmKeyHex, writeSwarmKey } from '../../node/security/swarm-key.js'
import { LocalNode, removeHome, runCli, tempHome, waitFor } from '../helpers/procmesh.js'

const UID = 1000
const KEY = formatSwarmKey('ab'.repeat(32))
const NODE: NodeFacts = { peerId: '12D3KooWtest', name: 'web1', addrs: ['/ip4/192.168.1.5/tcp/4001/p2p/12D3KooWtest'], skews: [], unreachable: [] }

function expect (f: Finding, level: Finding['level'], message: RegExp, fix?: RegExp): void {
  assert.equal(f.level, level, `${f.check}: ${f.message}`)
  assert.match(f.message, message)
  if (fix !== undefined) assert.match(f.fix ?? '', fix)
  else if (level === 'ok') assert.equal(f.fix, undefined, 'an ok finding has nothing to fix')
}

describe('doctor checks (pure)', () => {
  it('node version', () => {
    expect(checkNodeVersion('v20.0.0'), 'ok', /v20/)
    expect(checkNodeVersion('v22.3.1'), 'ok', /v22/)
    expect(checkNodeVersion('v18.19.0'), 'fail', /needs Node 20/, /install Node 20/)
  })

  it('home: missing, not a directory, foreign, writable or readable by others, fine', () => {
    expect(checkHome('/h', { exists: false }, UID), 'warn', /does not exist yet/, /procmesh node creates it/)
    expect(checkHome('/h', { exists: true, kind: 'file', mode: 0o600, uid: UID }, UID), 'fail', /not a directory/)
    expect(checkHome('/h', { exists: true, kind: 'dir', mode: 0o700, uid: 0 }, UID), 'fail', /belongs to uid 0/, /chown -R 1000 \/h/)
    expect(checkHome('/h', { exists: true, kind: 'dir', mode: 0o777, uid: UID }, UID), 'fail', /mode 0777/, /chmod 700 \/h/)
    expect(checkHome('/h', { exists: true, kind: 'dir', mode: 0o755, uid: UID }, UID), 'warn', /mode 0755/, /chmod 700 \/h/)
    expect(checkHome('/h', { exists: true, kind: 'dir', mode: 0o700, uid: UID }, UID), 'ok', /mode 0700, yours/)
    expect(checkHome('/h', { exists: true, kind: 'dir', mode: 0o777 }, undefined), 'ok', /^\/h$/, undefined)
  })

  it('identity key: missing, wrong mode, corrupt, foreign, fine', () => {
    const file = { exists: true, kind: 'file', mode: 0o600, uid: UID } as const
    expect(checkIdentityKey('/h/identity.key', { exists: false }, UID), 'warn', /no identity yet/, /procmesh node creates one/)
    expect(checkIdentityKey('/h/identity.key', { ...file, mode: 0o644, parsed: { peerId: 'x' } }, UID), 'fail', /mode 0644: other users can read/, /^chmod 600 \/h\/identity.key$/)
    expect(checkIdentityKey('/h/identity.key', { ...file, mode: 0o640, parsed: { peerId: 'x' } }, UID), 'fail', /mode 0640/, /chmod 600/)
    expect(checkIdentityKey('/h/identity.key', { ...file, parsed: { error: 'bad protobuf' } }, UID), 'fail', /corrupt \(bad protobuf\)/, /restore it from a backup/)
    expect(checkIdentityKey('/h/identity.key', { ...file, uid: 0, parsed: { peerId: 'x' } }, UID), 'fail', /belongs to uid 0/)
    expect(checkIdentityKey('/h/identity.key', { ...file, kind: 'dir' }, UID), 'fail', /not a regular file/)
    expect(checkIdentityKey('/h/identity.key', { ...file, parsed: { peerId: '12D3KooWabc' } }, UID), 'ok', /peer id 12D3KooWabc, mode 0600/)
  })

  it('mesh key: missing (fresh home or not), wrong mode, bad format, fine', () => {
    const file = { exists: true, kind: 'file', mode: 0o600, uid: UID, bytes: KEY } as const
    const fresh = { hasIdentity: false, nodeRunning: false }
    expect(checkSwarmKey('/h/swarm.key', { exists: false }, UID, fresh), 'warn', /no mesh key yet/, /procmesh node.*procmesh join TOKEN/)
    expect(checkSwarmKey('/h/swarm.key', { exists: false }, UID, { hasIdentity: true, nodeRunning: false }), 'fail', /next start would create a new mesh/, /procmesh join TOKEN/)
    expect(checkSwarmKey('/h/swarm.key', { exists: false }, UID, { hasIdentity: false, nodeRunning: true }), 'fail', /no mesh key/)
    expect(checkSwarmKey('/h/swarm.key', { ...file, mode: 0o644 }, UID, fresh), 'fail', /mode 0644: other users can read the mesh key/, /^chmod 600 \/h\/swarm.key$/)
    const bad = (text: string): Finding => checkSwarmKey('/h/swarm.key', { ...file, bytes: new TextEncoder().encode(text) }, UID, fresh)
    expect(bad('hello'), 'fail', /not a swarm key/)
    expect(bad('/key/swarm/psk/1.0.0/\n/base64/\nAAAA'), 'fail', /encoding/)
    expect(bad(`/key/swarm/psk/1.0.0/\n/base16/\n${'zz'.repeat(32)}`), 'fail', /64 hex digits/)
    const secret = 'cd'.repeat(31) + 'c'
    const short = bad(`/key/swarm/psk/1.0.0/\n/base16/\n${secret}`)
    assert.ok(!short.message.includes(secret) && !(short.fix ?? '').includes(secret), 'a finding never shows the key')
    expect(checkSwarmKey('/h/swarm.key', file, UID, fresh), 'ok', /^mesh [0-9a-f]{8}, mode 0600$/)
  })

  it('control socket: running, none, stale, not a socket, denied, open to others', () => {
    const sock = { exists: true, kind: 'socket', mode: 0o600, uid: UID } as const
    expect(checkControlSocket('/h/procmesh.sock', sock, 'accepted', NODE, UID), 'ok', /node web1 \(12D3KooWtest\) is running/)
    expect(checkControlSocket('/h/procmesh.sock', { exists: false }, 'absent', undefined, UID), 'warn', /no node is running/, /procmesh node/)
    expect(checkControlSocket('/h/procmesh.sock', sock, 'refused', undefined, UID), 'warn', /stale socket/, /removes it when it starts/)
    expect(checkControlSocket('/h/procmesh.sock', { ...sock, kind: 'file' }, 'refused', undefined, UID), 'fail', /not a socket/)
    expect(checkControlSocket('/h/procmesh.sock', sock, 'denied', undefined, UID), 'fail', /no permission/)
    expect(checkControlSocket('/h/procmesh.sock', sock, 'timeout', undefined, UID), 'fail', /does not accept/, /restart/)
    expect(checkControlSocket('/h/procmesh.sock', { ...sock, mode: 0o666 }, 'accepted', NODE, UID), 'fail', /other users can control it/, /chmod 600/)
  })

  it('listen port: free, ours, taken, skipped', () => {
    expect(checkListenPort(4001, 'free', undefined), 'ok', /TCP 4001 is free/)
    expect(checkListenPort(4001, 'in-use', NODE), 'ok', /this home's node/)
    expect(checkListenPort(4001, 'in-use', { ...NODE, addrs: ['/ip4/127.0.0.1/tcp/40011'] }), 'warn', /taken by another program/, /ss -ltnp/)
    expect(checkListenPort(4001, 'in-use', undefined), 'warn', /falls back to a random port/, /--listen/)
    expect(checkListenPort(4001, undefined, undefined), 'skip', /--no-network/)
    assert.equal(DEFAULT_LISTEN_PORT, Number(/\/tcp\/(\d+)$/.exec(DEFAULT_LISTEN[0])?.[1]), 'doctor checks the port the node listens on by default')
  })

  it('mDNS: a multicast interface and a bindable port, or what is missing', () => {
    const eth = { name: 'eth0', addresses: ['192.168.1.5', 'fe80::1'], up: true, multicast: true }
    expect(checkMdns([eth], { ok: true }), 'ok', /multicast on eth0 192\.168\.1\.5; UDP 5353 bindable/)
    expect(checkMdns([{ ...eth, multicast: false }], { ok: true }), 'warn', /no up, non-loopback IPv4 interface with multicast/, /--bootstrap/)
    expect(checkMdns([{ ...eth, up: false }], { ok: true }), 'warn', /no up/)
    expect(checkMdns([{ ...eth, addresses: ['fe80::1'] }], { ok: true }), 'warn', /IPv4/)
    expect(checkMdns([], { ok: true }), 'warn', /no up/)
    expect(checkMdns([{ name: 'en0', addresses: ['10.0.0.2'] }], { ok: true }), 'ok', /en0/)
    expect(checkMdns([eth], { ok: false, error: 'EADDRINUSE' }), 'fail', /cannot bind UDP 5353 \(EADDRINUSE\)/, /--no-mdns/)
    expect(checkMdns(undefined, undefined), 'skip', /--no-network/)
  })

  it('clock: unset, alone, peers agree, peers disagree', () => {
    const now = Date.UTC(2026, 5, 1)
    expect(checkClock(0, undefined), 'fail', /1970-01-01.*never set/, /timedatectl set-ntp true/)
    expect(checkClock(now, undefined), 'ok', /no node running/)
    expect(checkClock(now, NODE), 'ok', /no other peers/)
    expect(checkClock(now, { ...NODE, skews: [{ name: 'db1', skewMs: -1500 }] }), 'ok', /1 peer\(s\) agree within 60 s/)
    expect(checkClock(now, { ...NODE, skews: [{ name: 'db1', skewMs: 300_000 }, { name: 'db2', skewMs: -90_000 }], unreachable: ['db3 (TIMEOUT)'] }), 'warn', /db1 300 s ahead, db2 90 s behind; not answering: db3 \(TIMEOUT\)/, /timedatectl/)
  })

  it('prints one aligned line per check, with the fix in parentheses', () => {
    const text = formatFindings([
      { check: 'home', level: 'ok', message: '/h' },
      { check: 'identity-key', level: 'fail', message: 'bad', fix: 'chmod 600 /h/identity.key' }
    ])
    assert.equal(text, 'ok    home          /h\nfail  identity-key  bad  (fix: chmod 600 /h/identity.key)')
  })
})

interface DoctorJson { ok: boolean, findings: Finding[] }

async function doctor (home: string): Promise<{ code: number | null, json: DoctorJson, text: string }> {
  const j = await runCli(['doctor', '--home', home, '--no-network', '--json'])
  const t = await runCli(['doctor', '--home', home, '--no-network'])
  assert.equal(t.code, j.code)
  return { code: j.code, json: JSON.parse(j.stdout) as DoctorJson, text: t.stdout }
}

function finding (r: DoctorJson, check: string): Finding {
  const f = r.findings.find(x => x.check === check)
  assert.ok(f !== undefined, `no ${check} finding`)
  return f
}

describe('procmesh doctor on temp homes', () => {
  const homes: string[] = []
  const nodes: LocalNode[] = []
  after(async () => {
    for (const n of nodes) await n.stop()
    for (const h of homes) await removeHome(h)
  })

  async function home (): Promise<string> {
    const h = await tempHome('pm-doctor-')
    homes.push(h)
    return h
  }

  it('finds an identity key other users can read (0644) and exits 1', async () => {
    const h = await home()
    await loadOrCreateIdentity(join(h, 'identity.key'))
    await writeSwarmKey(join(h, 'swarm.key'), generateSwarmKeyHex())
    await chmod(join(h, 'identity.key'), 0o644)
    const r = await doctor(h)
    assert.equal(r.code, 1)
    assert.equal(r.json.ok, false)
    const f = finding(r.json, 'identity-key')
    assert.equal(f.level, 'fail')
    assert.match(f.message, /mode 0644/)
    assert.equal(f.fix, `chmod 600 ${join(h, 'identity.key')}`)
    assert.equal(finding(r.json, 'mesh-key').level, 'ok')
    assert.match(r.text, new RegExp(`^fail  identity-key +.*mode 0644.*\\(fix: chmod 600 ${join(h, 'identity.key')}\\)$`, 'm'))
  })

  it('finds a missing mesh key in a home that has run a node, and exits 1', async () => {
    const h = await home()
    await loadOrCreateIdentity(join(h, 'identity.key'))
    const r = await doctor(h)
    assert.equal(r.code, 1)
    const f = finding(r.json, 'mesh-key')
    assert.equal(f.level, 'fail')
    assert.match(f.fix ?? '', /procmesh join TOKEN/)
    assert.equal(finding(r.json, 'identity-key').level, 'ok')
    assert.match(r.text, /^fail {2}mesh-key +no mesh key .*\(fix: .*procmesh join TOKEN.*\)$/m)
  })

  it('a fresh home only warns (exit 0); a corrupt mesh key fails', async () => {
    const h = await home()
    const fresh = await doctor(join(h, 'not-yet'))
    assert.equal(fresh.code, 0, fresh.text)
    assert.deepEqual(fresh.json.findings.filter(f => f.level === 'fail'), [])
    assert.equal(finding(fresh.json, 'mesh-key').level, 'warn')
    await mkdir(join(h, 'bad'), { mode: 0o700 })
    await writeFile(join(h, 'bad', 'swarm.key'), 'not a key', { mode: 0o600 })
    const bad = await doctor(join(h, 'bad'))
    assert.equal(bad.code, 1)
    assert.match(finding(bad.json, 'mesh-key').message, /not a swarm key/)
  })

  it('with nodes running: the socket answers, keys are fine, peer clocks agree', async () => {
    const a = new LocalNode(await home(), 'doc-a')
    const b = new LocalNode(await home(), 'doc-b')
    nodes.push(a, b)
    await a.start()
    const addr = (await a.id()).addrs[0]
    await b.start(['--bootstrap', addr])
    await waitFor(async () => (await b.peers()).some(p => p.name === 'doc-a' && p.status === 'online'), { timeoutMs: 15_000, what: 'doc-b to see doc-a' })
    const r = await doctor(b.home)
    assert.equal(r.code, 0, r.text)
    assert.match(finding(r.json, 'control-socket').message, /node doc-b .* is running/)
    assert.equal(finding(r.json, 'identity-key').level, 'ok')
    assert.equal(finding(r.json, 'mesh-key').level, 'ok')
    assert.match(finding(r.json, 'clock').message, /1 peer\(s\) agree within 60 s/)
    assert.equal(finding(r.json, 'mdns').level, 'skip')
  })

  it('a stale socket file (node killed with -9) is a warning', async () => {
    const a = nodes[0]
    await a.stop('SIGKILL')
    const r = await doctor(a.home)
    assert.match(finding(r.json, 'control-socket').message, /stale socket/)
    await rm(join(a.home, 'procmesh.sock'), { force: true })
  })
})

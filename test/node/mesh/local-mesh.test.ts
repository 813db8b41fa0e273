/** Real nodes on 127.0.0.1 (no mDNS in the root namespace): bootstrap, identity, control socket. */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { access, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalNode, removeHome, runCli, tempHome, waitFor } from '../../helpers/procmesh.js'

const CONTRACT_PEER_FIELDS = ['peerId', 'name', 'status', 'lastSeen', 'tags', 'addrs', 'self', 'host', 'procCount']
const CONTRACT_HOST_FIELDS = ['hostname', 'platform', 'arch', 'cpus', 'cpuPercent', 'load', 'memTotal', 'memUsed', 'uptime']

describe('two nodes on 127.0.0.1 with --no-mdns --bootstrap', { timeout: 60_000 }, () => {
  let a: LocalNode
  let b: LocalNode
  before(async () => {
    a = new LocalNode(await tempHome(), 'alpha')
    b = new LocalNode(await tempHome(), 'beta')
    await a.start(['--tag', 'role=web'])
    const addr = (await a.id()).addrs[0]
    await b.start(['--bootstrap', addr])
  })
  after(async () => {
    await a?.stop()
    await b?.stop()
    await removeHome(a.home)
    await removeHome(b.home)
  })

  it('find each other and list both online with the contract fields', async () => {
    for (const node of [a, b]) {
      const peers = await waitFor(async () => {
        const list = await node.peers()
        return list.length === 2 && list.every(p => p.status === 'online') ? list : undefined
      }, { timeoutMs: 15_000, what: `${node.name} to see both nodes online` })
      assert.deepEqual(peers.map(p => p.name).sort(), ['alpha', 'beta'])
      const self = peers.filter(p => p.self)
      assert.equal(self.length, 1)
      assert.equal(self[0].name, node.name)
      for (const p of peers) {
        for (const f of CONTRACT_PEER_FIELDS) assert.ok(f in p, `peers --json lacks ${f}`)
        for (const f of CONTRACT_HOST_FIELDS) assert.ok(f in p.host, `peers --json host lacks ${f}`)
        assert.ok(p.procCount > 0)
        assert.ok(p.host.memUsed > 0 && p.host.memUsed <= p.host.memTotal)
        assert.equal(p.host.load.length, 3)
      }
      assert.deepEqual(peers.find(p => p.name === 'alpha')?.tags, { role: 'web' })
    }
  })

  it('id --json has exactly peerId, name, addrs', async () => {
    const id = await a.id()
    assert.deepEqual(Object.keys(id).sort(), ['addrs', 'name', 'peerId'])
    assert.match(id.peerId, /^12D3KooW/)
    assert.ok(id.addrs.every(x => x.includes('/p2p/')))
  })

  it('prints a human table', async () => {
    const r = await a.cli(['peers'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^NAME\s+STATUS/)
    assert.match(r.stdout, /alpha \*/)
    assert.match(r.stdout, /beta\s+online/)
  })

  it('a stopped peer turns offline in the other view; the socket is removed', async () => {
    const c = new LocalNode(await tempHome(), 'gamma')
    try {
      await c.start(['--bootstrap', (await a.id()).addrs[0]])
      await waitFor(async () => (await a.peers()).find(p => p.name === 'gamma' && p.status === 'online'), { timeoutMs: 10_000, what: 'gamma online' })
      assert.equal(await c.stop('SIGINT'), 0)
      await assert.rejects(access(join(c.home, 'procmesh.sock')))
      await waitFor(async () => (await a.peers()).find(p => p.name === 'gamma' && p.status === 'offline'), { timeoutMs: 10_000, what: 'gamma offline' })
    } finally {
      await c.stop('SIGKILL')
      await removeHome(c.home)
    }
  })
})

describe('identity', { timeout: 60_000 }, () => {
  it('is created 0600 and stable across restarts', async () => {
    const home = await tempHome()
    const n = new LocalNode(home, 'ident')
    try {
      await n.start()
      const first = (await n.id()).peerId
      assert.equal((await stat(join(home, 'identity.key'))).mode & 0o777, 0o600)
      assert.equal((await stat(join(home, 'procmesh.sock'))).mode & 0o777, 0o600)
      await n.stop()
      await n.start()
      assert.equal((await n.id()).peerId, first)
    } finally {
      await n.stop()
      await removeHome(home)
    }
  })

  it('a corrupt key file is an error naming the file, never a new identity', async () => {
    const home = await tempHome()
    try {
      await writeFile(join(home, 'identity.key'), 'garbage', { mode: 0o600 })
      const r = await runCli(['node', '--home', home, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'])
      assert.equal(r.code, 1)
      assert.match(r.stderr, new RegExp(`identity key ${join(home, 'identity.key').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is corrupt`))
      assert.equal(await readFile(join(home, 'identity.key'), 'utf8'), 'garbage')
    } finally {
      await removeHome(home)
    }
  })

  it('a second node on the same home is refused', async () => {
    const home = await tempHome()
    const n = new LocalNode(home, 'one')
    try {
      await n.start()
      const r = await runCli(['node', '--home', home, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'])
      assert.equal(r.code, 1)
      assert.match(r.stderr, /already running/)
      assert.equal((await n.cli(['id'])).code, 0)
    } finally {
      await n.stop()
      await removeHome(home)
    }
  })
})

describe('CLI without a node', () => {
  it('id and peers exit 1 saying no node is running for that home', async () => {
    const home = await tempHome()
    try {
      for (const cmd of ['id', 'peers']) {
        const r = await runCli([cmd, '--home', home])
        assert.equal(r.code, 1)
        assert.match(r.stderr, new RegExp(`no node is running for home ${home}.*procmesh node --home`))
      }
      const j = await runCli(['peers', '--json', '--home', home])
      assert.equal(j.code, 1)
      assert.equal((JSON.parse(j.stdout) as { error: { code: string } }).error.code, 'NO_NODE')
    } finally {
      await removeHome(home)
    }
  })

  it('bad flags exit 2 with usage', async () => {
    const r = await runCli(['peers', '--bogus'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /usage: procmesh peers/)
    const n = await runCli(['node', '--interval', 'soon'])
    assert.equal(n.code, 2)
    assert.match(n.stderr, /--interval: expected a duration/)
    const u = await runCli(['frobnicate'])
    assert.equal(u.code, 2)
  })
})


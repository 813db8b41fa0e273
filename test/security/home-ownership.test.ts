/**
 * Issue 17 finding 8 (THREATS case 30): a home prepared by another local user (its
 * own swarm key, a trust file, symbolic links for audit.log and node.pid) is refused
 * at start, and nothing is written through a link.
 */
import '../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { chown, mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createLogger } from '../../node/logger.js'
import { createProcmeshNode, defaultNodeConfig, type ProcmeshNode } from '../../node/procmesh-node.js'
import { AuditLog, auditId } from '../../node/security/audit-log.js'
import { generateSwarmKeyHex, writeSwarmKey } from '../../node/security/swarm-key.js'
import { removeHome, tempHome } from '../helpers/procmesh.js'

const NOBODY = 65534
const quiet = createLogger({ level: 'error', write: () => {} })

describe('a home that is not the node\'s own (finding 8)', { timeout: 60_000 }, () => {
  let base: string
  let victimFile: string

  before(async () => {
    base = await tempHome('pm-home-')
    victimFile = join(base, 'victim.txt')
    await writeFile(victimFile, 'untouched\n')
  })
  after(async () => { await removeHome(base) })

  const startIn = async (home: string): Promise<ProcmeshNode> => {
    const node = await createProcmeshNode({ ...defaultNodeConfig(home), name: 'n', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, intervalMs: 1000 }, quiet)
    try {
      await node.start()
    } catch (err: unknown) {
      await node.stop().catch(() => {})
      throw err
    }
    return node
  }

  it('a home owned by another user, with its key, trust file and links, is refused; nothing is written through the links', async (t) => {
    if (process.getuid?.() !== 0) { t.skip('needs root to chown'); return }
    const home = join(base, 'foreign')
    await mkdir(home, { mode: 0o700 })
    await writeSwarmKey(join(home, 'swarm.key'), generateSwarmKeyHex())
    await writeFile(join(home, 'trust.json'), '{"version":1}')
    await symlink(victimFile, join(home, 'audit.log'))
    await symlink(victimFile, join(home, 'node.pid'))
    for (const f of ['', 'swarm.key', 'trust.json']) await chown(join(home, f), NOBODY, NOBODY)
    let node: ProcmeshNode | undefined
    try {
      await assert.rejects(async () => { node = await startIn(home) }, /belongs to uid 65534, not to this node's uid 0/)
    } finally {
      await node?.stop()
    }
    assert.equal(await readFile(victimFile, 'utf8'), 'untouched\n')
  })

  it('a link in an own home is refused at start', async () => {
    const home = join(base, 'linked')
    await mkdir(home, { mode: 0o700 })
    await symlink(victimFile, join(home, 'audit.log'))
    let node: ProcmeshNode | undefined
    try {
      await assert.rejects(async () => { node = await startIn(home) }, /audit\.log is a symbolic link/)
    } finally {
      await node?.stop()
    }
    assert.equal(await readFile(victimFile, 'utf8'), 'untouched\n')
  })

  it('the audit log never appends through a link planted later', async () => {
    const dir = join(base, 'later')
    await mkdir(dir, { mode: 0o700 })
    await symlink(victimFile, join(dir, 'audit.log'))
    const log = new AuditLog(join(dir, 'audit.log'))
    assert.throws(() => { log.append({ id: auditId(), time: Date.now(), event: 'start', peerId: 'p', name: null, via: 'local', decision: 'allowed', reason: 'x' }) }, /cannot write the audit log/)
    assert.equal(await readFile(victimFile, 'utf8'), 'untouched\n')
  })
})

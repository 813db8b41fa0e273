/**
 * Issue 17 finding 1 (THREATS case 23): an exec peer under an allowlist must not run
 * other code than the allowed file, whatever the request's PATH, cwd or env say. The
 * attacker is an independent libp2p peer (test/helpers/hostile-peer.ts) holding exec.
 */
import '../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { access, chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PeerId } from '@libp2p/interface'
import { createLogger } from '../../node/logger.js'
import { createProcmeshNode, defaultNodeConfig, type ProcmeshNode } from '../../node/procmesh-node.js'
import { checkStartPolicy, parseStartPolicy } from '../../node/security/start-policy.js'
import { serializeTrustFile, emptyTrustFile } from '../../node/security/trust-store.js'
import { START_PROTOCOL } from '../../protocols/ids.js'
import { HostilePeer, type Reply } from '../helpers/hostile-peer.js'
import { removeHome, tempHome, waitFor } from '../helpers/procmesh.js'

const exists = async (file: string): Promise<boolean> => await access(file).then(() => true, () => false)
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('start policy against PATH, cwd and env (finding 1)', { timeout: 60_000 }, () => {
  let home: string
  let node: ProcmeshNode
  let mallory: HostilePeer
  let target: PeerId
  let plant: string
  let n = 0
  const start = async (argv: string[], extra: { env?: Record<string, string>, cwd?: string } = {}): Promise<Reply> =>
    await mallory.ask(target, START_PROTOCOL, { type: 'start', requestId: `bypass-${++n}`, argv, ...extra })

  before(async () => {
    home = await tempHome('pm-exec-')
    plant = join(home, 'plant')
    await mkdir(plant)
    // the attacker's planted "uptime" and run.sh: each would leave a marker file
    for (const name of ['uptime', 'run.sh']) {
      await writeFile(join(plant, name), `#!/bin/sh\ntouch ${join(plant, `ran-${name}`)}\n`)
      await chmod(join(plant, name), 0o755)
    }
    execFileSync('git', ['init', '-q', join(plant, 'repo')])
    await writeFile(join(home, 'policy.json'), JSON.stringify({
      start: 'allowlist',
      allow: [
        { name: 'uptime', executable: 'uptime' },
        { name: 'git', executable: 'git' },
        { name: 'git with a pager', argvPrefix: ['git', 'log'], env: ['GIT_PAGER'] }
      ]
    }))
    node = await createProcmeshNode({ ...defaultNodeConfig(home), name: 'target', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, intervalMs: 500 }, createLogger({ level: 'error', write: () => {} }))
    await node.start()
    mallory = await HostilePeer.create({ psk: await readFile(join(home, 'swarm.key')) })
    await mallory.node.start()
    const tf = emptyTrustFile()
    tf.peers[mallory.id] = { role: 'exec', source: 'trust', addedAt: Date.now() }
    await writeFile(join(home, 'trust.json'), serializeTrustFile(tf), { mode: 0o600 })
    target = await mallory.connect(node.addrs()[0])
  })

  after(async () => {
    await mallory?.stop()
    await node?.stop()
    await removeHome(home)
  })

  it('a planted "uptime" first on the request\'s PATH is refused; nothing runs', async () => {
    const r = await start(['uptime'], { env: { PATH: `${plant}:/usr/bin:/bin` } })
    assert.equal(r.status, 'error', JSON.stringify(r))
    assert.equal(r.code, 'REFUSED')
    assert.match(r.message ?? '', /env\.PATH may not be set/)
    await sleep(300)
    assert.equal(await exists(join(plant, 'ran-uptime')), false, 'the planted uptime ran')
  })

  it('a relative argv[0] from a chosen cwd is refused', async () => {
    const r = await start(['./uptime'], { cwd: plant })
    assert.equal(r.code, 'REFUSED', JSON.stringify(r))
    assert.match(r.message ?? '', /relative path/)
    await sleep(300)
    assert.equal(await exists(join(plant, 'ran-uptime')), false)
  })

  it('an allowed git told by GIT_CONFIG_* to run a command is refused, naming the env', async () => {
    const marker = join(plant, 'ran-fsmonitor')
    const r = await start(['git', '-C', join(plant, 'repo'), 'status'], {
      env: { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'core.fsmonitor', GIT_CONFIG_VALUE_0: `touch ${marker}; false` }
    })
    assert.equal(r.code, 'REFUSED', JSON.stringify(r))
    assert.match(r.message ?? '', /not env GIT_CONFIG_COUNT/)
    await sleep(1000)
    assert.equal(await exists(marker), false, 'the fsmonitor command ran')
  })

  it('python3 with PYTHONWARNINGS and BROWSER set is refused when no rule lists them', async () => {
    const r = await start(['uptime'], { env: { PYTHONWARNINGS: 'ignore::antigravity.x', BROWSER: 'touch /tmp/x' } })
    assert.equal(r.code, 'REFUSED', JSON.stringify(r))
    assert.match(r.message ?? '', /not env PYTHONWARNINGS, BROWSER/)
  })

  it('the allowed command still runs, by name or by its absolute path, with the env names its rule lists', async () => {
    for (const argv of [['uptime'], ['/usr/bin/uptime']]) {
      const r = await start(argv)
      assert.equal(r.status, 'ok', JSON.stringify(r))
    }
    const r = await start(['git', 'log', '-1'], { env: { GIT_PAGER: 'cat' }, cwd: join(plant, 'repo') })
    assert.equal(r.status, 'ok', JSON.stringify(r))
  })

  it('the audit shows the file each start would run and the PATH it asked for', async () => {
    const entries = await waitFor(() => {
      const e = node.security.audit.read(50).filter(x => x.event === 'start')
      return e.length >= 6 ? e : undefined
    }, { timeoutMs: 5000, what: 'the audit lines' })
    const planted = entries.find(e => e.argv?.[0] === 'uptime' && e.envPaths?.PATH !== undefined)
    assert.equal(planted?.decision, 'denied')
    assert.equal(planted?.executable, join(plant, 'uptime'), 'the audit names the file the request asked to run')
    assert.equal(planted?.envPaths?.PATH, `${plant}:/usr/bin:/bin`)
    const ok = entries.find(e => e.argv?.[0] === '/usr/bin/uptime')
    assert.equal(ok?.decision, 'allowed')
    assert.equal(ok?.executable, '/usr/bin/uptime')
  })
})

describe('start policy decisions on resolved files (pure table)', () => {
  const policy = parseStartPolicy(JSON.stringify({ start: 'allowlist', allow: [{ name: 'true', executable: 'true' }, { name: 'sleep 1', argvPrefix: ['/usr/bin/sleep', '1'] }] }))
  const cases: Array<[string, { argv: string[], env?: Record<string, string> }, RegExp | string]> = [
    ['the rule\'s command by name', { argv: ['true'] }, 'true'],
    ['the same file by another path', { argv: ['/bin/true'] }, 'true'],
    ['an argvPrefix rule by bare name', { argv: ['sleep', '1'] }, 'sleep 1'],
    ['a relative argv[0]', { argv: ['bin/true'] }, /relative path/],
    ['a request PATH', { argv: ['true'], env: { PATH: '/usr/bin' } }, /env\.PATH/],
    ['an env name no rule lists', { argv: ['true'], env: { HOME: '/' } }, /not env HOME/],
    ['a command not on the node\'s PATH', { argv: ['no-such-command-xyz'] }, /not an executable file on the node's PATH/]
  ]
  for (const [name, req, expected] of cases) {
    it(name, () => {
      const d = checkStartPolicy(policy, req, 'policy.json')
      if (typeof expected === 'string') assert.deepEqual([d.allowed, d.allowed && d.rule], [true, expected])
      else { assert.equal(d.allowed, false); if (!d.allowed) assert.match(d.reason, expected) }
    })
  }

  it('refuses a policy whose rule names a relative command', () => {
    assert.throws(() => parseStartPolicy('{"start":"allowlist","allow":[{"argvPrefix":["./run.sh"]}]}'), /relative path/)
  })
})

/**
 * Issue 17 finding 5 (THREATS case 27): remote strings with ESC sequences (window
 * title, colours, OSC 52 clipboard writes) and newlines (forged table rows and log
 * lines) are shown escaped in every human output and log line, and refused in the
 * names, tags, hostnames and versions of summaries. The hostile strings come from an
 * independent peer's requests and from a local process's command line.
 */
import '../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createLogger } from '../../node/logger.js'
import { createProcmeshNode, defaultNodeConfig, type ProcmeshNode } from '../../node/procmesh-node.js'
import { table } from '../../cli/format.js'
import { START_PROTOCOL } from '../../protocols/ids.js'
import { decodeSummary } from '../../protocols/summary.js'
import { HostilePeer } from '../helpers/hostile-peer.js'
import { removeHome, runCli, tempHome, waitFor } from '../helpers/procmesh.js'

const TITLE = '\u001b]0;owned\u0007'
const CLIP = '\u001b]52;c;cm0gLXJmIH4=\u0007'
const COLOUR = '\u001b[31m'
const FORGED = '\n2026-01-01T00:00:00.000Z  start  admin 12D3Ko…abcd  allowed  rm -rf /'
const EVIL = `x${TITLE}${CLIP}${COLOUR}${FORGED}`

function assertClean (text: string, what: string): void {
  assert.ok(!text.includes('\u001b'), `${what} carries a raw ESC: ${JSON.stringify(text.slice(0, 400))}`)
  assert.ok(!text.includes('\u0007'), `${what} carries a raw BEL`)
  assert.ok(!text.split('\n').some(l => l.startsWith('2026-01-01T00:00:00.000Z')), `${what} has a forged line`)
}

describe('remote text in human output and logs (finding 5)', { timeout: 90_000 }, () => {
  let home: string
  let node: ProcmeshNode
  let mallory: HostilePeer
  let child: ChildProcess
  const lines: string[] = []
  const marker = `pm-evil-${process.pid}`

  before(async () => {
    home = await tempHome('pm-text-')
    node = await createProcmeshNode({ ...defaultNodeConfig(home), name: 'target', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, intervalMs: 500 }, createLogger({ level: 'debug', write: l => { lines.push(l) } }))
    await node.start()
    mallory = await HostilePeer.create({ psk: await readFile(join(home, 'swarm.key')) })
    await mallory.node.start()
    // a process whose command line is hostile (any local user can start one)
    child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', marker, EVIL], { stdio: 'ignore' })
  })

  after(async () => {
    child?.kill('SIGKILL')
    await mallory?.stop()
    await node?.stop()
    await removeHome(home)
  })

  it('audit: a denied start with escapes and newlines in its argv is shown escaped', async () => {
    const peer = await mallory.connect(node.addrs()[0])
    const r = await mallory.ask(peer, START_PROTOCOL, { type: 'start', requestId: 'evil-1', argv: ['true', EVIL], cwd: `/${TITLE}` })
    assert.equal(r.code, 'FORBIDDEN')
    const out = await runCli(['audit', '--home', home])
    assert.equal(out.code, 0, out.stderr)
    assert.match(out.stdout, /true/)
    assertClean(out.stdout, 'procmesh audit')
    assert.match(out.stdout, /\\(x1b|u001b)\]52;c;/, 'the escape is visible, not executed')
  })

  it('ps: a process with escapes in its command line is shown escaped, as a table and as a tree', async () => {
    await waitFor(async () => (await runCli(['ps', 'self', '--filter', marker, '--home', home])).stdout.includes(marker), { timeoutMs: 10_000, what: 'the process in ps' })
    for (const extra of [[], ['--tree']]) {
      const out = await runCli(['ps', 'self', '--filter', marker, '--home', home, ...extra])
      assert.equal(out.code, 0, out.stderr)
      assertClean(out.stdout, `procmesh ps ${extra.join(' ')}`)
    }
    const json = await runCli(['ps', 'self', '--filter', marker, '--json', '--home', home])
    assert.ok(json.stdout.includes('\\u001b]52'), 'JSON keeps the exact text (escaped by JSON)')
  })

  it('errors: a target name with escapes is echoed escaped on stderr', async () => {
    const out = await runCli(['ps', `nope${TITLE}`, '--home', home])
    assert.equal(out.code, 1)
    assertClean(out.stderr, 'the error message')
  })

  it('log lines: remote text is one line, without escapes', () => {
    const log: string[] = []
    createLogger({ write: l => { log.push(l) } }).warn('refused %s: %s', `peer${TITLE}`, EVIL)
    assert.equal(log.length, 1)
    assertClean(log[0].replace(/\n$/, ''), 'the log line')
    assertClean(lines.join(''), 'the node log')
  })

  it('tables escape every cell', () => {
    assertClean(table(['A', 'B'], [[EVIL, 'ok']]), 'table')
  })

  it('summaries with control characters in name, tags, hostname or version are refused, naming the field', () => {
    const base = {
      v: 1, peerId: '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf', name: 'web1', tags: {}, seq: 1, at: 1, intervalMs: 500,
      host: { hostname: 'h', platform: 'linux', arch: 'x64', cpus: 1, cpuPercent: 1, load: [0, 0, 0], memTotal: 1000, memUsed: 10, uptime: 5 },
      procCount: 1, topCpu: [], topMem: [], addrs: [], version: '0.1.0'
    }
    const enc = (s: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(s))
    const cases: Array<[unknown, RegExp]> = [
      [{ ...base, name: `web${COLOUR}` }, /summary\.name: contains the control character U\+001B/],
      [{ ...base, tags: { role: 'web\nforged row' } }, /summary\.tags\.role: contains the control character U\+000A/],
      [{ ...base, host: { ...base.host, hostname: `h${CLIP}` } }, /summary\.host\.hostname: contains/],
      [{ ...base, version: '1\u202e0' }, /summary\.version: contains the control character U\+202E/],
      // finding 18: absurd but well-typed figures
      [{ ...base, host: { ...base.host, memTotal: 0, memUsed: 1e300 } }, /summary\.host\.memUsed: .* is more than memTotal/],
      [{ ...base, host: { ...base.host, load: [1e308, 0, 0] } }, /summary\.host\.load\[0\]: .* is more than/]
    ]
    for (const [s, re] of cases) assert.throws(() => decodeSummary(enc(s)), re)
    assert.equal(decodeSummary(enc(base)).name, 'web1')
  })
})

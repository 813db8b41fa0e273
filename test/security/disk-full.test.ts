/**
 * Issue 19.5: a full disk. Audit lines are written whole or not at all (a torn line never glues
 * to the next, so an acknowledged start never reads as pending), and atomic writes leave no
 * temp file behind when they fail. The home is a real 64 KiB tmpfs, filled for real.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { AuditLog, AuditWriteError, appendWholeLine, auditId, parseAuditLines, readAuditLog } from '../../node/security/audit-log.js'
import { emptyTrustFile, writeTrustFile } from '../../node/security/trust-store.js'
import { writeSwarmKey } from '../../node/security/swarm-key.js'
import type { AuditEntry } from '../../protocols/audit.js'

const dir = mkdtempSync(join(os.tmpdir(), 'procmesh-full-'))
let mounted = false

/** Write a filler file until the disk refuses: every block is taken. */
function fillDisk (path: string): void {
  const fd = openSync(path, 'w')
  const chunk = Buffer.alloc(1024, 0x78)
  try {
    for (;;) writeSync(fd, chunk)
  } catch (err: unknown) {
    if ((err as { code?: string }).code !== 'ENOSPC') throw err
    // and the last bytes of a partly filled block
    try { for (;;) writeSync(fd, chunk, 0, 1) } catch { /* full */ }
  } finally {
    closeSync(fd)
  }
}

function start (id: string, argv: string[]): AuditEntry {
  return { id, time: Date.now(), event: 'start', peerId: '12D3KooWtest', name: 'h1', via: 'local', argv, decision: 'allowed', reason: 'local user', result: 'pending' }
}

describe('a full disk (issue 19.5)', { timeout: 30_000 }, () => {
  before(() => {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', dir], { stdio: 'ignore' })
      mounted = true
    } catch {
      mounted = false
    }
  })
  after(() => {
    if (mounted) execFileSync('umount', [dir])
    rmSync(dir, { recursive: true, force: true })
  })

  it('an audit line that does not fit is not written at all; the next one is whole; an acknowledged start does not read as pending', (t) => {
    if (!mounted) { t.skip('cannot mount a tmpfs (needs root)'); return }
    const file = join(dir, 'audit.log')
    const log = new AuditLog(file)
    const first = start(auditId(), ['sleep', '300'])
    log.append(first)
    fillDisk(join(dir, 'filler'))
    try {
      // a line longer than what is left of the file's last block (8 args of 1 KiB): the disk takes part of it
      assert.throws(() => { log.append(start(auditId(), Array.from({ length: 8 }, () => 'x'.repeat(1000)))) }, AuditWriteError)
      const text = readFileSync(file, 'utf8')
      assert.ok(text.endsWith('\n'), 'no torn line left at the end')
      for (const line of text.split('\n').filter(l => l !== '')) assert.doesNotThrow(() => JSON.parse(line), `a whole line: ${line.slice(0, 80)}`)
    } finally {
      unlinkSync(join(dir, 'filler'))
    }
    // the start was acknowledged: its result line follows
    log.append({ ...first, time: Date.now(), result: 'started pid 42' })
    const read = readAuditLog(file, 10)
    assert.equal(read.length, 1)
    assert.equal(read[0].result, 'started pid 42', 'shown as started, not pending')
  })

  it('a torn line an earlier version or a crash left is closed first, and a glued pair still yields its whole entry', (t) => {
    if (!mounted) { t.skip('cannot mount a tmpfs (needs root)'); return }
    const file = join(dir, 'torn.log')
    const whole = JSON.stringify(start('abc-1', ['true']))
    // as an older writer left it: half a line, then a whole one glued to it
    const glued = `${whole.slice(0, 30)}${JSON.stringify({ ...start('abc-1', ['true']), result: 'started pid 7' })}\n`
    assert.equal(parseAuditLines(glued)[0]?.result, 'started pid 7')
    closeSync(openSync(file, 'w'))
    appendWholeLine(file, whole.slice(0, 25))
    appendWholeLine(file, `${whole}\n`)
    const lines = readFileSync(file, 'utf8').split('\n')
    assert.equal(lines[1], whole, 'the new line starts on its own line')
  })

  it('writing the trust file or the mesh key on a full disk fails and leaves no temp file behind', async (t) => {
    if (!mounted) { t.skip('cannot mount a tmpfs (needs root)'); return }
    fillDisk(join(dir, 'filler2'))
    try {
      assert.throws(() => { writeTrustFile(join(dir, 'trust.json'), emptyTrustFile()) }, /ENOSPC/)
      await assert.rejects(writeSwarmKey(join(dir, 'swarm.key'), 'ab'.repeat(32)), /ENOSPC/)
      assert.deepEqual(readdirSync(dir).filter(n => n.includes('.tmp')), [])
    } finally {
      unlinkSync(join(dir, 'filler2'))
    }
  })
})

/** Issue 19 item 3a: gossip sequence numbers continue across restarts, whatever the clock says. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SeqLease } from '../../../node/mesh/seq-lease.js'
import { SEQ_LEASE } from '../../../protocols/limits.js'
import { removeHome, tempHome } from '../../helpers/procmesh.js'

describe('SeqLease', () => {
  it('starts from the clock once, then continues above every number a crashed run used, with the clock an hour behind', async () => {
    const home = await tempHome('pm-seq-')
    try {
      const file = join(home, 'gossip-seq')
      const hourAhead = 1_800_000_000_000 + 3_600_000
      const first = new SeqLease(file, () => hourAhead)
      const used: number[] = []
      for (let i = 0; i < 5; i++) used.push(first.next())
      assert.deepEqual(used, [hourAhead + 1, hourAhead + 2, hourAhead + 3, hourAhead + 4, hourAhead + 5])
      assert.equal(Number((await readFile(file, 'utf8')).trim()), hourAhead + 1 + SEQ_LEASE, 'a lease is written before its first number is used')
      // "crash" (no shutdown) and restart with the clock corrected: the numbers still go up
      const second = new SeqLease(file, () => hourAhead - 3_600_000)
      const n = second.next()
      assert.ok(n > used[used.length - 1], `${n} after ${used[used.length - 1]}`)
      for (let i = 0; i < SEQ_LEASE + 2; i++) second.next()
      const third = new SeqLease(file, () => 0)
      assert.ok(third.next() > n + SEQ_LEASE + 2, 'a lease used up is renewed before numbers beyond it are handed out')
    } finally {
      await removeHome(home)
    }
  })

  it('a corrupt file is an error naming the file, not a silent restart from the clock', async () => {
    const home = await tempHome('pm-seq-')
    try {
      const file = join(home, 'gossip-seq')
      await writeFile(file, 'garbage\n')
      assert.throws(() => new SeqLease(file), /gossip-seq: not a sequence number/)
    } finally {
      await removeHome(home)
    }
  })
})

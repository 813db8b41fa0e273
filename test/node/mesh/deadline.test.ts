/**
 * node/mesh/deadline.ts: a deadline fires even after a garbage collection (the composite of
 * AbortSignal.any and AbortSignal.timeout did not on Node 20, which left a peer's stream open
 * past its read deadline), follows its parent, and clears.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { deadlineSignal } from '../../../node/mesh/deadline.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

async function abortedWithin (signal: AbortSignal, ms: number): Promise<boolean> {
  if (signal.aborted) return true
  return await new Promise(resolve => {
    const timer = setTimeout(() => { resolve(false) }, ms)
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(true) }, { once: true })
  })
}

describe('deadline signals', () => {
  it('fire at their deadline after a garbage collection, with a TimeoutError', async () => {
    const parent = new AbortController()
    const { signal } = deadlineSignal(150, parent.signal, 'no request within 150 ms')
    gc()
    assert.equal(await abortedWithin(signal, 2000), true)
    assert.equal((signal.reason as Error).name, 'TimeoutError')
    assert.equal((signal.reason as Error).message, 'no request within 150 ms')
  })

  it('abort with their parent, and not at all once cleared', async () => {
    const parent = new AbortController()
    const d = deadlineSignal(10_000, parent.signal)
    parent.abort(new Error('stream closed'))
    assert.equal(d.signal.aborted, true)
    assert.equal((d.signal.reason as Error).message, 'stream closed')
    const cleared = deadlineSignal(100)
    cleared.clear()
    assert.equal(await abortedWithin(cleared.signal, 400), false)
  })
})

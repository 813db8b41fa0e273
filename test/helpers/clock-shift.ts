/**
 * A wrong wall clock for one node process, for the clock tests (issue 19 item 3): loaded with
 * `NODE_OPTIONS=--import <this file>` and `PROCMESH_TEST_CLOCK_FILE=<file>`, it adds the number
 * of ms in that file to `Date.now()` and re-reads the file every 200 ms, so a test can run a node
 * ahead or behind and step its clock while it runs, as NTP or an operator's `date -s` would.
 * `performance.now()` (the monotonic clock) is left alone, as a real step leaves it. Tests only:
 * procmesh itself never reads this variable.
 */
import { readFileSync } from 'node:fs'

const file = process.env.PROCMESH_TEST_CLOCK_FILE
if (file !== undefined && file !== '') {
  const realNow = Date.now.bind(Date)
  let offset = 0
  const load = (): void => {
    try { offset = Number(readFileSync(file, 'utf8').trim()) || 0 } catch { /* keep the last offset */ }
  }
  load()
  setInterval(load, 200).unref()
  Date.now = () => realNow() + offset
}

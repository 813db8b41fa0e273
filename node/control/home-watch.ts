/**
 * A running node notices that its home was deleted or replaced (issue 19.4): its control socket,
 * identity key or the directory itself is gone, or is another file now. The node then stops
 * (the caller decides how): without its home it can keep no promise it made — no audit line, no
 * durable record of a start, no trust change survives — and a socket recreated in a home that
 * lost its key would let a second node start beside it with a new identity in a new mesh.
 * Managed processes do not depend on the node and keep running.
 */
import { statSync, type Stats } from 'node:fs'
import { errnoCode } from '../../protocols/errors.js'

/** How often the home is checked (ms): a stat of three paths, and a lost home is noticed within this. */
export const HOME_WATCH_MS = 2000

interface Identity { dev: number, ino: number }

function identityOf (path: string): Identity | undefined {
  let st: Stats
  try {
    st = statSync(path)
  } catch (err: unknown) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined
    throw err
  }
  return { dev: st.dev, ino: st.ino }
}

/**
 * What is wrong with `paths` now compared with `seen` (pure apart from the stats), or undefined
 * when every one is still the same file.
 */
export function homeProblem (paths: ReadonlyArray<{ what: string, path: string }>, seen: ReadonlyMap<string, Identity>): string | undefined {
  for (const { what, path } of paths) {
    const before = seen.get(path)
    if (before === undefined) continue
    let now: Identity | undefined
    try {
      now = identityOf(path)
    } catch {
      continue // unreadable for a moment (EACCES ...): not proof that it is gone
    }
    if (now === undefined) return `its ${what} ${path} was deleted`
    if (now.dev !== before.dev || now.ino !== before.ino) return `its ${what} ${path} was replaced by another file`
  }
  return undefined
}

/** Check `paths` every HOME_WATCH_MS; `onLost` is called once with the first problem. Returns the stop function. */
export function watchHome (paths: ReadonlyArray<{ what: string, path: string }>, onLost: (problem: string) => void, intervalMs = HOME_WATCH_MS): () => void {
  const seen = new Map<string, Identity>()
  for (const { path } of paths) {
    const id = identityOf(path)
    if (id !== undefined) seen.set(path, id)
  }
  const timer = setInterval(() => {
    const problem = homeProblem(paths, seen)
    if (problem === undefined) return
    clearInterval(timer)
    onLost(problem)
  }, intervalMs)
  timer.unref()
  return () => { clearInterval(timer) }
}

/**
 * The node's home must be its own (issue 17 finding 8), as ssh insists on for ~/.ssh:
 * another user who prepared a home with its own swarm key, a trust file granting
 * itself exec and symbolic links for `audit.log` and `node.pid` had root overwrite
 * the link targets and run that user's commands as root. So before a node uses a
 * home: the home and the files procmesh reads or writes in it belong to the node's
 * uid, none of them is a symbolic link, and the home is not writable by others (only
 * its owner can then plant a link later). An explicit --policy file outside the
 * home may also belong to root.
 */
import { lstatSync, statSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import { errnoCode } from '../../protocols/errors.js'

/** Files and folders of a home that the node reads as authority or writes to. */
export const HOME_ENTRIES = [
  'identity.key', 'swarm.key', 'trust.json', 'policy.json', 'audit.log', 'audit.log.1', 'audit-denied.log', 'audit-denied.log.1',
  'node.pid', 'node.log', 'starts.jsonl', 'web.token', 'logs', 'state', 'gossip-seq'
] as const

export class HomeOwnershipError extends Error {
  override name = 'HomeOwnershipError'
}

function lstatOrUndefined (file: string): Stats | undefined {
  try { return lstatSync(file) } catch (err: unknown) {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw err
  }
}

function checkEntry (file: string, uid: number, allowRoot: boolean): void {
  const st = lstatOrUndefined(file)
  if (st === undefined) return
  if (st.isSymbolicLink()) throw new HomeOwnershipError(`${file} is a symbolic link; a node's home holds no links (it would write through them)`)
  if (st.uid !== uid && !(allowRoot && st.uid === 0)) throw new HomeOwnershipError(`${file} belongs to uid ${st.uid}, not to this node's uid ${uid}; refusing to use it`)
}

/**
 * Refuse (HomeOwnershipError, naming the file) a home that is not the node's own. A
 * missing home is fine (the node creates it). `uid` defaults to the process's.
 */
export function assertOwnHome (dir: string, opts: { uid?: number, policyFile?: string } = {}): void {
  const uid = opts.uid ?? process.getuid?.() ?? -1
  if (uid < 0) return // no uids (Windows)
  let home: Stats
  try { home = statSync(dir) } catch (err: unknown) {
    if (errnoCode(err) === 'ENOENT') return
    throw err
  }
  if (home.uid !== uid) throw new HomeOwnershipError(`the home ${dir} belongs to uid ${home.uid}, not to this node's uid ${uid}; refusing to use it (its keys, trust file and links would be that user's)`)
  if ((home.mode & 0o022) !== 0) throw new HomeOwnershipError(`the home ${dir} is writable by other users (mode ${(home.mode & 0o777).toString(8)}); chmod 700 it`)
  for (const name of HOME_ENTRIES) checkEntry(join(dir, name), uid, false)
  if (opts.policyFile !== undefined) checkEntry(opts.policyFile, uid, true)
}

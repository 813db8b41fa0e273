/**
 * Nodes whose home was deleted under them (issue 19.4). Such a node still holds files of the
 * home open (its audit log, history segments, log tails), which /proc shows as
 * `<path> (deleted)`. Finding them lets `doctor` and the CLI's "no node" message say that a
 * node of this home still runs, instead of leading the user into starting a second one (a new
 * identity in a new mesh beside the old node). Linux only; elsewhere nothing is found.
 */
import { readdirSync, readlinkSync } from 'node:fs'
import { resolve, sep } from 'node:path'
import { homePaths } from './home.js'

export interface OrphanNode { pid: number, files: string[] }

/**
 * The open-file targets that are in `home` and deleted (pure). Managed processes hold their own
 * log files in the home's logs directory: those do not make a process a node.
 */
export function deletedInHome (home: string, targets: readonly string[]): string[] {
  const prefix = resolve(home) + sep
  const logs = resolve(homePaths(home).logsDir) + sep
  return targets.filter(t => t.endsWith(' (deleted)') && t.startsWith(prefix) && !t.startsWith(logs))
}

/** Processes (other than this one) holding deleted files of `home` open. Bounded: at most `max` found. */
export function findOrphanNodes (home: string, opts: { procRoot?: string, max?: number } = {}): OrphanNode[] {
  const procRoot = opts.procRoot ?? '/proc'
  const max = opts.max ?? 8
  const out: OrphanNode[] = []
  let pids: string[]
  try {
    pids = readdirSync(procRoot).filter(n => /^\d+$/.test(n) && Number(n) !== process.pid)
  } catch {
    return out
  }
  for (const pid of pids) {
    let fds: string[]
    try {
      fds = readdirSync(`${procRoot}/${pid}/fd`)
    } catch {
      continue // gone, or another user's
    }
    const targets: string[] = []
    for (const fd of fds) {
      try { targets.push(readlinkSync(`${procRoot}/${pid}/fd/${fd}`)) } catch { /* closed meanwhile */ }
    }
    const files = deletedInHome(home, targets)
    if (files.length > 0) out.push({ pid: Number(pid), files })
    if (out.length >= max) break
  }
  return out
}

/** One line for users: which pids, and what to do. */
export function describeOrphans (home: string, orphans: readonly OrphanNode[]): string {
  const pids = orphans.map(o => o.pid).join(', ')
  return `a procmesh node (pid ${pids}) still runs for ${home}, but its home was deleted under it: ` +
    `stop it (kill ${pids}) and restore the home from a backup to keep its identity and mesh, or join the mesh again with procmesh join TOKEN; ` +
    'starting a node now would create a second node with a new identity in a new mesh'
}

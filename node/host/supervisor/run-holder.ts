/**
 * Finding a run the records do not know about: a node killed after spawning a process but
 * before its records were saved (a restart by policy, or a start between its `pending` line and
 * its `started` line) left that process running with a pid no file names. Its own marks still
 * name it: it was spawned detached (setsid), so it leads its own session, and its stdout and
 * stderr are the record's log files. A starting node adopts it rather than starting the command
 * a second time (issue 12: a restart never duplicates).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { DEFAULT_PROC_ROOT } from '../process-control.js'

/** The session id (field 6) of a /proc/[pid]/stat line, or undefined when malformed (pure). */
export function sessionOf (statLine: string): number | undefined {
  const close = statLine.lastIndexOf(')')
  if (close < 0) return undefined
  // after ") " come state, ppid, pgrp, session
  const fields = statLine.slice(close + 2).split(' ')
  const sid = Number(fields[3])
  return Number.isSafeInteger(sid) ? sid : undefined
}

/**
 * The pid of a live session leader whose stdout or stderr is one of `logPaths`, or undefined.
 * Children of the run share its files but not its pid as session id, so only the run itself
 * matches. One pass over /proc: done only at a node start, for records whose pid is gone.
 */
export function findRunHolder (logPaths: readonly string[], procRoot: string = DEFAULT_PROC_ROOT): number | undefined {
  const wanted = new Set(logPaths)
  let names: string[]
  try {
    names = readdirSync(procRoot)
  } catch {
    return undefined
  }
  for (const name of names) {
    const c = name.charCodeAt(0)
    if (c < 0x31 || c > 0x39) continue
    const pid = Number(name)
    try {
      const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8')
      if (sessionOf(stat) !== pid) continue
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
      if (state === 'Z' || state === 'X') continue
      for (const fd of [1, 2]) {
        if (wanted.has(readlinkSync(`${procRoot}/${pid}/fd/${fd}`))) return pid
      }
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return undefined
}

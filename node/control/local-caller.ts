/**
 * Who is on the other end of the control socket (issue 17 finding 15): the audit records the
 * local user behind a CLI or web action, not only "this node".
 *
 * Node's net module does not expose SO_PEERCRED, and reading it would need a native addon. The
 * kernel tells the same through sock_diag, which `ss` (iproute2) reads: our accepted socket's
 * inode (from /proc/self/fd) -> `ss -xpn` gives the connected peer socket's inode and the
 * process holding it (pid) -> /proc/PID is owned by the process's uid. The answer is about a
 * process connected right now (the client stays connected until its answer), so pid reuse
 * cannot mix it up. Looked up only when an audited action asks (lazily, once per connection):
 * `ps` and `peers` never pay for it. When anything is missing (no `ss`, no /proc, another
 * platform) the caller is simply unknown and the audit says so by leaving the fields out.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { execFile } from 'node:child_process'
import { readFile, readlink, stat } from 'node:fs/promises'
import type { Socket } from 'node:net'

/** `ss` answers in milliseconds; past this the caller is left unknown rather than delaying the action. */
export const PEER_LOOKUP_TIMEOUT_MS = 2000
/** Output of `ss -xpn` read at most (a host with very many Unix sockets is cut, not buffered whole). */
export const MAX_SS_OUTPUT_BYTES = 8 * 1024 * 1024

export interface LocalCaller {
  uid: number
  /** the user name of uid in /etc/passwd, when there is one */
  user?: string
  pid: number
  /** the process name `ss` reports (procmesh, node ...) */
  command?: string
}

type Lookup = () => Promise<LocalCaller | undefined>

const callers = new AsyncLocalStorage<Lookup>()

/** Run `fn` (a control method) with its caller's lookup available to whatever it awaits. */
export function withLocalCaller<T> (lookup: Lookup, fn: () => T): T {
  return callers.run(lookup, fn)
}

/** The local caller of the control-socket request being handled, or undefined (a mesh request, or unknown). */
export async function currentLocalCaller (): Promise<LocalCaller | undefined> {
  const lookup = callers.getStore()
  return lookup !== undefined ? await lookup() : undefined
}

/** A lookup of the process at the other end of `sock`, done once, on first use. */
export function callerLookup (sock: Socket): Lookup {
  let found: Promise<LocalCaller | undefined> | undefined
  return async () => {
    found ??= socketPeer(sock).catch(() => undefined)
    return await found
  }
}

/** The fd of a net.Socket's handle (Node keeps it on the internal handle of pipes and TCP). */
function socketFd (sock: Socket): number | undefined {
  const handle: unknown = Reflect.get(sock, '_handle')
  if (typeof handle !== 'object' || handle === null) return undefined
  const fd: unknown = Reflect.get(handle, 'fd')
  return typeof fd === 'number' && fd >= 0 ? fd : undefined
}

async function socketPeer (sock: Socket): Promise<LocalCaller | undefined> {
  if (process.platform !== 'linux') return undefined
  const fd = socketFd(sock)
  if (fd === undefined) return undefined
  const own = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/self/fd/${fd}`))?.[1]
  if (own === undefined) return undefined
  const rows = parseSs(await runSs())
  const peerInode = rows.get(own)?.peer
  if (peerInode === undefined) return undefined
  const peer = rows.get(peerInode)
  if (peer?.pid === undefined) return undefined
  const uid = (await stat(`/proc/${peer.pid}`)).uid
  const user = await userName(uid)
  return { uid, pid: peer.pid, ...(user !== undefined ? { user } : {}), ...(peer.command !== undefined ? { command: peer.command } : {}) }
}

async function runSs (): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile('ss', ['-xpn'], { timeout: PEER_LOOKUP_TIMEOUT_MS, maxBuffer: MAX_SS_OUTPUT_BYTES, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } }, (err, stdout) => {
      if (err !== null) reject(err)
      else resolve(stdout)
    })
  })
}

/**
 * `ss -xpn` rows by their socket inode: the peer's inode and the first process holding it.
 * A row: `u_str ESTAB 0 0 /home/.../control.sock 123456 * 123455 users:(("procmesh",pid=42,fd=21))`
 * (an unnamed socket shows `*` for its path). Pure.
 */
export function parseSs (text: string): Map<string, { peer: string, pid?: number, command?: string }> {
  const rows = new Map<string, { peer: string, pid?: number, command?: string }>()
  for (const line of text.split('\n')) {
    // the paths may hold spaces: an inode is the last number before the next field
    const m = /^u_\w+\s+\S+\s+\d+\s+\d+\s+.*?\s(\d+)\s+.*?\s(\d+)(?:\s+users:\(\("((?:[^"\\]|\\.)*)",pid=(\d+),.*)?\s*$/.exec(line)
    if (m === null) continue
    rows.set(m[1], { peer: m[2], ...(m[4] !== undefined ? { pid: Number(m[4]), command: m[3] } : {}) })
  }
  return rows
}

async function userName (uid: number): Promise<string | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '')
  for (const line of passwd.split('\n')) {
    const f = line.split(':')
    if (f.length >= 3 && f[2] === String(uid)) return f[0]
  }
  return undefined
}

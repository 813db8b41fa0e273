/**
 * `procmesh doctor`: what is wrong with this host's setup, and how to fix it.
 *
 * Two halves. Probes look at the host (stat the home's files, try the control socket, bind the
 * listen port and UDP 5353, list interfaces) and return plain facts. Checks are pure functions
 * from facts to findings, each with what is wrong and the command that fixes it; the tests feed
 * them facts directly.
 *
 * Nothing here sends a packet: the mDNS check inspects interfaces and binds the port (and joins
 * no multicast group, which would send an IGMP report). A firewall that drops multicast cannot
 * be seen that way, and the finding says so.
 */
import { createSocket } from 'node:dgram'
import { constants as fsConstants } from 'node:fs'
import { lstat, open, readFile } from 'node:fs/promises'
import { createConnection, createServer } from 'node:net'
import { networkInterfaces } from 'node:os'
import { join } from 'node:path'
import { errorMessage, errnoCode } from '../../protocols/errors.js'
import { homePaths } from './home.js'
import { meshFingerprint, parseSwarmKey } from '../security/swarm-key.js'
import { historyUsageOnDisk } from '../host/history/store.js'
import { describeOrphans, findOrphanNodes, type OrphanNode } from './orphans.js'

export type FindingLevel = 'ok' | 'warn' | 'fail' | 'skip'

export interface Finding {
  check: string
  level: FindingLevel
  message: string
  /** the command or step that fixes it (absent when nothing needs fixing) */
  fix?: string
}

/** The node's default TCP port: that of DEFAULT_LISTEN in procmesh-node.ts (a test keeps them equal; importing it would load libp2p). */
export const DEFAULT_LISTEN_PORT = 4001
/** mDNS (RFC 6762) */
export const MDNS_PORT = 5353
/** Clocks further apart than this (ms) get a warning: summaries are sampled every few seconds, so a correct peer's sample is at most that old. */
export const MAX_CLOCK_SKEW_MS = 60_000
/** A clock before this is unset (no RTC, no time sync yet). */
export const EARLIEST_SANE_TIME_MS = Date.UTC(2021, 0, 1)
export const MIN_NODE_MAJOR = 20
/** Key files are a few hundred bytes; never read more than this from a path we did not create. */
const MAX_KEY_FILE_BYTES = 64 * 1024
/** How long the socket probe waits for the node to accept. */
const SOCKET_PROBE_TIMEOUT_MS = 2000

// ---- facts ----

export interface FileFacts {
  exists: boolean
  kind?: 'file' | 'dir' | 'socket' | 'other'
  /** permission bits */
  mode?: number
  uid?: number
  /** content of a key file (read only when it is a small regular file) */
  bytes?: Uint8Array
  /** why it could not be inspected */
  error?: string
}

export interface IdentityFacts extends FileFacts {
  /** the peer id the key stands for, or why it does not parse */
  parsed?: { peerId: string } | { error: string }
}

export type SocketProbe = 'accepted' | 'refused' | 'denied' | 'absent' | 'timeout' | { error: string }
export type PortProbe = 'free' | 'in-use' | 'denied' | 'unsupported'
export type BindProbe = { ok: true } | { ok: false, error: string }

export interface InterfaceFacts {
  name: string
  addresses: string[]
  /** from /sys/class/net/NAME/flags; undefined where that is not readable (not Linux) */
  up?: boolean
  multicast?: boolean
}

export interface HostFacts {
  home: string
  /** our uid, undefined on Windows (no owners or modes to check) */
  uid?: number
  nodeVersion: string
  now: number
  homeDir: FileFacts
  identity: IdentityFacts
  swarmKey: FileFacts
  socketFile: FileFacts
  socket: SocketProbe
  /** undefined when network checks are skipped (--no-network) */
  port?: PortProbe
  interfaces?: InterfaceFacts[]
  mdnsBind?: BindProbe
  /** the durable history in the home (node/host/history) */
  history?: { bytes: number, segments: number, oldest: number | null }
  /** nodes still running although this home was deleted under them (node/setup/orphans.ts) */
  orphans?: OrphanNode[]
}

/** What a running node told us over its control socket (gathered by the CLI). */
export interface NodeFacts {
  peerId: string
  name: string
  addrs: string[]
  /** remote clock minus ours, per peer that answered (ms, from samples' collectedAt) */
  skews: Array<{ name: string, skewMs: number }>
  /** peers asked but not answering, with why */
  unreachable: string[]
}

// ---- pure checks ----

const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, '0')}`

/** A failure when `f` belongs to another user; undefined when it is ours (or owners mean nothing here). */
function ownerFinding (check: string, path: string, f: FileFacts, uid: number | undefined): Finding | undefined {
  if (uid === undefined || f.uid === undefined || f.uid === uid) return undefined
  return { check, level: 'fail', message: `${path} belongs to uid ${f.uid}, not to you (uid ${uid})`, fix: `run procmesh as that user, or take it over: chown -R ${uid} ${path}` }
}

export function checkNodeVersion (version: string): Finding {
  const major = Number(/^v?(\d+)/.exec(version)?.[1] ?? 0)
  if (major >= MIN_NODE_MAJOR) return { check: 'node-version', level: 'ok', message: `Node ${version}` }
  return { check: 'node-version', level: 'fail', message: `Node ${version}; procmesh needs Node ${MIN_NODE_MAJOR} or newer`, fix: `install Node ${MIN_NODE_MAJOR}+ (nodejs.org), or use the single executable dist/procmesh, which carries its own` }
}

export function checkHome (home: string, f: FileFacts, uid: number | undefined): Finding {
  const check = 'home'
  if (f.error !== undefined) return { check, level: 'fail', message: `cannot inspect ${home}: ${f.error}`, fix: 'run procmesh as the user that owns it, or pick another with --home' }
  if (!f.exists) return { check, level: 'warn', message: `${home} does not exist yet`, fix: 'procmesh node creates it (mode 0700) at its first start' }
  if (f.kind !== 'dir') return { check, level: 'fail', message: `${home} is not a directory`, fix: `move it away, or use another home: --home DIR or PROCMESH_HOME` }
  const owner = ownerFinding(check, home, f, uid)
  if (owner !== undefined) return owner
  const mode = f.mode ?? 0o700
  if (uid !== undefined && (mode & 0o022) !== 0) return { check, level: 'fail', message: `${home} has mode ${octal(mode)}: other users can replace the keys and the socket in it`, fix: `chmod 700 ${home}` }
  if (uid !== undefined && (mode & 0o077) !== 0) return { check, level: 'warn', message: `${home} has mode ${octal(mode)}: other users can look inside`, fix: `chmod 700 ${home} (the node also tightens it when it starts)` }
  return { check, level: 'ok', message: `${home}${uid !== undefined ? `, mode ${octal(mode)}, yours` : ''}` }
}

/** Shared by both key files: present, a regular file, ours, 0600. Undefined when those hold. */
function keyFileProblem (check: string, path: string, f: FileFacts, uid: number | undefined, readers: string): Finding | undefined {
  if (f.error !== undefined) return { check, level: 'fail', message: `cannot read ${path}: ${f.error}`, fix: 'run procmesh as the user that owns the home' }
  if (f.kind !== 'file') return { check, level: 'fail', message: `${path} is not a regular file`, fix: `move it away: mv ${path} ${path}.bad` }
  const owner = ownerFinding(check, path, f, uid)
  if (owner !== undefined) return owner
  const mode = f.mode ?? 0o600
  if (uid !== undefined && (mode & 0o077) !== 0) {
    return { check, level: 'fail', message: `${path} has mode ${octal(mode)}: ${readers}`, fix: `chmod 600 ${path}` }
  }
  return undefined
}

export function checkIdentityKey (path: string, f: IdentityFacts, uid: number | undefined): Finding {
  const check = 'identity-key'
  if (!f.exists && f.error === undefined) return { check, level: 'warn', message: `no identity yet (${path})`, fix: 'procmesh node creates one (mode 0600) at its first start; its peer id stays the same after that' }
  const problem = keyFileProblem(check, path, f, uid, "other users can read this host's private key and pose as this node")
  if (problem !== undefined) return problem
  if (f.parsed === undefined || 'error' in f.parsed) {
    return { check, level: 'fail', message: `${path} is corrupt (${f.parsed !== undefined && 'error' in f.parsed ? f.parsed.error : 'not read'})`, fix: `restore it from a backup, or move it away (mv ${path} ${path}.bad) so the next start makes a new identity, which peers see as a new node` }
  }
  return { check, level: 'ok', message: `peer id ${f.parsed.peerId}${uid !== undefined ? `, mode ${octal(f.mode ?? 0o600)}` : ''}` }
}

/**
 * The mesh key. Missing on a fresh home is expected (a warning); missing where this home already
 * has an identity or a running node is a failure: the next start would make a new mesh, cut off
 * from the hosts it knew.
 */
export function checkSwarmKey (path: string, f: FileFacts, uid: number | undefined, context: { hasIdentity: boolean, nodeRunning: boolean }): Finding {
  const check = 'mesh-key'
  const join = 'procmesh join TOKEN, with a TOKEN printed by `procmesh invite` on a host of the mesh'
  if (!f.exists && f.error === undefined) {
    if (context.hasIdentity || context.nodeRunning) {
      return { check, level: 'fail', message: `no mesh key (${path}), though this home has run a node: its next start would create a new mesh, cut off from its peers`, fix: `restore swarm.key from a backup, or ${join}` }
    }
    return { check, level: 'warn', message: `no mesh key yet (${path}): this home belongs to no mesh`, fix: `to start a new mesh: procmesh node; to join one: ${join}` }
  }
  const problem = keyFileProblem(check, path, f, uid, 'other users can read the mesh key, and with it join the mesh')
  if (problem !== undefined) return problem
  let hex: string
  try {
    hex = parseSwarmKey(f.bytes ?? new Uint8Array())
  } catch (err: unknown) {
    // parseSwarmKey's messages name the problem, never the key
    return { check, level: 'fail', message: `${path}: ${errorMessage(err)}`, fix: `restore it from a backup, or ${join}` }
  }
  return { check, level: 'ok', message: `mesh ${meshFingerprint(hex)}${uid !== undefined ? `, mode ${octal(f.mode ?? 0o600)}` : ''}` }
}

export function checkControlSocket (path: string, file: FileFacts, probe: SocketProbe, node: NodeFacts | undefined, uid: number | undefined): Finding {
  const check = 'control-socket'
  if (probe === 'accepted') {
    const who = node !== undefined ? `node ${node.name} (${node.peerId}) is running` : 'a node is running'
    const mode = file.mode ?? 0o600
    if (uid !== undefined && file.exists && (mode & 0o077) !== 0) return { check, level: 'fail', message: `${who}, but ${path} has mode ${octal(mode)}: other users can control it`, fix: `chmod 600 ${path}, and restart the node (it creates the socket 0600)` }
    return { check, level: 'ok', message: `${who}; ${path}` }
  }
  if (probe === 'absent' || (!file.exists && probe === 'refused')) return { check, level: 'warn', message: 'no node is running for this home', fix: 'start it: procmesh node (in the foreground), procmesh top (in the background), or procmesh service install (at boot)' }
  if (probe === 'refused') {
    if (file.kind !== 'socket') return { check, level: 'fail', message: `${path} is not a socket`, fix: `move it away: mv ${path} ${path}.bad` }
    return { check, level: 'warn', message: `stale socket ${path}: no node listens on it (one stopped without cleaning up)`, fix: 'procmesh node removes it when it starts; or rm it' }
  }
  if (probe === 'denied') return { check, level: 'fail', message: `no permission to use ${path}`, fix: "run procmesh as the node's user (the socket is 0600)" }
  if (probe === 'timeout') return { check, level: 'fail', message: `the node on ${path} does not accept connections (hung?)`, fix: 'restart it (systemctl restart procmesh, or stop and start procmesh node)' }
  return { check, level: 'fail', message: `cannot reach ${path}: ${probe.error}` }
}

export function checkListenPort (port: number, probe: PortProbe | undefined, node: NodeFacts | undefined): Finding {
  const check = 'listen-port'
  if (probe === undefined) return { check, level: 'skip', message: 'not checked (--no-network)' }
  const ours = node?.addrs.some(a => a.includes(`/tcp/${port}/`) || a.endsWith(`/tcp/${port}`)) === true
  if (probe === 'free') return { check, level: 'ok', message: `TCP ${port} is free for the node` }
  if (probe === 'in-use' && ours) return { check, level: 'ok', message: `TCP ${port} is this home's node` }
  if (probe === 'unsupported') return { check, level: 'warn', message: `cannot bind TCP ${port} on 0.0.0.0 here (no IPv4?)`, fix: 'pass --listen with an address this host has' }
  return {
    check,
    level: 'warn',
    message: `TCP ${port} is ${probe === 'denied' ? 'not allowed' : 'taken by another program (or the node of another home)'}: the node falls back to a random port, which mDNS still announces but --bootstrap addresses of this host must then name`,
    fix: `see who holds it: ss -ltnp 'sport = :${port}'; or choose a port: procmesh node --listen /ip4/0.0.0.0/tcp/PORT`
  }
}

export function checkMdns (interfaces: InterfaceFacts[] | undefined, bind: BindProbe | undefined): Finding {
  const check = 'mdns'
  if (interfaces === undefined || bind === undefined) return { check, level: 'skip', message: 'not checked (--no-network)' }
  const usable = interfaces.filter(i => i.up !== false && i.multicast !== false && i.addresses.some(a => !a.includes(':')))
  const bootstrapFix = 'hosts can still meet without mDNS: procmesh node --bootstrap /ip4/OTHER_HOST/tcp/4001/p2p/PEER_ID'
  if (usable.length === 0) {
    return { check, level: 'warn', message: 'no up, non-loopback IPv4 interface with multicast: mDNS cannot find other hosts', fix: `connect this host to the LAN; ${bootstrapFix}` }
  }
  if (!bind.ok) return { check, level: 'fail', message: `cannot bind UDP ${MDNS_PORT} (${bind.error}): mDNS discovery cannot work`, fix: `find what holds it exclusively: ss -lunp 'sport = :${MDNS_PORT}'; or run with --no-mdns and ${bootstrapFix}` }
  const names = usable.map(i => `${i.name} ${i.addresses.find(a => !a.includes(':')) ?? ''}`.trim()).join(', ')
  return { check, level: 'ok', message: `multicast on ${names}; UDP ${MDNS_PORT} bindable (nothing sent: a firewall dropping multicast would not show here)` }
}

export function checkClock (now: number, node: NodeFacts | undefined): Finding {
  const check = 'clock'
  const iso = new Date(now).toISOString()
  if (now < EARLIEST_SANE_TIME_MS) return { check, level: 'fail', message: `the clock says ${iso}: it was never set`, fix: 'enable time sync: timedatectl set-ntp true (or install chrony)' }
  if (node === undefined) return { check, level: 'ok', message: `${iso} (no node running: peers' clocks not compared)` }
  const off = node.skews.filter(s => Math.abs(s.skewMs) > MAX_CLOCK_SKEW_MS)
  const unreachable = node.unreachable.length > 0 ? `; not answering: ${node.unreachable.join(', ')}` : ''
  if (off.length > 0) {
    const list = off.map(s => `${s.name} ${Math.round(Math.abs(s.skewMs) / 1000)} s ${s.skewMs > 0 ? 'ahead' : 'behind'}`).join(', ')
    return { check, level: 'warn', message: `clocks disagree with this host's (${iso}): ${list}${unreachable}`, fix: 'enable time sync on every host: timedatectl set-ntp true (or chrony)' }
  }
  if (node.skews.length === 0) return { check, level: 'ok', message: `${iso} (no other peers to compare with${unreachable})` }
  return { check, level: 'ok', message: `${iso}; ${node.skews.length} peer(s) agree within ${MAX_CLOCK_SKEW_MS / 1000} s${unreachable}` }
}

export function checkHistory (history: HostFacts['history']): Finding {
  const check = 'history'
  if (history === undefined || history.segments === 0) return { check, level: 'ok', message: 'nothing recorded yet (a running node records to history/ in the home)' }
  const oldest = history.oldest === null ? 'unknown' : new Date(history.oldest).toISOString()
  return { check, level: 'ok', message: `${(history.bytes / 1048576).toFixed(1)} MiB in ${history.segments} segment(s), oldest record ${oldest}` }
}

/** Every check, in the order they print. */
export function judge (facts: HostFacts, node: NodeFacts | undefined): Finding[] {
  const paths = homePaths(facts.home)
  const nodeRunning = facts.socket === 'accepted'
  return [
    checkNodeVersion(facts.nodeVersion),
    checkHome(facts.home, facts.homeDir, facts.uid),
    checkIdentityKey(paths.identityKey, facts.identity, facts.uid),
    checkSwarmKey(paths.swarmKey, facts.swarmKey, facts.uid, { hasIdentity: facts.identity.exists, nodeRunning }),
    checkControlSocket(paths.socket, facts.socketFile, facts.socket, node, facts.uid),
    checkListenPort(DEFAULT_LISTEN_PORT, facts.port, node),
    checkMdns(facts.interfaces, facts.mdnsBind),
    checkClock(facts.now, node),
    checkHistory(facts.history),
    checkOrphans(facts.home, facts.orphans)
  ]
}

/** A node that lost its home still runs: the one finding that explains "no node" while a node serves. */
export function checkOrphans (home: string, orphans: readonly OrphanNode[] | undefined): Finding {
  if (orphans === undefined) return { check: 'orphaned node', level: 'skip', message: 'not checked on this platform' }
  if (orphans.length === 0) return { check: 'orphaned node', level: 'ok', message: 'no node runs without its home' }
  return {
    check: 'orphaned node',
    level: 'fail',
    message: `pid ${orphans.map(o => o.pid).join(', ')} still runs for ${home} with its home deleted (it holds ${orphans[0].files[0]})`,
    fix: describeOrphans(home, orphans)
  }
}

/** `ok    name          message  (fix: ...)` lines. */
export function formatFindings (findings: readonly Finding[]): string {
  const width = Math.max(...findings.map(f => f.check.length))
  return findings.map(f => `${f.level.padEnd(4)}  ${f.check.padEnd(width)}  ${f.message}${f.fix !== undefined ? `  (fix: ${f.fix})` : ''}`).join('\n')
}

// ---- probes ----

/** lstat a path; with `read`, also the content of a small regular file (opened without following links). */
export async function fileFacts (path: string, read = false): Promise<FileFacts> {
  try {
    const st = await lstat(path)
    const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSocket() ? 'socket' : 'other'
    const facts: FileFacts = { exists: true, kind, mode: st.mode & 0o777, uid: st.uid }
    if (read && kind === 'file') {
      // too large to be a key: hand the parsers an oversized stand-in, which they reject as such
      if (st.size > MAX_KEY_FILE_BYTES) return { ...facts, bytes: new Uint8Array(MAX_KEY_FILE_BYTES + 1) }
      const fh = await open(path, fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0))
      try { facts.bytes = await fh.readFile() } finally { await fh.close() }
    }
    return facts
  } catch (err: unknown) {
    // ENOTDIR: the home itself is a file, which checkHome reports
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return { exists: false }
    return { exists: true, error: errorMessage(err) }
  }
}

async function identityFacts (path: string): Promise<IdentityFacts> {
  const facts: IdentityFacts = await fileFacts(path, true)
  if (facts.bytes === undefined) return facts
  try {
    // the key parsers load only here, for doctor, never for other client commands
    const { privateKeyFromProtobuf } = await import('@libp2p/crypto/keys')
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
    const key = privateKeyFromProtobuf(facts.bytes)
    if (key.type !== 'Ed25519') throw new Error(`expected an Ed25519 key, found ${key.type}`)
    facts.parsed = { peerId: peerIdFromPrivateKey(key).toString() }
  } catch (err: unknown) {
    facts.parsed = { error: errorMessage(err) }
  }
  return facts
}

/** Connect to the control socket and hang up at once: is a node there? */
export function probeSocket (path: string, timeoutMs = SOCKET_PROBE_TIMEOUT_MS): Promise<SocketProbe> {
  return new Promise(resolve => {
    const sock = createConnection(path)
    const timer = setTimeout(() => { sock.destroy(); resolve('timeout') }, timeoutMs)
    sock.once('connect', () => { clearTimeout(timer); sock.destroy(); resolve('accepted') })
    sock.once('error', err => {
      clearTimeout(timer)
      const code = errnoCode(err)
      resolve(code === 'ENOENT' ? 'absent' : code === 'ECONNREFUSED' || code === 'ENOTSOCK' ? 'refused' : code === 'EACCES' ? 'denied' : { error: err.message })
    })
  })
}

/** Can a TCP server bind 0.0.0.0:port? (It is closed again at once.) */
export function probeTcpPort (port: number, host = '0.0.0.0'): Promise<PortProbe> {
  return new Promise(resolve => {
    const srv = createServer()
    srv.once('error', err => {
      const code = errnoCode(err)
      resolve(code === 'EADDRINUSE' ? 'in-use' : code === 'EACCES' ? 'denied' : 'unsupported')
    })
    srv.listen({ host, port, exclusive: true }, () => { srv.close(() => { resolve('free') }) })
  })
}

/** Bind UDP 5353 the way an mDNS responder does (shared), join no group, send nothing, close. */
export function probeMdnsBind (): Promise<BindProbe> {
  return new Promise(resolve => {
    const sock = createSocket({ type: 'udp4', reuseAddr: true })
    sock.once('error', err => {
      try { sock.close() } catch { /* never bound */ }
      resolve({ ok: false, error: errnoCode(err) ?? err.message })
    })
    sock.bind(MDNS_PORT, () => { sock.close(); resolve({ ok: true }) })
  })
}

const IFF_UP = 0x1
const IFF_MULTICAST = 0x1000

/** Non-loopback interfaces, with their up/multicast flags where Linux tells them (/sys/class/net). */
export async function listInterfaces (): Promise<InterfaceFacts[]> {
  const out: InterfaceFacts[] = []
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    const external = (addrs ?? []).filter(a => !a.internal)
    if (external.length === 0) continue
    const facts: InterfaceFacts = { name, addresses: external.map(a => a.address) }
    try {
      const flags = Number.parseInt((await readFile(`/sys/class/net/${name}/flags`, 'utf8')).trim(), 16)
      facts.up = (flags & IFF_UP) !== 0
      facts.multicast = (flags & IFF_MULTICAST) !== 0
    } catch { /* not Linux: flags unknown */ }
    out.push(facts)
  }
  return out
}

/** Look at the host. `network: false` binds nothing but the socket probe (--no-network). */
export async function gatherHostFacts (home: string, opts: { network: boolean, uid?: number, nodeVersion?: string, now?: number }): Promise<HostFacts> {
  const paths = homePaths(home)
  const socket = await probeSocket(paths.socket)
  const facts: HostFacts = {
    home,
    uid: opts.uid,
    nodeVersion: opts.nodeVersion ?? process.version,
    now: opts.now ?? Date.now(),
    homeDir: await fileFacts(home),
    identity: await identityFacts(paths.identityKey),
    swarmKey: await fileFacts(paths.swarmKey, true),
    socketFile: await fileFacts(paths.socket),
    socket,
    history: historyUsageOnDisk(join(home, 'history')),
    ...(process.platform === 'linux' ? { orphans: findOrphanNodes(home) } : {})
  }
  if (opts.network) {
    facts.port = await probeTcpPort(DEFAULT_LISTEN_PORT)
    facts.interfaces = await listInterfaces()
    facts.mdnsBind = await probeMdnsBind()
  }
  return facts
}

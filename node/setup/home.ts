/** The node's home directory and the files in it. */
import { mkdir, stat, chmod } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { CONTROL_SOCKET_NAME } from '../../protocols/ids.js'

export interface HomePaths {
  dir: string
  identityKey: string
  swarmKey: string
  trust: string
  audit: string
  socket: string
  logsDir: string
  pidFile: string
  nodeLog: string
  policy: string
  state: string
}

export function homePaths (dir: string): HomePaths {
  return {
    dir,
    identityKey: join(dir, 'identity.key'),
    swarmKey: join(dir, 'swarm.key'),
    trust: join(dir, 'trust.json'),
    audit: join(dir, 'audit.log'),
    socket: controlEndpoint(dir),
    logsDir: join(dir, 'logs'),
    pidFile: join(dir, 'node.pid'),
    nodeLog: join(dir, 'node.log'),
    policy: join(dir, 'policy.json'),
    state: join(dir, 'state')
  }
}

/** Create the home (mode 0700) if missing; tighten it if it is group/world accessible. */
export async function ensureHome (dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const st = await stat(dir)
  if ((st.mode & 0o077) !== 0) await chmod(dir, 0o700)
}

/**
 * Where the control API listens for a home: a Unix socket (mode 0600) in the home, or on
 * Windows a named pipe named after the home, since pipes live in their own namespace.
 */
export function controlEndpoint (dir: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return `\\\\.\\pipe\\procmesh-${createHash('sha256').update(dir.toLowerCase()).digest('hex').slice(0, 16)}`
  return join(dir, CONTROL_SOCKET_NAME)
}

/**
 * The mesh pre-shared key (libp2p pnet), kept in the home as `swarm.key` (mode 0600)
 * in the standard libp2p / IPFS format, so other libp2p tools can use it:
 *
 *     /key/swarm/psk/1.0.0/
 *     /base16/
 *     <64 hex digits>
 *
 * The key never goes to a log: a short fingerprint (a hash) names the mesh instead.
 */
import { createHash, randomBytes } from 'node:crypto'
import { chmod, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { errorMessage, errnoCode } from '../../protocols/errors.js'
import { SWARM_KEY_HEX_PATTERN } from '../../protocols/token.js'

const HEADER = '/key/swarm/psk/1.0.0/'
const CODEC = '/base16/'
/** bytes of a pnet key (XSalsa20) */
export const SWARM_KEY_BYTES = 32
/** A swarm key file is 95 bytes; a larger file is not one. */
const MAX_SWARM_KEY_FILE_BYTES = 1024

export class SwarmKeyError extends Error {
  override name = 'SwarmKeyError'
}

/** A fresh key as 64 lowercase hex digits. */
export function generateSwarmKeyHex (): string {
  return randomBytes(SWARM_KEY_BYTES).toString('hex')
}

/** The file content for a key (what @libp2p/pnet's generateKey writes). */
export function formatSwarmKey (hex: string): Uint8Array {
  if (!SWARM_KEY_HEX_PATTERN.test(hex)) throw new SwarmKeyError('a swarm key is 64 hex digits')
  return new TextEncoder().encode(`${HEADER}\n${CODEC}\n${hex}`)
}

/** Parse a swarm key file; errors name the problem, never the key. */
export function parseSwarmKey (bytes: Uint8Array): string {
  if (bytes.byteLength > MAX_SWARM_KEY_FILE_BYTES) throw new SwarmKeyError('not a swarm key (file too large)')
  const lines = new TextDecoder().decode(bytes).split(/\r\n|\r|\n/)
  if (lines[0] !== HEADER) throw new SwarmKeyError(`not a swarm key (first line is not ${HEADER})`)
  if (lines[1] !== CODEC) throw new SwarmKeyError(`unsupported swarm key encoding (only ${CODEC} is supported)`)
  const hex = (lines[2] ?? '').trim().toLowerCase()
  if (!SWARM_KEY_HEX_PATTERN.test(hex)) throw new SwarmKeyError(`the key line must be ${SWARM_KEY_BYTES * 2} hex digits`)
  if (lines.slice(3).some(l => l.trim() !== '')) throw new SwarmKeyError('unexpected lines after the key')
  return hex
}

/** A short, non-secret name of a mesh: the first 8 hex digits of sha256(key). */
export function meshFingerprint (hex: string): string {
  return createHash('sha256').update(`procmesh-mesh:${hex}`).digest('hex').slice(0, 8)
}

/** The key in `file`, or undefined when there is none. A broken file is an error naming the file. */
export async function readSwarmKey (file: string): Promise<string | undefined> {
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (err: unknown) {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw new SwarmKeyError(`cannot read the swarm key ${file}: ${errorMessage(err)}`)
  }
  try {
    return parseSwarmKey(bytes)
  } catch (err: unknown) {
    throw new SwarmKeyError(`swarm key ${file}: ${errorMessage(err)}`)
  }
}

/** Write a key atomically with mode 0600 (a reader never sees half a key; the temp file is made exclusively, never through a link). */
export async function writeSwarmKey (file: string, hex: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  try {
    await writeFile(tmp, formatSwarmKey(hex), { mode: 0o600, flag: 'wx' })
    await rename(tmp, file)
  } catch (err: unknown) {
    // a full disk: no half-written key stays behind in the home
    await unlink(tmp).catch(() => {})
    throw err
  }
}

export interface LoadedSwarmKey {
  hex: string
  /** the file content, what preSharedKey({ psk }) takes */
  psk: Uint8Array
  created: boolean
  /** the file was group/world accessible and has been tightened to 0600 */
  tightened: boolean
}

/**
 * Load the mesh key, or create a new mesh (a new key) when the home has none.
 * Creating uses 'wx' so two starts racing never end up in two meshes.
 */
export async function loadOrCreateSwarmKey (file: string): Promise<LoadedSwarmKey> {
  let hex = await readSwarmKey(file)
  let created = false
  if (hex === undefined) {
    const fresh = generateSwarmKeyHex()
    try {
      await writeFile(file, formatSwarmKey(fresh), { mode: 0o600, flag: 'wx' })
      hex = fresh
      created = true
    } catch (err: unknown) {
      if (errnoCode(err) !== 'EEXIST') throw new SwarmKeyError(`cannot create the swarm key ${file}: ${errorMessage(err)}`)
      hex = await readSwarmKey(file)
      if (hex === undefined) throw new SwarmKeyError(`swarm key ${file} vanished while being created`)
    }
  }
  let tightened = false
  if (((await stat(file)).mode & 0o077) !== 0) {
    await chmod(file, 0o600)
    tightened = true
  }
  return { hex, psk: formatSwarmKey(hex), created, tightened }
}

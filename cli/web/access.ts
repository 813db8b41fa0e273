/**
 * Who may use the web server: the listen address (loopback or not), the API token
 * kept in the node's home, and the checks on each request (bearer token in constant
 * time, Host on loopback against DNS rebinding, Origin for same-origin only).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { open, readFile, stat } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { errorMessage, errnoCode } from '../../protocols/errors.js'
import { UsageError } from '../args.js'

export const DEFAULT_WEB_LISTEN = '127.0.0.1:7070'
/** File name of the API token inside the node's home. */
export const WEB_TOKEN_FILE = 'web.token'
/** 32 random bytes: as strong as the node's own key, short enough to paste. */
const TOKEN_BYTES = 32
/** A token file must hold at least this much (base64url of 16 bytes): shorter is guessable. */
const MIN_TOKEN_LENGTH = 22
const TOKEN_PATTERN = /^[A-Za-z0-9_-]+$/

export interface ListenAddress {
  host: string
  port: number
}

/** `127.0.0.1:7070`, `[::1]:7070`, `localhost:7070`, `0.0.0.0:0` (port 0: any free port). */
export function parseListen (text: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text.trim())
  const port = m !== null ? Number(m[3]) : NaN
  if (m === null || port > 65535) throw new UsageError(`--listen: expected HOST:PORT such as ${DEFAULT_WEB_LISTEN} or [::1]:7070, got ${JSON.stringify(text)}`)
  const host = m[1] ?? m[2]
  if (m[1] !== undefined && isIP(host) !== 6) throw new UsageError(`--listen: ${JSON.stringify(host)} is not an IPv6 address`)
  return { host, port }
}

/** Only these reach the server from this machine alone; anything else (0.0.0.0, ::, a LAN address, a name) may be reachable from the network. */
export function isLoopback (host: string): boolean {
  const h = host.toLowerCase()
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true
  if (isIP(h) === 4) return h.startsWith('127.')
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h)
  return mapped?.[1].startsWith('127.') ?? false
}

/** `[::1]:7070` for IPv6, `host:port` otherwise: what a browser puts in the URL (and the Host header). */
export function formatHostPort (host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`
}

export function newToken (): string {
  return randomBytes(TOKEN_BYTES).toString('base64url')
}

export interface LoadedToken {
  token: string
  path: string
  /** true when this call created the file (the only time the token is shown) */
  created: boolean
}

/**
 * The API token from `<home>/web.token`, created (mode 0600, never overwritten) when
 * missing. Throws a message-carrying Error when the file cannot be used; the web
 * command then refuses to start rather than serve the network without a token.
 */
export async function loadOrCreateToken (home: string): Promise<LoadedToken> {
  const path = join(home, WEB_TOKEN_FILE)
  try {
    // 'wx': fail when the file exists, so two servers starting at once share one token
    const handle = await open(path, 'wx', 0o600)
    const token = newToken()
    try {
      await handle.writeFile(token + '\n')
    } finally {
      await handle.close()
    }
    return { token, path, created: true }
  } catch (err: unknown) {
    const code = errnoCode(err)
    if (code === 'ENOENT') throw new Error(`cannot create the API token: the home ${home} does not exist (start the node first: procmesh node --home ${home})`)
    if (code !== 'EEXIST') throw new Error(`cannot create the API token ${path}: ${errorMessage(err)}`)
  }
  const info = await stat(path)
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    throw new Error(`the API token ${path} is readable by other users (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it or delete it to make a new one`)
  }
  const token = (await readFile(path, 'utf8')).trim()
  if (token.length < MIN_TOKEN_LENGTH || !TOKEN_PATTERN.test(token)) {
    throw new Error(`the API token ${path} is not usable (expected at least ${MIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 _ -); delete it to make a new one`)
  }
  return { token, path, created: false }
}

/**
 * Compare a presented token with the expected one in time independent of where
 * they differ (and of the presented length: both are hashed to 32 bytes first).
 */
export function tokenMatches (presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

/** The token of an `Authorization: Bearer TOKEN` header, or undefined when there is none. */
export function bearerToken (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header)
  return m === null ? undefined : m[1]
}

/** The host part of a Host header (`[::1]:7070` -> `::1`, `Example:80` -> `example`). */
export function hostOfHeader (header: string): string {
  const h = header.trim().toLowerCase()
  if (h.startsWith('[')) {
    const end = h.indexOf(']')
    return end > 0 ? h.slice(1, end) : h
  }
  const colon = h.lastIndexOf(':')
  return colon >= 0 ? h.slice(0, colon) : h
}

/**
 * On a loopback listen there is no token: a web page elsewhere could still reach the
 * API by pointing its own domain at 127.0.0.1 (DNS rebinding). The browser then sends
 * that domain as Host, so only loopback names and addresses are accepted.
 */
export function isLoopbackHostHeader (header: string | undefined): boolean {
  if (header === undefined || header === '') return false
  return isLoopback(hostOfHeader(header))
}

/** Same-origin check: an Origin header, when present, must be this server as the browser addressed it. */
export function originMatches (origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true
  if (host === undefined) return false
  try {
    const url = new URL(origin)
    return url.protocol === 'http:' && url.host === new URL(`http://${host}`).host
  } catch {
    return false
  }
}

/**
 * Join tokens (pure): what `procmesh invite` prints and `procmesh join` reads.
 *
 *     pmj1.<base64url(JSON payload)>.<8 hex: first 4 bytes of sha256(payload)>
 *
 * The payload carries the mesh key, the inviting node (who becomes an admin of the
 * joining node: exec + control there), a few of its addresses to dial, and, when the
 * inviter granted one, a role for the JOINER on the INVITING node together with the
 * single-use secret the joiner's node presents (over CLAIM) to bind that grant to its
 * authenticated peer id. The checksum turns a token cut short by copy and paste into
 * a clear error instead of a confusing JSON one.
 *
 * A token is a secret (it holds the mesh key): it is printed once by invite and is
 * never logged.
 */
import { createHash } from 'node:crypto'
import { InvalidFieldError } from './errors.js'
import { MAX_ADDR_BYTES, MAX_NAME_BYTES } from './limits.js'
import { expectArray, expectInt, expectOneOf, expectRecord, expectString, optional } from './validate.js'
import { ROLES, type Role } from './wire.js'

export const TOKEN_PREFIX = 'pmj1'
/** A token is a few hundred bytes; anything much bigger is not one of ours. */
export const MAX_TOKEN_BYTES = 4096
/** Addresses of the inviter carried in a token: enough for one host's interfaces, short to paste. */
export const MAX_TOKEN_ADDRS = 4
/** 32-byte pnet key, hex */
export const SWARM_KEY_HEX_PATTERN = /^[0-9a-f]{64}$/
/** base58btc peer ids (Ed25519 ids are 52 characters) */
export const PEER_ID_PATTERN = /^[1-9A-HJ-NP-Za-km-z]{40,64}$/
/** a claim secret: 16 random bytes, base64url */
export const CLAIM_SECRET_PATTERN = /^[A-Za-z0-9_-]{22}$/

export interface JoinToken {
  /** the mesh pre-shared key, 64 lowercase hex digits */
  swarmKey: string
  /** peer id of the inviting node: an admin of the joining node */
  admin: string
  /** the inviting node's name, for display and the trust file */
  adminName: string
  /** addresses of the inviting node (with /p2p/), dialled by the joining node */
  addrs: string[]
  /** the role the inviting node grants the joining node on itself, if any ... */
  grant?: { role: Role, secret: string, expiresAt: number }
}

interface Payload {
  v: 1
  k: string
  a: string
  n: string
  m: string[]
  r?: Role
  s?: string
  e?: number
}

function checksum (payload: string): string {
  return createHash('sha256').update(payload).digest('hex').slice(0, 8)
}

export function encodeJoinToken (token: JoinToken): string {
  const p: Payload = { v: 1, k: token.swarmKey, a: token.admin, n: token.adminName, m: token.addrs.slice(0, MAX_TOKEN_ADDRS) }
  if (token.grant !== undefined) { p.r = token.grant.role; p.s = token.grant.secret; p.e = token.grant.expiresAt }
  const json = JSON.stringify(p)
  return `${TOKEN_PREFIX}.${Buffer.from(json, 'utf8').toString('base64url')}.${checksum(json)}`
}

/** Decode and validate a token; errors name what is wrong, never echo the token. */
export function decodeJoinToken (text: string): JoinToken {
  const t = text.trim()
  if (Buffer.byteLength(t) > MAX_TOKEN_BYTES) throw new InvalidFieldError('token', `longer than ${MAX_TOKEN_BYTES} bytes`)
  const parts = t.split('.')
  if (parts.length !== 3 || parts[0] !== TOKEN_PREFIX) throw new InvalidFieldError('token', `not a procmesh join token (expected ${TOKEN_PREFIX}.<payload>.<checksum>)`)
  if (!/^[A-Za-z0-9_-]+$/.test(parts[1])) throw new InvalidFieldError('token', 'payload is not base64url')
  const json = Buffer.from(parts[1], 'base64url').toString('utf8')
  if (checksum(json) !== parts[2]) throw new InvalidFieldError('token', 'checksum mismatch (was it copied completely?)')
  let raw: unknown
  try { raw = JSON.parse(json) } catch { throw new InvalidFieldError('token', 'payload is not valid JSON') }
  const p = expectRecord(raw, 'token')
  if (p.v !== 1) throw new InvalidFieldError('token.v', `unsupported token version ${JSON.stringify(p.v)}; upgrade procmesh`)
  const token: JoinToken = {
    swarmKey: expectString(p.k, 'token.k', { pattern: SWARM_KEY_HEX_PATTERN }),
    admin: expectString(p.a, 'token.a', { pattern: PEER_ID_PATTERN }),
    adminName: expectString(p.n, 'token.n', { maxBytes: MAX_NAME_BYTES, noNul: true }),
    addrs: expectArray(p.m, 'token.m', MAX_TOKEN_ADDRS).map((a, i) => expectString(a, `token.m[${i}]`, { maxBytes: MAX_ADDR_BYTES, minLength: 1, noNul: true }))
  }
  const role = optional(p.r, v => expectOneOf(v, 'token.r', ROLES))
  if (role !== undefined) {
    token.grant = {
      role,
      secret: expectString(p.s, 'token.s', { pattern: CLAIM_SECRET_PATTERN }),
      expiresAt: expectInt(p.e, 'token.e', { min: 0 })
    }
  }
  return token
}

/** sha256 of a claim secret, hex: what the inviting node keeps (never the secret itself). */
export function claimSecretHash (secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

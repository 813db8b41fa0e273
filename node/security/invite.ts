/**
 * Invites and joins.
 *
 * What a token means (both directions, chosen so that each grant is recorded by the
 * node that enforces it, and bound to an authenticated peer id):
 *
 * 1. The inviting node becomes an ADMIN of the joining node: `procmesh join` writes a
 *    trust entry on the joining node giving the inviter's peer id the exec role
 *    (exec includes control). This is what lets the operator who invited a host run
 *    and stop processes on it. The joining host's owner can take it back with
 *    `procmesh trust remove` or lower it with `procmesh trust add ... --role read`.
 *
 * 2. `procmesh invite --role R` additionally grants the JOINER role R on the INVITING
 *    node. The inviter cannot know the joiner's peer id when it prints the token, so
 *    it records a pending grant (the sha256 of a random 128-bit secret, the role, an
 *    expiry) in its own trust file, and the token carries the secret. When the joined
 *    node first connects to the inviter it presents the secret over
 *    /procmesh/claim/1.0.0; the inviter then writes a trust entry for the
 *    AUTHENTICATED peer that presented it, and forgets the grant (single use). Without
 *    --role the joiner holds read on the inviter, like every member.
 *
 * The mesh key in a token does not expire (pnet keys cannot be revoked per member;
 * block a member with `trust add PEER --role none` or rotate the key); the grant in
 * it expires after INVITE_TTL_MS.
 */
import type { InviteResult } from '../../protocols/control.js'
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { readFile } from 'node:fs/promises'
import { ProcmeshError, errorMessage } from '../../protocols/errors.js'
import { CLAIM } from '../../protocols/messages.js'
import { claimSecretHash, decodeJoinToken, encodeJoinToken, MAX_TOKEN_ADDRS, type JoinToken } from '../../protocols/token.js'
import type { Role } from '../../protocols/wire.js'
import { ensureHome, homePaths } from '../setup/home.js'
import type { ProcmeshLibp2p } from '../mesh/libp2p.js'
import type { Logger } from '../logger.js'
import { request } from '../mesh/reqresp.js'
import { meshFingerprint, readSwarmKey, writeSwarmKey } from './swarm-key.js'
import { higherRole, MAX_PENDING_CLAIMS, MAX_PENDING_INVITES, TrustStore } from './trust-store.js'

/** A grant in a token can be claimed for a day: long enough to get the token to the other host. */
export const INVITE_TTL_MS = 24 * 60 * 60 * 1000
/** A failed claim (peer busy, timeout) is retried after this long while connected. */
export const CLAIM_RETRY_MS = 5000

export interface InviteInit {
  swarmKeyHex: string
  selfId: string
  selfName: string
  addrs: string[]
  role?: Role
  now?: number
}

/** `procmesh invite`'s answer, declared with the control API. */
export type { InviteResult }

/** Addresses worth putting in a token: with /p2p/, non-loopback first. */
export function tokenAddrs (addrs: string[], selfId: string): string[] {
  const withId = addrs.map(a => a.includes('/p2p/') ? a : `${a}/p2p/${selfId}`)
  const external = withId.filter(a => !a.startsWith('/ip4/127.') && !a.startsWith('/ip6/::1/'))
  return (external.length > 0 ? external : withId).slice(0, MAX_TOKEN_ADDRS)
}

/** Make a token; with a role, record its pending grant in `store` first. */
export function createInvite (store: TrustStore, init: InviteInit): InviteResult {
  const now = init.now ?? Date.now()
  const token: JoinToken = { swarmKey: init.swarmKeyHex, admin: init.selfId, adminName: init.selfName, addrs: tokenAddrs(init.addrs, init.selfId) }
  let expiresAt: number | null = null
  if (init.role !== undefined) {
    const role = init.role
    const secret = randomBytes(16).toString('base64url')
    expiresAt = now + INVITE_TTL_MS
    const exp = expiresAt
    store.update(tf => {
      tf.invites = tf.invites.filter(i => i.expiresAt > now)
      if (tf.invites.length >= MAX_PENDING_INVITES) throw new ProcmeshError('BUSY', `${MAX_PENDING_INVITES} invites with a role are outstanding; wait for one to be used or to expire`)
      tf.invites.push({ id: randomBytes(4).toString('hex'), secretHash: claimSecretHash(secret), role, createdAt: now, expiresAt: exp })
    })
    token.grant = { role, secret, expiresAt }
  }
  return { token: encodeJoinToken(token), peerId: init.selfId, name: init.selfName, role: init.role ?? null, expiresAt }
}

/**
 * Redeem a pending grant for the authenticated `peerId` (the inviting side of CLAIM).
 * Single use: the grant is gone afterwards, whatever the outcome.
 */
export function redeemInvite (store: TrustStore, secret: string, peerId: string, name: string | undefined, now = Date.now()): Role {
  const hash = claimSecretHash(secret)
  const outcome = store.update((tf): Role | ProcmeshError => {
    const invite = tf.invites.find(i => i.secretHash === hash)
    tf.invites = tf.invites.filter(i => i !== invite && i.expiresAt > now)
    if (invite === undefined) return new ProcmeshError('NOT_FOUND', 'no such invite (already used, or never made here)')
    if (invite.expiresAt <= now) return new ProcmeshError('GONE', `the invite expired at ${new Date(invite.expiresAt).toISOString()}`)
    const existing = tf.peers[peerId]
    // a claim never lowers a role the peer already holds, and never lifts a block
    const held = existing?.role
    if (held === 'none') return new ProcmeshError('FORBIDDEN', `peer ${peerId} is blocked here (trust role none)`)
    const role: Role = held === undefined ? invite.role : higherRole(held, invite.role)
    tf.peers[peerId] = { ...existing, role, source: existing?.source ?? 'invite', addedAt: existing?.addedAt ?? now, ...(name !== undefined ? { name } : {}) }
    return role
  })
  if (outcome instanceof ProcmeshError) throw outcome
  return outcome
}

export interface JoinResult {
  /** short non-secret name of the mesh joined */
  mesh: string
  admin: string
  adminName: string
  /** the home had a different key before (its node must restart) */
  keyChanged: boolean
  /** the home had no key before */
  keyCreated: boolean
  /** role this node will claim on the inviter, if the token grants one */
  grant: Role | null
}

/** Own peer id of a home, when it has an identity yet. */
export async function homePeerId (home: string): Promise<string | undefined> {
  let bytes: Buffer
  try { bytes = await readFile(homePaths(home).identityKey) } catch { return undefined }
  try {
    return peerIdFromPrivateKey(privateKeyFromProtobuf(bytes)).toString()
  } catch (err: unknown) {
    throw new ProcmeshError('SERVER_ERROR', `identity key in ${home} is corrupt: ${errorMessage(err)}`)
  }
}

/**
 * `procmesh join TOKEN`: store the mesh key, make the inviter an admin, remember the
 * grant to claim. Works without a running node (a running one picks up the trust
 * changes at once but needs a restart for a new key).
 */
export async function joinMesh (home: string, tokenText: string, opts: { force?: boolean, now?: number } = {}): Promise<JoinResult> {
  const now = opts.now ?? Date.now()
  let token: JoinToken
  try {
    token = decodeJoinToken(tokenText)
    peerIdFromString(token.admin)
  } catch (err: unknown) {
    throw new ProcmeshError('INVALID_REQUEST', `invalid join token: ${errorMessage(err)}`)
  }
  await ensureHome(home)
  const paths = homePaths(home)
  if (await homePeerId(home) === token.admin) throw new ProcmeshError('INVALID_REQUEST', 'this token was made by this very node; use it on another host')
  const current = await readSwarmKey(paths.swarmKey)
  const keyChanged = current !== undefined && current !== token.swarmKey
  if (keyChanged && opts.force !== true) {
    throw new ProcmeshError('REFUSED', `this home already belongs to mesh ${meshFingerprint(current)}; joining mesh ${meshFingerprint(token.swarmKey)} would leave it (use --force to switch meshes)`)
  }
  if (current !== token.swarmKey) await writeSwarmKey(paths.swarmKey, token.swarmKey)
  const store = new TrustStore(paths.trust)
  store.update(tf => {
    tf.peers[token.admin] = { role: 'exec', name: token.adminName, source: 'join', addedAt: now, ...(token.addrs.length > 0 ? { addrs: token.addrs } : {}) }
    tf.claims = tf.claims.filter(c => c.admin !== token.admin && c.expiresAt > now)
    if (token.grant !== undefined && token.grant.expiresAt > now) {
      if (tf.claims.length >= MAX_PENDING_CLAIMS) tf.claims.shift()
      tf.claims.push({ admin: token.admin, secret: token.grant.secret, role: token.grant.role, expiresAt: token.grant.expiresAt })
    }
  })
  const grant = token.grant !== undefined && token.grant.expiresAt > now ? token.grant.role : null
  if (token.grant !== undefined && grant === null) {
    throw new ProcmeshError('GONE', `joined mesh ${meshFingerprint(token.swarmKey)} with ${token.adminName} as admin, but the ${token.grant.role} grant in the token expired at ${new Date(token.grant.expiresAt).toISOString()}; ask for a new invite`)
  }
  return { mesh: meshFingerprint(token.swarmKey), admin: token.admin, adminName: token.adminName, keyChanged, keyCreated: current === undefined, grant }
}

/** `procmesh invite` without a running node: from the home's files (no addresses). */
export async function createInviteOffline (home: string, role: Role | undefined): Promise<InviteResult> {
  const paths = homePaths(home)
  const selfId = await homePeerId(home)
  const key = await readSwarmKey(paths.swarmKey)
  if (selfId === undefined || key === undefined) {
    throw new ProcmeshError('NO_NODE', `no mesh in ${home} yet: start the node once (procmesh node --home ${home}) to create one`)
  }
  const store = new TrustStore(paths.trust)
  store.load()
  return createInvite(store, { swarmKeyHex: key, selfId, selfName: hostname(), addrs: [], role })
}

/**
 * The joining side of CLAIM: while this node has a pending grant from an inviter,
 * present its secret whenever connected to that inviter, until it is granted or
 * definitively refused.
 */
export class ClaimAgent {
  private readonly store: TrustStore
  private readonly libp2p: ProcmeshLibp2p
  private readonly log: Logger
  private readonly inFlight = new Set<string>()
  private readonly timers = new Map<string, NodeJS.Timeout>()
  private running = false

  constructor (init: { store: TrustStore, libp2p: ProcmeshLibp2p, log: Logger }) {
    this.store = init.store
    this.libp2p = init.libp2p
    this.log = init.log
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.libp2p.addEventListener('peer:connect', this.onConnect)
    for (const c of this.store.data.claims) {
      if (this.libp2p.getConnections().some(conn => conn.remotePeer.toString() === c.admin)) this.claim(c.admin)
    }
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    this.libp2p.removeEventListener('peer:connect', this.onConnect)
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
  }

  private readonly onConnect = (evt: CustomEvent<{ toString: () => string }>): void => {
    this.claim(evt.detail.toString())
  }

  private claim (admin: string): void {
    if (!this.running || this.inFlight.has(admin)) return
    const pending = this.store.data.claims.find(c => c.admin === admin)
    if (pending === undefined) return
    const drop = (): void => {
      try {
        this.store.update(tf => { tf.claims = tf.claims.filter(c => c.admin !== admin) })
      } catch (err: unknown) {
        this.log.error('cannot update the trust file after a claim: %s', errorMessage(err))
      }
    }
    if (pending.expiresAt <= Date.now()) {
      this.log.warn('the %s grant from %s expired before this node reached it; ask for a new invite', pending.role, admin)
      drop()
      return
    }
    this.inFlight.add(admin)
    request(this.libp2p, peerIdFromString(admin), CLAIM, { type: 'claim', secret: pending.secret }).then(result => {
      this.log.info('%s (%s) granted this node the %s role there', result.name, admin, result.role)
      drop()
    }, (err: unknown) => {
      const code = err instanceof ProcmeshError ? err.code : 'SERVER_ERROR'
      if (code === 'NOT_FOUND' || code === 'GONE' || code === 'FORBIDDEN' || code === 'INVALID_REQUEST' || code === 'PROTOCOL_ERROR') {
        this.log.warn('%s refused this node\'s %s grant: %s', admin, pending.role, errorMessage(err))
        drop()
        return
      }
      this.log.debug('claim at %s failed (%s); retrying while connected', admin, errorMessage(err))
      // a gone inviter is claimed at again on its next connect, not dialled forever
      if (!this.running || !this.libp2p.getConnections().some(conn => conn.remotePeer.toString() === admin)) return
      clearTimeout(this.timers.get(admin))
      const timer = setTimeout(() => { this.timers.delete(admin); this.claim(admin) }, CLAIM_RETRY_MS)
      timer.unref()
      this.timers.set(admin, timer)
    }).finally(() => { this.inFlight.delete(admin) }).catch((err: unknown) => { this.log.error('claim bookkeeping failed: %s', errorMessage(err)) })
  }
}

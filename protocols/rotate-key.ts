/**
 * `procmesh rotate-key`: a new mesh (swarm) key, made on one node and handed over the mesh to
 * the members its owner names; each switches to it, and a member left out (or blocked) holds
 * only the old key, with which it can no longer complete a connection to any of them.
 *
 * Who may: the rotation starts at a node's control socket (its owner, never a remote peer), and
 * a member takes a new key only from a peer holding `exec` on it (an admin: a peer that may
 * already run anything there gains nothing new by moving it to another mesh). The key travels
 * only inside the Noise-encrypted, pnet-protected connection to each named member, never in
 * gossip, logs or the audit (its fingerprint is audited).
 */
import type { PeerError } from './control.js'
import { ROTATE_KEY_PROTOCOL } from './ids.js'
import { SWARM_KEY_HEX_PATTERN } from './token.js'
import { expectInt, expectRecord, expectString } from './validate.js'
import { expectType, type ProtocolDescriptor } from './wire.js'

/** A mesh fingerprint (swarm-key.ts meshFingerprint): short, non-secret. */
export const MESH_FINGERPRINT_PATTERN = /^[0-9a-f]{8,64}$/
/**
 * A member switches this long after taking the key: its answer gets back to the rotating node,
 * which is still handing the key to the other members over the old one.
 */
export const ROTATE_SWITCH_DELAY_MS = 3000
/** Per-member timeout of the hand-over; a member that does not answer in time is left out. */
export const ROTATE_HANDOVER_TIMEOUT_MS = 10_000
/** Members one rotation names at most (each is one request from the rotating node). */
export const MAX_ROTATE_MEMBERS = 1024

export interface RotateKeyRequest { type: 'rotate-key', key: string }
/** The member's fingerprint of the key it stored (the rotating node checks it) and when it switches. */
export interface RotateKeyResult { mesh: string, switchInMs: number }

export const ROTATE_KEY: ProtocolDescriptor<RotateKeyRequest, RotateKeyResult> = {
  id: ROTATE_KEY_PROTOCOL,
  // moving a node to another mesh is an admin's act: the role that may already run anything
  role: 'exec',
  maxRequestBytes: 1024,
  maxResponseBytes: 1024,
  readDeadlineMs: 5000,
  deadlineMs: 10_000,
  maxInboundStreams: 1,
  maxOutboundStreams: 16,
  validateRequest (value) {
    const r = expectRecord(value, 'request')
    expectType(r, 'rotate-key')
    return { type: 'rotate-key', key: expectString(r.key, 'key', { pattern: SWARM_KEY_HEX_PATTERN }) }
  },
  validateResult (value) {
    const r = expectRecord(value, 'result')
    return {
      mesh: expectString(r.mesh, 'result.mesh', { pattern: MESH_FINGERPRINT_PATTERN }),
      switchInMs: expectInt(r.switchInMs, 'result.switchInMs', { min: 0, max: 60_000 })
    }
  }
}

/** `rotate-key`: the members to keep (names, peer ids or prefixes); everyone else is out. */
export interface RotateKeyParams { members: string[] }
export type RotateKeyMember = { peerId: string, name: string, mesh: string } | { peerId: string, name: string, error: PeerError }
/** The new mesh's fingerprint, each named member's outcome, and when this node switches. */
export interface RotateKeyResultLocal { mesh: string, members: RotateKeyMember[], switchInMs: number }

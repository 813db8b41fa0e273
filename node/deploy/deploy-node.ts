/**
 * The deployment service as a part of a node: its spec store in the home, and the checks that
 * decide what this host runs, taken from the node's security layer (trust, start policy,
 * --readonly, audit). One function, so the node's assembly wires it with a few lines.
 */
import { join } from 'node:path'
import type { PrivateKey } from '@libp2p/interface'
import { clipArgv } from '../../protocols/audit.js'
import { matchesSelector, parseSelector, specHash, type DeploySpec, type HostFacts } from '../../protocols/deploy.js'
import type { ProcessControl } from '../host/host-services.js'
import type { Logger } from '../logger.js'
import type { ProcmeshLibp2p } from '../mesh/libp2p.js'
import type { MeshView } from '../mesh/mesh-view.js'
import { auditId } from '../security/audit-log.js'
import { checkRole, effectiveRole } from '../security/authorizer.js'
import type { NodeSecurity } from '../security/security.js'
import { roleCovers } from '../security/trust-store.js'
import { DeployService, type HostDecision } from './deploy-service.js'
import { SpecStore } from './spec-store.js'

/** File of the spec store in the node's home. */
export const DEPLOYMENTS_FILE = 'deployments.json'
/**
 * A host's decision on a spec is reused this long (ms): the reconciler asks several times a
 * second, and the start policy resolves the command on disk; a trust change takes effect within it.
 */
const DECISION_TTL_MS = 1000

export interface DeployNodeInit {
  /** the specs stored in the home (openSpecStore) */
  store: SpecStore
  libp2p: ProcmeshLibp2p
  view: MeshView
  security: NodeSecurity
  /** process control behind the security guard */
  control: ProcessControl
  key: PrivateKey
  self: () => HostFacts
  readonly: boolean
  spawnPath: string
  /** the liveness prober's probe of one member (a failure marks it suspect in the view) */
  probe: (peerId: string) => Promise<boolean>
  log: Logger
}

/** Whether an author holds exec in this host's trust (this node itself does). */
export function holdsExec (security: NodeSecurity, selfId: string): (author: string) => boolean {
  return author => roleCovers(effectiveRole(author, selfId, security.trust.entry(author)?.role), 'exec')
}

/**
 * The deployment specs stored in the home, loaded and verified (I/O before the node is built).
 * `trusted`: the authors whose specs the store keeps whatever others sign (holdsExec).
 */
export async function openSpecStore (home: string, log: Logger, trusted?: (author: string) => boolean): Promise<SpecStore> {
  const store = new SpecStore(join(home, DEPLOYMENTS_FILE), log, trusted)
  await store.load()
  return store
}

export function createDeployService (init: DeployNodeInit): DeployService {
  const { security, store } = init
  const selfId = init.libp2p.peerId.toString()
  const nameOf = (peerId: string): string | undefined => init.view.get(peerId)?.name ?? security.trust.entry(peerId)?.name
  const granted = (author: string): ReturnType<typeof effectiveRole> => effectiveRole(author, selfId, security.trust.entry(author)?.role)
  const decisions = new Map<string, { at: number, decision: HostDecision }>()
  const decideNow = (spec: DeploySpec): HostDecision => {
    const self = init.self()
    if (!matchesSelector(parseSelector(spec.selector), self)) return { a: 'no-match' }
    const forbidden = checkRole({ peerId: spec.author, name: nameOf(spec.author), granted: granted(spec.author), needed: 'exec', nodeName: self.name })
    if (forbidden !== undefined) return { a: 'no-exec', reason: `deployment ${spec.name} version ${spec.version} not run: ${forbidden}` }
    if (init.readonly) return { a: 'readonly', reason: `deployment ${spec.name} version ${spec.version} not run: ${self.name} is read-only (--readonly)` }
    const d = security.policy.check({ argv: spec.argv, env: spec.env, ...(spec.cwd !== null ? { cwd: spec.cwd } : {}) }, init.spawnPath)
    if (!d.allowed) return { a: 'policy', reason: `deployment ${spec.name} version ${spec.version} not run: ${d.reason}` }
    return { a: 'run' }
  }
  return new DeployService({
    libp2p: init.libp2p,
    view: init.view,
    store,
    self: init.self,
    hasExec: holdsExec(security, selfId),
    decide: spec => {
      const hash = specHash(spec)
      const now = Date.now()
      const known = decisions.get(hash)
      if (known !== undefined && now - known.at < DECISION_TTL_MS) return known.decision
      const decision = decideNow(spec)
      decisions.set(hash, { at: now, decision })
      // specs are few (MAX_STORED_SPECS); forget decisions of specs no longer held
      if (decisions.size > 2 * store.all().length + 8) for (const h of decisions.keys()) if (!store.has(h)) decisions.delete(h)
      return decision
    },
    control: init.control,
    auditRefusal: (spec, reason) => {
      security.audit.record({
        id: auditId(),
        time: Date.now(),
        event: 'deploy',
        peerId: spec.author,
        name: nameOf(spec.author) ?? null,
        via: spec.author === selfId ? 'local' : 'mesh',
        argv: clipArgv(spec.argv),
        decision: 'denied',
        reason,
        result: 'not started'
      })
    },
    sign: async bytes => await init.key.sign(bytes),
    probe: init.probe,
    log: init.log
  })
}

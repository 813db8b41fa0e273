/**
 * Deployment specs forged or replayed over the wire by a hostile mesh member, against real
 * procmesh nodes: alpha (issues deployments) and beta (trusts alpha with exec, gives mallory
 * only the `read` every key holder has). Mallory is an independent libp2p peer
 * (test/helpers/hostile-peer.ts) that gossips digests on DEPLOY_TOPIC and serves its own
 * DEPLOY_SYNC answers, so every spec arrives through the node's real paths: the gossip
 * validator, the pushed spec of a digest, and the sync client. The unit tests of the validators
 * (test/protocols/deploy.test.ts, spec-store.test.ts) do not cover those paths.
 */
import '../../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { access, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection, PrivateKey, Stream } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { AuditTargetEntry, LsEntry } from '../../../protocols/control.js'
import { parseCopyName, signSpec, type DeployResult, type DeploySpec, type DeploymentStatus, type SignedSpec } from '../../../protocols/deploy.js'
import { DEPLOY_SYNC_PROTOCOL, DEPLOY_TOPIC } from '../../../protocols/ids.js'
import { MAX_SPEC_BYTES, MAX_STORED_SPECS } from '../../../protocols/limits.js'
import type { ManagedProcess } from '../../../protocols/managed.js'
import { HostilePeer } from '../../helpers/hostile-peer.js'
import { LocalNode, removeHome, tempHome, waitFor } from '../../helpers/procmesh.js'

const enc = new TextEncoder()
const dec = new TextDecoder()

/** A file a copy would create if it ever ran: proof by absence that a refused spec never ran. */
function marker (what: string): string {
  return join(tmpdir(), `pm-deploy-forgery-${what}-${process.pid}-${randomBytes(4).toString('hex')}`)
}

async function exists (path: string): Promise<boolean> {
  try { await access(path); return true } catch { return false }
}

function spec (author: string, over: Partial<DeploySpec>): DeploySpec {
  return {
    v: 1, name: 'x', version: 1, deleted: false, argv: ['sleep', '600'], cwd: null, env: {}, selector: 'all',
    replicas: 'every', spread: 1, restart: 'always', author, issuedAt: Date.now(), ...over
  }
}

async function signWith (key: PrivateKey, s: DeploySpec): Promise<SignedSpec> {
  return await signSpec(s, async b => await key.sign(b))
}

describe('deployment specs forged or replayed over the wire', { timeout: 120_000 }, () => {
  let alpha: LocalNode
  let beta: LocalNode
  let mallory: HostilePeer
  let malloryKey: PrivateKey
  let malloryId: string
  let alphaId: string
  let betaId: string
  const markers: string[] = []

  /** What mallory's DEPLOY_SYNC server answers now (a whole response frame), and a tag to recognise it by. */
  let answer: { tag: string, frame: Uint8Array } = { tag: 'empty', frame: okFrame([]) }
  /** Every answer mallory wrote, by asker. */
  const served: Array<{ from: string, tag: string }> = []
  let seq = Date.now()

  function okFrame (specs: unknown[]): Uint8Array {
    // the envelope node/mesh/reqresp.ts writes (protocols/wire.ts okFrame), with a result as DEPLOY_SYNC's server builds it
    return enc.encode(JSON.stringify({ status: 'ok', result: { specs, digest: null } }))
  }

  async function serveSync (stream: Stream, connection: Connection): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: 1024 * 1024 })
    const now = answer
    try {
      JSON.parse(dec.decode((await lp.read({ signal: AbortSignal.timeout(5000) })).subarray()))
      await lp.write(now.frame, { signal: AbortSignal.timeout(5000) })
      await stream.close()
      served.push({ from: connection.remotePeer.toString(), tag: now.tag })
    } catch (err: unknown) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /** Publish on DEPLOY_TOPIC, signed by mallory's libp2p key (StrictSign). */
  async function publish (body: unknown): Promise<void> {
    await mallory.node.services.pubsub.publish(DEPLOY_TOPIC, body instanceof Uint8Array ? body : enc.encode(JSON.stringify(body)))
  }

  /** Mallory's own digest, with a fresh seq (so beta takes it) and an index beta does not have (so beta pulls). */
  function digest (extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { v: 1, peerId: malloryId, seq: ++seq, index: randomBytes(8).toString('hex'), entries: [], ...extra }
  }

  /**
   * Make beta pull `frame` from mallory: a digest whose index differs makes beta sync with its
   * signer. Repeated until beta has read this very answer (a sync already in flight may have
   * read the previous one).
   */
  async function serveToBeta (tag: string, frame: Uint8Array): Promise<void> {
    answer = { tag, frame }
    await waitFor(async () => {
      if (served.some(s => s.from === betaId && s.tag === tag)) return true
      await publish(digest())
      return false
    }, { timeoutMs: 15_000, intervalMs: 1000, what: `beta to sync with mallory (${tag})` })
  }

  async function copies (node: LocalNode, deployment: string): Promise<ManagedProcess[]> {
    const entries = await node.json<LsEntry[]>(['ls'])
    return entries.flatMap(e => 'error' in e ? [] : e.processes.filter(p => parseCopyName(p.name)?.deployment === deployment))
  }

  async function deployments (node: LocalNode): Promise<DeploymentStatus[]> {
    return await node.json<DeploymentStatus[]>(['deployments'])
  }

  /** The names in beta's spec store on disk (what it would serve to others and load after a restart). */
  async function storedOnBeta (): Promise<Array<{ name: string, version: number, author: string }>> {
    try {
      const file = JSON.parse(await readFile(join(beta.home, 'deployments.json'), 'utf8')) as { specs: SignedSpec[] }
      return file.specs.map(s => ({ name: s.spec.name, version: s.spec.version, author: s.spec.author }))
    } catch {
      return []
    }
  }

  /** Beta's log from `mark` on contains `text` (the log is what an operator reads). */
  async function betaLogs (mark: number, ...texts: string[]): Promise<void> {
    await waitFor(() => texts.every(t => beta.log.slice(mark).includes(t)), { timeoutMs: 10_000, what: `beta to log ${texts.join(' / ')}` })
  }

  /** Beta still answers its user and still runs alpha's deployment. */
  async function betaServes (): Promise<void> {
    assert.equal(beta.proc?.exitCode, null, `beta exited:\n${beta.log}`)
    assert.equal((await beta.cli(['peers'])).code, 0)
    assert.equal((await beta.cli(['ls'])).code, 0)
    assert.ok((await copies(beta, 'svc')).some(c => c.name === 'svc-v1-1' && c.state === 'running'), 'beta still runs alpha\'s svc')
  }

  before(async () => {
    alpha = new LocalNode(await tempHome(), 'alpha')
    await alpha.start()
    const alphaAddr = (await alpha.id()).addrs[0]
    alphaId = (await alpha.id()).peerId
    beta = new LocalNode(await tempHome(), 'beta')
    await beta.start(['--bootstrap', alphaAddr])
    const betaInfo = await beta.id()
    betaId = betaInfo.peerId
    await waitFor(async () => (await beta.peers()).some(p => p.peerId === alphaId && p.status === 'online'), { timeoutMs: 15_000, what: 'beta to see alpha' })
    const grant = await beta.cli(['trust', 'add', alphaId, '--role', 'exec'])
    assert.equal(grant.code, 0, grant.stderr)

    // mallory holds the mesh key (so it is a member with read) and nothing more
    malloryKey = await generateKeyPair('Ed25519')
    malloryId = peerIdFromPrivateKey(malloryKey).toString()
    mallory = await HostilePeer.create({ psk: await readFile(join(alpha.home, 'swarm.key')), privateKey: malloryKey })
    await mallory.node.handle(DEPLOY_SYNC_PROTOCOL, (stream, connection) => { void serveSync(stream, connection) })
    mallory.node.services.pubsub.subscribe(DEPLOY_TOPIC)
    await mallory.connect(betaInfo.addrs[0])
    await mallory.connect(alphaAddr)
    await waitFor(() => mallory.node.services.pubsub.getSubscribers(DEPLOY_TOPIC).some(p => p.toString() === betaId), { timeoutMs: 10_000, what: 'beta subscribed to deployments, as mallory sees it' })

    // a deployment of alpha's that beta runs: the attacks must not disturb it
    const r = await alpha.json<DeployResult>(['deploy', 'svc', '--on', 'all', '--replicas', 'every', '--', 'sleep', '600'])
    assert.equal(r.version, 1)
    await waitFor(async () => (await copies(beta, 'svc')).some(c => c.name === 'svc-v1-1' && c.state === 'running'), { timeoutMs: 15_000, what: 'beta to run svc-v1-1' })
  })

  after(async () => {
    // copies outlive their node (adopted on restart): stop the ones this test started
    const pids: number[] = []
    for (const node of [alpha, beta]) {
      if (node === undefined) continue
      try {
        for (const e of await node.json<LsEntry[]>(['ls'])) if (!('error' in e)) for (const p of e.processes) if (p.state === 'running') pids.push(p.pid)
      } catch {}
    }
    await mallory?.stop()
    await alpha?.stop()
    await beta?.stop()
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
    if (alpha !== undefined) await removeHome(alpha.home)
    if (beta !== undefined) await removeHome(beta.home)
    for (const m of markers) await removeHome(m)
  })

  it('a spec claiming alpha as author but signed by mallory is never stored or run, whether pushed in a digest or served in a sync answer', async () => {
    const touched = marker('forged')
    markers.push(touched)
    const forged = await signWith(malloryKey, spec(alphaId, { name: 'forged', argv: ['sh', '-c', `touch ${touched}`] }))
    let mark = beta.log.length

    // (a) pushed in mallory's own digest: only a spec's own author may push it
    await publish(digest({ spec: forged }))
    await betaLogs(mark, `rejected a digest from ${malloryId}`, `${alphaId} is not the digest's node ${malloryId}`)
    // a digest claiming to be alpha's, carrying the forgery: its gossip signer is mallory
    await publish({ ...digest({ spec: forged }), peerId: alphaId })
    await betaLogs(mark, `rejected a digest from ${malloryId} describing ${alphaId}`)
    // a digest of mallory's pushing a spec that names mallory as author, signed by another key
    const eve = await generateKeyPair('Ed25519')
    mark = beta.log.length
    await publish(digest({ spec: await signWith(eve, spec(malloryId, { name: 'forged', argv: ['sh', '-c', `touch ${touched}`] })) }))
    await betaLogs(mark, `refused a spec from ${malloryId}: digest.spec.sig: not a signature of this spec by its author ${malloryId}`)

    // (b) served in mallory's DEPLOY_SYNC answer when beta pulls
    mark = beta.log.length
    await serveToBeta('forged', okFrame([forged]))
    await betaLogs(mark, `refused a spec from ${malloryId}: specs[0].sig: not a signature of this spec by its author ${alphaId}`)

    await new Promise(resolve => setTimeout(resolve, 1000))
    assert.ok(!(await deployments(beta)).some(d => d.name === 'forged'), 'beta does not list the forgery')
    assert.ok(!(await storedOnBeta()).some(s => s.name === 'forged'), 'beta did not store the forgery')
    assert.deepEqual(await copies(beta, 'forged'), [])
    assert.equal(await exists(touched), false, 'the forged command never ran')
    // nor did alpha take it (mallory's answers and gossip reached it too)
    assert.ok(!(await deployments(alpha)).some(d => d.name === 'forged'))
    await betaServes()
  })

  it('a spec honestly signed by mallory (no exec on beta) never runs there, is audited as denied naming mallory, and cannot take over alpha\'s deployment', async () => {
    const touched = marker('honest')
    markers.push(touched)
    const svcBefore = (await copies(beta, 'svc')).find(c => c.name === 'svc-v1-1')
    const own = await signWith(malloryKey, spec(malloryId, { name: 'mallorys', argv: ['sh', '-c', `touch ${touched}; sleep 600`] }))
    // higher versions of alpha's deployment, by mallory: beta follows the newest spec of an author
    // it trusts; three of them, as many as a node keeps per name, must not push alpha's out
    const takeover: SignedSpec[] = []
    for (const version of [99, 100, 101]) takeover.push(await signWith(malloryKey, spec(malloryId, { name: 'svc', version, argv: ['sh', '-c', `touch ${touched}; sleep 600`] })))
    const mark = beta.log.length
    // mallory is the author, so pushing it in its own digest is the legitimate path
    await publish(digest({ spec: own }))
    await betaLogs(mark, `mallorys version 1 from ${malloryId}`)
    await serveToBeta('takeover', okFrame(takeover))

    const denied = await waitFor(async () => {
      const audit = await beta.json<AuditTargetEntry[]>(['audit'])
      const entries = audit.flatMap(e => 'entries' in e ? e.entries : [])
      return entries.find(e => e.event === 'deploy' && e.peerId === malloryId)
    }, { timeoutMs: 10_000, what: 'beta to audit its refusal of mallory\'s spec' })
    assert.equal(denied.decision, 'denied')
    assert.match(denied.reason ?? '', /deployment mallorys version 1 not run: .*lacks the exec role on beta/)
    assert.equal(denied.result, 'not started')

    await new Promise(resolve => setTimeout(resolve, 1000))
    assert.deepEqual(await copies(beta, 'mallorys'), [])
    const listed = (await deployments(beta)).find(d => d.name === 'mallorys')
    if (listed !== undefined) assert.equal(listed.here, 'no-exec', 'beta says why it does not run it')
    const svc = await copies(beta, 'svc')
    assert.deepEqual(svc.map(c => c.name), ['svc-v1-1'], 'beta runs only alpha\'s version of svc')
    assert.equal(svc[0].pid, svcBefore?.pid, 'alpha\'s copy was not restarted')
    const shown = (await deployments(beta)).find(d => d.name === 'svc')
    assert.equal(shown?.version, 1)
    assert.equal(shown?.author, alphaId)
    assert.equal(await exists(touched), false, 'mallory\'s command never ran on beta')
    await betaServes()
  })

  it('a replay of an older version of alpha\'s, after alpha redeployed and undeployed, brings nothing back', async () => {
    const first = await alpha.json<DeployResult>(['deploy', 'replay', '--on', 'all', '--replicas', 'every', '--', 'sleep', '600'])
    assert.equal(first.version, 1)
    await waitFor(async () => (await copies(beta, 'replay')).some(c => c.name === 'replay-v1-1' && c.state === 'running'), { timeoutMs: 15_000, what: 'beta to run replay-v1-1' })
    // mallory captures version 1 with a sync of its own against alpha (read: every member may)
    const reply = await mallory.ask(peerIdFromString(alphaId), DEPLOY_SYNC_PROTOCOL, { type: 'deploy-sync', have: [] })
    assert.equal(reply.status, 'ok', JSON.stringify(reply))
    const captured = (reply.result as { specs: SignedSpec[] }).specs.find(s => s.spec.name === 'replay' && s.spec.version === 1)
    assert.ok(captured !== undefined, 'alpha served version 1')

    const second = await alpha.json<DeployResult>(['deploy', 'replay', '--on', 'all', '--replicas', 'every', '--', 'sleep', '601'])
    assert.equal(second.version, 2)
    await waitFor(async () => {
      const c = await copies(beta, 'replay')
      return c.length === 1 && c[0].name === 'replay-v2-1' && c[0].state === 'running'
    }, { timeoutMs: 15_000, what: 'beta to run replay-v2-1 only' })
    const gone = await alpha.json<DeployResult>(['undeploy', 'replay'])
    assert.equal(gone.version, 3)
    assert.equal(gone.deleted, true)
    await waitFor(async () => (await copies(beta, 'replay')).length === 0, { timeoutMs: 15_000, what: 'beta to stop every copy of replay' })

    // replayed in mallory's sync answer (it verifies: alpha did sign it)
    await serveToBeta('replay', okFrame([captured]))
    // and pushed in mallory's digest: only its author may push a spec
    await publish(digest({ spec: captured }))
    // the same refusal as in the first case: beta warns once a minute per peer and kind of
    // refusal (a member must not flood the log), so this one is counted in the next line instead

    // a few reconcile passes (RECONCILE_TICK_MS 250 ms)
    await new Promise(resolve => setTimeout(resolve, 1500))
    assert.deepEqual(await copies(beta, 'replay'), [], 'no copy of replay runs on beta')
    assert.ok(!(await deployments(beta)).some(d => d.name === 'replay'), 'beta does not list replay')
    assert.deepEqual(await copies(alpha, 'replay'), [], 'nor on alpha')
    assert.ok(!(await deployments(alpha)).some(d => d.name === 'replay'))

    // the replay again, behind specs of mallory's own that would push alpha's undeploy out of
    // beta's store: (1) a flood of other names over MAX_STORED_SPECS (one sync answer holds at
    // most that many specs), (2) three higher versions of the name, as many as a node keeps per name
    const touched = marker('replay')
    markers.push(touched)
    const flood: SignedSpec[] = []
    for (let i = 0; flood.length < MAX_STORED_SPECS - 1; i++) flood.push(await signWith(malloryKey, spec(malloryId, { name: `flood${i}`, issuedAt: Date.now() - 1000 })))
    const higher: SignedSpec[] = []
    for (const version of [10, 11, 12]) higher.push(await signWith(malloryKey, spec(malloryId, { name: 'replay', version, argv: ['sh', '-c', `touch ${touched}; sleep 600`] })))
    for (const [tag, specs] of [['replay-flood', flood], ['replay-higher', higher]] as const) {
      await serveToBeta(tag, okFrame([...specs, captured]))
      await new Promise(resolve => setTimeout(resolve, 1500))
      assert.deepEqual(await copies(beta, 'replay'), [], `no copy of replay runs on beta (${tag})`)
      assert.ok(!(await deployments(beta)).some(d => d.name === 'replay'), `beta still follows alpha's undeploy (${tag})`)
      assert.ok((await storedOnBeta()).some(s => s.name === 'replay' && s.version === 3 && s.author === alphaId), `beta kept alpha's undeploy (${tag})`)
    }
    assert.equal(await exists(touched), false)
    await betaServes()
  })

  it('an oversized spec, a malformed sync answer and garbage digests are refused; beta keeps serving and replicating', async () => {
    const touched = marker('big')
    markers.push(touched)
    // honestly signed, so only its size is wrong
    const big = await signWith(malloryKey, spec(malloryId, { name: 'oversized', argv: ['sh', '-c', `touch ${touched}; : ${'x'.repeat(MAX_SPEC_BYTES)}`] }))
    assert.ok(Buffer.byteLength(JSON.stringify(big)) > MAX_SPEC_BYTES)
    let mark = beta.log.length
    await serveToBeta('oversized', okFrame([big]))
    // pushed in mallory's digest: under the digest's byte cap, over a spec's
    await publish(digest({ spec: big }))
    await betaLogs(mark, `rejected a digest from ${malloryId}`, `over the ${MAX_SPEC_BYTES}-byte cap of a spec`)

    // sync answers that are not DEPLOY_SYNC results, or not JSON
    await serveToBeta('shape', enc.encode(JSON.stringify({ status: 'ok', result: { specs: 'all of them', digest: 7 } })))
    await serveToBeta('junk', enc.encode('\u0000not json'))
    await serveToBeta('no-envelope', enc.encode(JSON.stringify({ specs: [], digest: null })))

    // digests that are not JSON, not UTF-8, or not a digest
    mark = beta.log.length
    await publish(enc.encode('{"v":1,"peerId":'))
    await publish(new Uint8Array([0xff, 0xfe, 0xfd]))
    await publish({ v: 2, peerId: malloryId })
    await publish(digest({ entries: [{ n: 'svc', h: 'zz', a: 'run', r: 1e9, o: -1 }] }))
    await publish(new Uint8Array(MAX_SPEC_BYTES * 2).fill(0x20))
    await betaLogs(mark, 'not valid UTF-8 JSON', 'unsupported version 2', 'digest.entries[0].h', 'over the')

    await new Promise(resolve => setTimeout(resolve, 1000))
    assert.ok(!(await storedOnBeta()).some(s => s.name === 'oversized'))
    assert.ok(!(await deployments(beta)).some(d => d.name === 'oversized'))
    assert.deepEqual(await copies(beta, 'oversized'), [])
    assert.equal(await exists(touched), false)
    await betaServes()

    // replication still works after all of it: alpha's undeploy reaches beta, which stops its copy
    await alpha.json<DeployResult>(['undeploy', 'svc'])
    await waitFor(async () => (await copies(beta, 'svc')).length === 0, { timeoutMs: 15_000, what: 'beta to stop svc after alpha undeployed it' })
    assert.equal(beta.proc?.exitCode, null)
  })
})

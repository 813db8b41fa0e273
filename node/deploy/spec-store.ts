/**
 * The deployment specs a node holds, in memory and in `deployments.json` in its home, so they
 * survive restarts. Every spec that enters is validated and its signature checked; which ones
 * are kept is protocols/deploy.ts's `specsToKeep`, which keeps the specs of the authors this host
 * trusts with exec however many specs others sign.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { errnoCode, errorMessage } from '../../protocols/errors.js'
import {
  indexHash, specHash, specsToKeep, validateSignedSpec, verifySignedSpec, winningSpec, type SignedSpec
} from '../../protocols/deploy.js'
import { expectArray, expectRecord } from '../../protocols/validate.js'
import type { Logger } from '../logger.js'

/** A held spec with its hash computed once. */
export interface HeldSpec extends SignedSpec { hash: string }

export type OfferResult = 'added' | 'known' | 'superseded'

export class SpecStore {
  private readonly file: string
  private readonly log: Logger
  /** whether an author holds exec on this host: its specs are never pushed out by others' */
  private readonly trusted: (author: string) => boolean
  private specs = new Map<string, HeldSpec>()
  private writing: Promise<void> = Promise.resolve()
  private cachedIndex?: string

  constructor (file: string, log: Logger, trusted: (author: string) => boolean = () => true) {
    this.file = file
    this.log = log
    this.trusted = trusted
  }

  /** Read the file; specs that no longer validate or verify are dropped with a warning. */
  async load (): Promise<void> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err: unknown) {
      if (errnoCode(err) === 'ENOENT') return
      throw new Error(`cannot read ${this.file}: ${errorMessage(err)}`)
    }
    let list: unknown[]
    try {
      list = expectArray(expectRecord(JSON.parse(text), 'deployments').specs, 'deployments.specs', 100_000)
    } catch (err: unknown) {
      this.log.warn('%s is not a deployments file (%s); starting with no specs (peers will send them again)', this.file, errorMessage(err))
      return
    }
    for (const [i, raw] of list.entries()) {
      try {
        // a stored spec's issuedAt is in the past by now: no skew check against a later clock
        const s = validateSignedSpec(raw, `specs[${i}]`, Number.MAX_SAFE_INTEGER)
        await verifySignedSpec(s, `specs[${i}]`)
        this.specs.set(specHash(s.spec), { ...s, hash: specHash(s.spec) })
      } catch (err: unknown) {
        this.log.warn('%s: dropped a spec: %s', this.file, errorMessage(err))
      }
    }
    this.prune()
  }

  /**
   * Take a spec from a peer or the local user: validated, its signature checked (throws
   * InvalidFieldError naming the problem). `superseded`: valid but older than what is kept.
   */
  async offer (value: unknown, path = 'spec'): Promise<OfferResult> {
    const s = validateSignedSpec(value, path)
    const hash = specHash(s.spec)
    if (this.specs.has(hash)) return 'known'
    await verifySignedSpec(s, path)
    if (this.specs.has(hash)) return 'known'
    this.specs.set(hash, { ...s, hash })
    this.prune()
    if (!this.specs.has(hash)) return 'superseded'
    this.save()
    return 'added'
  }

  private prune (): void {
    const kept = specsToKeep([...this.specs.values()], this.trusted)
    this.specs = new Map(kept.map(s => [s.hash, s]))
    this.cachedIndex = undefined
  }

  /** Write the file (atomically: a crash leaves the old or the new file, never half of one). */
  private save (): void {
    const body = JSON.stringify({ version: 1, specs: [...this.specs.values()].map(({ spec, sig }) => ({ spec, sig })) }) + '\n'
    this.writing = this.writing.then(async () => {
      const tmp = `${this.file}.tmp`
      await writeFile(tmp, body, { mode: 0o600 })
      await rename(tmp, this.file)
    }).catch((err: unknown) => { this.log.error('cannot write %s: %s', this.file, errorMessage(err)) })
  }

  /** Resolves when every write so far is on disk. */
  async flushed (): Promise<void> {
    await this.writing
  }

  all (): HeldSpec[] {
    return [...this.specs.values()]
  }

  hashes (): string[] {
    return [...this.specs.keys()]
  }

  has (hash: string): boolean {
    return this.specs.has(hash)
  }

  /** The short hash of the set held (gossiped in the digest). */
  index (): string {
    this.cachedIndex ??= indexHash(this.specs.keys())
    return this.cachedIndex
  }

  names (): string[] {
    return [...new Set([...this.specs.values()].map(s => s.spec.name))].sort()
  }

  ofName (name: string): HeldSpec[] {
    return [...this.specs.values()].filter(s => s.spec.name === name)
  }

  /** The winning spec of a name among authors `trusted` accepts (protocols/deploy.ts conflict rule). */
  winner (name: string, trusted?: (author: string) => boolean): HeldSpec | undefined {
    return winningSpec(this.ofName(name), trusted)
  }

  /** The highest version held for a name (a new deploy or undeploy takes the next). */
  maxVersion (name: string): number {
    return this.ofName(name).reduce((m, s) => Math.max(m, s.spec.version), 0)
  }
}

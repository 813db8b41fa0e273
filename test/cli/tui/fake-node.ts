/**
 * A stand-in for the node's control API, for the data-source and app tests and the
 * bench: handlers per method, streamed notifications, and a switch that makes the
 * "node" go away and come back.
 */
import { UnknownMethodError } from '../../../protocols/control.js'
import { ProcmeshError } from '../../../protocols/errors.js'
import { ControlClient, type CallOptions, type ControlTransport } from '../../../cli/control-client.js'

export type FakeHandler = (params: unknown, notify: (data: unknown) => void) => Promise<unknown> | unknown

export interface FakeCall { method: string, params: unknown }

export class FakeNode {
  readonly handlers = new Map<string, FakeHandler>()
  readonly calls: FakeCall[] = []
  up = true
  private readonly clients = new Set<FakeConnection>()

  /** A typed client over a fake connection: answers are validated as the node's would be. */
  connect = async (): Promise<ControlClient> => {
    if (!this.up) throw new ProcmeshError('NO_NODE', 'no node is running for home /fake')
    const c = new FakeConnection(this)
    this.clients.add(c)
    return new ControlClient(c)
  }

  /** The node dies: every connection closes, new ones fail until `start()`. */
  crash (): void {
    this.up = false
    for (const c of [...this.clients]) c.drop()
  }

  start (): void {
    this.up = true
  }

  forget (c: FakeConnection): void {
    this.clients.delete(c)
  }

  get openConnections (): number {
    return this.clients.size
  }

  count (method: string): number {
    return this.calls.filter(c => c.method === method).length
  }
}

class FakeConnection implements ControlTransport {
  private readonly node: FakeNode
  private readonly closeHandlers: Array<() => void> = []
  private closed = false
  private readonly pending = new Set<(err: Error) => void>()

  constructor (node: FakeNode) {
    this.node = node
  }

  async call (method: string, params: unknown, opts: CallOptions = {}): Promise<unknown> {
    if (this.closed) throw new ProcmeshError('UNAVAILABLE', 'control connection closed')
    this.node.calls.push({ method, params })
    const handler = this.node.handlers.get(method)
    if (handler === undefined) throw new UnknownMethodError(`unknown method "${method}"`)
    return await new Promise<unknown>((resolve, reject) => {
      this.pending.add(reject)
      Promise.resolve(handler(params, data => { if (!this.closed) opts.onData?.(data) })).then(v => {
        this.pending.delete(reject)
        if (!this.closed) resolve(v)
      }, (err: unknown) => {
        this.pending.delete(reject)
        reject(err instanceof Error ? err : new Error(String(err)))
      })
    })
  }

  onClose (handler: () => void): void {
    this.closeHandlers.push(handler)
  }

  close (): void {
    this.drop()
  }

  drop (): void {
    if (this.closed) return
    this.closed = true
    this.node.forget(this)
    for (const reject of this.pending) reject(new ProcmeshError('UNAVAILABLE', 'the node closed the connection'))
    this.pending.clear()
    for (const h of this.closeHandlers) h()
  }
}

export function sleep (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}

/** Poll until `check` holds, or fail after `ms`. */
export async function until (check: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

/** Serve the mesh protocols from HostServices, as a node part: one table says what is served. */
import { HISTORY, LIST, LOGS, START, STOP } from '../../protocols/messages.js'
import type { HostServices } from '../host/host-services.js'
import type { ProcmeshLibp2p } from './libp2p.js'
import type { ProtocolDescriptor } from '../../protocols/wire.js'
import { serveProtocol, type RequestHandler, type ServeOptions } from './reqresp.js'

/** One row of the table: a protocol and its handler, registered and unregistered together. */
export interface ServedProtocol {
  id: string
  serve: (libp2p: ProcmeshLibp2p, opts: ServeOptions) => Promise<void>
}

export function servedProtocol<Req, Res> (desc: ProtocolDescriptor<Req, Res>, handler: RequestHandler<Req>): ServedProtocol {
  return { id: desc.id, serve: async (libp2p, opts) => { await serveProtocol(libp2p, desc, handler, opts) } }
}

/** The protocols this host serves, each answered by HostServices. */
export function hostProtocols (s: HostServices): ServedProtocol[] {
  return [
    servedProtocol(LIST, async req => await s.list(req)),
    servedProtocol(HISTORY, async req => s.history(req)),
    servedProtocol(START, async (req, ctx) => await s.control.start(req, ctx.remotePeer.toString())),
    servedProtocol(STOP, async (req, ctx) => {
      if (req.graceMs !== undefined) ctx.extendDeadline()
      return await s.control.stop(req, ctx.remotePeer.toString())
    }),
    servedProtocol(LOGS, async (req, ctx) => {
      if (req.follow) ctx.extendDeadline()
      return await s.control.logs(req, async chunk => { await ctx.more(chunk) }, ctx.signal)
    })
  ]
}

export class MeshProtocols {
  private readonly libp2p: ProcmeshLibp2p
  private readonly table: readonly ServedProtocol[]
  private readonly opts: ServeOptions
  /** what start() registered, so stop() unregisters exactly that (also after a start that failed half-way) */
  private registered: string[] = []

  constructor (libp2p: ProcmeshLibp2p, services: HostServices, opts: ServeOptions) {
    this.libp2p = libp2p
    this.table = hostProtocols(services)
    this.opts = opts
  }

  async start (): Promise<void> {
    if (this.registered.length > 0) return
    for (const p of this.table) {
      await p.serve(this.libp2p, this.opts)
      this.registered.push(p.id)
    }
  }

  async stop (): Promise<void> {
    const ids = this.registered
    this.registered = []
    if (ids.length > 0) await this.libp2p.unhandle(ids)
  }
}

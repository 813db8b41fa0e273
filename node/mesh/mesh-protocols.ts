/** Serve the mesh protocols from HostServices, as a node part: one table says what is served. */
import { ProcmeshError } from '../../protocols/errors.js'
import { HISTORY, LIST, LOGS, LOGS_FOLLOW, MANAGED, REMOVE, RESTART, START, STOP, SUMMARY, type LogsRequest } from '../../protocols/messages.js'
import type { Summary } from '../../protocols/types.js'
import type { ProtocolDescriptor } from '../../protocols/wire.js'
import type { HostServices } from '../host/host-services.js'
import type { ProcmeshLibp2p } from './libp2p.js'
import { serveProtocol, type RequestHandler, type ServeOptions } from './reqresp.js'

/** One row of the table: a protocol and its handler, registered and unregistered together. */
export interface ServedProtocol {
  id: string
  serve: (libp2p: ProcmeshLibp2p, opts: ServeOptions) => Promise<void>
}

export function servedProtocol<Req, Res> (desc: ProtocolDescriptor<Req, Res>, handler: RequestHandler<Req>): ServedProtocol {
  return { id: desc.id, serve: async (libp2p, opts) => { await serveProtocol(libp2p, desc, handler, opts) } }
}

/** The protocols this host serves: its processes from HostServices, its own summary from `selfSummary`. */
export function hostProtocols (s: HostServices, selfSummary: () => Summary | undefined): ServedProtocol[] {
  // plain logs and follows: one handler; follows come over their own protocol (own stream cap)
  const logs: RequestHandler<LogsRequest> = async (req, ctx) => {
    if (req.follow) ctx.extendDeadline()
    return await s.control.logs(req, async chunk => { await ctx.more(chunk) }, ctx.signal)
  }
  return [
    servedProtocol(LIST, async req => await s.list(req)),
    servedProtocol(SUMMARY, async () => {
      const summary = selfSummary()
      if (summary === undefined) throw new ProcmeshError('UNAVAILABLE', 'no summary yet: the first sample is still being taken')
      return summary
    }),
    servedProtocol(HISTORY, async req => s.history(req)),
    servedProtocol(START, async (req, ctx) => await s.control.start(req, ctx.remotePeer.toString())),
    servedProtocol(STOP, async (req, ctx) => {
      if (req.graceMs !== undefined) ctx.extendDeadline()
      return await s.control.stop(req, ctx.remotePeer.toString())
    }),
    servedProtocol(LOGS, logs),
    servedProtocol(LOGS_FOLLOW, logs),
    servedProtocol(MANAGED, async () => s.managed()),
    servedProtocol(RESTART, async (req, ctx) => await s.control.restart(req, ctx.remotePeer.toString())),
    servedProtocol(REMOVE, async (req, ctx) => await s.control.remove(req, ctx.remotePeer.toString()))
  ]
}

export class MeshProtocols {
  private readonly libp2p: ProcmeshLibp2p
  private readonly table: readonly ServedProtocol[]
  private readonly opts: ServeOptions
  /** what start() registered, so stop() unregisters exactly that (also after a start that failed half-way) */
  private registered: string[] = []

  /** extra: protocols of other node parts (deployments), served and unregistered with the rest */
  constructor (libp2p: ProcmeshLibp2p, services: HostServices, opts: ServeOptions & { selfSummary: () => Summary | undefined, extra?: readonly ServedProtocol[] }) {
    this.libp2p = libp2p
    this.table = [...hostProtocols(services, opts.selfSummary), ...(opts.extra ?? [])]
    this.opts = opts
  }

  async start (): Promise<void> {
    if (this.registered.length > 0) return
    // registered together: each registration updates this node's record in the peer store,
    // and one after the other they were ~70 ms of the node's start-up
    const results = await Promise.allSettled(this.table.map(async p => { await p.serve(this.libp2p, this.opts); return p.id }))
    for (const r of results) if (r.status === 'fulfilled') this.registered.push(r.value)
    const failed = results.find(r => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  }

  async stop (): Promise<void> {
    const ids = this.registered
    this.registered = []
    if (ids.length > 0) await this.libp2p.unhandle(ids)
  }
}

/** Serve the mesh protocols from HostServices, as a node part. */
import { ProcmeshError } from '../../protocols/errors.js'
import { HISTORY, LIST, LOGS, START, STOP, SUMMARY } from '../../protocols/messages.js'
import type { Summary } from '../../protocols/types.js'
import type { HostServices } from '../host/host-services.js'
import type { ProcmeshLibp2p } from './libp2p.js'
import { serveProtocol, type ServeOptions } from './reqresp.js'

export class MeshProtocols {
  private readonly libp2p: ProcmeshLibp2p
  private readonly services: HostServices
  private readonly opts: ServeOptions
  private readonly selfSummary: () => Summary | undefined
  private started = false

  constructor (libp2p: ProcmeshLibp2p, services: HostServices, opts: ServeOptions & { selfSummary: () => Summary | undefined }) {
    this.libp2p = libp2p
    this.services = services
    this.opts = opts
    this.selfSummary = opts.selfSummary
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    const s = this.services
    // registered together: each registration updates this node's record in the peer store,
    // and one after the other they were ~70 ms of the node's start-up
    await Promise.all([
      serveProtocol(this.libp2p, LIST, async req => await s.list(req), this.opts),
      serveProtocol(this.libp2p, SUMMARY, async () => {
        const summary = this.selfSummary()
        if (summary === undefined) throw new ProcmeshError('UNAVAILABLE', 'no summary yet: the first sample is still being taken')
        return summary
      }, this.opts),
      serveProtocol(this.libp2p, HISTORY, async req => s.history(req), this.opts),
      serveProtocol(this.libp2p, START, async (req, ctx) => await s.control.start(req, ctx.remotePeer.toString()), this.opts),
      serveProtocol(this.libp2p, STOP, async (req, ctx) => {
        if (req.graceMs !== undefined) ctx.extendDeadline()
        return await s.control.stop(req, ctx.remotePeer.toString())
      }, this.opts),
      serveProtocol(this.libp2p, LOGS, async (req, ctx) => {
        if (req.follow) ctx.extendDeadline()
        return await s.control.logs(req, async chunk => { await ctx.more(chunk) }, ctx.signal)
      }, this.opts)
    ])
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.libp2p.unhandle([LIST.id, SUMMARY.id, HISTORY.id, START.id, STOP.id, LOGS.id])
  }
}

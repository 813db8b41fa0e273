/**
 * `procmesh web`'s HTTP server (node:http only): the static page, the JSON API and
 * the event stream, in front of the local node's control API. It adds no rights of
 * its own: every action is a control-API call, and the targets' roles decide.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { errorMessage } from '../../protocols/errors.js'
import { PROCMESH_VERSION } from '../../protocols/ids.js'
import { MAX_WEB_LOG_FOLLOWS } from '../../protocols/limits.js'
import { withClient } from '../control-client.js'
import {
  bearerToken, formatHostPort, isLoopback, isLoopbackHostHeader, originMatches, tokenMatches, type ListenAddress
} from './access.js'
import {
  fetchManaged, fetchPeers, followLogs, getDeployments, getHistory, getHosts, getLogs, getManaged, getProcesses, ok, restartManaged, signalProcess, startProcess, type ApiResponse, type WithNode
} from './api.js'
import { HttpError, badRequest, controlDisabled, httpErrorFrom, methodNotAllowed, notFound } from './http-errors.js'
import type { ErrorJson } from './api-types.js'
import { ManagedWatcher } from './managed-events.js'
import { ConnectionGuard, FIRST_REQUEST_TIMEOUT_MS, HEADERS_CHECK_INTERVAL_MS } from './connection-guard.js'
import { PeerPoller, type MeshEvent } from './mesh-events.js'
import { loadStaticAssets, type StaticAsset } from './page.js'
import {
  parseDeploymentsQuery, parseHistoryQuery, parseJsonBody, parseLogsQuery, parseManagedQuery, parseProcessesQuery, parseRestartRequest, parseSignalRequest, parseStartBody,
  type LogsQuery
} from './requests.js'

/** The largest request body: a start's argv and env are capped far below this by the protocol. */
export const MAX_BODY_BYTES = 1024 * 1024
/** Browsers open one stream per tab; this bounds what a runaway script can hold open. */
export const MAX_EVENT_CLIENTS = 64
/** A comment line this often keeps idle event streams open through proxies and NATs. */
export const EVENT_KEEPALIVE_MS = 15_000
/** An event stream whose client reads slower than this much backlog is dropped (it reconnects and gets a snapshot). */
export const MAX_EVENT_BACKLOG_BYTES = 1024 * 1024
/** Whole request (headers and body) must arrive within this; event streams are responses, not affected. */
const REQUEST_TIMEOUT_MS = 30_000

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  // the page is one script and one stylesheet from here; nothing inline, nothing from elsewhere
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

export interface WebServerOptions {
  listen: ListenAddress
  /** the node's home: the control socket is there */
  home: string
  allowControl: boolean
  /** when set, every /api request must carry `Authorization: Bearer <token>` */
  token?: string
  /** runs control-API calls; default: a fresh connection to the node in `home` per call */
  node?: WithNode
  pollIntervalMs?: number
  /** how often managed processes are compared for exit notices (default MANAGED_POLL_INTERVAL_MS) */
  managedPollIntervalMs?: number
  maxBodyBytes?: number
  /** diagnostics (never a token or a header) */
  log?: (line: string) => void
}

/** A WithNode that opens a fresh control connection per call, so a node restart costs no state. */
export function nodeClient (home: string): WithNode {
  return async fn => await withClient(home, fn)
}

interface Route {
  methods: readonly string[]
  handle: (req: IncomingMessage, url: URL, res: ServerResponse, match: RegExpExecArray) => Promise<ApiResponse | undefined>
}

export class WebServer {
  private readonly opts: WebServerOptions
  private readonly node: WithNode
  private readonly poller: PeerPoller
  private readonly managed: ManagedWatcher
  private readonly log: (line: string) => void
  private readonly eventStreams = new Set<ServerResponse>()
  /** open `GET /api/logs?follow=1` streams */
  private readonly logStreams = new Set<ServerResponse>()
  /** first-request deadline, per-address caps and the connection table (connection-guard.ts) */
  private readonly connections = new ConnectionGuard()
  private readonly routes: Array<[RegExp, Route]>
  private server?: Server
  private boundPort?: number
  private assets: ReadonlyMap<string, StaticAsset> = new Map()

  constructor (opts: WebServerOptions) {
    // control starts processes as the node's user: on loopback too, any local user could (issue 17 finding 12)
    if (opts.allowControl && opts.token === undefined) throw new Error('allowControl needs an API token: control is never served without one')
    this.opts = opts
    this.node = opts.node ?? nodeClient(opts.home)
    this.log = opts.log ?? (() => {})
    this.poller = new PeerPoller({
      fetchPeers: async () => await fetchPeers(this.node),
      intervalMs: opts.pollIntervalMs,
      onListenerError: err => { this.log(`event listener failed: ${errorMessage(err)}`) }
    })
    this.managed = new ManagedWatcher({
      fetchManaged: async () => await fetchManaged(this.node),
      intervalMs: opts.managedPollIntervalMs,
      onListenerError: err => { this.log(`event listener failed: ${errorMessage(err)}`) }
    })
    this.routes = [
      [/^\/api\/info$/, { methods: ['GET'], handle: async () => ok(this.info()) }],
      [/^\/api\/hosts$/, { methods: ['GET'], handle: async (_req, _url, res) => await getHosts(this.node, abortOnClose(res)) }],
      [/^\/api\/processes$/, {
        methods: ['GET', 'POST'],
        handle: async (req, url, res) => {
          if (req.method === 'GET') return await getProcesses(this.node, parseProcessesQuery(url.searchParams), abortOnClose(res))
          this.requireControl()
          return await startProcess(this.node, parseStartBody(await this.readJson(req)))
        }
      }],
      [/^\/api\/processes\/([^/]+)\/([^/]+)\/signal$/, {
        methods: ['POST'],
        handle: async (req, _url, _res, m) => {
          this.requireControl()
          return await signalProcess(this.node, parseSignalRequest(decodeSegment(m[1], 'host'), decodeSegment(m[2], 'pid'), await this.readJson(req)))
        }
      }],
      [/^\/api\/managed$/, { methods: ['GET'], handle: async (_req, url, res) => await getManaged(this.node, parseManagedQuery(url.searchParams), abortOnClose(res)) }],
      [/^\/api\/managed\/([^/]+)\/([^/]+)\/restart$/, {
        methods: ['POST'],
        handle: async (req, _url, _res, m) => {
          this.requireControl()
          return await restartManaged(this.node, parseRestartRequest(decodeSegment(m[1], 'host'), decodeSegment(m[2], 'ref'), await this.readJson(req)))
        }
      }],
      [/^\/api\/history$/, { methods: ['GET'], handle: async (_req, url, res) => await getHistory(this.node, parseHistoryQuery(url.searchParams, Date.now()), abortOnClose(res)) }],
      [/^\/api\/deployments$/, { methods: ['GET'], handle: async (_req, url, res) => await getDeployments(this.node, parseDeploymentsQuery(url.searchParams), abortOnClose(res)) }],
      [/^\/api\/logs$/, {
        methods: ['GET'],
        handle: async (req, url, res) => {
          const query = parseLogsQuery(url.searchParams)
          if (!query.follow) return await getLogs(this.node, query, abortOnClose(res))
          this.openLogStream(req, res, query)
          return undefined
        }
      }],
      [/^\/api\/events$/, { methods: ['GET'], handle: async (req, _url, res) => { this.openEventStream(req, res); return undefined } }]
    ]
  }

  get tokenRequired (): boolean {
    return this.opts.token !== undefined
  }

  /** The base URL, once listening. */
  get url (): string {
    if (this.boundPort === undefined) throw new Error('the web server is not listening')
    return `http://${formatHostPort(this.opts.listen.host, this.boundPort)}/`
  }

  get port (): number | undefined {
    return this.boundPort
  }

  /** True while the shared poller asks the node for peers (only while an event stream is open). */
  get eventsPolling (): boolean {
    return this.poller.running
  }

  get eventClients (): number {
    return this.eventStreams.size
  }

  async start (): Promise<void> {
    if (this.server !== undefined) return
    if (!isLoopback(this.opts.listen.host) && this.opts.token === undefined) {
      throw new Error(`refusing to serve ${this.opts.listen.host} without an API token: it is not a loopback address`)
    }
    this.assets = await loadStaticAssets()
    // Node checks its headers timeout this often (default 30 s): a keep-alive connection's later
    // request heads are held to the timeout too, not only the first (connection-guard.ts)
    const server = createServer({ connectionsCheckingInterval: HEADERS_CHECK_INTERVAL_MS }, (req, res) => { this.onRequest(req, res) })
    server.requestTimeout = REQUEST_TIMEOUT_MS
    server.headersTimeout = FIRST_REQUEST_TIMEOUT_MS
    this.connections.attach(server)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host: this.opts.listen.host, port: this.opts.listen.port }, () => { server.off('error', reject); resolve() })
    })
    server.on('error', err => { this.log(`http server error: ${err.message}`) })
    this.server = server
    this.boundPort = (server.address() as AddressInfo).port
  }

  async stop (): Promise<void> {
    const server = this.server
    this.poller.stop()
    this.managed.stop()
    for (const res of this.eventStreams) res.end()
    this.eventStreams.clear()
    for (const res of this.logStreams) res.end()
    this.logStreams.clear()
    if (server === undefined) return
    this.server = undefined
    const closed = new Promise<void>(resolve => server.close(() => { resolve() }))
    for (const sock of this.connections.sockets()) sock.destroy()
    await closed
  }

  private info (): Record<string, unknown> {
    return { version: PROCMESH_VERSION, allowControl: this.opts.allowControl, tokenRequired: this.tokenRequired }
  }

  private requireControl (): void {
    if (!this.opts.allowControl) throw controlDisabled()
  }

  private onRequest (req: IncomingMessage, res: ServerResponse): void {
    this.serve(req, res).catch((err: unknown) => {
      const e = httpErrorFrom(err)
      if (e.status >= 500 && e.code === 'SERVER_ERROR') this.log(`${req.method ?? '?'} ${pathOf(req)}: ${e.message}`)
      if (res.headersSent) { res.destroy(); return }
      sendJson(res, e.status, e.toJSON(), e.headers)
    })
  }

  private async serve (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://procmesh.invalid')
    if (isLoopback(this.opts.listen.host) && !isLoopbackHostHeader(req.headers.host)) {
      throw new HttpError(403, 'FORBIDDEN', `Host ${JSON.stringify((req.headers.host ?? '').slice(0, 100))} is not a loopback name; open the dashboard as http://127.0.0.1:${this.boundPort ?? ''}/ (DNS rebinding protection)`)
    }
    if (url.pathname === '/api' || url.pathname.startsWith('/api/')) {
      await this.serveApi(req, res, url)
      return
    }
    const asset = this.assets.get(url.pathname)
    if (asset === undefined) throw notFound(`no page at ${url.pathname}`)
    if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(req.method ?? '?', url.pathname, ['GET', 'HEAD'])
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': asset.type, 'Content-Length': Buffer.byteLength(asset.body), 'Cache-Control': 'no-cache' })
    res.end(req.method === 'HEAD' ? undefined : asset.body)
  }

  private async serveApi (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    // no CORS headers are ever sent, so other origins cannot read answers; this also
    // stops them from sending (a form post, a no-cors fetch) when the browser says who they are
    if (!originMatches(headerOf(req, 'origin'), req.headers.host) || headerOf(req, 'sec-fetch-site') === 'cross-site') {
      throw new HttpError(403, 'FORBIDDEN', 'cross-origin requests are not accepted; use the dashboard served here')
    }
    if (this.opts.token !== undefined) {
      const presented = bearerToken(headerOf(req, 'authorization'))
      const challenge = { 'WWW-Authenticate': 'Bearer realm="procmesh"' }
      if (presented === undefined) throw new HttpError(401, 'UNAUTHORIZED', 'missing API token: send Authorization: Bearer TOKEN (the token is in web.token in the node\'s home)', challenge)
      if (!tokenMatches(presented, this.opts.token)) throw new HttpError(401, 'UNAUTHORIZED', 'wrong API token', challenge)
    }
    for (const [pattern, route] of this.routes) {
      const m = pattern.exec(url.pathname)
      if (m === null) continue
      const method = req.method ?? ''
      if (!route.methods.includes(method)) throw methodNotAllowed(method, url.pathname, route.methods)
      const answer = await route.handle(req, url, res, m)
      if (answer !== undefined) sendJson(res, answer.status, answer.body)
      return
    }
    throw notFound(`no API endpoint ${url.pathname}`)
  }

  /** A JSON body of at most maxBodyBytes, sent as application/json (which a cross-site form cannot send). */
  private async readJson (req: IncomingMessage): Promise<unknown> {
    const max = this.opts.maxBodyBytes ?? MAX_BODY_BYTES
    const type = (headerOf(req, 'content-type') ?? '').split(';')[0].trim().toLowerCase()
    if (type !== 'application/json') {
      throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type: expected application/json, got ${JSON.stringify(type === '' ? 'none' : type.slice(0, 80))}`)
    }
    const declared = Number(headerOf(req, 'content-length'))
    if (Number.isFinite(declared) && declared > max) throw tooLarge(req, max)
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk))
      size += buf.length
      if (size > max) throw tooLarge(req, max)
      chunks.push(buf)
    }
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks))
    } catch {
      throw badRequest('body: not valid UTF-8')
    }
    return parseJsonBody(text)
  }

  /**
   * A log follow as server-sent events: `chunk` per piece of output, then `end` when the
   * process exits, or `error` when the node or the target fails (the stream then ends).
   * Errors found before the stream opens (an unknown host, a missing node) cannot be
   * told with a status any more, so they come as `error` too.
   */
  private openLogStream (req: IncomingMessage, res: ServerResponse, query: LogsQuery): void {
    if (this.logStreams.size >= MAX_WEB_LOG_FOLLOWS) throw new HttpError(503, 'BUSY', `too many log follows open (${MAX_WEB_LOG_FOLLOWS}); close some log panels`)
    startEventStream(req, res)
    this.logStreams.add(res)
    const abort = new AbortController()
    let seq = 0
    const write = (event: string, data: unknown): void => {
      if (res.writableEnded || res.destroyed) return
      // a reader this far behind is dropped rather than held in memory
      if (res.writableLength > MAX_EVENT_BACKLOG_BYTES) { res.destroy(); abort.abort(); return }
      res.write(`id: ${++seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    }
    res.write('retry: 2000\n\n')
    const keepalive = setInterval(() => { if (!res.writableEnded) res.write(': keepalive\n\n') }, EVENT_KEEPALIVE_MS)
    res.once('close', () => {
      clearInterval(keepalive)
      abort.abort()
      this.logStreams.delete(res)
    })
    followLogs(this.node, query, chunk => { write('chunk', chunk) }, abort.signal).then(end => {
      write('end', end)
    }, (err: unknown) => {
      if (abort.signal.aborted) return
      const e = httpErrorFrom(err)
      write('error', { code: e.code, message: e.message } satisfies ErrorJson)
    }).finally(() => {
      clearInterval(keepalive)
      res.end()
    }).catch(() => {})
  }

  private openEventStream (req: IncomingMessage, res: ServerResponse): void {
    if (this.eventStreams.size >= MAX_EVENT_CLIENTS) throw new HttpError(503, 'BUSY', `too many event streams open (${MAX_EVENT_CLIENTS}); close some dashboards`)
    startEventStream(req, res)
    this.eventStreams.add(res)
    let seq = 0
    const write = (text: string): void => {
      if (res.writableLength > MAX_EVENT_BACKLOG_BYTES) { res.destroy(); return }
      res.write(text)
    }
    write('retry: 2000\n\n')
    const send = (event: MeshEvent): void => {
      write(`id: ${++seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)
    }
    const unsubscribe = this.poller.subscribe(send)
    const unsubscribeManaged = this.managed.subscribe(send)
    const keepalive = setInterval(() => { write(': keepalive\n\n') }, EVENT_KEEPALIVE_MS)
    const close = (): void => {
      clearInterval(keepalive)
      unsubscribe()
      unsubscribeManaged()
      this.eventStreams.delete(res)
    }
    res.once('close', close)
  }
}

function headerOf (req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

function pathOf (req: IncomingMessage): string {
  return (req.url ?? '').split('?')[0]
}

function decodeSegment (segment: string, name: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw badRequest(`${name}: bad percent-encoding in the path`)
  }
}

/** 413, and the connection closes after the answer: the rest of the upload is not read. */
function tooLarge (req: IncomingMessage, max: number): HttpError {
  req.pause()
  return new HttpError(413, 'PAYLOAD_TOO_LARGE', `body: larger than ${max} bytes`, { Connection: 'close' })
}

/**
 * An AbortSignal that fires when the response closes: when the HTTP client goes away
 * the node stops working for nobody (after a normal answer the call is over anyway).
 */
function abortOnClose (res: ServerResponse): AbortSignal {
  const controller = new AbortController()
  res.once('close', () => { controller.abort() })
  return controller.signal
}

export function sendJson (res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store'
  })
  res.end(text)
}

/** Answer with a server-sent event stream that no idle timeout closes (keep-alives show liveness). */
function startEventStream (req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Accel-Buffering': 'no'
  })
  res.flushHeaders()
  req.socket.setTimeout(0)
}

/**
 * Connections of the web server before their first request (issue 17 finding 13): a client that
 * sends its headers a byte at a time held one of the server's connections for as long as Node's
 * headers timeout (checked only every 30 s), so twelve slow clients could keep the dashboard
 * from everyone for a minute. Here every connection must complete its first request head within
 * FIRST_REQUEST_TIMEOUT_MS; one address holds at most MAX_WAITING_PER_ADDRESS connections that
 * have not, and MAX_CONNECTIONS_PER_ADDRESS in all; and a full table makes room by closing the
 * connection that has waited longest for its headers, never by refusing the newcomer (on
 * loopback every local user shares one address, so refusing would lock the owner out too).
 */
import type { Server } from 'node:http'
import type { Socket } from 'node:net'

/** A browser sends its request head in one packet; 5 s is generous even over a slow link. */
export const FIRST_REQUEST_TIMEOUT_MS = 5000
/** How often Node checks request-head timeouts of later requests on kept-alive connections. */
export const HEADERS_CHECK_INTERVAL_MS = 1000
/** Connections still waiting for their first request head, per remote address. */
export const MAX_WAITING_PER_ADDRESS = 16
/** Connections per remote address: half the table, so one host cannot take all of it. */
export const MAX_CONNECTIONS_PER_ADDRESS = 128
/** Connections in all (keep-alive and event streams included): a local dashboard needs few. */
export const MAX_WEB_CONNECTIONS = 256

export class ConnectionGuard {
  /** every open connection, oldest first, and whether it is still waiting for its first request */
  private readonly open = new Map<Socket, { address: string, waiting: boolean, timer?: NodeJS.Timeout }>()

  /** Take over the server's connection handling (instead of server.maxConnections, which refuses). */
  attach (server: Server): void {
    server.on('connection', sock => { this.admit(sock) })
    server.on('request', req => { this.served(req.socket) })
  }

  get size (): number {
    return this.open.size
  }

  /** Every open connection (the server destroys them when it stops). */
  sockets (): Socket[] {
    return [...this.open.keys()]
  }

  private admit (sock: Socket): void {
    const address = sock.remoteAddress ?? '?'
    const mine = [...this.open].filter(([, s]) => s.address === address)
    if (mine.length >= MAX_CONNECTIONS_PER_ADDRESS) {
      // past its share: make room among its own waiting connections, else refuse this one
      if (!this.evictWaiting(address)) { sock.destroy(); return }
    } else if (mine.filter(([, s]) => s.waiting).length >= MAX_WAITING_PER_ADDRESS) {
      this.evictWaiting(address)
    }
    if (this.open.size >= MAX_WEB_CONNECTIONS && !this.evictWaiting()) { sock.destroy(); return }
    const timer = setTimeout(() => { if (this.open.get(sock)?.waiting === true) sock.destroy() }, FIRST_REQUEST_TIMEOUT_MS)
    timer.unref()
    this.open.set(sock, { address, waiting: true, timer })
    sock.once('close', () => {
      clearTimeout(this.open.get(sock)?.timer)
      this.open.delete(sock)
    })
  }

  private served (sock: Socket): void {
    const state = this.open.get(sock)
    if (state === undefined || !state.waiting) return
    state.waiting = false
    clearTimeout(state.timer)
  }

  /** Close the connection (of `address`, if given) that has waited longest for its headers. */
  private evictWaiting (address?: string): boolean {
    for (const [sock, s] of this.open) {
      if (!s.waiting || (address !== undefined && s.address !== address)) continue
      clearTimeout(s.timer)
      this.open.delete(sock)
      sock.destroy()
      return true
    }
    return false
  }
}

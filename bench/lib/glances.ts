/** A Glances REST server in one simulated host and an HTTP probe in another that polls it. */
import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { SimHost } from '../../testkit/sim-hosts.js'
import type { ProbeAnswer } from '../probe.js'
import { LineLog, within } from './lines.js'
import { REPO } from './pm.js'
import { stopChild } from './sim.js'
import { nowMs, sleep } from './stats.js'

export const GLANCES_PORT = 61208
const PROBE = join(REPO, 'dist', 'bench', 'probe.js')
const START_TIMEOUT_MS = 60_000

export interface GlancesServer {
  host: SimHost
  child: ChildProcess
  lines: LineLog
  /** the REST path of the process list for this Glances (API 3 up to Glances 3.x, 4 from 4.0) */
  processListUrl: string
}

/** `glances -w --disable-webui -t SECONDS` bound to the host's LAN address. */
export function spawnGlances (host: SimHost, refreshSeconds: number, apiVersion: 3 | 4): GlancesServer {
  const child = host.spawn(['glances', '-w', '--disable-webui', '-t', String(refreshSeconds), '-B', host.ip, '-p', String(GLANCES_PORT)])
  return { host, child, lines: new LineLog(child), processListUrl: `http://${host.ip}:${GLANCES_PORT}/api/${apiVersion}/processlist` }
}

/** Glances 4 serves /api/4, Glances 3 /api/3. */
export function glancesApiVersion (versionLine: string | undefined): 3 | 4 {
  const m = /v?(\d+)\.\d+/.exec(versionLine ?? '')
  return m !== null && Number(m[1]) >= 4 ? 4 : 3
}

export async function waitGlancesReady (server: GlancesServer, probe: Probe): Promise<void> {
  const start = nowMs()
  for (;;) {
    const answer = await probe.get(server.processListUrl)
    if (answer.status === 200) return
    if (server.child.exitCode !== null) throw new Error(`glances exited (${String(server.child.exitCode)}):\n${server.lines.tail()}`)
    if (nowMs() - start > START_TIMEOUT_MS) throw new Error(`glances REST API not up within ${START_TIMEOUT_MS} ms (${answer.error ?? answer.status}):\n${server.lines.tail()}`)
    await sleep(500)
  }
}

/** The probe process inside a host; one request at a time. */
export class Probe {
  private readonly child: ChildProcess
  private readonly waiting = new Map<string, (answer: ProbeAnswer) => void>()
  private stderr = ''
  private nextId = 1
  private queue: Promise<unknown> = Promise.resolve()

  constructor (host: SimHost) {
    this.child = host.spawn([process.execPath, PROBE])
    if (this.child.stdout !== null) {
      createInterface({ input: this.child.stdout }).on('line', line => {
        try {
          const answer = JSON.parse(line) as ProbeAnswer
          this.waiting.get(answer.id)?.(answer)
          this.waiting.delete(answer.id)
        } catch {
          // not an answer
        }
      })
    }
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-2000) })
  }

  get (url: string): Promise<ProbeAnswer> {
    const run = async (): Promise<ProbeAnswer> => {
      const id = String(this.nextId++)
      const answer = new Promise<ProbeAnswer>(resolve => { this.waiting.set(id, resolve) })
      this.child.stdin?.write(`${id} ${url}\n`)
      const got = await within(answer, 35_000)
      this.waiting.delete(id)
      if (got === undefined) throw new Error(`probe: no answer for ${url}: ${this.stderr}`)
      return got
    }
    const result = this.queue.then(run, run)
    this.queue = result.catch(() => {})
    return result
  }

  async stop (): Promise<void> {
    this.child.stdin?.end()
    await stopChild(this.child)
  }
}

/** Helpers of the web tests: raw HTTP requests, an event-stream reader, `procmesh web` as a child process, Chromium. */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import type { MeshEvent } from '../../cli/web/mesh-events.js'
import { BIN } from '../helpers/procmesh.js'

export interface HttpResult {
  status: number
  headers: IncomingHttpHeaders
  text: string
  json: unknown
}

export interface RequestOptions {
  method?: string
  headers?: Record<string, string>
  /** a string or object (sent as JSON, with Content-Type application/json unless headers say otherwise) */
  body?: unknown
  timeoutMs?: number
}

/** One HTTP request with full control of the headers (fetch forbids setting Host). */
export async function http (url: string, opts: RequestOptions = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...opts.headers }
  let payload: Buffer | undefined
  if (opts.body !== undefined) {
    payload = Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body))
    if (!Object.keys(headers).some(k => k.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json'
    headers['Content-Length'] = String(payload.length)
  }
  return await new Promise<HttpResult>((resolve, reject) => {
    const req = httpRequest(url, { method: opts.method ?? 'GET', headers, timeout: opts.timeoutMs ?? 30_000 }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { text += d })
      res.on('end', () => {
        let json: unknown
        try { json = JSON.parse(text) } catch { json = undefined }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
      })
      res.on('error', reject)
    })
    req.on('timeout', () => { req.destroy(new Error(`${opts.method ?? 'GET'} ${url} timed out`)) })
    // the server may answer (413) and close before the whole body is written: the answer counts
    req.on('error', reject)
    if (payload !== undefined) req.write(payload, () => {})
    req.end()
  })
}

export function errorOf (r: HttpResult): { code: string, message: string } {
  const body = r.json as { error?: { code: string, message: string } } | undefined
  if (body?.error === undefined) throw new Error(`expected a JSON error, got ${r.status} ${r.text.slice(0, 200)}`)
  return body.error
}

export interface EventStream {
  status: number
  events: MeshEvent[]
  /** resolves with the first event (already received or coming) that matches */
  next: (pred: (e: MeshEvent) => boolean, timeoutMs: number, what: string) => Promise<MeshEvent>
  close: () => void
}

/** Open /api/events and collect its events. */
export async function openEvents (url: string, headers: Record<string, string> = {}): Promise<EventStream> {
  return await new Promise<EventStream>((resolve, reject) => {
    const events: MeshEvent[] = []
    const waiters = new Set<() => void>()
    const req = httpRequest(url, { headers: { Accept: 'text/event-stream', ...headers } }, res => {
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        buffer += d
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = block.split('\n').filter(l => l.startsWith('data: ')).map(l => l.slice(6)).join('\n')
          if (data !== '') events.push(JSON.parse(data) as MeshEvent)
        }
        for (const w of [...waiters]) w()
      })
      res.on('error', () => {})
      resolve({
        status: res.statusCode ?? 0,
        events,
        next: async (pred, timeoutMs, what) => await new Promise<MeshEvent>((resolveEvent, rejectEvent) => {
          const check = (): void => {
            const found = events.find(pred)
            if (found === undefined) return
            cleanup()
            resolveEvent(found)
          }
          const timer = setTimeout(() => { cleanup(); rejectEvent(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${events.map(e => e.type).join(', ')}`)) }, timeoutMs)
          const cleanup = (): void => { clearTimeout(timer); waiters.delete(check) }
          waiters.add(check)
          check()
        }),
        close: () => { req.destroy() }
      })
    })
    req.on('error', (err: Error) => { reject(err) })
    req.end()
  })
}

export interface WebProcess {
  proc: ChildProcess
  /** the first line `procmesh web --json` prints */
  info: { url: string, allowControl: boolean, tokenRequired: boolean, tokenFile?: string, token?: string }
  stdout: () => string
  stderr: () => string
  stop: () => Promise<number | null>
}

/** Start `procmesh web ... --json` and wait for the line with its URL. */
export async function startWebCli (args: string[], timeoutMs = 20_000): Promise<WebProcess> {
  const proc = spawn(process.execPath, [BIN, 'web', '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  proc.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  proc.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const stop = async (): Promise<number | null> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode
    const exited = new Promise<number | null>(resolve => proc.once('exit', code => { resolve(code) }))
    proc.kill('SIGTERM')
    const timer = setTimeout(() => { proc.kill('SIGKILL') }, 5000)
    const code = await exited
    clearTimeout(timer)
    return code
  }
  const info = await new Promise<WebProcess['info']>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`procmesh web did not start in ${timeoutMs} ms: ${stderr}`)) }, timeoutMs)
    const onData = (): void => {
      const nl = stdout.indexOf('\n')
      if (nl < 0) return
      clearTimeout(timer)
      proc.stdout.off('data', onData)
      try { resolve(JSON.parse(stdout.slice(0, nl)) as WebProcess['info']) } catch (err: unknown) { reject(err) }
    }
    proc.stdout.on('data', onData)
    proc.once('exit', code => { clearTimeout(timer); reject(new Error(`procmesh web exited ${String(code)}: ${stderr}`)) })
  })
  return { proc, info, stdout: () => stdout, stderr: () => stderr, stop }
}

/** Run `procmesh web ...` expecting it to refuse to start. */
export async function runWebCli (args: string[], timeoutMs = 20_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const proc = spawn(process.execPath, [BIN, 'web', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  proc.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  proc.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`procmesh web ${args.join(' ')} did not exit: ${stdout} ${stderr}`)) }, timeoutMs)
    proc.once('exit', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

export const CHROMIUM = '/usr/bin/chromium'
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]

/** True when Chromium is here; otherwise skips the test, or throws under CI=true (CI installs it). */
export function requireChromium (t: Pick<TestContext, 'skip'>): boolean {
  if (existsSync(CHROMIUM)) return true
  const reason = `${CHROMIUM} is missing (apt-get install chromium)`
  if (process.env.CI === 'true') throw new Error(`browser tests need Chromium under CI=true: ${reason}`)
  t.skip(reason)
  return false
}

export async function tempDir (prefix: string): Promise<string> {
  return await mkdtemp(join(tmpdir(), prefix))
}

export async function removeDir (dir: string | undefined): Promise<void> {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
}

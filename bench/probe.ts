/**
 * An HTTP client that runs inside a simulated host (the root namespace has no route to the
 * hosts' LAN): one `ID URL` per stdin line, one JSON line per answer (with that ID) on stdout. Connections are kept
 * alive between requests, as a dashboard polling a REST API keeps them.
 *
 *   node dist/bench/probe.js   <<< '1 http://10.200.1.1:61208/api/3/processlist'
 */
import { createInterface } from 'node:readline'

export interface ProbeAnswer {
  id: string
  ms: number
  status: number
  bytes: number
  /** entries when the body is a JSON array */
  items?: number
  error?: string
}

async function fetchOnce (id: string, url: string): Promise<ProbeAnswer> {
  const start = performance.now()
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(30_000) })
    const body = await res.text()
    const ms = performance.now() - start
    let items: number | undefined
    try {
      const parsed: unknown = JSON.parse(body)
      if (Array.isArray(parsed)) items = parsed.length
    } catch {
      // not JSON: only the size counts
    }
    return { id, ms, status: res.status, bytes: Buffer.byteLength(body), items }
  } catch (err: unknown) {
    return { id, ms: performance.now() - start, status: 0, bytes: 0, error: err instanceof Error ? err.message : String(err) }
  }
}

async function main (): Promise<void> {
  const rl = createInterface({ input: process.stdin })
  for await (const line of rl) {
    const [id, url] = line.trim().split(' ')
    if (id === undefined || url === undefined) continue
    process.stdout.write(`${JSON.stringify(await fetchOnce(id, url))}\n`)
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`probe: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
})

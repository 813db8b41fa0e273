/**
 * `procmesh web` as a built artefact runs it (the npm package's bundle, the one-file bundle,
 * the executable): it must serve the dashboard's bundled script, which it carries in its code.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { PAGE_JS } from '../../cli/web/page-script.js'
import { http } from '../web/helpers.js'

/** Start `FILE [...prefix] web` on 127.0.0.1:0 with `home`, check /, /app.js and the CSP, stop it. */
export async function assertServesPage (file: string, prefix: string[], home: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const proc = spawn(file, [...prefix, 'web', '--json', '--listen', '127.0.0.1:0', '--home', home], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  proc.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  proc.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`procmesh web did not start: ${stderr}`)) }, 20_000)
      proc.stdout.on('data', () => {
        const nl = stdout.indexOf('\n')
        if (nl < 0) return
        clearTimeout(timer)
        try { resolve((JSON.parse(stdout.slice(0, nl)) as { url: string }).url) } catch (err: unknown) { reject(err) }
      })
      proc.once('exit', code => { clearTimeout(timer); reject(new Error(`procmesh web exited ${String(code)}: ${stderr}`)) })
    })
    const page = await http(url)
    assert.equal(page.status, 200)
    assert.match(page.text, /<script src="\/app\.js" defer><\/script>/)
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/)
    const script = await http(`${url}app.js`)
    assert.equal(script.status, 200)
    assert.equal(script.text, PAGE_JS, 'the bundled dashboard script, as build/page.mjs made it')
  } finally {
    proc.kill('SIGTERM')
    if (proc.exitCode === null && proc.signalCode === null) await new Promise(resolve => proc.once('exit', resolve))
  }
}

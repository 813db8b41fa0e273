/**
 * Issue 17 finding 10 (THREATS case 29): spoofed mDNS answers must not turn a node into a
 * connection flood onto a chosen address. Three simulated hosts: a procmesh node, a keyless
 * spoofer (test/helpers/mdns-spoofer.ts: independent, multicast-dns + @libp2p/crypto) that
 * announces 200 fresh peer ids a second, all at the victim's address, and the victim, a plain
 * TCP server that counts the connections it receives. Before: every fake peer was dialled and
 * re-dialled with backoff for 10 minutes (two nodes opened 54,682 connections in 65 s, and kept
 * on after the spoofing stopped). Each answer is refused because it names another host than its
 * sender; the per-host bounds are the second line of defence (an answer about the sender itself).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MDNS_SERVICE_TAG } from '../../protocols/ids.js'
import { DISCOVERED_DIAL_ATTEMPTS, DISCOVERIES_PER_HOST_PER_MINUTE } from '../../protocols/limits.js'
import { createSimNet, harnessSkipReason, requireHarness, waitFor, type SimNet } from '../../testkit/sim-hosts.js'
import { peersIn, startNodeIn, stopNode, type MeshNode } from '../helpers/sim-mesh.js'

const SPOOFER = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'mdns-spoofer.js')
const VICTIM_PORT = 4001
const SPOOF_SECONDS = 20
/** a TCP server that counts accepted connections and prints the count on every change */
const COUNTER = `let n=0;require('net').createServer(s=>{n++;console.log(n);s.on('error',()=>{});s.destroy()}).listen(${VICTIM_PORT},'0.0.0.0',()=>console.log('ready'))`

describe('spoofed mDNS answers (finding 10)', { timeout: 180_000 }, () => {
  let net: SimNet | undefined
  let node: MeshNode | undefined
  const procs: ChildProcess[] = []

  before(async () => {
    if (harnessSkipReason() !== undefined) return
    net = await createSimNet({ hosts: 3, prefix: 'pms' })
  })
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await stopNode(node)
    await net?.destroy()
  })

  it('200 fake peers a second at a victim\'s address: a few dials a minute, none after it stops, and the node keeps serving', async (t) => {
    if (!requireHarness(t) || net === undefined) return
    const [nodeHost, spooferHost, victimHost] = net.hosts
    const victim = victimHost.spawn([process.execPath, '-e', COUNTER])
    procs.push(victim)
    let accepted = 0
    let out = ''
    victim.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d
      for (const line of d.split('\n')) if (/^\d+$/.test(line)) accepted = Number(line)
    })
    await waitFor(() => out.includes('ready') ? true : undefined, { timeoutMs: 15_000, what: 'the victim to listen' })
    node = await startNodeIn(nodeHost)
    const spoofer = spooferHost.spawn([process.execPath, SPOOFER, MDNS_SERVICE_TAG, `/ip4/${victimHost.ip}/tcp/${VICTIM_PORT}`, '200', String(SPOOF_SECONDS)], { env: { PROCMESH_MDNS_SPOOFER: 'in-simulated-host' } })
    procs.push(spoofer)
    let spoofOut = ''
    spoofer.stdout?.setEncoding('utf8').on('data', (d: string) => { spoofOut += d })
    spoofer.stderr?.setEncoding('utf8').on('data', (d: string) => { spoofOut += d })
    await new Promise<void>(resolve => spoofer.once('exit', () => { resolve() }))
    const sent = Number(/sent (\d+)/.exec(spoofOut)?.[1] ?? '0')
    assert.ok(sent > 1000, `the spoofer sent ${sent} answers: ${spoofOut.slice(-500)}`)
    const duringSpoof = accepted
    // the node still answers its local user while (and after) it is spoofed
    const peers = await peersIn(nodeHost)
    assert.ok(peers.some(p => p.self))
    await new Promise(resolve => setTimeout(resolve, 10_000))
    const afterStop = accepted - duringSpoof
    t.diagnostic(`${sent} spoofed answers in ${SPOOF_SECONDS} s: ${duringSpoof} connections to the victim during, ${afterStop} in the 10 s after`)
    // one advertised host: at most DISCOVERIES_PER_HOST_PER_MINUTE fake peers taken a minute, each
    // dialled at most DISCOVERED_DIAL_ATTEMPTS times by the dialer and once by libp2p's relay
    // transport (which dials every discovered peer it is not refused while it looks for a relay)
    const bound = DISCOVERIES_PER_HOST_PER_MINUTE * (DISCOVERED_DIAL_ATTEMPTS + 1)
    assert.ok(duringSpoof <= bound, `${duringSpoof} connections to the victim while spoofed (at most ${bound})`)
    assert.equal(afterStop, 0, 'no dial to the victim after the spoofing stopped')
    // and in fact none: every answer came from the spoofer's address and named the victim's
    assert.equal(duringSpoof, 0, 'answers naming another host than their sender are not dialled')
    assert.match(node.log(), new RegExp(`discovery of \\S+ not dialled: the mDNS answer from ${spooferHost.ip.replaceAll('.', '\\.')} names only other hosts \\(/ip4/${victimHost.ip.replaceAll('.', '\\.')}/tcp/${VICTIM_PORT}\\)`))
  })
})

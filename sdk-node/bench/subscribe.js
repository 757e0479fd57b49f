'use strict'
// Events per second into a `for await` loop over `client.subscribe(...)`, beside mqtt.js (what
// a Node user would use instead), on the same messages, measured in the same run. Bounded: a
// few rounds of N events, about a minute in all.
//
//   node bench/subscribe.js [events=50000] [rounds=3] [overload events=400000]
//
// `events` stays below ddiscord's 65,536-event subscription buffer, so that neither side drops
// any in the rounds compared.
//
// What both sides time, identically: each consumer runs alone in its own process
// (bench/subscriber.js), subscribed (SUBACK received) and waiting in its loop. The clock starts
// here immediately before the source is told to start sending, and stops at the consumer's
// clock reading (the system's monotonic clock, process.hrtime) after its loop body handled the
// last event: both sides' figures include their socket reads, MQTT decoding and the delivery
// into the loop, for the same messages (N copies of one captured MESSAGE_CREATE envelope on the
// same topic, QoS 0). The loop bodies do the same work per event: `name` reads the dispatch name
// from the topic, `parse` decodes the whole envelope with JSON.parse and reads `d.content`.
// Rate = events handled / (stop - start). Rounds alternate which side goes first; the ratio is
// ddiscord's rate over mqtt.js's in the same round. Each consumer also reports the CPU time its
// process spent from subscribed to done (all threads: ddiscord's native I/O thread and the JS
// thread), which a machine short of cores disturbs less than the rates.
//
// Two sources, each faster than either consumer alone:
// - direct: bench/feeder.js, a stand-in broker that writes the pre-encoded PUBLISH packets to the
//   subscriber's socket as fast as it takes them: the consumer's capacity, with nothing else in
//   the path.
// - mosquitto: the private Mosquitto, fed by bench/flood.js (a separate process writing
//   pre-encoded PUBLISH packets): the real path; on a machine short of cores the broker and the
//   publisher compete with the consumer for them, so this measures the three together.
//
// Past capacity: the last part feeds `overload events` (more than ddiscord's 65,536-event
// subscription buffer) directly and reports, per side, the events that reached the loop (a
// direct subscription drops what overflows its buffer of `subscriptionCapacity` events, run
// with the default and with 4096; mqtt.js leaves the backlog in its socket) and the consumer
// process's peak RSS (VmHWM).
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')

const { startMosquitto, fixtureEvents } = require('../testkit/servers')
const { envelope, topicOf } = require('../testkit/feed')

const N = Number(process.argv[2] || 50_000)
const ROUNDS = Number(process.argv[3] || 3)
const OVERLOAD = Number(process.argv[4] || 400_000)
const frame = fixtureEvents('events_v10.jsonl').find((f) => f.t === 'MESSAGE_CREATE')
const TOPIC = topicOf(frame)
const BODY = envelope(frame)

/** A child node process running `script`, with its standard output read line by line. */
function child(script, args) {
  const p = spawn(process.execPath, [path.join(__dirname, script), ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = readline.createInterface({ input: p.stdout })
  const waiting = []
  const queued = []
  lines.on('line', (l) => (waiting.length ? waiting.shift()(l) : queued.push(l)))
  const exited = new Promise((resolve) => p.on('exit', resolve))
  exited.then(() => {
    for (const w of waiting.splice(0)) w(null)
  })
  return {
    proc: p,
    exited,
    line: () => (queued.length ? Promise.resolve(queued.shift()) : new Promise((r) => waiting.push(r))),
  }
}

async function expect(c, what, want) {
  const l = await c.line()
  if (l !== want) throw new Error(`${what}: expected "${want}", got ${JSON.stringify(l)}`)
}

/** One consumer (`ddiscord` or `mqttjs`) against `events` events from `source`. */
async function runOne(source, broker, file, side, body, events, capacity) {
  let feeder = null
  let url = broker.url
  if (source === 'direct') {
    feeder = child('feeder.js', [TOPIC, String(events), file])
    const listening = await feeder.line()
    if (!listening || !listening.startsWith('listening ')) throw new Error(`feeder: ${listening}`)
    url = `mqtt://127.0.0.1:${listening.split(' ')[1]}`
  }
  const consumer = child('subscriber.js', [side, body, url, String(events), ...(capacity ? [String(capacity)] : [])])
  await expect(consumer, `${side} consumer`, 'ready')
  let go
  if (feeder !== null) {
    await expect(feeder, 'feeder', 'subscribed')
    go = feeder
  } else {
    go = child('flood.js', [String(broker.port), TOPIC, String(events), file])
    await expect(go, 'publisher', 'ready')
  }
  const start = process.hrtime.bigint()
  go.proc.stdin.write('go\n')
  const line = await consumer.line()
  go.proc.stdin.end()
  await Promise.all([consumer.exited, go.exited])
  if (line === null) throw new Error(`${side} consumer exited without a result`)
  const r = JSON.parse(line)
  const seconds = Number(BigInt(r.lastNs) - start) / 1e9
  return { ...r, seconds, rate: r.received / seconds }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const fmt = (x) => Math.round(x).toLocaleString('en-US')

async function main() {
  const broker = await startMosquitto()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ddiscord-bench-'))
  const file = path.join(dir, 'envelope.json')
  fs.writeFileSync(file, BODY)
  try {
    console.log(`events: ${N} per round, ${ROUNDS} rounds, envelope ${Buffer.byteLength(BODY)} bytes, topic ${TOPIC}, QoS 0`)
    for (const source of ['direct', 'mosquitto']) {
      for (const body of ['name', 'parse']) {
        const ratios = []
        const ours = []
        const theirs = []
        const cpuOurs = []
        const cpuTheirs = []
        for (let r = 0; r < ROUNDS; r++) {
          const order = r % 2 === 0 ? ['ddiscord', 'mqttjs'] : ['mqttjs', 'ddiscord']
          const got = {}
          for (const side of order) got[side] = await runOne(source, broker, file, side, body, N)
          const a = got.ddiscord
          const b = got.mqttjs
          ours.push(a.rate)
          theirs.push(b.rate)
          ratios.push(a.rate / b.rate)
          cpuOurs.push((a.cpuMs * 1000) / a.received)
          cpuTheirs.push((b.cpuMs * 1000) / b.received)
          console.log(
            `  round ${r + 1} (${source}, ${body}): ddiscord ${a.received} events at ${fmt(a.rate)}/s (cpu ${fmt(a.cpuMs)} ms, peak rss ${fmt(a.rssPeakMb)} MiB); ` +
              `mqtt.js ${b.received} at ${fmt(b.rate)}/s (cpu ${fmt(b.cpuMs)} ms, peak rss ${fmt(b.rssPeakMb)} MiB); ratio ${(a.rate / b.rate).toFixed(2)}x`
          )
        }
        console.log(
          `${source}, ${body === 'name' ? 'event name from the topic' : 'envelope parsed (d.content)'}: ddiscord for-await ${fmt(median(ours))} events/s, ` +
            `mqtt.js ${fmt(median(theirs))} events/s, ratio ${median(ratios).toFixed(2)}x (median of ${ROUNDS} rounds); ` +
            `process CPU per event ${median(cpuOurs).toFixed(1)} µs (all threads) vs ${median(cpuTheirs).toFixed(1)} µs`
        )
      }
    }
    console.log(`past capacity: ${OVERLOAD} events fed directly as fast as the socket takes them (loop body: name)`)
    for (const [side, capacity] of [['ddiscord'], ['ddiscord', 4096], ['mqttjs']]) {
      const o = await runOne('direct', broker, file, side, 'name', OVERLOAD, capacity)
      const what = capacity ? `${side} (subscriptionCapacity ${capacity})` : side === 'ddiscord' ? `${side} (subscriptionCapacity 65536)` : side
      console.log(
        `  ${what}: ${o.received} of ${OVERLOAD} reached the loop (${OVERLOAD - o.received} dropped) at ${fmt(o.rate)}/s; ` +
          `rss ${fmt(o.rssReadyMb)} MiB when subscribed, peak ${fmt(o.rssPeakMb)} MiB`
      )
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
    await broker.close()
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})

'use strict'
// Events per second into a `for await` loop over `client.subscribe(...)`, beside mqtt.js (what
// a Node user would use instead) on the same private Mosquitto, the same topics and the same
// envelopes, measured in the same run. Bounded: a few rounds of N events, well under a minute.
//
//   node bench/subscribe.js [events=100000] [rounds=3]
//
// A `mosquitto_pub -l` process publishes N envelopes (a captured MESSAGE_CREATE, one per line)
// at QoS 0 on `discord/0/<guild>/MESSAGE_CREATE`; each subscriber counts until it has N or the
// stream stays quiet for 2 s. Rate = received / (last - first arrival).
const { spawn } = require('node:child_process')
const mqtt = require('mqtt')

const ddiscord = require('..')
const { startMosquitto, fixtureEvents } = require('../testkit/servers')
const { envelope, topicOf } = require('../testkit/feed')

const N = Number(process.argv[2] || 100_000)
const ROUNDS = Number(process.argv[3] || 3)
const frame = fixtureEvents('events_v10.jsonl').find((f) => f.t === 'MESSAGE_CREATE')
const TOPIC = topicOf(frame)
const BODY = envelope(frame)

function publish(port) {
  return new Promise((resolve, reject) => {
    const p = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-q', '0', '-t', TOPIC, '-l'], { stdio: ['pipe', 'ignore', 'inherit'] })
    p.on('error', reject)
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mosquitto_pub exited ${code}`))))
    const chunk = (BODY + '\n').repeat(1000)
    let left = N
    const write = () => {
      while (left > 0) {
        const n = Math.min(1000, left)
        left -= n
        const ok = p.stdin.write(n === 1000 ? chunk : (BODY + '\n').repeat(n))
        if (!ok) return p.stdin.once('drain', write)
      }
      p.stdin.end()
    }
    write()
  })
}

// Counts until N events or 2 s without one; `onEvent` is the loop body.
function counter() {
  let n = 0
  let first = 0
  let last = 0
  let done
  const finished = new Promise((r) => (done = r))
  let idle = null
  const arm = () => {
    clearTimeout(idle)
    idle = setTimeout(() => done(), 2000)
  }
  return {
    hit() {
      const now = performance.now()
      if (n === 0) first = now
      last = now
      n++
      if (n >= N) {
        clearTimeout(idle)
        done()
      } else if ((n & 1023) === 0) arm()
    },
    start: arm,
    finished,
    result: () => ({ received: n, rate: n > 1 ? (n - 1) / ((last - first) / 1000) : 0 }),
  }
}

async function runDdiscord(url, port, parse) {
  const client = await ddiscord.connect({ meshUrl: url })
  const sub = client.subscribe('discord/*/*/MESSAGE_CREATE')
  await sub.ready
  const c = counter()
  const loop = (async () => {
    let sink = 0
    for await (const event of sub) {
      sink += parse ? event.data.content.length : event.name.length
      c.hit()
      if (c.result().received >= N) break
    }
    return sink
  })()
  c.start()
  await publish(port)
  await Promise.race([c.finished, loop])
  sub.close()
  await client.close()
  return c.result()
}

async function runMqttJs(url, port, parse) {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 })
  await client.subscribeAsync('discord/+/+/MESSAGE_CREATE', { qos: 0 })
  const c = counter()
  let sink = 0
  client.on('message', (topic, payload) => {
    sink += parse ? JSON.parse(payload).d.content.length : topic.split('/')[3].length
    c.hit()
  })
  c.start()
  await publish(port)
  await c.finished
  await client.endAsync()
  return c.result()
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function main() {
  const broker = await startMosquitto()
  try {
    console.log(`events: ${N} per round, ${ROUNDS} rounds, envelope ${Buffer.byteLength(BODY)} bytes, topic ${TOPIC}`)
    for (const parse of [false, true]) {
      const ours = []
      const theirs = []
      for (let r = 0; r < ROUNDS; r++) {
        const a = await runDdiscord(broker.url, broker.port, parse)
        const b = await runMqttJs(broker.url, broker.port, parse)
        ours.push(a.rate)
        theirs.push(b.rate)
        console.log(`  round ${r + 1} ${parse ? '(parse d)' : '(topic only)'}: ddiscord ${a.received} events at ${a.rate.toFixed(0)}/s; mqtt.js ${b.received} at ${b.rate.toFixed(0)}/s`)
      }
      const mo = median(ours)
      const mt = median(theirs)
      console.log(`${parse ? 'with JSON payload access' : 'topic only'}: ddiscord for-await ${mo.toFixed(0)} events/s, mqtt.js ${mt.toFixed(0)} events/s, ratio ${(mo / mt).toFixed(2)}x (median of ${ROUNDS})`)
    }
  } finally {
    await broker.close()
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})

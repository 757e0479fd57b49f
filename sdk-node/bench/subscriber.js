'use strict'
// One consumer of bench/subscribe.js, in its own process (its own JS thread, heap and RSS):
// ddiscord's `for await` over `client.subscribe(...)`, or mqtt.js's `message` callback.
//
//   node bench/subscriber.js <ddiscord|mqttjs> <name|parse> <mqtt url> <events> [subscription capacity]
//
// Prints `ready` once its subscription is live and its loop waits for the first event, then one
// JSON line when its loop body has handled <events> events, or 2 s after the last event when
// fewer came: `{received, lastNs, cpuMs, rssReadyMb, rssPeakMb}` (`lastNs`: process.hrtime of
// the last event handled, the system's monotonic clock that bench/subscribe.js reads too).
//
// Loop bodies, the same on both sides: `name` reads the dispatch name from the topic
// (`event.name`; `topic.split('/')[3]` for mqtt.js); `parse` decodes the whole envelope and
// reads `d.content` (`event.data.content`: JSON.parse of the envelope's text; for mqtt.js
// `JSON.parse(payload).d.content`).
const fs = require('node:fs')

const [side, body, url, eventsText, capacityText] = process.argv.slice(2)
const N = Number(eventsText)
const parse = body === 'parse'

/** Peak resident set (VmHWM) or current (VmRSS) of this process, in MiB. */
function rssMb(field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'))
  return m ? Number(m[1]) / 1024 : 0
}

let n = 0
let last = 0n
let sink = 0
let cpuStart = null
let rssReady = 0
let reported = false
let idle = null
let onEnd = () => {}

function report() {
  if (reported) return
  reported = true
  clearTimeout(idle)
  const cpu = process.cpuUsage(cpuStart)
  const out = { received: n, lastNs: last.toString(), cpuMs: (cpu.user + cpu.system) / 1000, rssReadyMb: rssReady, rssPeakMb: rssMb('VmHWM'), sink }
  process.stdout.write(`${JSON.stringify(out)}\n`, () => onEnd())
}

// Ends the run 2 s after the last event when fewer than N come (dropped on the way).
function arm() {
  clearTimeout(idle)
  idle = setTimeout(report, 2000)
}

function ready() {
  rssReady = rssMb('VmRSS')
  cpuStart = process.cpuUsage()
  process.stdout.write('ready\n')
}

async function ddiscord() {
  const dd = require('..')
  const client = await dd.connect({ meshUrl: url, subscriptionCapacity: capacityText ? Number(capacityText) : undefined })
  const sub = client.subscribe('discord/*/*/MESSAGE_CREATE')
  await sub.ready
  onEnd = () => client.close().then(() => process.exit(0))
  const loop = (async () => {
    for await (const event of sub) {
      sink += parse ? event.data.content.length : event.name.length
      last = process.hrtime.bigint()
      if (++n === N) break
      if (n === 1 || (n & 1023) === 0) arm()
    }
    report()
  })()
  ready()
  await loop
}

async function mqttjs() {
  const mqtt = require('mqtt')
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 })
  await client.subscribeAsync('discord/+/+/MESSAGE_CREATE', { qos: 0 })
  onEnd = () => client.endAsync(true).then(() => process.exit(0))
  client.on('message', (topic, payload) => {
    sink += parse ? JSON.parse(payload).d.content.length : topic.split('/')[3].length
    last = process.hrtime.bigint()
    if (++n === N) report()
    else if (n === 1 || (n & 1023) === 0) arm()
  })
  ready()
}

const run = side === 'ddiscord' ? ddiscord : mqttjs
run().catch((e) => {
  console.error(e)
  process.exit(1)
})
// Nothing at all arrives: give up after 30 s.
setTimeout(report, 30_000).unref()

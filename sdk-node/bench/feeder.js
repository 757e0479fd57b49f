'use strict'
// A stand-in MQTT 3.1.1 broker for bench/subscribe.js that feeds one subscriber faster than it
// can read: it accepts connections, acknowledges CONNECT, SUBSCRIBE, UNSUBSCRIBE and PINGREQ,
// and when a line arrives on standard input writes N pre-encoded QoS 0 PUBLISH packets to the
// connection whose subscription matches `<root>/+/+/<EVENT>`, as fast as its socket takes
// them. No routing, no queues: the consumer's socket is never empty until the last packet, so
// what is measured is the consumer alone.
//
//   node bench/feeder.js <topic> <count> <envelope file>
//
// Prints `listening <port>`, then `subscribed` once a client subscribed to the topic's event,
// then `done` after the last packet was written (after each line on standard input).
const fs = require('node:fs')
const net = require('node:net')
const readline = require('node:readline')

const [topic, countText, file] = process.argv.slice(2)
const count = Number(countText)
const body = fs.readFileSync(file)
const event = topic.split('/').pop()

function remainingLength(n) {
  const out = []
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    out.push(byte)
  } while (n > 0)
  return Buffer.from(out)
}

function packet(type, variable) {
  return Buffer.concat([Buffer.from([type]), remainingLength(variable.length), variable])
}

const topicBytes = Buffer.from(topic)
const topicLen = Buffer.alloc(2)
topicLen.writeUInt16BE(topicBytes.length)
const publish = packet(0x30, Buffer.concat([topicLen, topicBytes, body]))
const PER_CHUNK = 256
const chunk = Buffer.concat(Array(PER_CHUNK).fill(publish))

let subscriber = null

/** Splits a connection's bytes into MQTT packets: `onPacket(type, flags, payload)`. */
function packets(socket, onPacket) {
  let buf = Buffer.alloc(0)
  socket.on('data', (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d
    for (;;) {
      if (buf.length < 2) return
      let len = 0
      let mul = 1
      let i = 1
      for (;;) {
        if (i >= buf.length) return
        const b = buf[i++]
        len += (b & 0x7f) * mul
        mul *= 128
        if ((b & 0x80) === 0) break
      }
      if (buf.length < i + len) return
      onPacket(buf[0] >> 4, buf[0] & 0x0f, buf.subarray(i, i + len))
      buf = buf.subarray(i + len)
    }
  })
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true)
  socket.on('error', () => {})
  socket.on('close', () => {
    if (subscriber === socket) subscriber = null
  })
  packets(socket, (type, _flags, p) => {
    switch (type) {
      case 1: // CONNECT
        socket.write(Buffer.from([0x20, 2, 0, 0]))
        break
      case 8: {
        // SUBSCRIBE: packet id, then (filter, requested QoS) pairs; granted QoS 0 each.
        const codes = []
        let matches = false
        for (let at = 2; at + 2 <= p.length; ) {
          const n = p.readUInt16BE(at)
          const filter = p.toString('utf8', at + 2, at + 2 + n)
          if (filter.split('/').pop() === event) matches = true
          at += 2 + n + 1
          codes.push(0)
        }
        socket.write(packet(0x90, Buffer.concat([p.subarray(0, 2), Buffer.from(codes)])))
        if (matches) {
          subscriber = socket
          process.stdout.write('subscribed\n')
        }
        break
      }
      case 10: // UNSUBSCRIBE
        socket.write(Buffer.from([0xb0, 2, p[0], p[1]]))
        break
      case 12: // PINGREQ
        socket.write(Buffer.from([0xd0, 0]))
        break
      case 14: // DISCONNECT
        socket.end()
        break
      default:
        break
    }
  })
})

function feed() {
  const socket = subscriber
  if (socket === null) {
    console.error('feeder: nobody subscribed')
    process.exit(1)
  }
  let left = count
  const write = () => {
    while (left > 0) {
      const n = Math.min(PER_CHUNK, left)
      left -= n
      const ok = socket.write(n === PER_CHUNK ? chunk : chunk.subarray(0, n * publish.length))
      if (!ok) return socket.once('drain', write)
    }
    process.stdout.write('done\n')
  }
  write()
}

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`)
  const lines = readline.createInterface({ input: process.stdin })
  lines.on('line', feed)
  lines.on('close', () => process.exit(0))
})

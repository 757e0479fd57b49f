'use strict'
// A publisher faster than any consumer under test, for bench/subscribe.js: one MQTT 3.1.1
// connection over a plain socket that writes pre-encoded QoS 0 PUBLISH packets as fast as the
// socket takes them (mosquitto_pub -l publishes a few ten thousand messages per second, slower
// than the consumers measured).
//
//   node bench/flood.js <port> <topic> <count> <envelope file>
//
// Prints `ready` once the broker accepted the connection, publishes `count` copies of the
// envelope on `topic` when a line arrives on standard input, prints `done` after the last one
// left the socket, and exits.
const fs = require('node:fs')
const net = require('node:net')
const readline = require('node:readline')

const [port, topic, countText, file] = process.argv.slice(2)
const count = Number(countText)
const body = fs.readFileSync(file)

/** MQTT's variable-length "remaining length" (1-4 bytes). */
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

function str(s) {
  const b = Buffer.from(s)
  const len = Buffer.alloc(2)
  len.writeUInt16BE(b.length)
  return Buffer.concat([len, b])
}

// CONNECT: protocol "MQTT" level 4, clean session, keep-alive 0 (none), a unique client id.
const connect = packet(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 0]), str(`bench-flood-${process.pid}`)]))
const publish = packet(0x30, Buffer.concat([str(topic), body]))
const PER_CHUNK = 256
const chunk = Buffer.concat(Array(PER_CHUNK).fill(publish))

const socket = net.connect(Number(port), '127.0.0.1')
socket.setNoDelay(true)
socket.on('error', (e) => {
  console.error(`flood: ${e.message}`)
  process.exit(1)
})
socket.write(connect)
socket.once('data', (ack) => {
  if (ack[0] !== 0x20 || ack[3] !== 0) {
    console.error(`flood: the broker refused the connection (${ack.toString('hex')})`)
    process.exit(1)
  }
  process.stdout.write('ready\n')
  readline.createInterface({ input: process.stdin }).once('line', flood)
})

function flood() {
  let left = count
  const write = () => {
    while (left > 0) {
      const n = Math.min(PER_CHUNK, left)
      left -= n
      const ok = socket.write(n === PER_CHUNK ? chunk : chunk.subarray(0, n * publish.length))
      if (!ok) return socket.once('drain', write)
    }
    // DISCONNECT: the broker forwards everything before it, then closes.
    socket.end(Buffer.from([0xe0, 0]), () => {
      process.stdout.write('done\n')
      process.exit(0)
    })
  }
  write()
}

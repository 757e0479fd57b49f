'use strict'
// Feeds envelopes built from the captured fixtures through the broker with mqtt.js, as ingest
// would publish them (until the pipeline runs in these tests, and for tests that need exact
// control over what is published).
const mqtt = require('mqtt')

const GUILD_IS_ID = new Set(['GUILD_CREATE', 'GUILD_UPDATE', 'GUILD_DELETE'])

/** The envelope of `frame` as ingest builds it: our fields spliced in front of Discord's bytes. */
function envelope(frame, { shard = 0, session = 'test-session', receivedMs = Date.now() } = {}) {
  const text = typeof frame === 'string' ? frame : JSON.stringify(frame)
  return `{"shard":${shard},"session":${JSON.stringify(session)},"received_ms":${receivedMs},${text.slice(1)}`
}

/** `<root>/{shard}/{guild}/{t}` for a dispatch frame. */
function topicOf(frame, { shard = 0, root = 'discord' } = {}) {
  const d = frame.d || {}
  const guild = d.guild_id ?? (GUILD_IS_ID.has(frame.t) ? d.id : undefined) ?? '-'
  return `${root}/${shard}/${guild}/${frame.t}`
}

/** A connected mqtt.js client (MQTT 3.1.1). */
async function publisher(url) {
  const c = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 })
  return c
}

/** Publishes `[topic, payload]` pairs with QoS 1 (resolves after every PUBACK). */
async function publishAll(client, messages, qos = 1) {
  await Promise.all(messages.map(([topic, payload]) => client.publishAsync(topic, payload, { qos })))
}

module.exports = { envelope, topicOf, publisher, publishAll }
